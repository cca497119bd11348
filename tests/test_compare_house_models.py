"""compare_house_models.py: every house is tested once per model, by a model
trained on the other folds, and every model on the same folds; the printed
table, results.json, predictions.csv and the picture agree with each other
and with the houses; the improved recipes train copies side by side and
predict their mean; the interval says how sure the comparison is.

The 5-fold run (three cheap models) is a subprocess, as a user runs it;
the rest runs in this process.
"""

import csv
import json
import re

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import info_lines, load_script, run_in_process, run_script
from pyimagesearch import datasets, reports, storage
from pyimagesearch.errors import UserError

PNG = b"\x89PNG\r\n\x1a\n"
# the line each fold ends with
FOLD_LINE = re.compile(r"^\[INFO\] ([\w-]+), fold (\d)/(\d): mean: ([\d.]+)%, std: [\d.]+%$")


def fold_figures(lines):
    """model -> its printed fold figures, in order."""
    found = {}
    for line in lines:
        if m := FOLD_LINE.match(line):
            found.setdefault(m.group(1), []).append(float(m.group(4)))
    return found


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# --------------------------------------------------------------------------
# 5 folds, end to end, as a user runs it


@pytest.fixture(scope="module")
def five_folds(houses, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    result = run_script("compare_house_models.py", "--dataset", houses, "--models", "mlp",
                        "mean-price", "boosting", "--epochs", 2, "--output", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return result, out


def test_a_new_model_per_fold_says_nothing_on_stderr(five_folds):
    # TensorFlow's "tf.function retracing" warning from the fifth fold's
    # predictions on is not shown: a new model per fold is traced anew
    assert five_folds[0].stderr == ""


def test_every_fold_is_printed_and_each_models_mean_over_them(five_folds):
    lines = info_lines(five_folds[0])
    figures = fold_figures(lines)
    assert list(figures) == ["mlp", "mean-price", "boosting"]
    for name, folds in figures.items():
        assert len(folds) == 5
        last = [line for line in lines if line.startswith(f"[INFO] {name}: mean: ")]
        m = re.match(r"^\[INFO\] [\w-]+: mean: ([\d.]+)%, std over folds: ([\d.]+)%", last[0])
        assert float(m.group(1)) == pytest.approx(np.mean(folds), abs=0.01)
        assert float(m.group(2)) == pytest.approx(np.std(folds), abs=0.01)


def test_every_house_is_tested_once_by_each_model_at_its_true_price(five_folds, houses):
    (result, out) = five_folds
    rows = read_rows(out / "predictions.csv")
    prices = pd.read_csv(houses / "HousesInfo.txt", sep=" ", header=None)[4]
    printed = fold_figures(info_lines(result))
    for name in ("mlp", "mean-price", "boosting"):
        mine = [r for r in rows if r["model"] == name]
        assert sorted(int(r["house"]) for r in mine) == list(range(1, 101))  # each once
        assert {r["fold"] for r in mine} == {"1", "2", "3", "4", "5"}
        for r in mine:
            assert float(r["true_price"]) == pytest.approx(prices[int(r["house"]) - 1])
        # each printed fold figure is the error of that fold's predictions
        for k in range(1, 6):
            fold = [r for r in mine if r["fold"] == str(k)]
            (truth, predicted) = (np.array([float(r[c]) for r in fold])
                                  for c in ("true_price", "predicted_price"))
            assert np.mean(np.abs(predicted - truth) / truth) * 100 == \
                pytest.approx(printed[name][k - 1], abs=0.011)
    # the same folds for every model
    folds = {name: {r["house"]: r["fold"] for r in rows if r["model"] == name}
             for name in ("mlp", "mean-price", "boosting")}
    assert folds["mlp"] == folds["mean-price"] == folds["boosting"]


def test_results_json_and_the_table_say_what_was_printed(five_folds):
    (result, out) = five_folds
    results = json.loads((out / "results.json").read_text())
    assert (results["script"], results["folds"], results["seed"], results["epochs"]) == \
        ("compare_house_models.py", 5, 42, 2)
    printed = fold_figures(info_lines(result))
    for name, figures in results["models"].items():
        assert figures["per_fold"] == pytest.approx(printed[name], abs=0.006)
        assert figures["mean"] == pytest.approx(np.mean(figures["per_fold"]), abs=1e-3)
        assert figures["std"] == pytest.approx(np.std(figures["per_fold"]), abs=1e-3)
        assert figures["seconds"] >= 0
    # the table ends the output, best first, one line per model
    table = result.stdout.strip().splitlines()[-3:]
    order = sorted(results["models"], key=lambda n: results["models"][n]["mean"])
    assert [line.split()[0] for line in table] == order
    assert table[0].endswith("best")
    for line in table[1:]:
        assert re.search(r" [+-][\d.]+ points \(95% interval [+-][\d.]+ to [+-][\d.]+\), "
                         r"worse in \d of 5 folds$", line)
    assert (out / "comparison.png").read_bytes()[:8] == PNG


def test_nothing_but_the_figures_is_kept(five_folds):
    # K-fold validation evaluates recipes: the models trained on folds are not kept
    assert sorted(p.name for p in five_folds[1].iterdir()) == \
        ["comparison.png", "predictions.csv", "results.json"]


@pytest.mark.eager_steps  # runs of an epoch (conftest.eager_steps)
def test_each_model_starts_from_the_seed_whatever_ran_before(houses, tmp_path):
    # the MLP after the improved one (eight networks drawn) prints what it prints alone
    alone = run_in_process("compare_house_models.py", "--dataset", houses, "--models", "mlp",
                           "--folds", 2, "--epochs", 1, "--output", tmp_path / "a")
    after = run_in_process("compare_house_models.py", "--dataset", houses, "--models",
                           "mlp-improved", "mlp", "--folds", 2, "--epochs", 1,
                           "--output", tmp_path / "b")
    assert fold_figures(info_lines(after))["mlp"] == fold_figures(info_lines(alone))["mlp"]


# --------------------------------------------------------------------------
# What each network trains (in this process, its fits watched)


def house_montages(dataset):
    """A house's montage as the networks are fed it (float32 bytes) -> its number."""
    df = datasets.load_house_attributes(dataset / "HousesInfo.txt")
    df = datasets.drop_houses_with_bad_images(df, dataset)
    images = (datasets.load_house_images(df, dataset) / 255.0).astype("float32")
    return {image.tobytes(): int(number) + 1 for (number, image) in zip(df.index, images)}


def trained_houses(data, montages):
    """The numbers of the houses in a fit's training pipeline (-1: a montage
    of no house)."""
    found = []
    for (x, _) in data:
        images = x[-1] if isinstance(x, (tuple, list)) else x
        found += [montages.get(image.tobytes(), -1) for image in np.asarray(images)]
    return sorted(found)


@pytest.mark.eager_steps
def test_a_folds_model_trained_on_exactly_the_other_houses(houses, tmp_path, fits):
    run_in_process("compare_house_models.py", "--dataset", houses, "--models", "cnn",
                   "mixed", "--folds", 2, "--epochs", 1, "--output", tmp_path, fits=fits)
    rows = read_rows(tmp_path / "predictions.csv")
    montages = house_montages(houses)
    assert len(fits.calls) == 4  # two models, two folds
    for (i, call) in enumerate(fits.calls):
        (name, k) = (("cnn", "mixed")[i // 2], str(i % 2 + 1))
        tested = {int(r["house"]) for r in rows if r["model"] == name and r["fold"] == k}
        assert len(tested) == 50
        assert trained_houses(call.args[0], montages) == \
            sorted(n for n in montages.values() if n not in tested)


@pytest.mark.eager_steps
@pytest.mark.parametrize("name, members, batchSize", [
    ("mlp", 1, 8), ("mlp-improved", 8, 16), ("cnn-improved", 4, 32), ("mixed-improved", 4, 16)])
def test_each_network_fits_its_recipes_epochs_batches_and_copies(name, members, batchSize,
                                                                 houses, tmp_path, fits):
    run_in_process("compare_house_models.py", "--dataset", houses, "--models", name,
                   "--folds", 2, "--epochs", 3, "--output", tmp_path, stop=1, fits=fits)
    [call] = fits.calls
    assert call.kwargs["epochs"] == 3
    # one output column per copy, on the recipe's batches of half the houses
    assert call.model.outputs[0].shape[-1] == members
    sizes = []
    for (x, y) in call.args[0]:
        sizes.append(len(np.asarray(x[0] if isinstance(x, (tuple, list)) else x)))
        assert np.asarray(y).shape[1:] == ((1,) if members > 1 else ())
    assert sizes == [batchSize] * (50 // batchSize) + ([50 % batchSize] if 50 % batchSize else [])


# the MLPs' copies as a graph, as they train; the mixed model's eagerly
# (conftest.eager_steps): its graph costs more than its epoch
@pytest.mark.parametrize("name", ["mlp-improved",
                                  pytest.param("mixed-improved", marks=pytest.mark.eager_steps)])
def test_improved_recipe_trains_copies_and_predicts_their_mean(name, houses, tmp_path):
    # the network a fold trains, saved and loaded as any model: the copies
    # that were trained, each its own weights, and their mean as the price
    compare = load_script("compare_house_models.py")
    df = datasets.load_house_attributes(houses / "HousesInfo.txt")
    images = datasets.load_house_images(df, houses) / 255.0
    (train, test) = (np.arange(60), np.arange(60, 100))
    (trainX, testX) = compare.fold_inputs(compare.NETWORKS[name][0], df, images, train, test)
    prices = (df["price"] / df["price"].iloc[train].max()).to_numpy("float32")
    keras.utils.set_random_seed(0)
    predictor = compare.train_network(name, trainX, prices[train], testX, prices[test],
                                      epochs=1, seed=0)
    model = keras.models.load_model(storage.save_model(predictor, str(tmp_path / "m")))
    copies = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(copies) == compare.NETWORKS[name][1]
    trained = [layer for layer in predictor.layers if isinstance(layer, keras.Model)]
    assert [c.name for c in copies] == [t.name for t in trained]
    for (saved, fitted) in zip(copies, trained):
        for (a, b) in zip(saved.get_weights(), fitted.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    feed = testX if isinstance(testX, list) else [testX]
    each = np.stack([np.asarray(c(feed if len(feed) > 1 else feed[0]))[:, 0] for c in copies],
                    axis=1)
    assert not np.allclose(each[:, 0], each[:, 1])  # each copy its own weights
    np.testing.assert_allclose(np.asarray(model(feed if len(feed) > 1 else feed[0]))[:, 0],
                               each.mean(axis=1), rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# How sure: the interval of a difference, the table


def test_paired_difference_counts_folds_and_widens_for_overlapping_folds():
    best = [20.0, 22.0, 18.0, 24.0, 21.0]
    worse = [23.0, 25.5, 20.5, 28.0, 24.0]   # worse in every fold, by 2.5 to 4
    (mean, low, high, folds) = reports.paired_difference(worse, best)
    assert mean == pytest.approx(3.2) and folds == 5
    # the plain t interval of the 5 differences, widened by sqrt(1 + K/(K-1))
    from scipy import stats

    d = np.array(worse) - np.array(best)
    plain = stats.t.ppf(0.975, 4) * d.std(ddof=1) / np.sqrt(5)
    assert (high - low) / 2 == pytest.approx(plain * np.sqrt(1 + 5 / 4))
    assert low > 0  # this much better in every fold is sure
    # a difference that changes sign from fold to fold is not
    (_, low, high, folds) = reports.paired_difference([22, 19, 25, 17, 23], best)
    assert low < 0 < high and folds == 3


def test_comparison_lines_put_the_best_first():
    lines = reports.comparison_lines({"b": [30.0, 32.0], "a": [20.0, 21.0], "c": [25.0, 26.0]})
    assert [line.split()[0] for line in lines] == ["model", "a", "c", "b"]
    assert lines[1].endswith("best") and "20.50%" in lines[1]
    assert "worse in 2 of 2 folds" in lines[2]


# --------------------------------------------------------------------------
# Mistakes: one line, before training


@pytest.mark.parametrize("flags, message", [
    (["--folds", "1"], "--folds needs at least 2 folds"),
    (["--models", "best"], "invalid choice: 'best'"),
    (["--epochs", "0"], "expected a whole number >= 1"),
])
def test_bad_flags_exit_2_with_argparses_message(houses, flags, message, capsys):
    with pytest.raises(SystemExit) as exit:
        run_in_process("compare_house_models.py", "-d", houses, *flags)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_too_many_folds_for_the_houses(houses, tmp_path, capsys):
    with pytest.raises(UserError, match="60 folds need at least 120"):
        run_in_process("compare_house_models.py", "-d", houses, "--folds", 60,
                       "--output", tmp_path)
    assert "fold 1/60" not in capsys.readouterr().out
