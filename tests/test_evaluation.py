"""K-fold evaluation, held-out validation (--val-split, --patience) and
the files a run leaves for a learner (plots, results.json). The scripts
run in-process, except the MLP's 5 folds: a subprocess, as a user runs it
(its stderr and its log as a file); flag mistakes are in test_bad_input.py, the improved
recipes in test_recipes.py."""

import csv
import json
import re
from contextlib import redirect_stdout
from io import StringIO

import numpy as np
import pandas as pd
import pytest

from conftest import CLASSIFIERS, info_lines, load_script, run_main, run_script, script_argv


def run_mlp(*argv):
    """mlp_regression.py's main in this process; its [INFO] lines."""
    with redirect_stdout(StringIO()) as log:
        load_script("mlp_regression.py").main([str(a) for a in argv])
    return [line.strip() for line in log.getvalue().splitlines() if line.startswith("[INFO]")]

PNG = b"\x89PNG\r\n\x1a\n"


# --------------------------------------------------------------------------
# K folds, end to end

@pytest.fixture(scope="module")
def mlp_folds(houses, tmp_path_factory):
    """The MLP over 5 folds (the demo's count), run as a user runs it."""
    out = tmp_path_factory.mktemp("mlp_folds")
    result = run_script("mlp_regression.py", "-d", houses, "--folds", 5, "--epochs", 2,
                        "--output", out)
    assert result.returncode == 0, result.stderr[-3000:]
    return info_lines(result), out, result.stderr, result.stdout


def test_folds_say_nothing_on_stderr(mlp_folds):
    # a new model per fold: TensorFlow's "tf.function retracing" warning
    # from the fifth fold's predictions on is not shown
    assert mlp_folds[2] == ""


def test_log_has_one_line_per_epoch_when_stdout_is_not_a_terminal(mlp_folds):
    stdout = mlp_folds[3]
    assert "\r" not in stdout and "\x08" not in stdout
    assert "━" not in stdout  # no progress bar
    epochs = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    assert epochs == ["Epoch 1/2", "Epoch 2/2"] * 5
    lossLines = [line for line in stdout.splitlines() if "loss:" in line]
    assert len(lossLines) == 10 and all("val_loss:" in line for line in lossLines)


def test_folds_print_each_fold_and_their_mean(mlp_folds):
    lines = mlp_folds[0]
    folds = [float(m.group(1)) for line in lines
             if (m := re.match(r"^\[INFO\] fold \d/5: mean: ([\d.]+)%, std: [\d.]+%$", line))]
    assert len(folds) == 5
    last = re.match(r"^\[INFO\] mean: ([\d.]+)%, std: ([\d.]+)% \(over 5 folds", lines[-1])
    assert last, lines[-3:]
    assert float(last.group(1)) == pytest.approx(np.mean(folds), abs=0.01)
    assert float(last.group(2)) == pytest.approx(np.std(folds), abs=0.01)
    assert lines.count("[INFO] training model...") == 5


def test_folds_test_every_house_once_and_keep_no_model(mlp_folds, houses):
    out = mlp_folds[1]
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["house"]) for r in rows) == list(range(1, 101))
    assert {r["fold"] for r in rows} == {"1", "2", "3", "4", "5"}
    # the true prices are the dataset's, house by house
    prices = pd.read_csv(houses / "HousesInfo.txt", sep=" ", header=None)[4]
    for r in rows:
        assert float(r["true_price"]) == pytest.approx(prices[int(r["house"]) - 1])
    assert not (out / "model.keras").exists()
    for picture in ("loss.png", "predictions.png"):
        assert (out / picture).read_bytes()[:8] == PNG


def test_results_json_matches_what_was_printed(mlp_folds):
    (lines, out) = mlp_folds[:2]
    results = json.loads((out / "results.json").read_text())
    assert results["script"] == "mlp_regression.py"
    assert (results["recipe"], results["seed"], results["folds"]) == ("posts", 42, 5)
    assert len(results["per_fold"]) == 5
    assert results["value"] == pytest.approx(np.mean(results["per_fold"]), abs=1e-3)
    printed = re.search(r"mean: ([\d.]+)%", lines[-1]).group(1)
    assert f"{results['value']:.2f}" == printed
    assert results["seconds"] > 0


# --------------------------------------------------------------------------
# the splits themselves

def test_folds_keep_houses_and_pictures_together():
    from pyimagesearch.splits import kfold

    df = pd.DataFrame({"price": np.arange(40.0) + 1})
    images = np.arange(40.0) * 10
    for (train, test, trainImages, testImages) in kfold(4, df, images):
        assert (trainImages == train["price"].to_numpy() * 10 - 10).all()
        assert (testImages == test["price"].to_numpy() * 10 - 10).all()


