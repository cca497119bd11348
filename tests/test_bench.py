"""The benchmark's baseline, bench/plain_port.py: it runs, reports what the
scripts report, and really is the plain port (Keras' own layers and
optimizers), so the speed-ups the benchmark prints compare what they say; and
its table does not round a speed-up up to the goal."""

import importlib.util
import re

import pytest

from conftest import ROOT
from pyimagesearch import datasets


def load_bench(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def plain_port(monkeypatch):
    """bench/plain_port.py, its ``main()`` run in this process: its one
    change to the package (pictures decoded on one thread) is undone after
    the test."""
    monkeypatch.setattr(datasets, "_LOAD_WORKERS", datasets._LOAD_WORKERS)
    port = load_bench("plain_port")

    def run(*argv):
        monkeypatch.setattr("sys.argv", ["plain_port.py", *map(str, argv)])
        port.main()
    return run


def test_plain_port_trains_and_reports_house_prices(plain_port, houses, capsys):
    plain_port("mixed_regression", "--dataset", houses, "--epochs", 1)
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] mean: \d+\.\d\d%, std: \d+\.\d\d%$", out, re.M)
    assert datasets._LOAD_WORKERS == 1  # the posts' loader: one picture after another


def test_plain_port_trains_and_reports_an_image_classifier(plain_port, shapes3, capsys):
    plain_port("train_vgg", "--dataset", shapes3, "--epochs", 1)
    out = capsys.readouterr().out
    # scikit-learn's report, with the class names, as the scripts print it
    assert re.search(r"^\s*accuracy\s+[\d.]+\s+18$", out, re.M)
    for name in ("circle", "square", "triangle"):
        assert re.search(rf"^\s*{name}\s+[\d.]+", out, re.M)


def test_plain_port_builds_with_keras_own_layers(monkeypatch):
    import keras

    from pyimagesearch import models, smallvggnet

    monkeypatch.setattr(datasets, "_LOAD_WORKERS", datasets._LOAD_WORKERS)
    load_bench("plain_port").plain_package()
    for model in (models.create_cnn(64, 64, 3), smallvggnet.SmallVGGNet.build(64, 64, 3, 3)):
        norms = [l for l in model.layers if isinstance(l, keras.layers.BatchNormalization)]
        assert norms and all(type(l) is keras.layers.BatchNormalization for l in norms)


def test_table_row_keeps_two_decimals_of_the_speed_up():
    run = load_bench("run")
    row = run.row("train_vgg", [(1453.6, 1.63, "76% acc", "")],
                  [(2145.8, 1.29, "79% acc", "")], "")
    cells = [c.strip() for c in row.strip("|").split("|")]
    # a 1.476x speed-up rounded to one decimal would read as the 1.5x goal met
    assert cells[3] == "1453.6 s (1453.6-1453.6)"
    assert cells[4] == "1.48x"
    assert cells[6] == f"{671 / 1453.6:.2f}x"
    assert cells[7] == "1.63 / 1.29 GB"
