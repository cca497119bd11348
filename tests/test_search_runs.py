"""Whole searches as a user runs them (search_image_classifier.py,
search_image_regressor.py): small generated data, tiny images, one or two
epochs and a few trials. They check that a search keeps to its clock,
resumes, refuses what it should, runs distributed on 127.0.0.1 (a worker
killed mid-trial included) and exports a model plain Keras loads.
"""

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
from conftest import (ROOT, TINY, free_port, load_script, outputs, predict_in_fresh_python,
                      write_split_folder)

from pyimagesearch import imagesets
from pyimagesearch.errors import UserError
from pyimagesearch.search import project, tasks
from pyimagesearch.search.oracle import Clock
from pyimagesearch.search.tuner import TRIAL_MODEL

# the scripts set Keras' global precision: put back after each test; the
# searches in this process train a few steps a trial, eagerly
# (conftest.eager_steps; the distributed searches' processes run graphs)
pytestmark = [pytest.mark.usefixtures("float32_after"), pytest.mark.eager_steps]


# --------------------------------------------------------------------------
# A whole search, as a user runs it


def test_classifier_keeps_a_train_test_split(classifier, tmp_path, capsys, monkeypatch):
    root = write_split_folder(tmp_path / "cifar")
    # as if no time were left to retrain the winner (no limit: only the
    # export asks the clock)
    monkeypatch.setattr(Clock, "left", lambda self: 0.0)
    assert classifier.main(["--dataset", str(root), "--max-trials", "1", "--epochs", "1",
                            "--batch-size", "9", *outputs(tmp_path),
                            "--label-bin", str(tmp_path / "lb.pickle")]) == 0
    out = capsys.readouterr().out
    # the search's own network is exported, the same weights, and it says so
    kept = re.search(r"keeping trial 1's network as the search trained it on (\d+) images: "
                     r"retraining on all 27 would take about \d+s, with 0s left", out)
    # (27 training pictures, a fifth of them held out to score the trial)
    assert kept and int(kept.group(1)) == 27 - 6, out[-2000:]
    import keras

    kept = keras.models.load_model(next((tmp_path / "project").glob("trials/trial_*/model.keras")))
    exported = keras.models.load_model(tmp_path / "m.keras")
    for (a, b) in zip(kept.get_weights(), exported.get_weights()):
        np.testing.assert_array_equal(a, b)
    # the official split, the pictures' own size, the class counts and histogram
    assert "27 training and 9 test pictures of 3 classes, 12x12" in out
    assert "[INFO] training pictures per class: cat 9, dog 9, frog 9" in out
    assert "[INFO] test pictures per class: cat 3, dog 3, frog 3" in out
    assert (tmp_path / "m_classes.png").stat().st_size > 0
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert results["test_images"] == 9 and results["image_size"] == 12
    assert results["best_hyperparameters"]["airbench_widths"] == "64-256-256"
    assert "the average of 6 views: the picture (0.25), the picture mirrored (0.25)" in out
    assert results["test_views"] == 6
    assert results["retrained"] is False
    assert re.search(r"peak memory \d+\.\d\d GB", out)


def test_time_limit_bounds_the_whole_command(classifier, shapes, tmp_path, capsys,
                                             monkeypatch):
    import time

    from pyimagesearch.search.hypermodel import ImageHyperModel

    after = ImageHyperModel.after_training
    kept = []

    def after_training(self, hp, validation, last, *args):
        if last:
            kept.append((self.test_pictures, args))
        return after(self, hp, validation, last, *args)

    monkeypatch.setattr(ImageHyperModel, "after_training", after_training)
    # two candidates whose schedules would take far longer than 40 seconds
    started = time.monotonic()
    assert classifier.main(["--dataset", str(shapes), "--image-size", "32", "--block",
                            "vanilla", "--epochs", "2000", "--batch-size", "8",
                            "--max-trials", "2", "--time-limit", "0.67",
                            *outputs(tmp_path)]) == 0
    seconds = time.monotonic() - started
    results = json.loads((tmp_path / "m_results.json").read_text())
    # search, export, test and saving within the limit, and the trials
    # trained what the time allowed, not their 2000 epochs
    assert seconds <= 0.67 * 60 + 2 and results["seconds"] <= 0.67 * 60, seconds
    assert all(0 < t["epochs"] < 2000 for t in results["trials"]), results["trials"]
    out = capsys.readouterr().out
    assert "time limit: 40s for the whole command" in out
    # no time to retrain the winner: its top rung learned the validation
    # pictures too, and the table and the export say so
    top = results["trials"][-1]
    assert top["with_validation"] and not any(t["with_validation"]
                                              for t in results["trials"][:-1])
    assert f"(trial {top['trial']} trained on the validation pictures too" in out
    assert re.search(rf"trial {top['trial']} starts: rung \d, .*, on the validation pictures "
                     "too:", out)
    assert re.search(rf"keeping trial {top['trial']}'s network: its last epochs trained on all "
                     r"\d+ images", out) and results["retrained"] is False
    # its training (and export's choice) left the command's test pictures their time
    assert kept and {n for (n, _) in kept} == {results["test_images"]} == {15}, kept
    assert re.search(r"\[INFO\] \d+s of it kept to predict the 15 test pictures afterwards",
                     out)


