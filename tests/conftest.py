"""Shared fixtures: small generated datasets and a way to run the scripts.

Every dataset here is written by the tests themselves, so the suite needs
nothing but the repository (tests that use the real datasets skip cleanly
when ../shared is absent).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyimagesearch import sample_data

ROOT = Path(__file__).resolve().parent.parent
REAL_HOUSES = ROOT.parent / "shared" / "datasets" / "Houses-dataset" / "Houses Dataset"
REAL_ANIMALS = ROOT.parent / "shared" / "datasets" / "animals"


def run_script(script, *args, timeout=300):
    """Run one of the top-level scripts as a user would; return the result."""
    env = dict(os.environ)
    env.pop("DISPLAY", None)  # tests never open windows
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def info_lines(result):
    """The [INFO] lines a script printed, in order."""
    return [line.strip() for line in result.stdout.replace("\r", "\n").splitlines()
            if line.startswith("[INFO]")]


@pytest.fixture(scope="session")
def houses(tmp_path_factory):
    """A generated Houses dataset: 4 zip codes x 25 houses."""
    folder = tmp_path_factory.mktemp("houses")
    sample_data.write_houses(folder, houses_per_zipcode=25, seed=0)
    return folder


@pytest.fixture(scope="session")
def shapes3(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes3")
    sample_data.write_shapes(folder, classes=3, per_class=24, seed=0)
    return folder


@pytest.fixture(scope="session")
def shapes2(tmp_path_factory):
    folder = tmp_path_factory.mktemp("shapes2")
    sample_data.write_shapes(folder, classes=2, per_class=40, seed=1)
    return folder
