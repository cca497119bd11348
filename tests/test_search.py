"""The automated model search (search_image_classifier.py, search_image_regressor.py).

Small generated data, tiny images, one or two epochs and at most two trials:
these check that a search runs, resumes, refuses what it should, runs
distributed on 127.0.0.1 and exports a model plain Keras loads; the figures
on the real datasets are in the README.
"""

import csv
import json
import os
import re
import signal
import socket
import subprocess
import sys
import warnings

import cv2
import numpy as np
import pytest
from conftest import ROOT, load_script, predict_in_fresh_python

from pyimagesearch import sample_data, search
from pyimagesearch.cli import UserError

TINY = ["--image-size", "16", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(scope="module")
def classifier():
    return load_script("search_image_classifier.py")


@pytest.fixture(scope="module")
def regressor():
    return load_script("search_image_regressor.py")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("search_shapes")
    sample_data.write_shapes(folder, classes=3, per_class=20, seed=0)
    return folder


@pytest.fixture(scope="module")
def targets_folder(tmp_path_factory):
    """Images with a targets.csv: grey squares whose target is their brightness."""
    folder = tmp_path_factory.mktemp("search_targets")
    rng = np.random.default_rng(0)
    with open(folder / "targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "target"])
        for i in range(24):
            level = int(rng.integers(20, 235))
            image = np.clip(rng.normal(level, 8, (20, 20, 3)), 0, 255).astype("uint8")
            cv2.imwrite(str(folder / f"img_{i:02d}.png"), image)
            writer.writerow([f"img_{i:02d}.png", level / 10])
    return folder


def outputs(folder, name="m"):
    """Output flags that keep everything under ``folder``."""
    return ["--project-dir", str(folder / "project"), "--model", str(folder / f"{name}.keras"),
            "--plot", str(folder / f"{name}.png")]


# --------------------------------------------------------------------------
# Bad input: one clear line before anything is loaded


@pytest.mark.parametrize("flags", [["--max-trials", "0"], ["--time-limit", "0"],
                                   ["--block", "mobilenet"], ["--val-split", "1.5"]])
def test_bad_flags_exit_2(classifier, shapes, tmp_path, flags):
    with pytest.raises(SystemExit) as info:
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path), *flags])
    assert info.value.code == 2


def test_missing_dataset(classifier, tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        classifier.main(["--dataset", str(tmp_path / "nowhere"), *outputs(tmp_path)])


def write_csv(folder, rows):
    folder.mkdir(exist_ok=True)
    cv2.imwrite(str(folder / "a.png"), np.zeros((8, 8, 3), "uint8"))
    with open(folder / "targets.csv", "w", newline="") as f:
        csv.writer(f).writerows([["file", "target"], *rows])
    return folder


@pytest.mark.parametrize("rows, message", [
    ([["a.png", "1.5"], ["missing.png", "2"]], "'missing.png' not found"),
    ([["a.png", "old"]], "target 'old' is not a number"),
    ([["a.png", "nan"]], "is not a number"),
    ([["a.png", "1"]] * 3, "at least 8"),
])
def test_bad_targets_csv(regressor, tmp_path, rows, message):
    folder = write_csv(tmp_path / "data", rows)
    with pytest.raises(UserError, match=message):
        regressor.main(["--dataset", str(folder), *outputs(tmp_path)])


def test_regressor_needs_houses_or_targets(regressor, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither HousesInfo.txt"):
        regressor.main(["--dataset", str(tmp_path / "empty"), *outputs(tmp_path)])


def test_training_defaults_follow_the_dataset(regressor, classifier, houses, targets_folder,
                                             shapes, tmp_path):
    # the houses train as the post: batches of 8, up to its 200 epochs
    args = regressor.parse_args(["--dataset", str(houses), *outputs(tmp_path)])
    assert (args.batch_size, args.max_epochs, args.patience, args.schedule) == \
        (8, 200, 20, "plateau")
    # images anneal over their epochs
    args = regressor.parse_args(["--dataset", str(targets_folder), *outputs(tmp_path)])
    assert (args.batch_size, args.max_epochs, args.patience, args.schedule) == \
        (32, 100, 20, "cosine")
    args = classifier.parse_args(["--dataset", str(shapes), *outputs(tmp_path)])
    assert (args.batch_size, args.max_epochs, args.patience, args.schedule) == \
        (32, 100, 20, "cosine")
    # what the user gives wins
    args = regressor.parse_args(["--dataset", str(houses), "--batch-size", "16",
                                 "--max-epochs", "50", "--patience", "5",
                                 "--schedule", "cosine", *outputs(tmp_path)])
    assert (args.batch_size, args.max_epochs, args.patience, args.schedule) == \
        (16, 50, 5, "cosine")


def test_foreign_project_dir_refused(classifier, shapes, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty and holds no search"):
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path)])


