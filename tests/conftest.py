"""Shared fixtures: small generated datasets and a way to run the scripts.

Every dataset here is written by the tests themselves, so the suite needs
nothing but the repository (tests that use the real datasets skip cleanly
when ../shared is absent).
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pyimagesearch import sample_data

ROOT = Path(__file__).resolve().parent.parent
REAL_HOUSES = ROOT.parent / "shared" / "datasets" / "Houses-dataset" / "Houses Dataset"
REAL_ANIMALS = ROOT.parent / "shared" / "datasets" / "animals"


def run_script(script, *args, timeout=300, env=None):
    """Run one of the top-level scripts as a user would (``env``: variables
    to set); return the result."""
    env = {**os.environ, **(env or {})}
    env.pop("DISPLAY", None)  # tests never open windows
    env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def load_script(script):
    """Import a top-level script as a module, to call its ``main(argv)`` in
    the test process (flag errors need no subprocess)."""
    name = Path(script).stem
    spec = importlib.util.spec_from_file_location(f"script_{name}", ROOT / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Runs in a Python that cannot see this repository: isolated mode (-I) puts
# neither the working folder nor PYTHONPATH on sys.path, and the working
# folder is a temporary one. argv[1] is a JSON list of [model, inputs.npz,
# predictions.npy]; it prints, per model, the top-level packages of its
# layer classes.
_FRESH_PREDICT = textwrap.dedent("""
    import json, sys
    import numpy as np
    try:
        import pyimagesearch
        sys.exit("pyimagesearch is importable: the check would prove nothing")
    except ImportError:
        pass
    import keras
    packages = []
    for (modelPath, arrays, out) in json.loads(sys.argv[1]):
        model = keras.models.load_model(modelPath)
        inputs = np.load(arrays, allow_pickle=False)
        # raw text comes back as NumPy unicode, which Keras takes as objects
        inputs = [inputs[k].astype(object) if inputs[k].dtype.kind in "US" else inputs[k]
                  for k in sorted(inputs.files)]
        preds = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        preds = np.asarray(preds)
        if preds.dtype.kind == "V":  # bfloat16: as float32, exactly, for plain NumPy
            preds = preds.astype("float32")
        np.save(out, preds)
        packages.append(sorted({type(layer).__module__.split(".")[0]
                                for layer in model._flatten_layers()}))
    print(json.dumps(packages))
""")


def predict_many_in_fresh_python(jobs, tmp_path):
    """``predict_in_fresh_python`` for several models in one fresh Python
    (one TensorFlow start-up): ``jobs`` maps a name to ``(modelPath,
    inputs)``; returns a name -> ``(predictions, packages)`` dict."""
    manifest = []
    for k, (name, (modelPath, inputs)) in enumerate(jobs.items()):
        inputs = inputs if isinstance(inputs, (list, tuple)) else [inputs]
        arrays = tmp_path / f"fresh_inputs_{k}.npz"
        np.savez(arrays, **{f"x{i:02d}": np.asarray(a) for i, a in enumerate(inputs)})
        manifest.append([str(modelPath), str(arrays), str(tmp_path / f"fresh_preds_{k}.npy")])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "-c", _FRESH_PREDICT, json.dumps(manifest)],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    packages = json.loads(result.stdout.strip().splitlines()[-1])
    return {name: (np.load(out), found)
            for name, (_, _, out), found in zip(jobs, manifest, packages)}


def predict_in_fresh_python(modelPath, inputs, tmp_path):
    """Load ``modelPath`` with plain ``keras.models.load_model`` in a fresh
    Python without this repository and predict ``inputs`` (an array, or a
    list of arrays for a multi-input model). Returns the predictions and
    the top-level packages of the model's classes (only ``keras`` for a
    stock model)."""
    return predict_many_in_fresh_python({"model": (modelPath, inputs)}, tmp_path)["model"]


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
