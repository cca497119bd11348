"""The automated model search (search_image_classifier.py, search_image_regressor.py).

Small generated data, tiny images, one or two epochs and a few trials:
these check that a search halves its candidates, keeps to its clock,
resumes, refuses what it should, runs distributed on 127.0.0.1 and exports
a model plain Keras loads; the figures on the real datasets (CIFAR-10, the
animals, the houses) are in the README.
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

from pyimagesearch import sample_data
from pyimagesearch.search import data, engine, export, flags, project, reporting, trials
from pyimagesearch.cli import UserError

TINY = ["--image-size", "16", "--epochs", "1", "--batch-size", "16"]


@pytest.fixture(autouse=True)
def float32_after():
    """The scripts set Keras' global precision (mixed bfloat16 for the
    airbench block where it is native); put it back for the next test."""
    yield
    import keras

    keras.mixed_precision.set_global_policy("float32")


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


@pytest.mark.parametrize("bad", [["--max-trials", "0"], ["--time-limit", "0"],
                                 ["--block", "mobilenet"], ["--val-split", "1.5"],
                                 ["--precision", "float16"]])
def test_bad_flags_exit_2(classifier, shapes, tmp_path, bad):
    with pytest.raises(SystemExit) as info:
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path), *bad])
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
    # a target float32 cannot hold would train on inf
    ([["a.png", "1e39"]] * 8, "'1e39' is beyond float32's range"),
    # files outside the dataset's folder, by a relative or an absolute name
    ([["a.png", "1"]] * 7 + [["../outside.png", "1"]], "'../outside.png' is outside"),
    ([["a.png", "1"]] * 7 + [["OUTSIDE", "1"]], "is outside"),
])
def test_bad_targets_csv(regressor, tmp_path, rows, message):
    cv2.imwrite(str(tmp_path / "outside.png"), np.zeros((8, 8, 3), "uint8"))
    rows = [[str(tmp_path / "outside.png") if r[0] == "OUTSIDE" else r[0], r[1]] for r in rows]
    folder = write_csv(tmp_path / "data", rows)
    with pytest.raises(UserError, match=message):
        regressor.main(["--dataset", str(folder), *outputs(tmp_path)])


def test_targets_csv_saved_by_a_spreadsheet(regressor, tmp_path):
    # "CSV UTF-8" starts with a byte-order mark, before the header
    folder = write_csv(tmp_path / "data", [["a.png", str(k)] for k in range(8)])
    text = (folder / "targets.csv").read_text()
    (folder / "targets.csv").write_text("\ufeff" + text, encoding="utf-8")
    rows = regressor.read_targets(str(folder))
    assert [t for (_, t) in rows] == list(range(8)) and rows[0][0].endswith("a.png")


def test_regressor_needs_houses_or_targets(regressor, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither HousesInfo.txt"):
        regressor.main(["--dataset", str(tmp_path / "empty"), *outputs(tmp_path)])


def test_training_defaults_follow_the_block_and_the_data(regressor, classifier, houses,
                                                       targets_folder, shapes, tmp_path):
    def chosen(args):
        s = args.settings
        return (s.block, s.batch_size, s.max_epochs, s.schedule)

    # the houses train as the post: batches of 8, up to its 200 epochs, in float32
    args = regressor.parse_args(["--dataset", str(houses), *outputs(tmp_path)])
    assert chosen(args) == ("vanilla", 8, 200, "plateau")
    assert args.settings.precision == "float32" and args.settings.val_split == 0.2
    # 64-pixel pictures: SmallVGGNet-like stacks, annealed over 100 epochs
    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "64",
                                  *outputs(tmp_path)])
    assert chosen(args) == ("vanilla", 32, 100, "cosine")
    # small pictures get the airbench family, bfloat16 where it is native
    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "32",
                                  *outputs(tmp_path)])
    # (in batches of 512 for CIFAR-10's 45,000, fewer for the 45 shapes:
    # eight steps an epoch)
    assert chosen(args) == ("airbench", 16, 40, "onecycle")
    assert flags.settings_from(args, 32, samples=45000).batch_size == 512
    assert flags.settings_from(args, 32, samples=2000).batch_size == 128
    assert args.settings.precision == ("mixed_bfloat16" if flags.native_bfloat16()
                                       else "float32")
    # what the user gives wins
    args = regressor.parse_args(["--dataset", str(houses), "--batch-size", "16",
                                 "--max-epochs", "50", "--patience", "5", "--block", "airbench",
                                 "--schedule", "cosine", "--precision", "float32",
                                 *outputs(tmp_path)])
    assert chosen(args) == ("airbench", 16, 50, "cosine")
    assert (args.settings.patience, args.settings.precision) == (5, "float32")


def write_split_folder(root, side=12, perClass=(9, 3), classes=("cat", "dog", "frog")):
    """A CIFAR-10-like folder: train/<class>/ and test/<class>/ of
    ``side``-pixel pictures, each class its own colour."""
    for (split, count) in zip(("train", "test"), perClass):
        for (k, name) in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                image = np.full((side, side, 3), 40 + 80 * k, "uint8")
                image[i % side, :, :] = 255
                cv2.imwrite(str(folder / f"{i:04d}.png"), image)
    return root


def test_split_folder_layout_is_checked(classifier, tmp_path):
    root = write_split_folder(tmp_path / "cifar")
    assert data.layout(str(root)) == "split" and data.image_side(str(root), "split") == 12
    assert data.layout(None) == "keras" and data.image_side(None, "keras") == 32
    (root / "test" / "frog").rename(root / "test" / "toad")
    with pytest.raises(UserError, match="different class folders.*frog"):
        classifier.main(["--dataset", str(root), *outputs(tmp_path)])


def test_cifar10_without_network_is_one_line(classifier, tmp_path, monkeypatch):
    import keras

    def offline():
        raise Exception("URL fetch failure on https://www.cs.toronto.edu/: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(UserError, match="CIFAR-10 is not in Keras' cache.*--dataset") as info:
        classifier.main([*outputs(tmp_path)])
    assert "\n" not in str(info.value)


def test_foreign_project_dir_refused(classifier, shapes, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / "notes.txt").write_text("mine")
    with pytest.raises(UserError, match="not empty and holds no search"):
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path)])


@pytest.mark.parametrize("damaged", ["search.json", "trials/oracle.json",
                                     "trials/trial_1/trial.json"])
def test_damaged_search_files_are_one_line(tmp_path, damaged):
    # a search folder as a finished trial and a kill during a write leave it
    identity = {"script": "search_image_classifier.py", "scoring": project.SCORING}
    folder = tmp_path / "project"
    for (name, content) in [("search.json", identity), ("trials/oracle.json", {"seed": 1}),
                            ("trials/trial_0/trial.json", {"status": "COMPLETED"}),
                            ("trials/trial_1/trial.json", {"status": "COMPLETED"})]:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(json.dumps(content))
    assert project.check_project(str(folder), identity, False, "single") == 2
    text = (folder / damaged).read_text()
    for cut in ("null", text[:len(text) // 2]):
        (folder / damaged).write_text(cut)
        with pytest.raises(UserError, match=f"{damaged}.* is damaged.*--overwrite") as info:
            project.check_project(str(folder), identity, False, "single")
        assert "\n" not in str(info.value)
        # --overwrite starts afresh
        assert project.check_project(str(folder), identity, True, "single") == 0


def test_a_worker_without_its_chief_gives_up_in_bounded_time(monkeypatch, capsys):
    import time

    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(free_port()))   # nobody serves it
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("SEARCH_CHIEF_WAIT", "2")
    started = time.monotonic()
    with pytest.raises(UserError, match="no chief answered at 127.0.0.1:.* within 2s") as info:
        project.distributed_role()
    assert time.monotonic() - started < 10 and "\n" not in str(info.value)
    assert "waiting up to 2s for the chief" in capsys.readouterr().out


def test_a_chief_whose_port_is_taken_says_so(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
        monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(taken.getsockname()[1]))
        monkeypatch.setenv("KERASTUNER_TUNER_ID", "chief")
        with pytest.raises(UserError, match="cannot serve the search at 127.0.0.1:.*another "
                                            "process holds the port"):
            project.distributed_role()


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
# How trials are judged, halved and timed


def test_a_lucky_epoch_does_not_win_the_trial():
    # one epoch's loss dips by chance at epoch 2; the sustained low comes later
    history = {"val_loss": [1.0, 0.2, 1.0, 1.0, 0.9, 0.5, 0.45, 0.4, 0.45, 0.5, 0.6],
               "val_accuracy": [0.5, 0.9, 0.5, 0.5, 0.55, 0.7, 0.72, 0.75, 0.72, 0.7, 0.68]}
    metrics = trials.averaged_metrics(history)
    means = [np.mean(history["val_loss"][max(0, i - 4):i + 1]) for i in range(11)]
    assert metrics["best_epoch"] == int(np.argmin(means)) + 1 == 10
    assert metrics["val_loss"] == pytest.approx(min(means))
    assert metrics["val_accuracy"] == pytest.approx(np.mean(history["val_accuracy"][5:10]))
    # nor does a lucky first epoch, averaged with nothing
    first = trials.averaged_metrics({"val_loss": [0.1] + [1.0] * 4 + [0.6] * 5 + [0.9]})
    assert first["best_epoch"] == 10
    # a diverged epoch counts as infinitely bad for the epochs it is averaged into
    diverged = trials.averaged_metrics({"val_loss": [0.5, float("nan"), 0.6, 0.7, 0.8, 0.9,
                                                     0.9, 0.9, 0.9]})
    assert diverged["best_epoch"] == 7
    # a trial shorter than the window is judged on what it has
    assert trials.averaged_metrics({"val_loss": [0.9, 0.4, 0.8]})["best_epoch"] == 2


class FakeClock:
    """A clock whose time left the test sets."""

    def __init__(self, left):
        (self.limit, self.leftSeconds) = (3600.0, left)

    def left(self):
        return self.leftSeconds

    def elapsed(self):
        return self.limit - self.leftSeconds


def halving_oracle(tmp_path, candidates, fullEpochs, clock=None):
    oracle = engine.HalvingOracle(candidates, fullEpochs, clock=clock, seed=0)
    oracle._set_project_dir(str(tmp_path), "trials")
    oracle.hyperparameters.Choice("width", [8, 16, 32, 64], default=16)
    oracle.hyperparameters.Float("rate", 1e-4, 1e-1, sampling="log", default=1e-3)
    return oracle


def finish(oracle, trial, loss):
    oracle.update_trial(trial.trial_id, {"val_loss": loss, "seconds": 1.0})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_successive_halving_promotes_the_best_third(tmp_path, capsys):
    oracle = halving_oracle(tmp_path, candidates=4, fullEpochs=10)
    assert engine.rung_sizes(4) == [4, 2, 1] and engine.rung_sizes(2) == [2, 1]
    # rung 1: four candidates at a ninth of the epochs, the first the defaults
    for (k, loss) in enumerate([0.9, 0.3, 0.7, 0.5]):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        assert values[engine.RUNG] == 0 and values[engine.EPOCHS] == 1
        if k == 0:
            assert (values["width"], values["rate"]) == (16, 1e-3)
        finish(oracle, trial, loss)
    # rung 2: the best two (losses 0.3 and 0.5) at a third, retrained from scratch
    second = []
    for _ in range(2):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        assert values[engine.RUNG] == 1 and values[engine.EPOCHS] == 3
        second.append(values[engine.PARENT])
        finish(oracle, trial, {"0001": 0.4, "0003": 0.2}[values[engine.PARENT]])
    assert second == ["0001", "0003"]
    # the top: the best of rung 2, for all ten epochs; then the search is done
    top = oracle.create_trial("tuner0")
    assert top.hyperparameters.values[engine.EPOCHS] == 10
    promotedFrom = oracle.trials[top.hyperparameters.values[engine.PARENT]]
    assert promotedFrom.hyperparameters.values[engine.PARENT] == "0003"
    assert reporting.network_values(top.hyperparameters.values) == \
        reporting.network_values(oracle.trials["0003"].hyperparameters.values)
    finish(oracle, top, 0.25)
    assert oracle.create_trial("tuner0").status == "STOPPED"
    # the best is the top rung's, though a lower rung scored lower
    assert oracle.best_trial().trial_id == top.trial_id
    assert len(re.findall(r"^\[INFO\] trial \d+ \(rung \d\): val_loss", capsys.readouterr().out,
                          re.M)) == 7


def test_a_rung_compares_its_networks_at_the_same_epochs(tmp_path):
    # the first candidate trained 2.5 of its 3 epochs in its time: the
    # others get no more, however fast they are; the top gets them all
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=9, clock=FakeClock(1000.0))
    first = oracle.create_trial("tuner0")
    assert first.hyperparameters.values[engine.EPOCHS] == 3
    oracle.update_trial(first.trial_id, {"val_loss": 0.5, "epochs": 2.5})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    second = oracle.create_trial("tuner0")
    assert second.hyperparameters.values[engine.EPOCHS] == 2.5
    finish(oracle, second, 0.4)
    assert oracle.create_trial("tuner0").hyperparameters.values[engine.EPOCHS] == 9


def test_a_silent_workers_trial_goes_to_the_next_worker(tmp_path, capsys):
    from pyimagesearch.search import workers

    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=6)
    (a, b) = (oracle.create_trial("tuner0"), oracle.create_trial("tuner1"))
    finish(oracle, b, 0.4)
    heard = oracle.lastHeard[a.trial_id]
    # tuner0's heartbeats keep its trial; then it falls silent
    oracle.get_trial(a.trial_id)
    assert oracle.lastHeard[a.trial_id] >= heard
    now = oracle.lastHeard[a.trial_id]
    assert workers.requeue_silent(oracle, now=now + 30, silent=60) == []
    assert workers.requeue_silent(oracle, now=now + 61, silent=60) == [a.trial_id]
    assert "tuner0" not in oracle.ongoing_trials and "tuner0" not in oracle.tuner_ids
    assert "tuner0 has sent nothing for 61s: trial 1 handed to the next worker" in \
        capsys.readouterr().out
    # the waiting worker gets it, the same network from the start; the rung
    # then goes on as if nothing had happened
    again = oracle.create_trial("tuner1")
    assert again.trial_id == a.trial_id and again.status == "RUNNING"
    finish(oracle, again, 0.3)
    top = oracle.create_trial("tuner1")
    assert top.hyperparameters.values[engine.PARENT] == a.trial_id
    # a trial whose workers keep dying is recorded as failed, not retried forever
    for k in range(workers.RETRIES):
        assert workers.requeue_silent(oracle, now=1e9 + k, silent=60) == [top.trial_id]
        assert oracle.create_trial("tuner1").trial_id == top.trial_id
    workers.requeue_silent(oracle, now=2e9, silent=60)
    assert oracle.trials[top.trial_id].status == "FAILED"
    assert oracle.ongoing_trials == {} and oracle.tuner_ids == set()


def test_a_worker_beats_while_it_works_and_stops_after(monkeypatch):
    import time

    from pyimagesearch.search import workers

    class Chief:
        calls = []

        def get_trial(self, trialId):
            self.calls.append((trialId, time.monotonic()))

    # silence 2 s: a beat at once, then every half second
    monkeypatch.setenv("SEARCH_WORKER_SILENCE", "2")
    chief = Chief()
    with workers.Heartbeat(chief, "0003"):
        time.sleep(1.2)
    count = len(chief.calls)
    assert count >= 2 and {t for (t, _) in chief.calls} == {"0003"}
    gaps = np.diff([when for (_, when) in chief.calls])
    assert gaps.max() < 2.0          # never silent as long as the limit
    time.sleep(1.0)
    assert len(chief.calls) == count  # and nothing once the trial is over


def test_a_worker_stops_its_trial_when_the_chief_stops_answering(tmp_path, monkeypatch):
    import grpc
    import keras

    from pyimagesearch.search import workers

    class NoAnswer(grpc.RpcError):
        pass

    class GoneChief:
        # answers the first beat, then never again (the client gave up)
        calls = 0

        def get_trial(self, trialId):
            self.calls += 1
            if self.calls > 1:
                raise NoAnswer()

    monkeypatch.setenv("SEARCH_WORKER_SILENCE", "0.4")    # a beat every 0.1 s
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            import time

            steps.append(batch)
            time.sleep(0.05)

    x = np.zeros((400, 2), "float32")
    with workers.Heartbeat(GoneChief(), "0001") as beat:
        model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0,
                  callbacks=[Count(), workers.StopIfChiefGone(beat)])
    # the second beat went unanswered: training stopped soon after, not at
    # the end of its 400 steps, and the worker's search ends in one line
    assert isinstance(beat.lost, NoAnswer) and 0 < len(steps) < 100
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8123")
    with pytest.raises(UserError, match="the chief at 127.0.0.1:8123 has not answered for "
                                        "10m00s: .*rerun the chief"):
        with workers.one_line_if_the_chief_is_gone("worker"):
            raise workers.ChiefGone(str(beat.lost))


def test_a_worker_whose_chief_stops_gives_up_in_bounded_time(tmp_path, monkeypatch, capsys):
    import time
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief, oracle_client

    from pyimagesearch.search import workers

    port = free_port()
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", str(port))
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "tuner0")
    monkeypatch.setenv("SEARCH_CHIEF_WAIT", "2")
    monkeypatch.setattr(oracle_client, "TIMEOUT", oracle_client.TIMEOUT)   # restored after
    # a chief: KerasTuner's own servicer over a halving oracle
    chief = halving_oracle(tmp_path / "chief", 3, 9)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    protos.get_service_grpc().add_OracleServicer_to_server(oracle_chief.OracleServicer(chief),
                                                           server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    settings = flags.SearchSettings(max_trials=3, epochs=1, batch_size=8)
    tuner = engine.make_tuner(default_hypermodel(side=16), settings, str(tmp_path / "worker"),
                              False, None, role="worker", verbose=0)
    (x, y) = (np.zeros((16, 16, 16, 3), "uint8"), np.zeros(16, "int64"))
    # the worker takes a trial; the chief dies while it trains: its report
    # goes unanswered, which ends the search (no failed trial, whose
    # traceback KerasTuner would print, and no second wait to report it)
    trial = tuner.oracle.create_trial("tuner0")
    server.stop(0)

    class Quiet:
        # no heartbeats (tested above): the trial trains to its end, and
        # the chief's silence is met at the report
        def __init__(self, oracle, trialId):
            self.lost = None

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(workers, "Heartbeat", Quiet)
    started = time.monotonic()
    with pytest.raises(workers.ChiefGone):
        tuner._try_run_and_update_trial(trial, x, y, validation_data=(x, y))
    assert time.monotonic() - started < 20 and "Traceback" not in capsys.readouterr().err
    # a worker between trials asks for one: the same one line
    started = time.monotonic()
    with pytest.raises(UserError, match=f"127.0.0.1:{port} has not answered for 2s") as info:
        tuner.search(x, y, validation_data=(x, y))
    assert time.monotonic() - started < 10 and "\n" not in str(info.value)


def test_a_worker_taken_for_dead_that_finishes_keeps_its_result(tmp_path):
    from pyimagesearch.search import workers

    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=6)
    oracle.distributed = True
    (a, b) = (oracle.create_trial("tuner0"), oracle.create_trial("tuner1"))
    finish(oracle, b, 0.4)
    assert workers.requeue_silent(oracle, now=oracle.lastHeard[a.trial_id] + 61,
                                  silent=60) == [a.trial_id]
    # tuner0 was only slow: its result arrives, and the trial is not redone
    finish(oracle, a, 0.3)
    assert oracle._retry_queue == []
    top = oracle.create_trial("tuner1")
    assert top.hyperparameters.values[engine.PARENT] == a.trial_id
    # a second result for a finished trial changes nothing
    again = oracle.trials[a.trial_id]
    oracle.update_trial(a.trial_id, {"val_loss": 9.0})
    oracle.end_trial(again)
    assert oracle.end_order.count(a.trial_id) == 1
    # while the top trial trains, a waiting worker is told to wait, not to stop
    assert oracle.create_trial("tuner0").status == "IDLE"
    finish(oracle, top, 0.2)
    assert oracle.create_trial("tuner0").status == "STOPPED"


def test_a_rung_still_training_elsewhere_makes_workers_wait(tmp_path):
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=6)
    (a, b) = (oracle.create_trial("tuner0"), oracle.create_trial("tuner1"))
    finish(oracle, a, 0.5)
    # tuner0 is free, but rung 1 is not finished: it waits
    assert oracle.create_trial("tuner0").status == "IDLE"
    finish(oracle, b, 0.4)
    top = oracle.create_trial("tuner0")
    assert top.status == "RUNNING" and top.hyperparameters.values[engine.PARENT] == b.trial_id
    # nothing is left for the other worker: it stops, it does not wait
    assert oracle.create_trial("tuner1").status == "STOPPED"


def test_the_clock_is_shared_out_top_rung_first(tmp_path, capsys):
    clock = FakeClock(left=1000.0)
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=40, clock=clock)
    # two candidates share a quarter of the time; the top rung gets the rest
    first = oracle.create_trial("tuner0")
    assert first.hyperparameters.values[engine.SECONDS] == pytest.approx(125.0)
    clock.leftSeconds = 900.0   # the first trial overran a little
    finish(oracle, first, 0.6)
    second = oracle.create_trial("tuner0")
    assert second.hyperparameters.values[engine.SECONDS] == pytest.approx(900 * 0.125 / 0.875)
    clock.leftSeconds = 700.0
    finish(oracle, second, 0.5)
    top = oracle.create_trial("tuner0")
    assert top.hyperparameters.values[engine.SECONDS] == pytest.approx(700.0)
    # with no time left no trial starts, and the search says why
    oracle = halving_oracle(tmp_path / "late", candidates=2, fullEpochs=40,
                            clock=FakeClock(left=2.0))
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert "--time-limit" in capsys.readouterr().out


def test_short_time_skips_the_search_not_the_model(tmp_path):
    # thirty candidates in 100 s: no candidate's share pays for a trial, so
    # the defaults get the time, at the top rung
    oracle = halving_oracle(tmp_path, candidates=30, fullEpochs=27, clock=FakeClock(100.0))
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    assert trial.status == "RUNNING" and values[engine.RUNG] == oracle.top() == 4
    assert (values["width"], values[engine.EPOCHS], values[engine.SECONDS]) == (16, 27, 100.0)


def test_a_resumed_search_keeps_its_rungs(tmp_path):
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=9)
    for loss in (0.5, 0.4):
        finish(oracle, oracle.create_trial("tuner0"), loss)
    finish(oracle, oracle.create_trial("tuner0"), 0.3)
    oracle.save()
    # resumed with four candidates: still two rungs (9 epochs at the top, 3
    # below), the new candidates join the first
    resumed = halving_oracle(tmp_path, candidates=4, fullEpochs=9)
    resumed.reload()
    assert resumed.top() == 1
    third = resumed.create_trial("tuner0")
    assert (third.hyperparameters.values[engine.RUNG],
            third.hyperparameters.values[engine.EPOCHS]) == (0, 3)
    finish(resumed, third, 0.2)    # better than the one promoted
    fourth = resumed.create_trial("tuner0")
    finish(resumed, fourth, 0.9)
    # the late better candidate goes up too; the worse one does not
    top = resumed.create_trial("tuner0")
    assert top.hyperparameters.values[engine.PARENT] == third.trial_id
    finish(resumed, top, 0.1)
    assert resumed.create_trial("tuner0").status == "STOPPED"
    assert resumed.best_trial().trial_id == top.trial_id


def test_the_best_is_retrained_only_when_it_fits():
    settings = flags.SearchSettings(schedule="onecycle")

    class Trial:
        def __init__(self, **metrics):
            self.metrics = FakeMetrics(metrics)

    class FakeMetrics:
        def __init__(self, values):
            self.values = values

        def exists(self, name):
            return name in self.values

        def get_last_value(self, name):
            return self.values[name]

    best = Trial(epochs=9.5, best_epoch=9.5, seconds=900.0, samples=45000.0)
    # no time limit: retrained as the chapter does, for all its epochs
    assert export.export_plan(best, settings, 50000, None)[:2] == (True, 9.5)
    # 1,000 s needed for 50,000 pictures: kept when less is left
    (retrain, _, why) = export.export_plan(best, settings, 50000, FakeClock(left=600.0))
    assert not retrain and "16m40s" in why
    assert export.export_plan(best, settings, 50000, FakeClock(left=1200.0))[0]
    # an adaptive trial is retrained for the epochs of its lowest loss
    plateau = flags.SearchSettings(schedule="plateau")
    assert export.export_plan(Trial(epochs=50.0, best_epoch=30.0, seconds=1.0, samples=10.0),
                              plateau, 10, None)[1] == 30.0


def test_the_schedule_follows_the_steps_or_the_clock():
    import keras

    from pyimagesearch.search import airbench

    # airbench's one-cycle: a fifth of the peak, the peak at 23%, 7% at the end
    assert airbench.onecycle(0.0) == pytest.approx(0.2)
    assert airbench.onecycle(0.23) == pytest.approx(1.0)
    assert airbench.onecycle(1.0) == pytest.approx(0.07)
    # the weights' running average: over the last twentieth of a short run,
    # the last hundred steps of a long one
    assert airbench.ema_momentum(88) == pytest.approx(1 - 20 / 88)
    assert airbench.ema_momentum(5000) == 0.99
    assert trials.warmup_cosine(0.1, 0.2) == pytest.approx(0.5)
    assert trials.warmup_cosine(1.0, 0.2) == pytest.approx(0.0)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    x = np.zeros((40, 2), "float32")
    rates = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))

    # by the steps: ten steps, the rate at each step's start, then stopped
    schedule = trials.ScheduleByProgress(2.0, airbench.onecycle, totalSteps=10)
    model.fit(x, x[:, :1], batch_size=4, epochs=5, callbacks=[schedule, Record()], verbose=0)
    assert len(rates) == 10
    np.testing.assert_allclose(rates, [2.0 * airbench.onecycle(k / 10) for k in range(10)],
                               rtol=1e-6)
    # by the clock: a deadline already passed ends training after one step,
    # the schedule run to its end
    rates.clear()
    import time

    schedule = trials.ScheduleByProgress(2.0, airbench.onecycle, totalSteps=1000,
                                         deadline=time.monotonic())
    model.fit(x, x[:, :1], batch_size=4, epochs=5, callbacks=[schedule, Record()], verbose=0)
    assert len(rates) == 1


def test_the_winner_is_retrained_at_its_trials_plateau_rates():
    import keras
    import keras_tuner

    from pyimagesearch.search import space

    settings = flags.SearchSettings(batch_size=8, schedule="plateau", patience=4)
    head = {"kind": "regression", "loss": "mean_squared_error", "mean": 0.0, "std": 1.0}
    sample = np.random.default_rng(3).integers(0, 256, (16, 8, 8, 3), dtype="uint8")
    hypermodel = space.ImageHyperModel(settings, (8, 8, 3), head, sample)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    # the rate each epoch trained at, seen from outside the code under test
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(None)

        def on_train_batch_end(self, batch, logs=None):
            seen[-1] = float(self.model.optimizer.learning_rate)

    # trained towards +1 and scored against -1, the validation loss only
    # grows: the plateau rule halves the rate every other epoch and the
    # trial stops at its patience; the changes up to its best epoch are kept
    ones = np.ones(16, "float32")
    (_, metrics) = hypermodel.train(hp, sample, ones, (sample[:8], -ones[:8]), 40, verbose=0,
                                    callbacks=[Record()])
    best = int(metrics["best_epoch"])
    expected = {f"rate_from_epoch_{k + 1}": seen[k] for k in range(1, best)
                if seen[k] != seen[k - 1]}
    recorded = {k: v for (k, v) in metrics.items() if k.startswith("rate_from_epoch_")}
    assert expected and recorded == pytest.approx(expected)

    # the export hands the winner's recorded changes to its retraining
    trial = keras_tuner.engine.trial.Trial(hp, trial_id="0")
    for (name, value) in {**metrics, "samples": 16.0}.items():
        trial.metrics.update(name, value)
    given = {}

    class Tuner:
        class hypermodel:
            @staticmethod
            def train(*args, **kwargs):
                given.update(kwargs["rates"])
                return None, {}

        @staticmethod
        def trained_model(trial):
            return None

    clock = FakeClock(left=3600.0)
    clock.deadline = lambda: None
    export.export_model(Tuner, trial, settings, sample, ones, clock, verbose=0)
    assert given == pytest.approx(expected)

    # the retraining, with no validation pictures, repeats given changes
    peak = hp.get("learning_rate")
    seen.clear()
    hypermodel.train(hp, sample, ones, None, 6, verbose=0, callbacks=[Record()],
                     rates={"rate_from_epoch_3": peak / 2, "rate_from_epoch_5": peak / 8})
    assert seen == pytest.approx([peak, peak, peak / 2, peak / 2, peak / 8, peak / 8])


# --------------------------------------------------------------------------
# The networks: stock layers, the defaults first


def default_hypermodel(kind="classification", block="vanilla", side=64, channels=3):
    from pyimagesearch.search import space

    head = ({"kind": kind, "classes": 3} if kind == "classification" else
            {"kind": kind, "loss": "mean_absolute_percentage_error", "mean": 0.0, "std": 1.0})
    settings = flags.SearchSettings(block=block, batch_size=8,
                                    schedule="onecycle" if block == "airbench" else "cosine")
    sample = np.random.default_rng(0).integers(0, 256, (64, side, side, channels), dtype="uint8")
    return space.ImageHyperModel(settings, (side, side, channels), head, sample)


@pytest.mark.parametrize("kind, convs, units, augmented", [
    # SmallVGGNet's widths, one convolution a block, FC 256; the post's augmentation
    ("classification", [32, 64, 128], 256, True),
    # the house CNN: CONV 16, 32, 64, FC 16; no augmentation
    ("regression", [16, 32, 64], 16, False),
])
def test_first_vanilla_trial_is_the_posts_network(kind, convs, units, augmented):
    import keras
    import keras_tuner

    hypermodel = default_hypermodel(kind)
    hp = keras_tuner.HyperParameters()
    layers = hypermodel.build(hp).layers
    assert [l.filters for l in layers if isinstance(l, keras.layers.Conv2D)] == convs
    assert [l.units for l in layers if isinstance(l, keras.layers.Dense)][0] == units
    assert [l.rate for l in layers if isinstance(l, keras.layers.Dropout)][-1] == 0.5
    # the model holds only the network: augmentation is done to the batches
    assert not [l for l in layers if type(l).__name__.startswith("Random")]
    assert hypermodel.augments(hp) is augmented

    # the training batches: augmented, no picture comes out as it went in;
    # otherwise every one does (in a shuffled order)
    x = np.random.default_rng(0).random((8, 64, 64, 3), dtype="float32")
    y = np.zeros(8, dtype="float32")
    batch = next(iter(trials.batches(x, y, 8, seed=0, augment=hypermodel.augmentation(hp),
                                     repeat=True, classes=hypermodel.classes())))[0].numpy()
    unchanged = [any(np.allclose(b, original) for original in x) for b in batch]
    assert all(unchanged) is not augmented and any(unchanged) is not augmented


@pytest.mark.parametrize("block, family", [
    # Keras' applications, untrained, each on pictures enlarged to the
    # smallest side it accepts
    ("resnet", ("resnet50v2", 32)), ("xception", ("xception", 71)),
    ("efficient", ("efficientnetb0", 32)),
    ("airbench", ("whiten", 16)), ("vanilla", (None, 16)),
])
def test_block_flag_builds_that_family(classifier, shapes, block, family):
    import keras
    import keras_tuner

    from pyimagesearch.search import space

    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "16",
                                  "--block", block])
    head = {"kind": "classification", "classes": 3}
    sample = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype="uint8")
    model = space.ImageHyperModel(args.settings, (16, 16, 3), head, sample).build(
        keras_tuner.HyperParameters())
    (marker, side) = family
    nested = [l for l in model.layers if isinstance(l, keras.Model)]
    names = [l.name for l in model.layers]
    if marker is None:
        assert not nested and "whiten" not in names
    else:
        assert marker in names
    if nested:
        assert nested[0].input_shape[1:3] == (side, side)
    assert model.predict(sample[:2], verbose=0).shape == (2, 3)


def test_block_any_searches_every_family(classifier, shapes):
    import keras_tuner

    from pyimagesearch.search import space

    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "16",
                                  "--block", "any"])
    head = {"kind": "classification", "classes": 3}
    sample = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype="uint8")
    hypermodel = space.ImageHyperModel(args.settings, (16, 16, 3), head, sample)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    # the family is a searched choice, the fast one first
    assert hp.get("block") == "airbench"
    choice = next(p for p in hp.space if p.name == "block")
    assert set(choice.values) == set(flags.BLOCKS)
    hp.values["block"] = "xception"
    assert "xception" in [l.name for l in hypermodel.build(hp).layers]


@pytest.mark.parametrize("flag, augmented", [("--augment", True), ("--no-augment", False),
                                             (None, None)])
def test_augment_flags_decide_the_augmentation(classifier, shapes, flag, augmented):
    import keras_tuner

    from pyimagesearch.search import space

    argv = ["--dataset", str(shapes), "--image-size", "16", "--block", "vanilla"]
    args = classifier.parse_args(argv + ([flag] if flag else []))
    head = {"kind": "classification", "classes": 3}
    sample = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype="uint8")
    hypermodel = space.ImageHyperModel(args.settings, (16, 16, 3), head, sample)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    if augmented is None:
        # searched: a choice of the space, on for a classifier's first trial
        assert "augment" in hp.values and hypermodel.augments(hp)
        hp.values["augment"] = False
        augmented = False
    else:
        assert "augment" not in hp.values
    # the training batches: augmented, no picture comes out as it went in
    x = np.random.default_rng(0).random((8, 16, 16, 3), dtype="float32")
    batch = next(iter(trials.batches(x, np.zeros(8, "float32"), 8, seed=0,
                                     augment=hypermodel.augmentation(hp), repeat=True,
                                     classes=3)))[0].numpy()
    unchanged = [any(np.allclose(b, original) for original in x) for b in batch]
    assert not any(unchanged) if augmented else all(unchanged)


def test_first_airbench_trial_is_the_recipes_network():
    import keras
    import keras_tuner

    from pyimagesearch.search import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=32)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [l.filters for l in convs] == [24, 64, 64, 256, 256, 256, 256]
    assert model.output_shape == (None, 3) and hypermodel.flip_averaged(hp)
    # the stem whitens the pictures' 2x2 patches: its outputs on them are
    # uncorrelated, unit variance (each filter twice, with opposite signs)
    sample = hypermodel.sample
    normalised = np.asarray(model.get_layer("normalise")(sample))
    stem = keras.Model(model.input, model.get_layer("whiten").output)
    out = stem.predict(sample, verbose=0).reshape(-1, 24)[:, :12].astype("float64")
    np.testing.assert_allclose(np.cov(out, rowvar=False, bias=True), np.eye(12), atol=0.05)
    assert not model.get_layer("whiten").trainable
    # each group's convolutions start by passing their first channels through
    kernel = model.get_layer("group2_conv2").get_weights()[0]
    assert kernel[1, 1, 5, 5] == 1.0 and kernel[0, 0, 5, 5] == 0.0
    del normalised

    # flips and translations of up to 2 pixels, edges mirrored, per picture
    images = np.random.default_rng(1).random((6, 32, 32, 3)).astype("float32")
    moved = airbench.flip_and_translate(images, np.array([0, 3], "int64")).numpy()
    for (original, out) in zip(images, moved):
        candidates = [np.roll(np.roll(o, dy, 0), dx, 1)[4:-4, 4:-4]
                      for o in (original, original[:, ::-1])
                      for dy in range(-2, 3) for dx in range(-2, 3)]
        assert any(np.allclose(c, out[4:-4, 4:-4]) for c in candidates)
    assert not all(np.allclose(a, b) for (a, b) in zip(images, moved))


def test_batch_norm_offsets_step_at_64_times_the_rate():
    import keras
    import keras_tuner

    from pyimagesearch.search import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.compile(hypermodel.build(hp), hp)
    bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    conv = model.get_layer("group1_conv1")
    model.optimizer.build(model.trainable_variables)
    grads = [keras.ops.ones_like(v) for v in model.trainable_variables]
    (beta0, kernel0) = (bn.beta.numpy().copy(), conv.kernel.numpy().copy())
    model.optimizer.apply(grads, model.trainable_variables)
    rate = float(model.optimizer.learning_rate)
    betaStep = beta0 - bn.beta.numpy()
    # Nesterov's first step is (1 + momentum) * rate * gradient; the decay is
    # zero for the zero offsets
    np.testing.assert_allclose(betaStep, airbench.BIAS_SCALE * rate * (1 + airbench.MOMENTUM),
                               rtol=1e-4)
    # the recipe's decay per step, 0.0153 per 1,024 pictures over 1 + 1/(1 - 0.85),
    # went through PyTorch's momentum: 1/(1 - 0.85) times that in all
    decay = 0.0153 * 8 / (1024 * (1 + 1 / 0.15)) / 0.15
    assert rate * model.optimizer.weight_decay == pytest.approx(decay)
    assert rate == pytest.approx(11.5 * 8 / (1024 * (1 + 1 / 0.15)))
    kernelStep = (kernel0 * (1 - decay)) - conv.kernel.numpy()
    np.testing.assert_allclose(kernelStep, rate * (1 + airbench.MOMENTUM), rtol=1e-3,
                               atol=1e-6)
    assert type(model.optimizer) is keras.optimizers.SGD


def test_batch_norm_statistics_are_recomputed_for_the_averaged_weights():
    import keras
    import keras_tuner

    from pyimagesearch.search import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    model = hypermodel.build(keras_tuner.HyperParameters())
    images = (np.random.default_rng(2).random((40, 16, 16, 3)) * 255).astype("uint8")
    bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    # what the first batch norm sees, batch by batch, in training's order
    before = keras.Model(model.input, bn.input)
    order = np.random.default_rng(7).permutation(len(images))[:30]
    chunks = [images[order[i:i + 10]].astype("float32") / 255 for i in (0, 10, 20)]
    inputs = [np.asarray(before(c, training=True), dtype="float64") for c in chunks]
    airbench.recalibrate_batch_norm(model, images, seed=7, pictures=30, batchSize=10)
    # the plain average of the three batches' means and variances
    means = np.mean([i.mean(axis=(0, 1, 2)) for i in inputs], axis=0)
    variances = np.mean([i.var(axis=(0, 1, 2)) for i in inputs], axis=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), means, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), variances, rtol=2e-2, atol=1e-4)
    assert bn.momentum == airbench.BN_MOMENTUM


def test_test_pictures_are_averaged_over_mirrors_and_shifts():
    import keras_tuner

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x = np.random.default_rng(3).random((5, 16, 16, 3)).astype("float32")

    def views(a):
        # the picture and its mirror: moved down-right, then up-left, by a pixel
        padded = np.pad(a, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
        (down, up) = (padded[:, :16, :16], padded[:, 2:, 2:])
        np.testing.assert_array_equal(down[:, 1:, 1:], a[:, :-1, :-1])
        p = {name: model.predict(v, verbose=0) + model.predict(v[:, :, ::-1], verbose=0)
             for (name, v) in (("base", a), ("down", down), ("up", up))}
        return p

    p = views(x)
    np.testing.assert_allclose(hypermodel.predict(hp, model, x), p["base"] / 2, atol=1e-5)
    expected = 0.25 * p["base"] + 0.125 * (p["down"] + p["up"])
    np.testing.assert_allclose(hypermodel.predict(hp, model, x, shifted=True), expected,
                               atol=1e-5)
    assert hypermodel.shift_averaged(hp)


# --------------------------------------------------------------------------
# A whole search, as a user runs it


def test_classifier_keeps_a_train_test_split(classifier, tmp_path, capsys, monkeypatch):
    root = write_split_folder(tmp_path / "cifar")
    # as if the time left could not pay for retraining the winner
    plan = export.export_plan
    monkeypatch.setattr(export, "export_plan",
                        lambda *a: (False, plan(*a)[1], "no time left (the test says so)"))
    assert classifier.main(["--dataset", str(root), "--max-trials", "1", "--epochs", "1",
                            "--batch-size", "9", *outputs(tmp_path),
                            "--label-bin", str(tmp_path / "lb.pickle")]) == 0
    out = capsys.readouterr().out
    # the search's own network is exported, the same weights, and it says so
    kept = re.search(r"keeping trial 1's network as the search trained it on (\d+) images: "
                     r"no time", out)
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
    assert "averaged with its mirror image" in out and results["flip_averaged"]
    assert results["retrained"] is False
    assert re.search(r"peak memory \d+\.\d\d GB", out)


def test_time_limit_bounds_the_whole_command(classifier, shapes, tmp_path, capsys):
    import time

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
    assert "time limit: 40s for the whole command" in capsys.readouterr().out


def test_a_search_interrupted_mid_trial_resumes_without_redoing_finished_ones(
        classifier, shapes, tmp_path, monkeypatch, capsys):
    from pyimagesearch.search import space

    args = ["--dataset", str(shapes), *TINY, "--epochs", "3", "--max-trials", "2",
            *outputs(tmp_path)]
    train = space.ImageHyperModel.train
    calls = []

    def ctrl_c_in_the_second_trial(self, *a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return train(self, *a, **k)

    monkeypatch.setattr(space.ImageHyperModel, "train", ctrl_c_in_the_second_trial)
    with pytest.raises(KeyboardInterrupt):
        classifier.main(args)
    trialsDir = tmp_path / "project" / project.PROJECT_NAME
    first = sorted(trialsDir.glob("trial_*/trial.json"))
    assert [json.loads(t.read_text())["status"] for t in first] == ["COMPLETED", "RUNNING"]
    firstModel = (first[0].parent / engine.TRIAL_MODEL).read_bytes()
    capsys.readouterr()
    # the same command again: trial 1 is kept as it was, trial 2 is trained
    # from the start, then the promoted one; nothing else
    monkeypatch.setattr(space.ImageHyperModel, "train", train)
    assert classifier.main(args) == 0
    out = capsys.readouterr().out
    assert "1 finished trial(s) kept" in out
    assert re.findall(r"trial (\d) starts", out) == ["2", "3"], out
    assert (first[0].parent / engine.TRIAL_MODEL).read_bytes() == firstModel
    statuses = [json.loads(t.read_text())["status"]
                for t in sorted(trialsDir.glob("trial_*/trial.json"))]
    assert statuses == ["COMPLETED"] * 3


def test_overwrite_replaces_another_search(classifier, shapes, tmp_path, capsys):
    args = ["--dataset", str(shapes), *TINY, "--max-trials", "1", *outputs(tmp_path)]
    assert classifier.main(args) == 0
    trialsDir = tmp_path / "project" / project.PROJECT_NAME
    before = {p.name: p.stat().st_mtime_ns for p in trialsDir.glob("trial_*/trial.json")}
    with pytest.raises(UserError, match="holds another search"):
        classifier.main([*args, "--image-size", "20"])
    # --overwrite: the other search (20-pixel pictures) starts afresh there
    capsys.readouterr()
    assert classifier.main([*args, "--image-size", "20", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "resuming" not in out and re.findall(r"trial (\d) starts", out) == ["1"]
    identity = json.loads((tmp_path / "project" / project.IDENTITY_FILE).read_text())
    assert identity["image_size"] == 20
    after = {p.name: p.stat().st_mtime_ns for p in trialsDir.glob("trial_*/trial.json")}
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in after)


def test_classifier_on_keras_cifar10_arrays(classifier, tmp_path, monkeypatch, capsys):
    # keras.datasets.cifar10 stood in for by a tiny set: RGB arrays, labels (n, 1)
    import keras

    rng = np.random.default_rng(0)
    (trainX, testX) = (rng.integers(0, 256, (40, 32, 32, 3), dtype="uint8"),
                       rng.integers(0, 256, (20, 32, 32, 3), dtype="uint8"))
    (trainY, testY) = (np.arange(40).reshape(-1, 1) % 10, np.arange(20).reshape(-1, 1) % 10)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data",
                        lambda: ((trainX, trainY), (testX, testY)))
    (a, b, c, d, names) = data.load_cifar10()
    assert np.array_equal(a, trainX[..., ::-1]) and np.array_equal(d, testY.ravel())
    assert names[0] == "airplane" and len(names) == 10
    # --image-size resizes them
    assert data.load(None, "keras", 16, 0)[0].shape == (40, 16, 16, 3)
    assert classifier.main(["--max-trials", "1", "--epochs", "1", "--batch-size", "8",
                            "--val-split", "0.25", *outputs(tmp_path),
                            "--label-bin", str(tmp_path / "lb.pickle")]) == 0
    assert "40 training and 20 test pictures of 10 classes, 32x32" in capsys.readouterr().out


def test_regressor_on_targets_csv(regressor, targets_folder, tmp_path, capsys):
    assert regressor.main(["--dataset", str(targets_folder), "--max-trials", "1", *TINY,
                           *outputs(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^\[INFO\] test MAE: \d+\.\d\d$", out, re.M), out
    results = json.loads((tmp_path / "m_results.json").read_text())
    assert results["kind"] == "csv" and len(results["trials"]) == 1
    assert (tmp_path / "m.png").stat().st_size > 0


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
    args = regressor.parse_args(["--dataset", str(houses), "--grayscale", *TINY,
                                 *outputs(tmp_path)])
    (df, images) = regressor.load_houses(args)
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
    assert len(copies) == regressor.COPIES == 4
    x = testX[:8].astype("float32") / 255.0
    each = [c.predict(x, verbose=0).reshape(-1) for c in copies]
    np.testing.assert_allclose(model.predict(x, verbose=0).reshape(-1), np.mean(each, axis=0),
                               rtol=1e-5)
    assert not np.allclose(each[0], each[1])
    assert json.loads((tmp_path / "m_results.json").read_text())["copies"] == 4


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
    args = ["--dataset", str(shapes), *TINY, "--epochs", "3", *outputs(tmp_path),
            "--label-bin", str(tmp_path / "lb.pickle")]
    runs = run_distributed([*args, "--max-trials", "2"], str(free_port()))
    logs = {name: log for name, (_, log) in runs.items()}
    for name, (code, log) in runs.items():
        assert code == 0, f"{name}:\n{log[-3000:]}"

    # the halving's rungs across the workers: two candidates for 1 epoch,
    # the better for all 3; each trial ran exactly once, never on the chief
    starts = re.findall(r"\[INFO\] trial (\d) starts on (tuner\d): rung (\d), (\d) epoch",
                        logs["tuner0"] + logs["tuner1"])
    assert sorted((t, r, e) for (t, _, r, e) in starts) == \
        [("1", "1", "1"), ("2", "1", "1"), ("3", "2", "3")], logs
    assert "starts" not in logs["chief"]
    trialsDir = tmp_path / "project" / project.PROJECT_NAME
    trialFiles = sorted(trialsDir.glob("trial_*/trial.json"))
    assert len(trialFiles) == 3
    assert all(json.loads(t.read_text())["status"] == "COMPLETED" for t in trialFiles)
    # the chief printed the progress and exported the best; the workers did not
    assert len(re.findall(r"\[INFO\] trial \d \(rung \d\): val_loss", logs["chief"])) == 3
    assert "[INFO] wrote" in logs["chief"]
    assert all("chief exports" in logs[w] and "[INFO] wrote" not in logs[w]
               for w in ("tuner0", "tuner1"))
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
    # ...unless --overwrite
    identity["image_size"] = 20
    assert project.check_project(str(tmp_path / "project"), identity, True, "single") == 0


def test_a_worker_killed_mid_trial_does_not_stop_the_search(shapes, tmp_path):
    import time

    # a chief and two workers; tuner0 is killed (kill -9) as soon as it
    # starts a trial: its trial goes to tuner1 once tuner0 has been silent
    # for SEARCH_WORKER_SILENCE seconds, and the chief exports the best
    args = ["--dataset", str(shapes), *TINY, "--epochs", "60", "--max-trials", "2",
            *outputs(tmp_path), "--label-bin", str(tmp_path / "lb.pickle")]
    port = str(free_port())
    (processes, logs) = ({}, {})
    started = time.monotonic()
    try:
        for tunerId in ("chief", "tuner0", "tuner1"):
            env = dict(os.environ, KERASTUNER_TUNER_ID=tunerId, SEARCH_WORKER_SILENCE="20",
                       KERASTUNER_ORACLE_IP="127.0.0.1", KERASTUNER_ORACLE_PORT=port)
            env.pop("DISPLAY", None)
            logs[tunerId] = tmp_path / f"{tunerId}.log"
            with open(logs[tunerId], "w") as log:
                processes[tunerId] = subprocess.Popen(
                    [sys.executable, str(ROOT / "search_image_classifier.py"), *args],
                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        while "starts on tuner0" not in logs["tuner0"].read_text():
            assert processes["tuner0"].poll() is None and time.monotonic() - started < 180
            time.sleep(0.2)
        processes["tuner0"].send_signal(signal.SIGKILL)
        for name in ("chief", "tuner1"):
            processes[name].wait(timeout=240)
    finally:
        for p in processes.values():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                p.wait(timeout=30)
    text = {name: path.read_text() for (name, path) in logs.items()}
    assert processes["chief"].returncode == 0, text["chief"][-3000:]
    assert processes["tuner1"].returncode == 0, text["tuner1"][-3000:]
    killed = re.search(r"trial (\d) starts on tuner0", text["tuner0"]).group(1)
    assert re.search(rf"tuner0 has sent nothing for \d+s: trial {killed} handed to the next "
                     r"worker", text["chief"]), text["chief"][-3000:]
    # tuner1 trained the killed trial from the start, and the search ended;
    # tuner1 itself, busy but beating, was never taken for dead
    assert re.search(rf"trial {killed} starts on tuner1", text["tuner1"])
    assert "tuner1 has sent nothing" not in text["chief"]
    assert "[INFO] test accuracy:" in text["chief"] and (tmp_path / "m.keras").exists()
    statuses = [json.loads(t.read_text())["status"] for t in
                sorted((tmp_path / "project" / project.PROJECT_NAME).glob("trial_*/trial.json"))]
    assert statuses == ["COMPLETED"] * 3
