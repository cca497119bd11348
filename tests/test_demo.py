"""`make demo`: its command lines, and its house models working.

The commands are read from the Makefile, so the tests run what the demo
runs (with this Python, into tmp_path).

- In `make test`: the demo's houses, classifiers and chapter-3 targets,
  command by command: the sample data written as the demo writes it
  (``python -m pyimagesearch.sample_data``), then every training command run
  in this process up to its first ``model.fit``, which must get the demo's
  epochs for that fit (the fit itself is stopped; a later fit's epochs, and
  the predict commands, which need a trained model, are not checked here).
  A flag renamed in a script, a script that ignores the demo's epochs, or a
  sample-data command the loaders refuse fails here and not in a reader's
  terminal.
- In `make check-demo` (marked ``slow``; 600 CPU seconds measured on a
  2 GHz EPYC without AVX512, 150 on a Zen 4): the demo's own 200-epoch MLP,
  CNN and mixed model on the sample houses, with the demo's commands. Every
  model beats predicting the mean price, the mixed model at least matches
  the better of the MLP and the CNN, and no model's predictions are a flat
  line. The demo's last house command (compare_house_models.py) is not one
  of the three models and is left out.

The mixed model must match the better model with no slack: over seeds 42
and 1-5 it was 3.0 to 6.8 points ahead (5.0-8.3% against 9.7-11.8%).
"""

import csv
import json
import os
import shlex
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, load_script, run_in_process

# A working model's predicted prices spread about as much as the true ones:
# standard deviation ratios, measured with the demo's settings on seeds 42
# and 1-5, of 0.93-1.01 (MLP), 0.68-1.04 (CNN) and 0.86-1.03 (mixed). The
# flat mixed model this test was written for (issue: the demo shows each
# model working) had 0.07; half-dead ones, most of their 4-unit ReLU
# bottleneck dead and the cheapest houses all given one price, 0.2-0.5.
MIN_SPREAD_RATIO = 0.5


def demo_commands(out, target="demo-houses"):
    """The commands of the Makefile's ``target``, as argument lists for
    this Python, writing under ``out`` instead of output/demo."""
    lines = (ROOT / "Makefile").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith(target + ":")))
    recipe = []
    for line in lines[start + 1:]:
        if not line.startswith("\t"):
            break
        recipe.append(line.strip())
    commands = " ".join(recipe).replace("\\ ", " ").split("$(PY) ")[1:]
    return [[sys.executable] + shlex.split(c.replace("$(OUT)", str(out))) for c in commands]


def run(*commands):
    """Run ``commands`` side by side (they write to separate folders) and
    check that each succeeded."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    running = [(c, subprocess.Popen(c, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)) for c in commands]
    for (command, process) in running:
        (_, err) = process.communicate(timeout=600)
        assert process.returncode == 0, f"{shlex.join(command)}\n{err[-3000:]}"


# --------------------------------------------------------------------------
# The demo's command lines (make test)

# the flag that sets a script's first fit's epochs, where the demo gives it
FIRST_FIT_EPOCHS = ("--validation-epochs", "--kfold-epochs", "--epochs")


def first_fit_epochs(script, flags):
    """The epochs of ``script``'s first fit when run with ``flags``: the
    demo's flag, or else the script's own default (the posts' 200)."""
    for flag in FIRST_FIT_EPOCHS:
        if flag in flags:
            return int(flags[flags.index(flag) + 1])
    return load_script(script).EPOCHS


@pytest.mark.parametrize("target", ["demo-houses", "demo-classifiers", "demo-chapter3"])
def test_every_demo_command_reaches_training_with_the_demos_epochs(target, tmp_path, fits):
    commands = demo_commands(tmp_path, target)
    trained = []
    for command in commands:
        if command[1:3] == ["-m", "pyimagesearch.sample_data"]:
            run(command)  # as the demo runs it (no TensorFlow: a second or two)
            continue
        script = os.path.basename(command[1])
        if script.startswith("predict"):
            continue  # needs the model a fit would have saved (tests/test_*_scripts.py)
        fits.calls.clear()
        run_in_process(script, *command[2:], stop=1, fits=fits)
        assert len(fits.calls) == 1, f"{shlex.join(command)} trained nothing"
        assert fits.calls[0].kwargs["epochs"] == first_fit_epochs(script, command), command
        trained.append(script)
    assert trained, f"{target} has no training command"


# --------------------------------------------------------------------------
# The demo's house models working (make check-demo)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Run the demo's sample data and three models; return the houses'
    prices (by house number) and each model's results and predictions."""
    out = tmp_path_factory.mktemp("demo")
    commands = demo_commands(out)
    # the sample data, then each model once on the post's split
    assert commands[0][1:4] == ["-m", "pyimagesearch.sample_data", "houses"], commands[0]
    models = {}
    for command in commands[1:]:
        script = os.path.basename(command[1])
        if script != "compare_house_models.py":
            models[script.split("_")[0]] = command
    assert sorted(models) == ["cnn", "mixed", "mlp"], commands

    run(commands[0])
    houses = commands[0][4]
    with open(os.path.join(houses, "HousesInfo.txt")) as f:
        prices = {number: float(line.split()[4])
                  for number, line in enumerate(f.read().split("\n"), start=1) if line.strip()}

    # the three models train at once, each in its own process
    run(*models.values())
    found = {}
    for name, command in models.items():
        output = command[command.index("--output") + 1]
        with open(os.path.join(output, "results.json")) as f:
            results = json.load(f)
        with open(os.path.join(output, "predictions.csv")) as f:
            rows = list(csv.DictReader(f))
        found[name] = (results, rows)
    return prices, found


def figures(prices, rows):
    """(MAPE, mean-price baseline MAPE, spread ratio) of one run's test
    houses, from its predictions.csv and the houses' prices alone."""
    tested = [int(r["house"]) for r in rows]
    true = np.array([float(r["true_price"]) for r in rows])
    predicted = np.array([float(r["predicted_price"]) for r in rows])
    assert np.allclose(true, [prices[h] for h in tested], atol=0.01)
    mape = 100 * np.mean(np.abs(predicted - true) / true)
    # The baseline: predict, for every test house, the mean price of the
    # training houses. The training houses are all the houses of
    # HousesInfo.txt (every sample zip code has more than the 25 houses the
    # loader keeps, and no picture is damaged) that are not among the test
    # houses in predictions.csv; with --val-split that includes the houses
    # held out for validation, which are part of the post's training split.
    testSet = set(tested)
    training = [price for number, price in prices.items() if number not in testSet]
    baseline = 100 * np.mean(np.abs(np.mean(training) - true) / true)
    return mape, baseline, predicted.std() / true.std()


@pytest.mark.slow
def test_every_demo_model_beats_the_mean_price_and_is_not_flat(demo):
    prices, found = demo
    for name, (results, rows) in found.items():
        mape, baseline, spread = figures(prices, rows)
        # results.json reports what predictions.csv holds
        assert results["value"] == pytest.approx(mape, abs=0.01), name
        assert len(rows) == round(0.25 * len(prices)), name  # the post's test split
        assert mape < baseline, f"{name}: {mape:.2f}% is no better than the mean price's " \
                                f"{baseline:.2f}%"
        assert spread >= MIN_SPREAD_RATIO, f"{name}: predicted prices are flat (standard " \
                                           f"deviation {spread:.2f} of the true prices')"


@pytest.mark.slow
def test_the_mixed_model_at_least_matches_the_better_of_mlp_and_cnn(demo):
    _, found = demo
    value = {name: results["value"] for name, (results, _) in found.items()}
    assert value["mixed"] <= min(value["mlp"], value["cnn"]), value