def test_distributed_variables_checked(classifier, shapes, tmp_path, monkeypatch):
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.delenv("KERASTUNER_ORACLE_PORT", raising=False)
    with pytest.raises(UserError, match="KERASTUNER_ORACLE_PORT is not"):
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path)])
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8000")
    monkeypatch.delenv("KERASTUNER_TUNER_ID", raising=False)
    with pytest.raises(UserError, match="KERASTUNER_TUNER_ID is not"):
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path)])


# --------------------------------------------------------------------------
# How a trial is judged: the validation loss averaged over a few epochs


def test_a_lucky_epoch_does_not_win_the_trial():
    # one epoch's loss dips by chance at epoch 2; the sustained low comes later
    history = {"val_loss": [1.0, 0.2, 1.0, 1.0, 0.9, 0.5, 0.45, 0.4, 0.45, 0.5, 0.6],
               "val_accuracy": [0.5, 0.9, 0.5, 0.5, 0.55, 0.7, 0.72, 0.75, 0.72, 0.7, 0.68]}
    metrics = search.trial_metrics(history, seconds=3.0)
    means = [np.mean(history["val_loss"][max(0, i - 4):i + 1]) for i in range(11)]
    assert metrics["best_epoch"] == int(np.argmin(means)) + 1 == 10
    assert metrics["val_loss"] == pytest.approx(min(means))
    assert metrics["val_accuracy"] == pytest.approx(np.mean(history["val_accuracy"][5:10]))
    assert metrics["epochs"] == 11 and metrics["seconds"] == 3.0
    # nor does a lucky first epoch, averaged with nothing
    first = search.trial_metrics({"val_loss": [0.1] + [1.0] * 4 + [0.6] * 5 + [0.9]}, 1.0)
    assert first["best_epoch"] == 10
    # a diverged epoch counts as infinitely bad for the epochs it is averaged into
    diverged = search.trial_metrics({"val_loss": [0.5, float("nan"), 0.6, 0.7, 0.8, 0.9,
                                                  0.9, 0.9, 0.9]}, seconds=1.0)
    assert diverged["best_epoch"] == 7
    # a trial shorter than the window is judged on what it has
    assert search.trial_metrics({"val_loss": [0.9, 0.4, 0.8]}, 1.0)["best_epoch"] == 2


@pytest.mark.parametrize("kind, convs, units, augmented", [
    # SmallVGGNet's widths, one convolution a block, FC 256; the post's augmentation
    ("classification", [32, 64, 128], 256, True),
    # the house CNN: CONV 16, 32, 64, FC 16; no augmentation
    ("regression", [16, 32, 64], 16, False),
])
def test_first_trial_is_the_default_network(kind, convs, units, augmented):
    import keras
    import keras_tuner

    head = ({"kind": kind, "classes": 3} if kind == "classification" else
            {"kind": kind, "loss": "mean_absolute_percentage_error", "mean": 0.0, "std": 1.0})
    hypermodel = search.make_hypermodel((64, 64, 3), head)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    layers = model.layers
    assert [l.filters for l in layers if isinstance(l, keras.layers.Conv2D)] == convs
    assert [l.pool_size for l in layers if isinstance(l, keras.layers.MaxPooling2D)] == \
        [(2, 2)] * 3
    assert [l.units for l in layers if isinstance(l, keras.layers.Dense)][0] == units
    assert [l.rate for l in layers if isinstance(l, keras.layers.Dropout)][-1] == 0.5
    # the model holds only the network: augmentation is done to the batches
    assert not [l for l in layers if type(l).__name__.startswith("Random")]
    assert hypermodel.augments(hp) is augmented

    # the training batches: augmented, no picture comes out as it went in;
    # otherwise every one does (in a shuffled order)
    rng = np.random.default_rng(0)
    x = rng.random((8, 64, 64, 3), dtype="float32")
    y = np.zeros((8, 3) if kind == "classification" else (8,), dtype="float32")
    (batch, _) = next(iter(hypermodel.batches(hp, x, y)))
    unchanged = [any(np.allclose(b, original) for original in x) for b in batch.numpy()]
    assert len(unchanged) == 8 and all(unchanged) is not augmented
    assert any(unchanged) is not augmented
    if augmented:
        # the post's ranges (ImageDataGenerator in train_vgg.py)
        ranges = search.search_augmentation(kind).keywords
        assert (ranges["rotation"], ranges["zoom"], ranges["shear"]) == (30, 0.2, 0.2)


