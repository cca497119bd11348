"""Issue 6: K-fold evaluation, held-out validation, the improved recipes and
the files a run leaves for a learner (plots, results.json)."""

import csv
import json
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import info_lines, run_script

PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------
# K folds, end to end

@pytest.fixture(scope="module")
def mlp_folds(houses, tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp_folds")
    result = run_script("mlp_regression.py", "-d", houses, "--folds", 4, "--epochs", 3,
                        "--output", out)
    assert result.returncode == 0, result.stderr
    return result, out


def test_folds_print_each_fold_and_their_mean(mlp_folds):
    result, _ = mlp_folds
    lines = info_lines(result)
    folds = [float(m.group(1)) for line in lines
             if (m := re.match(r"^\[INFO\] fold \d/4: mean: ([\d.]+)%, std: [\d.]+%$", line))]
    assert len(folds) == 4
    last = re.match(r"^\[INFO\] mean: ([\d.]+)%, std: ([\d.]+)% \(over 4 folds", lines[-1])
    assert last, lines[-3:]
    assert float(last.group(1)) == pytest.approx(np.mean(folds), abs=0.01)
    assert float(last.group(2)) == pytest.approx(np.std(folds), abs=0.01)
    assert lines.count("[INFO] training model...") == 4


def test_folds_test_every_house_once_and_keep_no_model(mlp_folds, houses):
    _, out = mlp_folds
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["house"]) for r in rows) == list(range(1, 101))
    assert {r["fold"] for r in rows} == {"1", "2", "3", "4"}
    # the true prices are the dataset's, house by house
    prices = pd.read_csv(houses / "HousesInfo.txt", sep=" ", header=None)[4]
    for r in rows:
        assert float(r["true_price"]) == pytest.approx(prices[int(r["house"]) - 1])
    assert not (out / "model.keras").exists()
    for picture in ("loss.png", "predictions.png"):
        assert (out / picture).read_bytes()[:8] == PNG


def test_results_json_matches_what_was_printed(mlp_folds):
    result, out = mlp_folds
    results = json.loads((out / "results.json").read_text())
    assert results["script"] == "mlp_regression.py"
    assert (results["recipe"], results["seed"], results["folds"]) == ("posts", 42, 4)
    assert len(results["per_fold"]) == 4
    assert results["value"] == pytest.approx(np.mean(results["per_fold"]), abs=1e-3)
    printed = re.search(r"mean: ([\d.]+)%", info_lines(result)[-1]).group(1)
    assert f"{results['value']:.2f}" == printed
    assert results["seconds"] > 0


def test_single_split_results_json_and_scatter(houses, tmp_path):
    result = run_script("mlp_regression.py", "-d", houses, "--epochs", 2, "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["folds"] is None and results["per_fold"] is None
    printed = re.search(r"mean: ([\d.]+)%", result.stdout.splitlines()[-1]).group(1)
    assert f"{results['value']:.2f}" == printed
    assert (tmp_path / "predictions.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("args, message", [
    (["--folds", "1"], "--folds needs at least 2 folds"),
    (["--folds", "60"], "60 folds need at least 120"),
    (["--patience", "5"], "--patience needs --val-split"),
    (["--val-split", "1.5"], "expected a fraction between 0 and 1"),
    (["--recipe", "best"], "invalid choice: 'best'"),
])
def test_bad_evaluation_flags(houses, args, message):
    result = run_script("mlp_regression.py", "-d", houses, *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------
# the splits themselves

def test_splits_without_folds_are_the_posts_split():
    from sklearn.model_selection import train_test_split

    from pyimagesearch.regression import splits

    df = pd.DataFrame({"price": np.arange(40.0) + 1})
    [(train, test)] = splits(df)
    (postTrain, postTest) = train_test_split(df, test_size=0.25, random_state=42)
    assert list(df.iloc[train].index) == list(postTrain.index)
    assert list(df.iloc[test].index) == list(postTest.index)


def test_folds_partition_the_houses():
    from pyimagesearch.regression import splits

    df = pd.DataFrame({"price": np.arange(23.0) + 1})
    folds = splits(df, 5)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(23))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 23


# --------------------------------------------------------------------------
# held-out validation

def test_hold_out_is_seeded_disjoint_and_keeps_pairs():
    from pyimagesearch.training import hold_out

    x = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    (trainX, trainY), (valX, valY) = hold_out(x, y, 0.2, seed=3)
    assert len(valY) == 5 and len(trainY) == 20
    assert not set(trainY) & set(valY)
    assert (trainX[:, 0] == 2 * trainY).all() and (valX[:, 0] == 2 * valY).all()
    again = hold_out(x, y, 0.2, seed=3)[1][1]
    other = hold_out(x, y, 0.2, seed=4)[1][1]
    assert list(again) == list(valY) and list(other) != list(valY)
    # multi-input models: every input is split the same way
    (trainParts, _), (valParts, _) = hold_out([x, x * 10], y, 0.2, seed=3)
    assert (valParts[1] == valParts[0] * 10).all()


def _args(**kw):
    base = dict(epochs=12, batch_size=8, seed=0, val_split=None, patience=None,
                resume_dir=None)
    base.update(kw)
    return SimpleNamespace(**base)


