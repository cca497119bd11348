"""What the README's flags of the posts' scripts do, checked by their
effect rather than by what the scripts print: --resume-dir continues an
interrupted training, --mixed-precision saves a model that computes in
bfloat16, --folds tests every house once, --recipe improved trains the
ensemble recipes.py describes, --patience stops N epochs after the best
epoch, and the sample-data command lines write datasets the loaders take.

The scripts run in this process through ``main(argv)``; a wrapper of
``keras.Model.fit`` sees what each script trains (and adds the test's own
callbacks, after the script's).
"""

import csv
import json
import re

import keras
import numpy as np
import pandas as pd
import pytest

from conftest import CLASSIFIERS, run_main, script_argv
from pyimagesearch import chapter3_datasets, datasets, sample_data, textfolders

# runs of an epoch or two: Keras' steps run eagerly (conftest.eager_steps)
pytestmark = pytest.mark.eager_steps

# --------------------------------------------------------------------------
# --resume-dir: a run that crashes after N epochs continues from epoch N


class Crash(Exception):
    """What ends the first run: a crash of the process, in this process."""


class CrashAfter(keras.callbacks.Callback):
    """Raise ``Crash`` at the end of epoch ``epochs`` (the script's callbacks,
    its backup among them, have run for that epoch); keep the weights and
    the optimizer's step count at that point."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.weights = self.model.get_weights()
            self.iterations = int(self.model.optimizer.iterations.numpy())
            raise Crash


class Watch(keras.callbacks.Callback):
    """The weights and step count a fit starts from (after the script's
    callbacks have restored any backup), and the epochs it trains."""

    def on_train_begin(self, logs=None):
        self.start_weights = self.model.get_weights()
        self.start_iterations = int(self.model.optimizer.iterations.numpy())
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


@pytest.mark.parametrize("script", ["cnn_regression.py", "mixed_regression.py",
                                    "train_simple_nn.py", "train_vgg.py"])
def test_resume_dir_continues_from_the_last_finished_epoch(script, houses, shapes3, tmp_path,
                                                          fits):
    dataset = shapes3 if script in CLASSIFIERS else houses
    resume = tmp_path / "state"
    argv = [*script_argv(script, dataset, tmp_path), "--epochs", 2, "--resume-dir", resume]

    # the first run crashes after its first epoch
    (first, crash) = (Watch(), CrashAfter(1))
    fits.extra = [first, crash]
    with pytest.raises(Crash):
        run_main(script, *argv)
    assert first.epochs == [0]
    assert resume.is_dir() and any(resume.iterdir())  # the state of epoch 1 was kept
    stepsPerEpoch = crash.iterations
    assert stepsPerEpoch > 0

    # the same command again: it trains epoch 2 only (a fresh start would
    # train both), from the weights and optimizer state the first run reached
    second = Watch()
    fits.extra = [second]
    run_main(script, *argv)
    (model, history) = (fits.calls[-1].model, fits.calls[-1].history)
    assert second.epochs == [1]
    assert len(history.history["loss"]) == 1
    assert len(second.start_weights) == len(crash.weights)
    for (resumed, reached) in zip(second.start_weights, crash.weights):
        np.testing.assert_array_equal(resumed, reached)
    # ... which are trained weights, not the fresh model's (same seed, same start)
    assert any(not np.array_equal(a, b) for (a, b) in zip(second.start_weights,
                                                           first.start_weights))
    assert second.start_iterations == stepsPerEpoch
    assert int(model.optimizer.iterations.numpy()) == 2 * stepsPerEpoch
    assert not resume.exists() or not any(resume.iterdir())  # removed once done


# --------------------------------------------------------------------------
# --mixed-precision: the saved model computes in bfloat16, float32 weights


# (eagerly, as this file's other runs: bfloat16 in a graph is test_saved_models'
# CNN, loaded and run in a fresh Python)
@pytest.mark.parametrize("script", ["mlp_regression.py", "mixed_regression.py",
                                    "train_simple_nn.py", "train_vgg.py"])
def test_mixed_precision_saves_a_bfloat16_model_that_predicts(script, houses, shapes3,
                                                              tmp_path):
    if script in CLASSIFIERS:
        run_main(script, *script_argv(script, shapes3, tmp_path), "--epochs", 1,
                 "--mixed-precision")
        modelPath = tmp_path / "net.model.keras"
        results = json.loads((tmp_path / "net_results.json").read_text())
        assert results["mixed_precision"] is True
    else:
        run_main(script, "--dataset", houses, "--epochs", 1, "--mixed-precision",
                 "--output", tmp_path)
        modelPath = tmp_path / "model.keras"
    # loaded under the default float32 policy: the file itself says bfloat16
    assert keras.mixed_precision.global_policy().name == "float32"
    model = keras.models.load_model(modelPath)
    # every layer with weights computes in bfloat16 on float32 weights (the
    # output layer may keep float32, as Keras advises for a last softmax)
    outputLayer = model.layers[-1].name
    compute = [layer for layer in model._flatten_layers(include_self=False)
               if layer.weights and layer.name != outputLayer]
    assert len(compute) >= 2
    assert {layer.name: layer.dtype_policy.name for layer in compute} == \
        {layer.name: "mixed_bfloat16" for layer in compute}
    assert {layer.compute_dtype for layer in compute} == {"bfloat16"}
    assert model.weights and {w.dtype for w in model.weights} == {"float32"}

    rng = np.random.default_rng(0)
    inputs = [rng.random((5, *i.shape[1:])).astype("float32") for i in model.inputs]
    preds = np.asarray(model(inputs if len(inputs) > 1 else inputs[0]))
    assert preds.shape[0] == 5 and np.isfinite(preds.astype("float32")).all()


# --------------------------------------------------------------------------
# --folds K on the picture scripts


def house_montages(dataset):
    """A house's montage as the scripts feed it (float32 bytes) -> its number."""
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