def rate_recorder(rates, atEnd=False):
    """A callback appending the learning rate at the start of every epoch
    (and, ``atEnd``, once training ends) to ``rates``; it also stands for
    KerasTuner's own callbacks in the list."""
    import keras

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))

        def on_train_end(self, logs=None):
            if atEnd:
                rates.append(float(self.model.optimizer.learning_rate))

    return Recorder()


def test_adaptive_trial_stops_on_the_averaged_loss():
    # labels that cannot be learnt: the averaged validation loss stops
    # improving, so the trial ends long before --max-epochs
    import keras
    import keras_tuner

    rng = np.random.default_rng(0)
    x = rng.random((48, 8, 8, 3), dtype="float32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, 48)]  # one-hot, as the script feeds
    hypermodel = search.make_hypermodel((8, 8, 3), {"kind": "classification", "classes": 2},
                                        augment=False, maxEpochs=60, patience=3,
                                        batchSize=16, schedule="plateau", verbose=0)
    hp = keras_tuner.HyperParameters()
    keras.utils.set_random_seed(0)
    model = hypermodel.build(hp)
    rates = []
    metrics = hypermodel.fit(hp, model, x[:32], y[:32], validation_data=(x[32:], y[32:]),
                             callbacks=[rate_recorder(rates)])
    assert metrics["epochs"] < 60
    # stopped --patience epochs after the lowest averaged loss (which, for
    # the score, may not come before the 5th epoch)
    assert 0 < metrics["epochs"] - metrics["best_epoch"] <= 3
    # the plateau halved the rate first (after 3 // 2 = 2 epochs without a
    # better averaged loss; never below the window's start)
    assert rates[0] == pytest.approx(1e-3)
    assert min(rates) == pytest.approx(5e-4)

    # retrained (no validation loss to watch): annealed from the trial's rate
    # to zero over its epochs, without a warm-up (40 images: 3 steps an epoch)
    model = hypermodel.build_for_retraining(hp, epochs=4, samples=40)
    lr = []
    for step in (0, 6, 12):
        model.optimizer.iterations.assign(step)
        lr.append(float(model.optimizer.learning_rate))
    assert lr[0] == pytest.approx(1e-3) and lr[1] == pytest.approx(5e-4)
    assert lr[2] == pytest.approx(0.0, abs=1e-9)


def test_regressor_augments_its_batches_mildly():
    # pictures come out moved, at their own size, with edges mirrored (no
    # black corners: the fill is taken from the picture, never zeros)
    import keras_tuner

    head = {"kind": "regression", "loss": "mean_squared_error", "mean": 0.0, "std": 1.0}
    hypermodel = search.make_hypermodel((32, 32, 3), head, augment=True, batchSize=8)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    x = np.random.default_rng(0).uniform(0.2, 1.0, (8, 32, 32, 3)).astype("float32")
    (batch, targets) = next(iter(hypermodel.batches(hp, x, np.arange(8, dtype="float32"))))
    batch = batch.numpy()
    assert batch.shape == x.shape and targets.shape == (8,)
    assert not any(np.allclose(b, original) for b in batch for original in x)
    assert batch.min() >= 0.2 - 1e-6
    assert search.search_augmentation("regression").keywords["zoom"] < \
        search.search_augmentation("classification").keywords["zoom"]


def test_cosine_trial_warms_up_then_anneals_to_zero():
    # 40 images in batches of 16: 3 steps an epoch (the last of 8); 10 epochs,
    # 5 of warm-up; labels that cannot be learnt, and a patience of 2, which
    # would stop a plateau trial: a cosine trial runs its whole schedule
    import keras
    import keras_tuner

    rng = np.random.default_rng(0)
    x = rng.random((56, 8, 8, 3), dtype="float32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, 56)]
    hypermodel = search.make_hypermodel((8, 8, 3), {"kind": "classification", "classes": 2},
                                        augment=False, maxEpochs=10, patience=2,
                                        batchSize=16, schedule="cosine", samples=40,
                                        verbose=0)
    hp = keras_tuner.HyperParameters()
    keras.utils.set_random_seed(0)
    model = hypermodel.build(hp)
    # the trial trains on the pipeline's batches (where augmentation is done)
    pipelines = []
    makeBatches = hypermodel.batches

    def spy(*args):
        pipelines.append(makeBatches(*args))
        return pipelines[-1]

    hypermodel.batches = spy
    rates = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = hypermodel.fit(hp, model, x[:40], y[:40], validation_data=(x[40:], y[40:]),
                                 callbacks=[rate_recorder(rates, atEnd=True)])
    # the batches come shuffled; Keras is not asked to shuffle them again
    assert not [w for w in caught if "shuffle" in str(w.message)]
    assert metrics["epochs"] == 10  # nothing halved or stopped it
    assert len(pipelines) == 1
    rates = np.array(rates)         # at the start of epochs 1..10, then at the end
    assert rates[0] == pytest.approx(0.0)
    assert np.all(np.diff(rates[:6]) > 0) and rates[5] == pytest.approx(1e-3)
    assert np.all(np.diff(rates[5:]) < 0) and rates[-1] == pytest.approx(0.0, abs=1e-9)
    # sized for 40 images, it refuses to train on others
    with pytest.raises(ValueError, match="sized for 40 images"):
        hypermodel.fit(hp, model, x[:32], y[:32], validation_data=(x[40:], y[40:]))

    # the retraining: the same schedule over its own epochs and images (48
    # images, 3 steps an epoch, 6 epochs: the warm-up is cut to half the steps)
    model = hypermodel.build_for_retraining(hp, epochs=6, samples=48)
    lr = []
    for step in (0, 4, 9, 13, 18):
        model.optimizer.iterations.assign(step)
        lr.append(float(model.optimizer.learning_rate))
    assert lr[0] == pytest.approx(0.0) and 0 < lr[1] < lr[2] == pytest.approx(1e-3)
    assert lr[2] > lr[3] > lr[4] == pytest.approx(0.0, abs=1e-9)

    with pytest.raises(ValueError, match="needs samples"):
        search.make_hypermodel((8, 8, 3), {"kind": "classification", "classes": 2},
                               schedule="cosine")


# --------------------------------------------------------------------------
# A whole search, as a user runs it


def test_regressor_on_targets_csv(regressor, targets_folder, tmp_path, capsys):
    assert regressor.main(["--dataset", str(targets_folder), "--max-trials", "1", *TINY,
                           *outputs(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] test MAE: \d+\.\d\d$", out, re.M), out
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert results["kind"] == "csv" and len(results["trials"]) == 1
    assert (tmp_path / "m.png").stat().st_size > 0


def test_regressor_on_houses(regressor, houses, tmp_path, capsys):
    assert regressor.main(["--dataset", str(houses), "--max-trials", "1", *TINY,
                           *outputs(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] avg\. house price: \$[\d,]+\.\d\d, std house price: "
                     r"\$[\d,]+\.\d\d$", out, re.M), out
    assert re.search(r"^\[INFO\] mean: \d+\.\d\d%, std: \d+\.\d\d%$", out, re.M), out
    import keras
    model = keras.models.load_model(tmp_path / "m.keras")
    assert model.input_shape == (None, 16, 16, 3)


# --------------------------------------------------------------------------
# KerasTuner's distributed search: a chief and two workers on 127.0.0.1;
# then the same search continued by one process, and its exported model


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_distributed(args, port, timeout=240):
    """Run ``args`` as a chief and two workers; return {id: (exit code, log)}."""
    processes = {}
    try:
        for tunerId in ("chief", "tuner0", "tuner1"):
            env = dict(os.environ, KERASTUNER_TUNER_ID=tunerId,
                       KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port)
            env.pop("DISPLAY", None)
            processes[tunerId] = subprocess.Popen(
                [sys.executable, str(ROOT / "search_image_classifier.py"), *args],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True)
        logs = {name: p.communicate(timeout=timeout)[0] for name, p in processes.items()}
    finally:
        # nothing is left behind, whatever happened
        for p in processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
    return {name: (p.returncode, logs[name]) for name, p in processes.items()}


def test_distributed_search_then_resumed_and_exported(classifier, shapes, tmp_path, capsys):
    args = ["--dataset", str(shapes), *TINY, *outputs(tmp_path),
            "--label-bin", str(tmp_path / "lb.pickle")]
    runs = run_distributed([*args, "--max-trials", "2"], str(free_port()))
    logs = {name: log for name, (_, log) in runs.items()}
    for name, (code, log) in runs.items():
        assert code == 0, f"{name}:\n{log[-3000:]}"

    # each trial ran exactly once, on a worker, never on the chief
    starts = re.findall(r"\[INFO\] trial (\d)/2 starts on (tuner\d)",
                        logs["tuner0"] + logs["tuner1"])
    assert sorted(trial for trial, _ in starts) == ["1", "2"], logs
    assert "starts" not in logs["chief"]
    trialsDir = tmp_path / "project" / search.PROJECT_NAME
    trialFiles = sorted(trialsDir.glob("trial_*/trial.json"))
    assert len(trialFiles) == 2
    assert all(json.loads(t.read_text())["status"] == "COMPLETED" for t in trialFiles)
    # the chief printed the progress and exported the best; the workers did not
    assert len(re.findall(r"\[INFO\] trial \d/2: val_loss", logs["chief"])) == 2
    assert "[INFO] wrote" in logs["chief"]
    assert all("chief retrains" in logs[w] and "[INFO] wrote" not in logs[w]
               for w in ("tuner0", "tuner1"))
    assert len(json.loads((tmp_path / "m_results.json").read_text())["trials"]) == 2
    assert (tmp_path / "m.keras").is_file()
    before = [t.read_text() for t in trialFiles]

    # the same command in one process with a third trial continues the
    # search: trials 1 and 2 are not redone
    assert classifier.main([*args, "--max-trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "resuming the search" in out and "2 finished trial(s) kept" in out
    assert re.findall(r"trial (\d)/3 starts", out) == ["3"]
    assert [t.read_text() for t in trialFiles] == before

    # a progress line with the best so far, the trials table, the best
    # model's summary, the test report
    lines = [line for line in out.splitlines() if line.startswith("[INFO]")]
    progress = [line for line in lines if re.match(r"\[INFO\] trial 3/3: val_loss", line)]
    assert len(progress) == 1 and "best" in progress[0], lines
    assert progress[0].endswith("search done")
    assert "[INFO] trials (* = best):" in lines
    assert 'Model: "search_' in out
    assert "precision" in out and "[INFO] test accuracy:" in out
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert [t["trial"] for t in results["trials"]] == [1, 2, 3]
    assert all(t["status"] == "COMPLETED" for t in results["trials"])
    assert results["classes"] == ["circle", "square", "triangle"]
    assert (tmp_path / "m.png").stat().st_size > 0

    # the exported model: plain Keras in a Python without this repository,
    # the same predictions as here
    import keras
    images = np.random.default_rng(0).random((5, 16, 16, 3)).astype("float32")
    here = keras.models.load_model(tmp_path / "m.keras").predict(images, verbose=0)
    (fresh, packages) = predict_in_fresh_python(tmp_path / "m.keras", images, tmp_path)
    assert packages == ["keras"]
    np.testing.assert_allclose(fresh, here, rtol=1e-5, atol=1e-6)

    # predict.py classifies a picture with it and the label file
    picture = sorted((shapes / "circle").iterdir())[0]
    predict = load_script("predict.py")
    assert predict.main(["--image", str(picture), "--model", str(tmp_path / "m.keras"),
                         "--label-bin", str(tmp_path / "lb.pickle"),
                         "--output", str(tmp_path / "labelled.png")]) == 0
    assert (tmp_path / "labelled.png").stat().st_size > 0

    # another search in the same project is refused, nothing touched...
    with pytest.raises(UserError, match="holds another search.*image_size"):
        classifier.main([*args, "--image-size", "20", "--max-trials", "3"])
    assert [t.read_text() for t in trialFiles] == before
    # ...and so is a project whose trials were scored another way (an
    # earlier version of the scripts, whose search.json has no "scoring")
    identity = json.loads((tmp_path / "project" / search.IDENTITY_FILE).read_text())
    older = {k: v for k, v in identity.items() if k != "scoring"}
    with pytest.raises(UserError, match="holds another search.*scoring"):
        search.check_project(str(tmp_path / "project"), older, False, "single")
    # ...unless --overwrite
    identity = json.loads((tmp_path / "project" / search.IDENTITY_FILE).read_text())
    identity["image_size"] = 20
    assert search.check_project(str(tmp_path / "project"), identity, True, "single") == 0