def test_val_split_keeps_the_best_epochs_weights(capsys):
    import keras

    from pyimagesearch import training

    # pure-noise targets and a wide network: it memorises the training
    # examples, so the validation loss gets worse after the first epochs
    # and the last epoch is not the best one
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype("float32")
    y = rng.normal(size=60).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.01))
    args = _args(epochs=40, val_split=0.25)
    history = training.fit(model, x, y, (x[:1], y[:1]), args)
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert best != len(losses) - 1
    (_, (valX, valY)) = training.hold_out(x, y, 0.25, seed=0)
    assert model.evaluate(valX, valY, verbose=0) == pytest.approx(losses[best], rel=1e-4)
    out = capsys.readouterr().out
    assert "[INFO] holding out 15 of the 60 training examples for validation" in out
    assert f"[INFO] kept the weights of epoch {best + 1} " in out


def test_patience_stops_early():
    import keras

    from pyimagesearch import training

    x = np.zeros((40, 2), "float32")
    y = np.ones(40, "float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    # zero inputs: only the bias learns, and SGD at lr 0 learns nothing, so
    # the validation loss never improves after the first epoch
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.0))
    history = training.fit(model, x, y, (x, y), _args(epochs=30, val_split=0.25, patience=2))
    assert len(history.epoch) == 3


def test_val_split_end_to_end_smoothed_curve(houses, tmp_path):
    result = run_script("cnn_regression.py", "-d", houses, "--epochs", 12,
                        "--val-split", "0.2", "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "[INFO] holding out 15 of the 75 training examples for validation" in result.stdout
    assert re.search(r"\[INFO\] kept the weights of epoch \d+ ", result.stdout)
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    assert json.loads((tmp_path / "results.json").read_text())["val_split"] == 0.2


def test_smooth_curve_is_the_books_moving_average():
    from pyimagesearch.plots import smooth_curve

    points = list(range(10)) + [10.0, 20.0, 0.0]
    epochs, smoothed = smooth_curve(points)
    assert list(epochs) == [11, 12, 13]
    assert smoothed == pytest.approx([10.0, 11.0, 9.9])


# --------------------------------------------------------------------------
# the improved recipes' parts

def test_house_ensemble_trains_independent_copies_and_averages_them():
    import keras

    from pyimagesearch import models, recipes

    keras.utils.set_random_seed(0)
    ensemble, loss = recipes.house_ensemble(models.create_mlp(5, regress=True), members=3)
    x = np.random.default_rng(0).random((7, 5)).astype("float32")
    columns = ensemble.predict(x, verbose=0)
    assert columns.shape == (7, 3)
    assert not np.allclose(columns[:, 0], columns[:, 1])  # fresh weights per copy
    # the loss is the post's MAPE of each copy, averaged over the copies
    y = np.linspace(1.0, 2.0, 7).astype("float32")
    perCopy = [np.mean(np.abs(columns[:, i] - y) / y) * 100 for i in range(3)]
    assert np.mean(np.asarray(loss(y, columns))) == pytest.approx(np.mean(perCopy), rel=1e-5)
    averaged = recipes.average_members(ensemble)
    assert averaged.predict(x, verbose=0)[:, 0] == pytest.approx(columns.mean(axis=1),
                                                                 rel=1e-5)


def test_flip_flattened_mirrors_rows_only():
    import tensorflow as tf

    from pyimagesearch import recipes

    image = np.arange(2 * 3 * 3, dtype="float32").reshape(1, 2, 3, 3)
    flat = tf.constant(np.repeat(image.reshape(1, -1), 64, axis=0))
    flipped, _ = recipes.flip_flattened(3, 2, 3)(flat, tf.zeros((64, 1)))
    mirrored = image[:, :, ::-1, :].reshape(-1)
    rows = [tuple(r) for r in flipped.numpy()]
    assert set(rows) == {tuple(image.reshape(-1)), tuple(mirrored)}


# --------------------------------------------------------------------------
# classification: the improved recipe, the confusion matrix, results.json

@pytest.mark.parametrize("script", ["train_simple_nn.py", "train_vgg.py"])
def test_improved_classifier_writes_confusion_matrix_and_results(script, shapes3, tmp_path):
    result = run_script(script, "--dataset", shapes3, "--model", tmp_path / "net.model",
                        "--label-bin", tmp_path / "lb.pickle", "--plot", tmp_path / "plot.png",
                        "--epochs", 2, "--recipe", "improved")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "net_results.json").read_text())
    assert (results["script"], results["recipe"]) == (script, "improved")
    assert results["classes"] == ["circle", "square", "triangle"]
    matrix = np.array(results["confusion_matrix"])
    assert matrix.sum() == 18  # the test split: 25% of 72 shapes
    assert results["value"] == pytest.approx(np.trace(matrix) / matrix.sum(), abs=1e-4)
    printed = re.search(r"accuracy\s+([\d.]+)\s+18", result.stdout).group(1)
    assert float(printed) == pytest.approx(results["value"], abs=0.006)
    assert (tmp_path / "plot_confusion.png").read_bytes()[:8] == PNG