def test_folds_partition_the_houses():
    from pyimagesearch.splits import kfold

    df = pd.DataFrame({"price": np.arange(23.0) + 1})
    folds = [(train.index, test.index) for (train, test) in kfold(5, df)]
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(23))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 23


# --------------------------------------------------------------------------
# held-out validation

def test_hold_out_is_seeded_disjoint_and_keeps_pairs():
    from pyimagesearch.splits import hold_out

    x = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    (trainX, trainY, valX, valY) = hold_out(x, y, 0.2, seed=3)
    assert len(valY) == 5 and len(trainY) == 20
    assert not set(trainY) & set(valY)
    assert (trainX[:, 0] == 2 * trainY).all() and (valX[:, 0] == 2 * valY).all()
    again = hold_out(x, y, 0.2, seed=3)[3]
    other = hold_out(x, y, 0.2, seed=4)[3]
    assert list(again) == list(valY) and list(other) != list(valY)
    # multi-input models: every input is split the same way
    (_, _, valParts, _) = hold_out([x, x * 10], y, 0.2, seed=3)
    assert (valParts[1] == valParts[0] * 10).all()


def test_early_stopping_restores_the_best_epochs_weights():
    import keras

    from pyimagesearch import splits, training

    # pure-noise targets and a wide network: it memorises the training
    # examples, so the validation loss gets worse after the first epochs
    # and the last epoch is not the best one
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype("float32")
    y = rng.normal(size=60).astype("float32")
    (trainX, trainY, valX, valY) = splits.hold_out(x, y, 0.25, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(training.batches(trainX, trainY, 8, shuffle=True, seed=0),
                        validation_data=(valX, valY), validation_batch_size=256,
                        epochs=40, verbose=0,
                        callbacks=training.callbacks(early_stopping=True))
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert best != len(losses) - 1 and len(losses) == 40
    assert model.evaluate(valX, valY, verbose=0) == pytest.approx(losses[best], rel=1e-4)


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
    history = model.fit(x, y, validation_data=(x, y), epochs=30, verbose=0,
                        callbacks=training.callbacks(early_stopping=True, patience=2))
    assert len(history.epoch) == 3


def spoil_from_epoch_4():
    """A callback that knocks the weights far off at the start of each epoch
    from the fourth on: the best epoch is among the first three, and a run
    that kept the last epoch's weights keeps a worse model."""
    import keras

    class Spoil(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch >= 3:
                self.model.set_weights([w * 5.0 for w in self.model.get_weights()])

    return Spoil()


@pytest.mark.parametrize("script", ["mlp_regression.py", "cnn_regression.py",
                                    "mixed_regression.py", *CLASSIFIERS])
def test_val_split_keeps_the_best_epochs_weights(script, houses, shapes3, tmp_path, fits):
    import keras

    fits.extra = [spoil_from_epoch_4()]
    if script in CLASSIFIERS:
        (argv, saved) = (script_argv(script, shapes3, tmp_path), tmp_path / "net.model.keras")
    else:
        (argv, saved) = (["-d", houses, "--output", tmp_path], tmp_path / "model.keras")
    run_main(script, *argv, "--epochs", 5, "--batch-size", 8, "--val-split", "0.2", fits=fits)
    [call] = fits.calls
    (model, val, losses) = (call.model, call.kwargs["validation_data"],
                            call.history.history["val_loss"])
    assert int(np.argmin(losses)) < len(losses) - 1, losses   # the test means something
    # the model the script saved has the best epoch's weights, not the last's
    scores = model.evaluate(val, verbose=0)
    loss = scores[0] if isinstance(scores, list) else scores
    assert loss == pytest.approx(min(losses), rel=1e-4)
    np.testing.assert_allclose(keras.models.load_model(saved).predict(val, verbose=0),
                               model.predict(val, verbose=0), rtol=1e-5)


def test_val_split_end_to_end(houses, tmp_path):
    lines = run_mlp("-d", houses, "--epochs", 8, "--val-split", "0.2", "--output", tmp_path)
    assert "[INFO] holding out 15 of the 75 training examples for validation" in lines
    kept = [line for line in lines if line.startswith("[INFO] kept the weights of epoch ")]
    assert len(kept) == 1
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["val_split"] == 0.2 and results["epochs"] == 8


def test_smooth_curve_is_the_books_moving_average():
    from pyimagesearch.plots import smooth_curve

    points = list(range(10)) + [10.0, 20.0, 0.0]
    epochs, smoothed = smooth_curve(points)
    assert list(epochs) == [11, 12, 13]
    assert smoothed == pytest.approx([10.0, 11.0, 9.9])