def test_a_search_interrupted_mid_trial_resumes_then_another_overwrites_it(
        classifier, shapes, tmp_path, monkeypatch, capsys):
    from pyimagesearch.search.hypermodel import ImageHyperModel

    args = ["--dataset", str(shapes), *TINY, "--epochs", "3", "--max-trials", "2",
            *outputs(tmp_path)]
    train = ImageHyperModel.fit
    calls = []

    def ctrl_c_in_the_second_trial(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return train(self, *a, **k)

    monkeypatch.setattr(ImageHyperModel, "fit", ctrl_c_in_the_second_trial)
    with pytest.raises(KeyboardInterrupt):
        classifier.main(args)
    trialsDir = tmp_path / "project" / project.TRIALS
    first = sorted(trialsDir.glob("trial_*/trial.json"))
    assert [json.loads(t.read_text())["status"] for t in first] == ["COMPLETED", "RUNNING"]
    firstModel = (first[0].parent / TRIAL_MODEL).read_bytes()
    capsys.readouterr()
    # the same command again: trial 1 is kept as it was, trial 2 is trained
    # from the start, then the promoted one; nothing else
    monkeypatch.setattr(ImageHyperModel, "fit", train)
    assert classifier.main(args) == 0
    out = capsys.readouterr().out
    assert "1 finished trial(s) kept" in out
    assert re.findall(r"trial (\d) starts", out) == ["2", "3"], out
    assert (first[0].parent / TRIAL_MODEL).read_bytes() == firstModel
    statuses = [json.loads(t.read_text())["status"]
                for t in sorted(trialsDir.glob("trial_*/trial.json"))]
    assert statuses == ["COMPLETED"] * 3

    # another search there (20-pixel pictures) is refused, nothing touched...
    before = {p: p.read_bytes() for p in trialsDir.glob("trial_*/*") if p.is_file()}
    with pytest.raises(UserError, match="holds another search.*image_size"):
        classifier.main([*args, "--image-size", "20", "--max-trials", "1"])
    assert {p: p.read_bytes() for p in trialsDir.glob("trial_*/*") if p.is_file()} == before
    # ...unless --overwrite: it starts afresh, the three trials gone
    capsys.readouterr()
    assert classifier.main([*args, "--image-size", "20", "--max-trials", "1",
                            "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "resuming" not in out and re.findall(r"trial (\d) starts", out) == ["1"]
    identity = json.loads((tmp_path / "project" / project.IDENTITY_FILE).read_text())
    assert identity["image_size"] == 20
    [trial] = [json.loads(t.read_text()) for t in trialsDir.glob("trial_*/trial.json")]
    assert trial["status"] == "COMPLETED"
    assert (trialsDir / "trial_0000" / TRIAL_MODEL).read_bytes() != firstModel


def test_classifier_on_keras_cifar10_arrays(classifier, tmp_path, monkeypatch, capsys):
    # keras.datasets.cifar10 stood in for by a tiny set: RGB arrays, labels (n, 1)
    import keras

    rng = np.random.default_rng(0)
    (trainX, testX) = (rng.integers(0, 256, (40, 32, 32, 3), dtype="uint8"),
                       rng.integers(0, 256, (20, 32, 32, 3), dtype="uint8"))
    (trainY, testY) = (np.arange(40).reshape(-1, 1) % 10, np.arange(20).reshape(-1, 1) % 10)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data",
                        lambda: ((trainX, trainY), (testX, testY)))
    (a, b, c, d, names) = imagesets.load_cifar10()
    assert np.array_equal(a, trainX[..., ::-1]) and np.array_equal(d, testY.ravel())
    assert names[0] == "airplane" and len(names) == 10
    # --image-size resizes them
    assert imagesets.load(None, "keras", 16, 0)[0].shape == (40, 16, 16, 3)
    assert classifier.main(["--max-trials", "1", "--epochs", "1", "--batch-size", "8",
                            "--val-split", "0.25", *outputs(tmp_path),
                            "--label-bin", str(tmp_path / "lb.pickle")]) == 0
    assert "40 training and 20 test pictures of 10 classes, 32x32" in capsys.readouterr().out


# graphs, as users run them: the regressor's copies side by side (fused
# Adam), the airbench and the vanilla blocks
@pytest.mark.eager_steps(False)
@pytest.mark.parametrize("block, smallSplit, copies", [(None, 2000, 4), ("vanilla", 5, 1)])
def test_regressor_on_targets_csv(regressor, targets_folder, tmp_path, capsys, monkeypatch,
                                  block, smallSplit, copies):
    # 16-pixel pictures get the airbench block, which a regressor trains
    # with Adam: on a split within SMALL_SPLIT, four copies of the winner
    # side by side, the exported model their mean; one copy of the vanilla
    # block, here on a split past SMALL_SPLIT
    monkeypatch.setattr(tasks, "SMALL_SPLIT", smallSplit)
    argv = ["--block", block] if block else []
    assert regressor.main(["--dataset", str(targets_folder), "--max-trials", "1", *TINY, *argv,
                           *outputs(tmp_path)]) == 0
    out = capsys.readouterr().out
    printed = re.search(r"^\[INFO\] test MAE: (\d+\.\d\d)$", out, re.M)
    assert printed, out
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert results["kind"] == "csv" and len(results["trials"]) == 1
    assert (tmp_path / "m.png").stat().st_size > 0
    import keras
    from sklearn.model_selection import train_test_split

    model = keras.models.load_model(tmp_path / "m.keras")
    assert results["copies"] == copies
    assert len([l for l in model.layers if isinstance(l, keras.Model)]) == (copies > 1) * copies
    # the error recomputed from the saved model on the 75/25 split
    # (random_state=42), each picture averaged with its mirror image where
    # the winner learned mirrored ones: the model predicts in the targets'
    # units, and its error is the one printed
    args = regressor.parse_args(["--dataset", str(targets_folder), *TINY, *outputs(tmp_path)])
    (images, targets) = imagesets.load_targets(str(targets_folder), args.rows, 16)
    (_, testX, trainY, testY) = train_test_split(images, targets, test_size=0.25,
                                                 random_state=42)
    x = testX.astype("float32") / 255.0
    # the airbench family always learns mirrored pictures; the vanilla
    # regressor's first trial does not (searched, off first)
    assert results["best_hyperparameters"].get("augment") is (None if block is None else False)
    views = [x, x[:, :, ::-1]] if block is None else [x]
    assert results["test_views"] == len(views)
    printed_views = re.findall(r"^\[INFO\] each test picture's prediction is the average of "
                               r"(.*)$", out, re.M)
    assert printed_views == (["2 views: the picture (0.5), the picture mirrored (0.5)"]
                             if len(views) == 2 else [])
    preds = np.mean([model.predict(v, verbose=0).reshape(-1) for v in views], axis=0)
    assert float(printed.group(1)) == pytest.approx(np.mean(np.abs(preds - testY)), abs=0.01)
    # targets other than the houses' are searched on the chapter's squared
    # error, which the project records: resumed on another loss, it is refused
    assert results["test_loss"] == pytest.approx(np.mean((preds - testY) ** 2), rel=1e-3)
    assert json.loads((tmp_path / "project" / project.IDENTITY_FILE).read_text())["loss"] \
        == "mean_squared_error"
    # one epoch on 18 pictures learns little, so its predictions say little
    # of their units: the saved model's last layer, a stock Rescaling, takes
    # its outputs back to the training targets' mean and spread (2 to 23.5),
    # not to the 0-1 of a head that forgot their scale
    first = model.get_layer("search_airbench_1") if copies > 1 else model
    units = first.get_layer("target_units")
    assert units.scale == pytest.approx(np.std(trainY, dtype="float64"), rel=1e-5)
    assert units.offset == pytest.approx(np.mean(trainY, dtype="float64"), rel=1e-5)


def test_regressor_on_grey_houses(regressor, houses, tmp_path, capsys):
    assert regressor.main(["--dataset", str(houses), "--max-trials", "1", "--grayscale",
                           *TINY, *outputs(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] avg\. house price: \$[\d,]+\.\d\d, std house price: "
                     r"\$[\d,]+\.\d\d$", out, re.M), out
    printed = re.search(r"^\[INFO\] mean: (\d+\.\d\d)%, std: (\d+\.\d\d)%$", out, re.M)
    assert printed, out
    import keras
    from sklearn.model_selection import train_test_split

    model = keras.models.load_model(tmp_path / "m.keras")
    assert model.input_shape == (None, 16, 16, 1)
    # the report, recomputed from the saved model on the post's test houses
    # (random_state=42): the model predicts dollars, and its error is the
    # one printed
    (df, images) = imagesets.load_houses(str(houses), 16, grey=True)
    (_, test, _, testX) = train_test_split(df, images, test_size=0.25, random_state=42)
    prices = test["price"].to_numpy("float64")
    preds = model.predict(testX.astype("float32") / 255.0, verbose=0).reshape(-1)
    error = np.abs(preds - prices) / prices * 100
    assert float(printed.group(1)) == pytest.approx(error.mean(), abs=0.01)
    assert float(printed.group(2)) == pytest.approx(error.std(), abs=0.01)
    # ...and no worse than always guessing the median training price, far
    # from the 100% of a model off by its price scale
    assert 0.5 < np.median(preds) / np.median(prices) < 2
    # the winner was retrained as four copies from their own random starts;
    # the model predicts their mean
    copies = [l for l in model.layers if isinstance(l, keras.Model)]
    assert len(copies) == tasks.COPIES == 4
    x = testX[:8].astype("float32") / 255.0
    each = [c.predict(x, verbose=0).reshape(-1) for c in copies]
    np.testing.assert_allclose(model.predict(x, verbose=0).reshape(-1), np.mean(each, axis=0),
                               rtol=1e-5)
    assert not np.allclose(each[0], each[1])
    assert json.loads((tmp_path / "m_results.json").read_text())["copies"] == 4


# --------------------------------------------------------------------------
# KerasTuner's distributed search: a chief and two workers on 127.0.0.1, one
# of them killed mid-trial; then the same search continued by one process,
# and its exported model

SILENCE = 5  # seconds (SEARCH_WORKER_SILENCE); a worker beats every quarter of it


def start_search_process(tunerId, args, port, log):
    """search_image_classifier.py ``args`` as ``tunerId`` of the search
    served at 127.0.0.1:``port``, its output to the file ``log``."""
    env = dict(os.environ, KERASTUNER_TUNER_ID=tunerId, SEARCH_WORKER_SILENCE=str(SILENCE),
               KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port)
    env.pop("DISPLAY", None)
    with open(log, "w") as out:
        return subprocess.Popen([sys.executable, str(ROOT / "search_image_classifier.py"), *args],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def run_distributed_killing_a_worker(args, logs, timeout=240):
    """A chief and tuner0; tuner0 is killed (kill -9) as soon as it starts a
    trial, and tuner1 joins. Returns {id: exit code}, once the chief and
    tuner1 have exited."""
    import time

    port = str(free_port())
    processes = {}
    started = time.monotonic()
    try:
        for tunerId in ("chief", "tuner0"):
            processes[tunerId] = start_search_process(tunerId, args, port, logs[tunerId])
        while "starts on tuner0" not in logs["tuner0"].read_text():
            assert processes["tuner0"].poll() is None, logs["tuner0"].read_text()[-3000:]
            assert time.monotonic() - started < 180, "tuner0 started no trial"
            time.sleep(0.05)
        processes["tuner0"].send_signal(signal.SIGKILL)
        processes["tuner1"] = start_search_process("tuner1", args, port, logs["tuner1"])
        for name in ("chief", "tuner1"):
            processes[name].wait(timeout=timeout)
    finally:
        # nothing is left behind, whatever happened
        for p in processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
    return {name: p.returncode for (name, p) in processes.items()}


@pytest.mark.eager_steps(False)  # its predictions compared with a graph's, bfloat16 ones too
def test_distributed_search_outlives_a_killed_worker_then_resumes_and_exports(
        classifier, shapes, tmp_path, capsys):
    args = ["--dataset", str(shapes), *TINY, "--epochs", "3", *outputs(tmp_path),
            "--label-bin", str(tmp_path / "lb.pickle")]
    logs = {name: tmp_path / f"{name}.log" for name in ("chief", "tuner0", "tuner1")}
    codes = run_distributed_killing_a_worker([*args, "--max-trials", "2"], logs)
    text = {name: path.read_text() for (name, path) in logs.items()}
    for name in ("chief", "tuner1"):
        assert codes[name] == 0, f"{name}:\n{text[name][-3000:]}"

    # tuner0's trial went to tuner1 once tuner0 had been silent for
    # SILENCE seconds; tuner1 was not taken for dead (its trials are shorter
    # than the silence: that a trial longer than it beats throughout is
    # test_search's test_a_workers_trial_beats_for_as_long_as_it_trains)
    killed = re.search(r"trial (\d) starts on tuner0", text["tuner0"]).group(1)
    assert re.search(rf"tuner0 has sent nothing for \d+s: trial {killed} handed to the next "
                     r"worker", text["chief"]), text["chief"][-3000:]
    assert "tuner1 has sent nothing" not in text["chief"]
    # the halving's rungs: two candidates for 1 epoch, the better for all 3;
    # tuner1 trained each trial once (the killed one from the start), the
    # chief none
    starts = re.findall(r"\[INFO\] trial (\d) starts on tuner1: rung (\d), (\d) epoch",
                        text["tuner1"])
    assert sorted(starts) == [("1", "1", "1"), ("2", "1", "1"), ("3", "2", "3")], text["tuner1"]
    assert "starts" not in text["chief"]
    trialsDir = tmp_path / "project" / project.TRIALS
    trialFiles = sorted(trialsDir.glob("trial_*/trial.json"))
    assert len(trialFiles) == 3
    assert all(json.loads(t.read_text())["status"] == "COMPLETED" for t in trialFiles)
    # the chief printed the progress and exported the best; the worker did not
    assert len(re.findall(r"\[INFO\] trial \d \(rung \d\): val_loss", text["chief"])) == 3
    assert "[INFO] wrote" in text["chief"] and "[INFO] test accuracy:" in text["chief"]
    assert "chief exports" in text["tuner1"] and "[INFO] wrote" not in text["tuner1"]
    assert len(json.loads((tmp_path / "m_results.json").read_text())["trials"]) == 3
    assert (tmp_path / "m.keras").is_file()
    before = [t.read_text() for t in trialFiles]

    # the same command in one process with a third candidate continues the
    # search: the trials done are not redone
    assert classifier.main([*args, "--max-trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "resuming the search" in out and "3 finished trial(s) kept" in out
    # (a fourth candidate; promoted too only if it beats the one promoted)
    started = re.findall(r"trial (\d) starts: rung (\d)", out)
    assert started[0] == ("4", "1") and started[1:] in ([], [("5", "2")]), started
    assert [t.read_text() for t in trialFiles] == before

    # a progress line with the best so far, the trials table, the best
    # model's summary, the test report
    lines = [line for line in out.splitlines() if line.startswith("[INFO]")]
    progress = [line for line in lines if re.match(r"\[INFO\] trial 4 \(rung 1\): val_loss",
                                                   line)]
    assert len(progress) == 1 and "best" in progress[0], lines
    assert "[INFO] trials (* = exported):" in lines
    assert 'Model: "search_' in out
    assert "precision" in out and "[INFO] test accuracy:" in out
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert [t["trial"] for t in results["trials"]] == [1, 2, 3, 4, 5][:3 + len(started)]
    assert results["best_trial"] in (3, 5) and results["retrained"]
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
    identity = json.loads((tmp_path / "project" / project.IDENTITY_FILE).read_text())
    older = {k: v for k, v in identity.items() if k != "scoring"}
    with pytest.raises(UserError, match="holds another search.*scoring"):
        project.check_project(str(tmp_path / "project"), older, False, "single")
    # ...or one trained on another loss, whose scores are in other units
    assert identity["loss"] == "categorical_crossentropy"
    with pytest.raises(UserError, match="holds another search.*loss"):
        project.check_project(str(tmp_path / "project"),
                              {**identity, "loss": "mean_absolute_percentage_error"}, False,
                              "single")
    # ...unless --overwrite
    identity["image_size"] = 20
    assert project.check_project(str(tmp_path / "project"), identity, True, "single") == 0
