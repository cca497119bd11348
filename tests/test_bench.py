"""The benchmark's baseline, bench/plain_port.py: it runs, reports what the
scripts report, and really is the plain port (Keras' own layers and
optimizers), so the speed-ups the benchmark prints compare what they say; and
its table does not round a speed-up up to the goal."""

import importlib.util
import re
import subprocess
import sys

from conftest import ROOT, run_script


def test_plain_port_trains_and_reports_house_prices(houses):
    result = run_script("bench/plain_port.py", "mixed_regression", "--dataset", houses,
                        "--epochs", 1)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\[INFO\] mean: \d+\.\d\d%, std: \d+\.\d\d%$", result.stdout, re.M)


def test_plain_port_trains_and_reports_an_image_classifier(shapes3):
    result = run_script("bench/plain_port.py", "train_vgg", "--dataset", shapes3,
                        "--epochs", 1)
    assert result.returncode == 0, result.stderr
    # scikit-learn's report, with the class names, as the scripts print it
    assert re.search(r"^\s*accuracy\s+[\d.]+\s+18$", result.stdout, re.M)
    for name in ("circle", "square", "triangle"):
        assert re.search(rf"^\s*{name}\s+[\d.]+", result.stdout, re.M)


def test_plain_port_builds_with_keras_own_layers():
    # in a child: the swap changes the package's modules for that process
    code = """
import sys; sys.path.insert(0, "bench")
import plain_port
from pyimagesearch import models, smallvggnet
import keras
plain_port.plain_package()
from pyimagesearch import datasets
assert datasets._LOAD_WORKERS == 1
for model in (models.create_cnn(64, 64, 3), smallvggnet.SmallVGGNet.build(64, 64, 3, 3)):
    norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert norms and all(type(l) is keras.layers.BatchNormalization for l in norms)
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("ok")


def test_table_row_keeps_two_decimals_of_the_speed_up():
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run)
    row = run.row("train_vgg", [(1453.6, 1.63, "76% acc", "")],
                  [(2145.8, 1.29, "79% acc", "")], "")
    cells = [c.strip() for c in row.strip("|").split("|")]
    # a 1.476x speed-up rounded to one decimal would read as the 1.5x goal met
    assert cells[3] == "1453.6 s (1453.6-1453.6)"
    assert cells[4] == "1.48x"
    assert cells[6] == f"{671 / 1453.6:.2f}x"
    assert cells[7] == "1.63 / 1.29 GB"