@pytest.mark.parametrize("script", ["cnn_regression.py", "mixed_regression.py"])
def test_folds_test_every_house_once_by_a_model_that_never_saw_it(script, houses, tmp_path,
                                                                 fits):
    lines = run_main(script, "--dataset", houses, "--folds", 2, "--epochs", 1,
                     "--batch-size", 16, "--output", tmp_path)
    printed = [(int(m.group(1)), float(m.group(2))) for line in lines
               if (m := re.match(r"^\[INFO\] fold (\d)/2: mean: ([\d.]+)%, std: [\d.]+%$",
                                 line))]
    assert [k for (k, _) in printed] == [1, 2]
    perFold = [figure for (_, figure) in printed]
    last = re.match(r"^\[INFO\] mean: ([\d.]+)%, std: ([\d.]+)% \(over 2 folds", lines[-1])
    assert last, lines[-3:]
    assert float(last.group(1)) == pytest.approx(np.mean(perFold), abs=0.011)
    assert float(last.group(2)) == pytest.approx(np.std(perFold), abs=0.011)

    with open(tmp_path / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(int(r["house"]) for r in rows) == list(range(1, 101))  # each once
    prices = pd.read_csv(houses / "HousesInfo.txt", sep=" ", header=None)[4]
    montages = house_montages(houses)
    assert len(fits.calls) == 2
    for k in (1, 2):
        fold = [r for r in rows if r["fold"] == str(k)]
        tested = {int(r["house"]) for r in fold}
        for r in fold:
            assert float(r["true_price"]) == pytest.approx(prices[int(r["house"]) - 1])
        # the printed figure is this fold's error on these houses
        (truth, predicted) = (np.array([float(r[c]) for r in fold])
                              for c in ("true_price", "predicted_price"))
        assert np.mean(np.abs(predicted - truth) / truth) * 100 == \
            pytest.approx(perFold[k - 1], abs=0.011)
        # its model trained on exactly the other houses
        args = fits.calls[k - 1].args
        assert trained_houses(args[0], montages) == \
            sorted(n for n in montages.values() if n not in tested)

    assert not (tmp_path / "model.keras").exists()
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["folds"] == 2
    assert results["per_fold"] == pytest.approx(perFold, abs=0.006)


# --------------------------------------------------------------------------
# --recipe improved on the house scripts: an ensemble whose mean is the price

# script -> (copies of the post's model, batch size): README, "Improved recipes"
IMPROVED = {"mlp_regression.py": (8, 16), "cnn_regression.py": (4, 32),
            "mixed_regression.py": (4, 16)}


# eagerly, as this file's other runs (the fused batch norm of the CNN's copies
# in a graph against Keras' is test_fast's)
@pytest.mark.parametrize("script", IMPROVED)
def test_recipe_improved_trains_an_ensemble_and_saves_its_mean(script, houses, tmp_path,
                                                               fits):
    run_main(script, "--dataset", houses, "--recipe", "improved", "--epochs", 1,
             "--output", tmp_path)
    (members, batchSize) = IMPROVED[script]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["recipe"] == "improved"

    # what was trained: one column per copy, on the recipe's batches
    [call] = fits.calls
    (trainedModel, args, history) = (call.model, call.args, call.history)
    assert trainedModel.outputs[0].shape[-1] == members
    (x, _) = next(iter(args[0]))
    firstInput = x[0] if isinstance(x, (tuple, list)) else x
    assert firstInput.shape[0] == batchSize
    assert len(history.history["loss"]) == 1

    # what was saved: the copies, and their mean as the price
    model = keras.models.load_model(tmp_path / "model.keras")
    copies = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    assert len(copies) == members
    rng = np.random.default_rng(0)
    inputs = [rng.random((6, *i.shape[1:])).astype("float32") for i in model.inputs]
    feed = inputs if len(inputs) > 1 else inputs[0]
    # ... the copies that were trained, weight for weight
    trained = [layer for layer in trainedModel.layers if isinstance(layer, keras.Model)]
    assert [c.name for c in copies] == [t.name for t in trained]
    for (saved, fitted) in zip(copies, trained):
        for (a, b) in zip(saved.get_weights(), fitted.get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
    prices = np.stack([np.asarray(c(feed))[:, 0] for c in copies], axis=1)
    assert not np.allclose(prices[:, 0], prices[:, 1])  # each copy its own weights
    np.testing.assert_allclose(np.asarray(model(feed))[:, 0], prices.mean(axis=1),
                               rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------
# --patience N with --val-split: stops N epochs after the best epoch


class SpoilFromEpoch4(keras.callbacks.Callback):
    """From the fourth epoch on the weights are knocked far off at the start
    of each epoch, so the best epoch is among the first three."""

    def on_epoch_begin(self, epoch, logs=None):
        if epoch >= 3:
            self.model.set_weights([w * 5.0 for w in self.model.get_weights()])


def test_patience_stops_n_epochs_after_the_best_epoch(houses, tmp_path, fits):
    fits.extra = [SpoilFromEpoch4()]
    epochs, patience = 60, 2
    run_main("mlp_regression.py", "--dataset", houses, "--epochs", epochs,
             "--val-split", "0.2", "--patience", patience, "--output", tmp_path)
    [call] = fits.calls
    history = call.history
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) < epochs
    assert len(losses) == best + 1 + patience, losses
    assert (tmp_path / "model.keras").exists()


# --------------------------------------------------------------------------
# The sample-data command lines (README, Makefile)


def check_houses(folder):
    df = datasets.load_house_attributes(folder / "HousesInfo.txt")
    assert len(df) == 240  # README: 240 houses, 60 per zip code, none dropped
    assert sorted(df["zipcode"].unique()) == sorted(sample_data.SAMPLE_ZIPCODES)
    assert len(datasets.drop_houses_with_bad_images(df, folder)) == len(df)
    assert datasets.load_house_images(df, folder).shape == (len(df), 64, 64, 3)


def check_shapes(classes, perClass):
    def check(folder):
        (data, labels) = datasets.load_image_dataset(folder, 32, 32, flatten=True, seed=42)
        assert data.shape == (classes * perClass, 3072)
        names = sample_data.SHAPE_CLASSES[:classes]
        assert sorted(labels.tolist()) == sorted(n for n in names for _ in range(perClass))
    return check


def check_imdb(folder):
    data = chapter3_datasets.load_imdb_folder(str(folder), numWords=100)
    assert (len(data.trainSeqs), len(data.testSeqs)) == (80, 80)  # 40 per class and split
    assert sorted(np.bincount(data.trainLabels).tolist()) == [40, 40]


def check_imdb_npz(path):
    data = chapter3_datasets.load_imdb_npz(str(path), numWords=100)
    assert (len(data.trainSeqs), len(data.testSeqs)) == (200, 200)
    assert set(data.trainLabels.tolist()) == {0, 1}


def check_reuters(folder):
    data = chapter3_datasets.load_reuters_folder(str(folder), numWords=100)
    # 120 newswires: 12 without a topic, one of a rare topic (dropped)
    assert len(data.trainSeqs) + len(data.testSeqs) == 107
    assert len(data.testSeqs) == 107 - int(107 * 0.8)
    assert len(data.classNames) == 3


def check_reuters_npz(path):
    data = chapter3_datasets.load_reuters_npz(str(path), numWords=100)
    assert (len(data.trainSeqs), len(data.testSeqs)) == (240, 60)
    assert len(data.classNames) == 5


def check_boston(path):
    ((trainX, trainY), (testX, testY)) = chapter3_datasets.load_boston_npz(str(path))
    assert (trainX.shape, testX.shape) == ((96, 13), (24, 13))
    assert (len(trainY), len(testY)) == (96, 24)


def check_folder(folder):
    (texts, labels, names) = textfolders.load_text_folder(str(folder))
    assert names == ["cats", "dogs", "fish"]
    assert np.bincount(labels).tolist() == [30, 30, 30] and len(texts) == 90


# test id -> (command, flags, what OUT is called, check of what the loaders make of it)
SAMPLE_COMMANDS = {
    "houses": ("houses", [], "houses", check_houses),
    "shapes": ("shapes", ["--per-class", 5], "shapes", check_shapes(3, 5)),
    "shapes-2-classes": ("shapes", ["--classes", 2, "--per-class", 6], "shapes",
                         check_shapes(2, 6)),
    "imdb": ("imdb", [], "aclImdb", check_imdb),
    "imdb-npz": ("imdb-npz", [], "imdb.npz", check_imdb_npz),
    "reuters": ("reuters", [], "reuters21578", check_reuters),
    "reuters-npz": ("reuters-npz", [], "reuters.npz", check_reuters_npz),
    "boston": ("boston", [], "boston_housing.npz", check_boston),
    "folder": ("folder", [], "texts", check_folder),
}


@pytest.mark.parametrize("case", SAMPLE_COMMANDS)
def test_sample_data_command_writes_what_the_loaders_take(case, tmp_path, capsys):
    (command, flags, name, check) = SAMPLE_COMMANDS[case]
    target = tmp_path / name
    sample_data.main([command, str(target), *map(str, flags)])
    assert "[INFO] wrote " in capsys.readouterr().out
    check(target)


def test_every_sample_data_command_is_tested(capsys):
    with pytest.raises(SystemExit):
        sample_data.main(["--help"])
    offered = re.search(r"\{([\w,-]+)\}", capsys.readouterr().out).group(1).split(",")
    assert sorted(offered) == sorted({command for (command, *_) in SAMPLE_COMMANDS.values()})
