"""The automated model search (search_image_classifier.py, search_image_regressor.py),
its parts: bad input, how trials are judged, halved, timed and exported,
the networks searched. Whole searches, distributed ones included, are in
test_search_runs.py; the figures on the real datasets (CIFAR-10, the
animals, the houses) are in the README.
"""

import csv
import json
import re
import socket
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from conftest import free_port, outputs, write_split_folder

from pyimagesearch import cli, imagesets, reports
from pyimagesearch.errors import UserError
from pyimagesearch.search import distributed, project
from pyimagesearch.search import hypermodel as hypermodels
from pyimagesearch.reports import (EPOCHS, KEPT_SECONDS, PARENT, PREDICT_SECONDS, RUNG,
                                   SECONDS, STEP_SECONDS, WITH_VALIDATION, native_bfloat16)
from pyimagesearch.search.oracle import rung_sizes
from pyimagesearch.search.settings import SearchSettings, resolve
from pyimagesearch.training import ScheduleByProgress, batches

# the scripts set Keras' global precision: put back after each test
pytestmark = pytest.mark.usefixtures("float32_after")

# --------------------------------------------------------------------------
# Bad input: one clear line before anything is loaded


@pytest.mark.parametrize("bad", [["--max-trials", "0"], ["--time-limit", "0"],
                                 ["--block", "mobilenet"], ["--val-split", "1.5"],
                                 ["--precision", "float16"]])
def test_bad_flags_exit_2(classifier, shapes, tmp_path, bad):
    with pytest.raises(SystemExit) as info:
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path), *bad])
    assert info.value.code == 2


def test_airbench_on_pictures_too_small_is_one_line(classifier, regressor, shapes, houses,
                                                    tmp_path):
    # its stem and three halvings leave nothing of 8 pixels: refused before
    # anything loads, by either script and by the API
    with pytest.raises(UserError, match="--block airbench needs pictures of 9 pixels"):
        classifier.main(["--dataset", str(shapes), *outputs(tmp_path), "--block", "airbench",
                         "--image-size", "8"])
    with pytest.raises(UserError, match="--block airbench needs pictures of 9 pixels"):
        regressor.main(["--dataset", str(houses), *outputs(tmp_path), "--block", "airbench",
                        "--image-size", "8"])
    import keras_tuner

    from pyimagesearch.search import ImageBlock, ImageClassifier

    x = np.zeros((20, 8, 8, 3), "uint8")
    with pytest.raises(ValueError, match="block_type 'airbench' needs pictures of 9"):
        ImageClassifier(block_type="airbench", directory=tmp_path).fit(x, np.arange(20) % 2)
    assert not (tmp_path / "image_classifier").exists()
    # unasked, 8-pixel pictures get the vanilla family, and a searched
    # family leaves airbench out
    assert ImageBlock().resolved(8, "classification") == "vanilla"
    assert ImageBlock().resolved(9, "classification") == "airbench"
    # a classifier's up to 32 pixels, a regressor's up to 128
    assert [ImageBlock().resolved(side, "classification") for side in (32, 33)] == \
        ["airbench", "vanilla"]
    assert [ImageBlock().resolved(side, "regression") for side in (128, 129)] == \
        ["airbench", "vanilla"]
    hp = keras_tuner.HyperParameters()
    assert ImageBlock("any").family(hp, 8, "regression") == "vanilla"
    assert "airbench" not in hp.get_config()["space"][0]["config"]["values"]


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
    # the line and the file it is in, whatever the lines before named
    ([["a.png", "1.5"], ["missing.png", "2"]], r"targets.csv, line 3: 'missing.png' not found"),
    ([["a.png", "old"]], "target 'old' is not a number"),
    ([["a.png", "nan"]], "is not a number"),
    ([["a.png", "1"]] * 3, r"targets.csv names 3 image\(s\).*at least 8"),
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
    rows = imagesets.read_targets(str(folder))
    assert [t for (_, t) in rows] == list(range(8)) and rows[0][0].endswith("a.png")


def test_regressor_needs_houses_or_targets(regressor, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="neither HousesInfo.txt"):
        regressor.main(["--dataset", str(tmp_path / "empty"), *outputs(tmp_path)])


def chosen(options, side, samples, task="classification"):
    """The settings a ``task`` search resolves from the scripts' options."""
    from pyimagesearch.search.blocks import ImageBlock

    options = {k: v for (k, v) in options.items()
               if k not in ("directory", "project_name", "overwrite")}
    block = ImageBlock(options.pop("block_type"), options.pop("augment"))
    return resolve(block, side, samples, task, **options)


def test_training_defaults_follow_the_block_and_the_data(regressor, classifier, houses,
                                                       shapes, tmp_path):
    def picked(settings):
        return (settings.block, settings.batch_size, settings.max_epochs, settings.schedule)

    # the houses train as the post: batches of 8, up to its 200 epochs, in float32
    args = regressor.parse_args(["--dataset", str(houses), *outputs(tmp_path)])
    settings = chosen(regressor.search_options(args), 64, 75, "regression")
    assert picked(settings) == ("vanilla", 8, 200, "cosine")
    assert settings.precision == "float32" and settings.val_split == 0.2
    # 64-pixel pictures: SmallVGGNet-like stacks, annealed over 100 epochs
    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "64",
                                  *outputs(tmp_path)])
    assert picked(chosen(cli.search_options(args), 64, 45)) == ("vanilla", 32, 100, "cosine")
    # small pictures get the airbench family, bfloat16 where it is native, in
    # batches of 512 for CIFAR-10's 45,000, fewer for the 45 shapes (eight
    # steps an epoch); a tenth of 10,000 pictures or more scores the trials
    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "32",
                                  *outputs(tmp_path)])
    settings = chosen(cli.search_options(args), 32, 45)
    assert picked(settings) == ("airbench", 16, 40, "onecycle")
    assert chosen(cli.search_options(args), 32, 45000).batch_size == 512
    assert chosen(cli.search_options(args), 32, 45000).val_split == 0.1
    assert chosen(cli.search_options(args), 32, 2000).batch_size == 128
    assert settings.precision == ("mixed_bfloat16" if native_bfloat16() else "float32")
    # other pictures with targets (faces): the airbench family to 128 pixels,
    # trained as the vanilla stacks are (Adam, batches of 32, 100 epochs)
    faces = write_csv(tmp_path / "faces", [["a.png", str(k)] for k in range(8)])
    args = regressor.parse_args(["--dataset", str(faces), *outputs(tmp_path)])
    settings = chosen(regressor.search_options(args), 64, 2000, "regression")
    assert picked(settings) == ("airbench", 32, 100, "cosine")
    assert settings.precision == ("mixed_bfloat16" if native_bfloat16() else "float32")
    assert chosen(regressor.search_options(args), 129, 2000, "regression").block == "vanilla"
    # what the user gives wins
    args = regressor.parse_args(["--dataset", str(houses), "--batch-size", "16",
                                 "--max-epochs", "50", "--block", "airbench",
                                 "--schedule", "cosine", "--precision", "float32",
                                 *outputs(tmp_path)])
    settings = chosen(regressor.search_options(args), 64, 75, "regression")
    assert picked(settings) == ("airbench", 16, 50, "cosine")
    assert settings.precision == "float32"


def test_split_folder_layout_is_checked(classifier, tmp_path):
    root = write_split_folder(tmp_path / "cifar")
    assert imagesets.layout(str(root)) == "split" and imagesets.image_side(str(root), "split") == 12
    assert imagesets.layout(None) == "keras" and imagesets.image_side(None, "keras") == 32
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
    assert time.monotonic() - started < 30 and "\n" not in str(info.value)
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


class FakeClock:
    """A clock whose time left the test sets."""

    def __init__(self, left, kept=0.0):
        (self.limit, self.leftSeconds, self.kept) = (3600.0, left, kept)

    def left(self):
        return self.leftSeconds

    def elapsed(self):
        return self.limit - self.leftSeconds


def halving_oracle(tmp_path, candidates, fullEpochs, clock=None):
    oracle = distributed.Oracle(candidates, fullEpochs, clock=clock, seed=0)
    oracle._set_project_dir(str(tmp_path), "trials")
    oracle.hyperparameters.Choice("width", [8, 16, 32, 64], default=16)
    oracle.hyperparameters.Float("rate", 1e-4, 1e-1, sampling="log", default=1e-3)
    return oracle


def finish(oracle, trial, loss, **metrics):
    oracle.update_trial(trial.trial_id, {"val_loss": loss, "seconds": 1.0, **metrics})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def test_successive_halving_promotes_the_best_third(tmp_path, capsys):
    oracle = halving_oracle(tmp_path, candidates=4, fullEpochs=10)
    assert rung_sizes(4) == [4, 2, 1] and rung_sizes(2) == [2, 1]
    # rung 1: four candidates at a ninth of the epochs, the first the defaults
    for (k, loss) in enumerate([0.9, 0.3, 0.7, 0.5]):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        assert values[RUNG] == 0 and values[EPOCHS] == 1
        if k == 0:
            assert (values["width"], values["rate"]) == (16, 1e-3)
        finish(oracle, trial, loss)
    # rung 2: the best two (losses 0.3 and 0.5), promoted to a third
    second = []
    for _ in range(2):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        assert values[RUNG] == 1 and values[EPOCHS] == 3
        second.append(values[PARENT])
        finish(oracle, trial, {"0001": 0.4, "0003": 0.2}[values[PARENT]])
    assert second == ["0001", "0003"]
    # the top: the best of rung 2, for all ten epochs; then the search is done
    top = oracle.create_trial("tuner0")
    assert top.hyperparameters.values[EPOCHS] == 10
    # untimed, the winner is retrained on every picture after the search:
    # its top rung keeps to the training split
    assert not top.hyperparameters.values.get(WITH_VALIDATION)
    promotedFrom = oracle.trials[top.hyperparameters.values[PARENT]]
    assert promotedFrom.hyperparameters.values[PARENT] == "0003"
    assert reports.network_values(top.hyperparameters.values) == \
        reports.network_values(oracle.trials["0003"].hyperparameters.values)
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
    assert first.hyperparameters.values[EPOCHS] == 3
    oracle.update_trial(first.trial_id, {"val_loss": 0.5, "epochs": 2.5})
    first.status = "COMPLETED"
    oracle.end_trial(first)
    second = oracle.create_trial("tuner0")
    assert second.hyperparameters.values[EPOCHS] == 2.5
    finish(oracle, second, 0.4)
    assert oracle.create_trial("tuner0").hyperparameters.values[EPOCHS] == 9


def test_a_silent_workers_trial_goes_to_the_next_worker(tmp_path, capsys):
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=6)
    (a, b) = (oracle.create_trial("tuner0"), oracle.create_trial("tuner1"))
    finish(oracle, b, 0.4)
    heard = oracle.last_heard[a.trial_id]
    # tuner0's heartbeats keep its trial; then it falls silent
    oracle.get_trial(a.trial_id)
    assert oracle.last_heard[a.trial_id] >= heard
    now = oracle.last_heard[a.trial_id]
    assert oracle.requeue_silent(now=now + 30, silent=60) == []
    assert oracle.requeue_silent(now=now + 61, silent=60) == [a.trial_id]
    assert "tuner0" not in oracle.ongoing_trials and "tuner0" not in oracle.tuner_ids
    assert "tuner0 has sent nothing for 61s: trial 1 handed to the next worker" in \
        capsys.readouterr().out
    # the waiting worker gets it, the same network from the start; the rung
    # then goes on as if nothing had happened
    again = oracle.create_trial("tuner1")
    assert again.trial_id == a.trial_id and again.status == "RUNNING"
    finish(oracle, again, 0.3)
    top = oracle.create_trial("tuner1")
    assert top.hyperparameters.values[PARENT] == a.trial_id
    # a trial whose workers keep dying is recorded as failed, not retried forever
    for k in range(distributed.RETRIES):
        assert oracle.requeue_silent(now=1e9 + k, silent=60) == [top.trial_id]
        assert oracle.create_trial("tuner1").trial_id == top.trial_id
    oracle.requeue_silent(now=2e9, silent=60)
    assert oracle.trials[top.trial_id].status == "FAILED"
    assert oracle.ongoing_trials == {} and oracle.tuner_ids == set()


def test_a_worker_beats_while_it_works_and_stops_after(monkeypatch):
    import time

    class Chief:
        calls = []

        def get_trial(self, trialId):
            self.calls.append((trialId, time.monotonic()))

    # silence 2 s: a beat at once, then every half second
    monkeypatch.setenv("SEARCH_WORKER_SILENCE", "2")
    chief = Chief()
    with distributed.Heartbeat(chief, "0003"):
        time.sleep(1.2)
    count = len(chief.calls)
    assert count >= 2 and {t for (t, _) in chief.calls} == {"0003"}
    gaps = np.diff([when for (_, when) in chief.calls])
    assert gaps.max() < 2.0          # never silent as long as the limit
    time.sleep(1.0)
    assert len(chief.calls) == count  # and nothing once the trial is over


def test_a_workers_trial_beats_for_as_long_as_it_trains(tmp_path, monkeypatch):
    import time

    # a worker's tuner, its chief's oracle in this process: a trial that
    # trains for longer than the silence limit is heard from throughout,
    # and can be stopped if the chief goes; a single process does not beat
    monkeypatch.setenv("SEARCH_WORKER_SILENCE", "1")    # a beat every 0.25 s
    settings = SearchSettings(max_trials=2, epochs=1, batch_size=8)
    tuner = distributed.make_tuner(default_hypermodel(side=16), settings, str(tmp_path), False,
                                   None, verbose=0)
    trial = tuner.oracle.create_trial("tuner0")
    beats = []
    heard = tuner.oracle.get_trial
    monkeypatch.setattr(tuner.oracle, "get_trial",
                        lambda trialId: (beats.append(time.monotonic()), heard(trialId))[1])

    def train_trial(self, trial, x, y, validation_data=None, callbacks=()):
        assert [type(c) for c in callbacks] == expected
        (began, done) = (time.monotonic(), time.monotonic() + 1.5)
        while time.monotonic() < done:
            time.sleep(0.05)
        return [b - began for b in beats]

    from pyimagesearch.search.tuner import SearchTuner

    monkeypatch.setattr(SearchTuner, "run_trial", train_trial)
    (expected, tuner.role) = ([distributed.Heartbeat], "worker")
    when = tuner.run_trial(trial, None, None)
    assert len(when) >= 5 and np.diff([0.0, *when, 1.5]).max() < 1.0, when
    beats.clear()
    (expected, tuner.role) = ([], "single")
    assert tuner.run_trial(trial, None, None) == []


def test_a_worker_stops_its_trial_when_the_chief_stops_answering(tmp_path, monkeypatch):
    import grpc
    import keras

    class Refused(grpc.RpcError):
        # the chief answered, with an error of its own
        def code(self):
            return grpc.StatusCode.UNKNOWN

    class NoAnswer(grpc.RpcError):
        # KerasTuner's client gave up waiting
        def code(self):
            return grpc.StatusCode.DEADLINE_EXCEEDED

    class GoneChief:
        # answers the first beat, then never again
        def __init__(self, error):
            (self.calls, self.error) = (0, error)

        def get_trial(self, trialId):
            self.calls += 1
            if self.calls > 1:
                raise self.error()

    monkeypatch.setenv("SEARCH_WORKER_SILENCE", "1")    # a beat every 0.25 s
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    steps = []

    class Count(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            import time

            steps.append(batch)
            time.sleep(0.02)

    x = np.zeros((400, 2), "float32")

    def train(callbacks):
        steps.clear()
        model.fit(x, x[:, :1], batch_size=1, epochs=1, verbose=0, callbacks=[Count(), *callbacks])
        return "metrics"

    # the second beat goes unanswered: training stops soon after, not at
    # the end of its 400 steps, and the trial reports nothing
    with pytest.raises(distributed.ChiefGone):
        distributed.train_with_heartbeat(GoneChief(NoAnswer), "0001", train)
    assert 0 < len(steps) < 100
    # a chief that answers with an error is alive: the trial goes on
    assert distributed.train_with_heartbeat(GoneChief(Refused), "0001", train) == "metrics"
    assert len(steps) == 400
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "8123")
    with pytest.raises(UserError, match="the chief at 127.0.0.1:8123 has not answered for "
                                        "10m00s: .*rerun the chief"):
        with distributed.one_line_if_the_chief_is_gone("worker"):
            raise NoAnswer()
    with pytest.raises(Refused):
        with distributed.one_line_if_the_chief_is_gone("worker"):
            raise Refused()


def test_a_worker_whose_chief_stops_gives_up_in_bounded_time(tmp_path, monkeypatch, capsys):
    import time
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute import oracle_chief, oracle_client

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
    settings = SearchSettings(max_trials=3, epochs=1, batch_size=8)
    tuner = distributed.make_tuner(default_hypermodel(side=16), settings,
                                   str(tmp_path / "worker"), False, None, role="worker", verbose=0)
    (x, y) = (np.zeros((16, 16, 16, 3), "uint8"), np.eye(3, dtype="float32")[[0] * 16])
    # the worker takes a trial; the chief dies while it trains: its report
    # goes unanswered, which ends the search (no failed trial, whose
    # traceback KerasTuner would print, and no second wait to report it)
    trial = tuner.oracle.create_trial("tuner0")
    server.stop(0)

    import keras

    class Quiet(keras.callbacks.Callback):
        # no heartbeats (tested above): the trial trains to its end, and
        # the chief's silence is met at the report
        def __init__(self, oracle, trialId):
            super().__init__()
            self.lost = None

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(distributed, "Heartbeat", Quiet)
    started = time.monotonic()
    with pytest.raises(distributed.ChiefGone):
        tuner._try_run_and_update_trial(trial, x, y, validation_data=(x, y))
    assert time.monotonic() - started < 40 and "Traceback" not in capsys.readouterr().err
    # a worker between trials asks for one: the same one line
    started = time.monotonic()
    with pytest.raises(UserError, match=f"127.0.0.1:{port} has not answered for 2s") as info:
        tuner.search(x, y, validation_data=(x, y))
    assert time.monotonic() - started < 30 and "\n" not in str(info.value)


def test_a_worker_taken_for_dead_that_finishes_keeps_its_result(tmp_path):
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=6)
    oracle.distributed = True
    (a, b) = (oracle.create_trial("tuner0"), oracle.create_trial("tuner1"))
    finish(oracle, b, 0.4)
    assert oracle.requeue_silent(now=oracle.last_heard[a.trial_id] + 61,
                                  silent=60) == [a.trial_id]
    # tuner0 was only slow: its result arrives, and the trial is not redone
    finish(oracle, a, 0.3)
    assert oracle._retry_queue == []
    top = oracle.create_trial("tuner1")
    assert top.hyperparameters.values[PARENT] == a.trial_id
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
    assert top.status == "RUNNING" and top.hyperparameters.values[PARENT] == b.trial_id
    # nothing is left for the other worker: it stops, it does not wait
    assert oracle.create_trial("tuner1").status == "STOPPED"


def test_the_clock_is_shared_out_top_rung_first(tmp_path, capsys):
    clock = FakeClock(left=1000.0, kept=30.0)
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=40, clock=clock)
    # two candidates share 15% of the time; the top rung gets the rest
    first = oracle.create_trial("tuner0")
    assert first.hyperparameters.values[SECONDS] == pytest.approx(75.0)
    clock.leftSeconds = 900.0   # the first trial overran a little
    finish(oracle, first, 0.6, step_seconds=2.0, predict_seconds=0.004)
    second = oracle.create_trial("tuner0")
    assert second.hyperparameters.values[SECONDS] == pytest.approx(900 * 0.075 / 0.925)
    clock.leftSeconds = 700.0
    finish(oracle, second, 0.5, step_seconds=1.0, predict_seconds=0.001)
    top = oracle.create_trial("tuner0")
    assert top.hyperparameters.values[SECONDS] == pytest.approx(700.0)
    # the promoted network's speeds are its parent's, measured, not guessed
    assert (top.hyperparameters.values[STEP_SECONDS],
            top.hyperparameters.values[PREDICT_SECONDS]) == (1.0, 0.001)
    assert first.hyperparameters.values[PREDICT_SECONDS] == 0.0
    # the time the chief's clock kept for the caller's test goes back to the
    # model the search ends with, whichever machine trains it
    assert top.hyperparameters.values[KEPT_SECONDS] == 30.0
    assert first.hyperparameters.values[KEPT_SECONDS] == second.hyperparameters.values[
        KEPT_SECONDS] == 0.0
    # no time to retrain the winner after the search: the top rung learns
    # the validation pictures too, the candidates never
    assert top.hyperparameters.values[WITH_VALIDATION] is True
    assert not any(t.hyperparameters.values[WITH_VALIDATION] for t in (first, second))
    # with no time left no trial starts, and the search says why
    oracle = halving_oracle(tmp_path / "late", candidates=2, fullEpochs=40,
                            clock=FakeClock(left=2.0))
    assert oracle.create_trial("tuner0").status == "STOPPED"
    assert re.search(r"time limit: .* used, no time left", capsys.readouterr().out)


def test_top_trials_that_learned_the_validation_pictures_are_ranked_by_their_parents(
        tmp_path):
    oracle = halving_oracle(tmp_path, candidates=2, fullEpochs=9, clock=FakeClock(1000.0))
    for loss in (0.6, 0.5):
        finish(oracle, oracle.create_trial("tuner0"), loss)
    first = oracle.create_trial("tuner0")
    finish(oracle, first, 0.01)   # in-sample: it trained on those pictures
    # resumed with a third candidate, which beats the promoted one's 0.5 and
    # goes up too; in-sample its network scores worse than the first's...
    oracle.candidates = 3
    finish(oracle, oracle.create_trial("tuner0"), 0.45)
    second = oracle.create_trial("tuner0")
    assert second.hyperparameters.values[WITH_VALIDATION] is True
    finish(oracle, second, 0.2)
    # ...but the pictures it had not seen rank it first
    assert oracle.best_trial().trial_id == second.trial_id
    # resumed without a time limit, a top trial handed on trains on the
    # training split (then retrained on all); with one, on all the pictures
    oracle.clock = None
    oracle.requeue(second.trial_id)
    assert second.hyperparameters.values[WITH_VALIDATION] is False
    assert second.hyperparameters.values[KEPT_SECONDS] == 0.0
    oracle.clock = FakeClock(1000.0, kept=40.0)
    oracle.requeue(second.trial_id)
    assert second.hyperparameters.values[WITH_VALIDATION] is True
    assert second.hyperparameters.values[KEPT_SECONDS] == 40.0


def test_short_time_skips_the_search_not_the_model(tmp_path):
    # thirty candidates in 100 s: no candidate's share pays for a trial, so
    # the defaults get the time, at the top rung
    oracle = halving_oracle(tmp_path, candidates=30, fullEpochs=27, clock=FakeClock(100.0))
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    assert trial.status == "RUNNING" and values[RUNG] == oracle.top() == 4
    assert (values["width"], values[EPOCHS], values[SECONDS]) == (16, 27, 100.0)
    assert values[WITH_VALIDATION] is True


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
    assert (third.hyperparameters.values[RUNG],
            third.hyperparameters.values[EPOCHS]) == (0, 3)
    finish(resumed, third, 0.2)    # better than the one promoted
    fourth = resumed.create_trial("tuner0")
    finish(resumed, fourth, 0.9)
    # the late better candidate goes up too; the worse one does not
    top = resumed.create_trial("tuner0")
    assert top.hyperparameters.values[PARENT] == third.trial_id
    finish(resumed, top, 0.1)
    assert resumed.create_trial("tuner0").status == "STOPPED"
    assert resumed.best_trial().trial_id == top.trial_id


@pytest.mark.parametrize("tunerFiles", [["tuner0.json"], ["chief.json", "tuner1.json"]])
def test_one_process_resumes_whichever_tuners_saved_the_search(tmp_path, monkeypatch,
                                                                tunerFiles):
    # a search saved by one process (tuner0.json), or by a chief whose
    # worker tuner0 was killed before its first trial (chief.json and
    # tuner1.json only): one process resumes either
    settings = SearchSettings(max_trials=2, epochs=3, batch_size=8)
    first = distributed.make_tuner(default_hypermodel(side=16), settings, str(tmp_path), False,
                                   None, verbose=0)
    for loss in (0.5, 0.4):
        finish(first.oracle, first.oracle.create_trial("tuner0"), loss)
    first.oracle.save()
    projectDir = tmp_path / project.TRIALS
    for name in tunerFiles:
        (projectDir / name).write_text("{}")
    again = distributed.make_tuner(default_hypermodel(side=16), settings, str(tmp_path), False,
                                   None, verbose=0)
    assert sorted(again.oracle.trials) == ["0000", "0001"]
    top = again.oracle.create_trial("tuner0")
    assert top.trial_id == "0002" and top.hyperparameters.values[RUNG] == 1
    # --overwrite starts afresh
    fresh = distributed.make_tuner(default_hypermodel(side=16), settings, str(tmp_path), True,
                                   None, verbose=0)
    assert fresh.oracle.trials == {}


class FakeTrial:
    """A finished trial's metrics, as the export reads them."""

    trial_id = "2"
    hyperparameters = None

    def __init__(self, **values):
        self.metrics = SimpleNamespace(exists=values.__contains__,
                                       get_last_value=values.__getitem__)


def export_with(left, best, copies=1, task="regression", schedule="cosine", kept="kept",
                seen=None, after=0.0, kept_for_test=0.0):
    """``SearchTuner.export`` of ``best`` with ``left`` seconds on the clock
    (its deadline at 1,000 s), its network and training stood in for, a
    copy's scoring and test taking ``after`` seconds of which
    ``kept_for_test`` were kept for it: returns what export returned and the
    copies each retraining built; in ``seen``, each retraining's deadline
    and what it asked to keep after."""
    from pyimagesearch.search import tuner as tuners

    (built, rule, seen) = ([], schedule, {} if seen is None else seen)
    (deadlines, afterwards) = (seen.setdefault("deadlines", []),
                               seen.setdefault("afterwards", []))

    class Hypermodel:
        head = SimpleNamespace(task=task)
        settings = SearchSettings(schedule=rule)

        def schedule(self, hp):
            return rule

        def build(self, hp):
            import keras

            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)], name="n")

        def fit(self, hp, model, x, y, deadline=None, **kwargs):
            built.append(model.output_shape[-1])
            deadlines.append(deadline)

        def after_training(self, hp, validation_pictures, last, per_picture=0.0, trained=0):
            afterwards.append((validation_pictures, last, per_picture, trained))
            return after

    fake = SimpleNamespace(hypermodel=Hypermodel(), fit_verbose=0,
                           trained_model=lambda trial: kept)
    clock = FakeClock(left, kept=kept_for_test)
    clock.deadline = lambda: None if left is None else 1000.0
    x = np.zeros((100, 2), "float32")
    result = tuners.SearchTuner.export(fake, best, x, x[:, :1], clock, copies=copies)
    return result, built


def test_the_best_is_retrained_only_when_it_fits(capsys):
    best = FakeTrial(epochs=9.5, seconds=900.0, samples=90.0)
    # 1,000 s needed for the 100 training pictures: kept when less is left,
    # and it says so
    (result, fits) = export_with(600.0, best, task="classification", schedule="onecycle")
    assert result == ("kept", False, 9.5, 1) and fits == []
    assert "retraining on all 100 would take about 16m40s, with 10m00s left" in \
        capsys.readouterr().out
    # retrained, as the chapter does, for all its epochs, when it fits
    (result, fits) = export_with(1200.0, best, task="classification", schedule="onecycle")
    assert result[1:] == (True, 9.5, 1) and fits == [1]
    # no time limit: retrained
    assert export_with(None, best)[0][1] is True
    # the trial's network is not here (a worker elsewhere kept it): retrained anyway
    assert export_with(600.0, best, kept=None)[0][1] is True


def test_the_copies_are_retrained_when_they_fit():
    # 80 s for the 80 pictures its trial trained on: 100 s for all 100
    best = FakeTrial(epochs=10.0, seconds=80.0, samples=80.0)
    # four copies need 400 s: they fit in 450, one model with four outputs
    (result, fits) = export_with(450.0, best, copies=4)
    assert result[1:] == (True, 10.0, 4) and fits == [4]
    # in 250 s one copy does, and is retrained
    (result, fits) = export_with(250.0, best, copies=4)
    assert result[1:] == (True, 10.0, 1) and fits == [1]
    # never for a classifier, nor for SGD's one-cycle, whose steps would
    # shrink with the copies' shared gradient
    assert export_with(450.0, best, copies=4, task="classification")[0][3] == 1
    assert export_with(450.0, best, copies=4, schedule="onecycle")[0][3] == 1


def test_a_retrained_best_leaves_the_callers_test_its_time():
    # 10 s for all 100 pictures: retrained by the deadline with the 5 s kept
    # for the test back, less what follows each copy's training (7 s), at
    # the speed its trial measured
    best = FakeTrial(epochs=10.0, seconds=8.0, samples=80.0, predict_seconds=0.002)
    for copies in (1, 4):
        seen = {}
        (result, fits) = export_with(450.0, best, copies=copies, seen=seen, after=7.0,
                                     kept_for_test=5.0)
        assert fits == [copies]
        assert seen["deadlines"] == [1000.0 + 5.0 - 7.0 * copies]
        assert (0, True, 0.002, 100) in seen["afterwards"]
    seen = {}
    export_with(None, best, seen=seen, after=7.0, kept_for_test=5.0)
    assert seen["deadlines"] == [None]
    # whether it fits counts that time too: 11 s left, 10 s to train, 2 s
    # more to test than was kept: kept as its trial trained it
    assert export_with(11.0, best, after=7.0, kept_for_test=5.0)[0][1] is False
    assert export_with(11.0, best, after=7.0, kept_for_test=7.0)[0][1] is True


def test_a_best_trained_on_every_picture_is_kept(capsys):
    # a timed search's top rung trained on all 100 pictures, the validation
    # ones too: nothing to retrain, however much time is left...
    best = FakeTrial(epochs=10.0, seconds=100.0, samples=100.0)
    for left in (None, 5000.0, 50.0):
        (result, fits) = export_with(left, best, task="classification", schedule="onecycle")
        assert result == ("kept", False, 10.0, 1) and fits == []
    assert "keeping trial 3's network: its last epochs trained on all 100 images, the " \
        "validation pictures included" in capsys.readouterr().out
    # ...except a small regressor's copies, when they fit
    (result, fits) = export_with(450.0, best, copies=4)
    assert result[1:] == (True, 10.0, 4) and fits == [4]
    assert export_with(250.0, best, copies=4)[0] == ("kept", False, 10.0, 1)


def test_scoring_is_budgeted_by_the_pictures_size():
    # a 128-pixel face costs 16 times a 32-pixel picture to predict, and
    # the trials' and the command's deadlines leave it that time
    small = hypermodels.scoring_seconds(750, 32, views=2, recalibration=False)
    assert hypermodels.scoring_seconds(750, 128, views=2, recalibration=False) == 16 * small
    assert hypermodels.scoring_seconds(750, 16, views=2, recalibration=False) == small
    hypermodel = default_hypermodel("regression", side=128, channels=1)
    assert hypermodel.scoring_seconds(750, views=2, recalibration=False) == 16 * small


def test_scoring_is_budgeted_by_the_precision():
    import dataclasses

    # float32 predicts about half as fast as mixed bfloat16: at bfloat16's
    # rate a 20-minute search on a CPU without it ended 68 s late
    (fast, slow) = (hypermodels.scoring_seconds(750, 32, 6, False, precision)
                    for precision in ("mixed_bfloat16", "float32"))
    assert slow >= 2 * fast
    hypermodel = default_hypermodel("classification", block="airbench", side=32)
    for precision in ("mixed_bfloat16", "float32"):
        hypermodel.settings = dataclasses.replace(hypermodel.settings, precision=precision)
        assert hypermodel.scoring_seconds(750, 6, False) == \
            hypermodels.scoring_seconds(750, 32, 6, False, precision)


def test_auto_precision_is_bfloat16_for_airbench_where_the_processor_has_it(monkeypatch):
    from pyimagesearch.search import settings as search_settings

    for (native, family, precision) in ((True, "airbench", "mixed_bfloat16"),
                                        (True, "vanilla", "float32"),
                                        (False, "airbench", "float32")):
        monkeypatch.setattr(search_settings, "native_bfloat16", lambda: native)
        assert search_settings.resolve_precision("auto", family) == precision


def test_the_search_ends_with_time_for_the_callers_test():
    import keras_tuner

    # an airbench classifier: batch norm's statistics, then two views of each
    # validation picture; the model it ends with, six of each test picture
    hypermodel = default_hypermodel("classification", block="airbench", side=32)
    hypermodel.test_pictures = 1000
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    room = hypermodels.MEASURED_ROOM
    candidate = hypermodel.after_training(hp, 500, last=False, per_picture=0.001)
    assert candidate == pytest.approx(room * 0.001 * (10000 + 2 * 500))
    last = hypermodel.after_training(hp, 500, last=True, per_picture=0.001)
    assert last - candidate == pytest.approx(room * 0.001 * 6 * 1000)
    # where no trial of the network measured its speed, the budgeted rate's
    rate = hypermodels.PREDICT_RATE[hypermodel.settings.precision]
    assert hypermodel.after_training(hp, 500, last=True) == pytest.approx(
        (10000 + 2 * 500 + 6 * 1000) / rate)
    # batch norm's statistics come from the pictures it trained on, at most 10,000
    assert hypermodel.after_training(hp, 500, last=False, per_picture=0.001, trained=300) == \
        pytest.approx(room * 0.001 * (300 + 2 * 500))
    # kept from the start: six views at the budgeted rate, the most any
    # winner tests with, before its speed is known
    assert hypermodel.kept_for_test() == hypermodel.scoring_seconds(1000, 6, False)
    # a caller predicting nothing afterwards is given nothing
    hypermodel.test_pictures = 0
    assert hypermodel.after_training(hp, 500, last=True, per_picture=0.001) == candidate
    assert hypermodel.kept_for_test() == 0
    # a regressor that never saw mirrored pictures: one view, no statistics
    hypermodel = default_hypermodel("regression", augment=False)
    hypermodel.test_pictures = 1000
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    assert hypermodel.after_training(hp, 500, last=True, per_picture=0.001) == \
        pytest.approx(room * 0.001 * (500 + 1000))


def test_the_command_keeps_a_margin_for_the_figures_and_the_saving():
    import time

    # the test's time is the search's to keep (it knows its winner's speed)
    started = time.monotonic()
    assert cli.search_minutes(20, started) == pytest.approx(20 - 0.02 * 20, abs=0.01)
    assert cli.search_minutes(5, started) == pytest.approx(5 - cli.END_SECONDS / 60, abs=0.01)
    assert cli.search_minutes(None, started) is None
    with pytest.raises(UserError, match="leaves no time to search"):
        cli.search_minutes(0.2, started - 5)


def test_a_timed_trial_trains_to_its_deadline(tmp_path):
    """run_trial: the deadline given to training is the trial's share from
    its start, less its scoring (a slow build comes out of the training,
    not after the share), and the epochs are asked for the time that is left."""
    import time

    import keras

    from pyimagesearch.search import tuner as tuners

    seen = {}

    class Hypermodel:
        views = staticmethod(lambda hp: [(0, False, 0.5), (0, True, 0.5)])
        schedule = staticmethod(lambda hp: "onecycle")

        def after_training(self, hp, validation_pictures, last, per_picture=0.0, trained=0):
            seen["scoring"] = (validation_pictures, last, per_picture, trained)
            return 3.0

        def build(self, hp):
            time.sleep(0.5)
            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

        def epochs_within(self, seconds, step, samples, most):
            seen["seconds"] = seconds
            return 1.0

        def fit(self, hp, model, x, y, validation_data, epochs, deadline, **kwargs):
            seen["deadline"] = deadline
            return {}

    values = {SECONDS: 60.0, STEP_SECONDS: 1.0, PREDICT_SECONDS: 0.002, EPOCHS: 5}
    trial = SimpleNamespace(trial_id="0", hyperparameters=SimpleNamespace(values=values))
    fake = SimpleNamespace(hypermodel=Hypermodel(), fit_verbose=0, parent_model=lambda t: None,
                           get_trial_dir=lambda trial_id: str(tmp_path))
    x = np.zeros((10, 2), "float32")
    start = time.monotonic()
    tuners.SearchTuner.run_trial(fake, trial, x, x[:, :1], validation_data=(x[:4], x[:4, :1]))
    # a candidate: its scoring, at the speed its network measured
    assert seen["scoring"] == (4, False, 0.002, 10)
    assert seen["deadline"] == pytest.approx(start + 60.0 - 3.0, abs=0.2)
    assert seen["seconds"] == pytest.approx(57.0 - 0.5, abs=0.2)
    # the top rung, the model the search ends with: the caller's test too
    # (on all 14 pictures), given the 2 s the clock kept for it
    values.update({WITH_VALIDATION: True, KEPT_SECONDS: 2.0})
    start = time.monotonic()
    tuners.SearchTuner.run_trial(fake, trial, x, x[:, :1], validation_data=(x[:4], x[:4, :1]))
    assert seen["scoring"] == (4, True, 0.002, 14)
    assert seen["deadline"] == pytest.approx(start + 60.0 - 3.0 + 2.0, abs=0.2)


def test_export_takes_the_last_trials_network_without_reading_it_back(tmp_path, monkeypatch):
    """The network the last trial trained (the top rung's, in a search on one
    machine) is handed to export as it is, once, its time not spent reading
    its file again; an earlier trial's is read from its folder, and is not
    held while the next trial trains."""
    import keras

    from pyimagesearch.search import tuner as tuners

    built = []

    class Hypermodel:
        def build(self, hp):
            built.append(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
            return built[-1]

        def fit(self, hp, model, x, y, validation_data, **kwargs):
            held.append(fake.latest)
            model.compile(optimizer="sgd", loss="mse")
            return {}

    held = []
    fake = SimpleNamespace(hypermodel=Hypermodel(), fit_verbose=0, parent_model=lambda t: None,
                           get_trial_dir=lambda trial_id: str(tmp_path / trial_id))
    x = np.zeros((4, 2), "float32")
    trials = [SimpleNamespace(trial_id=i, hyperparameters=SimpleNamespace(values={EPOCHS: 1}))
              for i in ("0", "1")]
    for trial in trials:
        (tmp_path / trial.trial_id).mkdir()
        tuners.SearchTuner.run_trial(fake, trial, x, x[:, :1])
    (read, load) = ([], keras.models.load_model)
    monkeypatch.setattr(keras.models, "load_model",
                        lambda path, **kwargs: read.append(path) or load(path, **kwargs))
    # trial 0's network was not held while trial 1's trained
    assert held == [(None, None), (None, None)]
    assert tuners.SearchTuner.trained_model(fake, trials[1]) is built[1] and read == []
    first = tuners.SearchTuner.trained_model(fake, trials[0])
    assert first is not built[0] and read == [str(tmp_path / "0" / tuners.TRIAL_MODEL)]
    # handed over once: asked again, it is read from its file
    assert tuners.SearchTuner.trained_model(fake, trials[1]) is not built[1]
    assert read[-1] == str(tmp_path / "1" / tuners.TRIAL_MODEL)


def test_the_top_rung_of_a_timed_search_trains_on_the_validation_pictures(tmp_path):
    import keras

    from pyimagesearch.search import tuner as tuners

    seen = []

    class Hypermodel:
        def build(self, hp):
            return keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])

        def fit(self, hp, model, x, y, validation_data, **kwargs):
            seen.append((x[:, 0].tolist(), y[:, 0].tolist(), validation_data[0][:, 0].tolist()))
            return {}

    fake = SimpleNamespace(hypermodel=Hypermodel(), fit_verbose=0, parent_model=lambda t: None,
                           get_trial_dir=lambda trial_id: str(tmp_path))
    x = np.arange(10, dtype="float32")[:, None] * [1, 1]
    val = (x[:3] + 100, x[:3, :1] + 100)
    for flag in (False, True):
        values = {EPOCHS: 1, WITH_VALIDATION: flag}
        trial = SimpleNamespace(trial_id="0", hyperparameters=SimpleNamespace(values=values))
        tuners.SearchTuner.run_trial(fake, trial, x, x[:, :1], validation_data=val)
    # the candidates learn the training split; the top rung all 13 pictures,
    # each with its own target, and it is still scored on the validation ones
    assert seen[0][:2] == (list(range(10)), list(range(10)))
    assert seen[1][:2] == (list(range(10)) + [100, 101, 102],) * 2
    assert seen[0][2] == seen[1][2] == [100, 101, 102]


def test_the_schedule_follows_the_steps_or_the_clock():
    import keras

    from pyimagesearch import airbench

    # airbench's one-cycle: a fifth of the peak, the peak at 23%, 7% at the end
    assert airbench.onecycle(0.0) == pytest.approx(0.2)
    assert airbench.onecycle(0.23) == pytest.approx(1.0)
    assert airbench.onecycle(1.0) == pytest.approx(0.07)
    # the weights' running average: over the last twentieth of a short run,
    # the last hundred steps of a long one
    assert airbench.ema_momentum(88) == pytest.approx(1 - 20 / 88)
    assert airbench.ema_momentum(5000) == 0.99
    # Adam's rate: up over the warm-up, then a cosine to zero, as a share of
    # the trial's steps (the vanilla blocks')
    hypermodel = default_hypermodel("classification", side=16)
    hp = keras_tuner_hp(hypermodel)
    (peak, fraction) = hypermodel.rate(hp, steps=100, per_epoch=2)   # a 10-step warm-up
    assert peak == hp.get("learning_rate") and fraction(0.05) == pytest.approx(0.5)
    assert fraction(0.1) == pytest.approx(1.0) and fraction(1.0) == pytest.approx(0.0)
    assert fraction(0.55) == pytest.approx(0.5, abs=1e-6)

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    x = np.zeros((40, 2), "float32")
    rates = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            rates.append(float(self.model.optimizer.learning_rate))

    # by the steps: ten steps, the rate at each step's start, then stopped
    schedule = ScheduleByProgress(2.0, airbench.onecycle, steps=10)
    model.fit(x, x[:, :1], batch_size=4, epochs=5, callbacks=[schedule, Record()], verbose=0)
    assert len(rates) == 10
    np.testing.assert_allclose(rates, [2.0 * airbench.onecycle(k / 10) for k in range(10)],
                               rtol=1e-6)
    # by the clock: a deadline already passed ends training after one step,
    # the schedule run to its end
    rates.clear()
    import time

    schedule = ScheduleByProgress(2.0, airbench.onecycle, steps=1000,
                                  deadline=time.monotonic())
    model.fit(x, x[:, :1], batch_size=4, epochs=5, callbacks=[schedule, Record()], verbose=0)
    assert len(rates) == 1
    # a timed trial is given a tenth more steps than its seconds pay for, so
    # that its deadline ends it, not a count reached early: 100 s of 1 s
    # steps, 10 steps an epoch, is 10 epochs, asked as 11 (at most ``most``)
    samples = 10 * hypermodel.settings.batch_size
    assert hypermodel.epochs_within(100.0, 1.0, samples, most=40) == pytest.approx(11.0)
    assert hypermodel.epochs_within(100.0, 1.0, samples, most=6) == 6
    assert hypermodel.epochs_within(0.5, 1.0, samples, most=6) == pytest.approx(0.1)


def test_a_deadline_ends_training_before_a_step_that_would_pass_it(monkeypatch):
    """Steps of 0.3 s on a clock the test moves, a deadline 1.35 s after
    the start: four steps end by 1.2 s, and a fifth, ending at 1.5 s, is
    not begun (the deadline would end it after that step, 0.15 s late)."""
    import keras

    from pyimagesearch import training

    now = [100.0]
    monkeypatch.setattr(training, "time", SimpleNamespace(monotonic=lambda: now[0],
                                                          perf_counter=lambda: now[0]))

    class Step(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            now[0] += 0.3

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((400, 2), "float32")
    schedule = training.ScheduleByProgress(1.0, lambda progress: 1.0, steps=1000,
                                           deadline=now[0] + 1.35)
    model.fit(x, x[:, :1], batch_size=4, epochs=1, callbacks=[Step(), schedule], verbose=0)
    assert schedule.done == 4
    assert now[0] <= schedule.deadline


# --------------------------------------------------------------------------
# The networks: stock layers, the defaults first


def default_hypermodel(kind="classification", block="vanilla", side=64, channels=3,
                       augment=None):
    """The search's hypermodel over a block, its head adapted to three classes
    (or to prices around 1), on 64 random pictures."""
    from pyimagesearch.search.blocks import ImageBlock
    from pyimagesearch.search.heads import ClassificationHead, RegressionHead

    head = (ClassificationHead().adapt(np.arange(30) % 3) if kind == "classification" else
            RegressionHead("mean_absolute_percentage_error").adapt(np.linspace(0.5, 1.5, 30)))
    settings = SearchSettings(block=block, batch_size=8,
                                    schedule="onecycle" if block == "airbench" else "cosine")
    sample = np.random.default_rng(0).integers(0, 256, (64, side, side, channels), dtype="uint8")
    return hypermodels.ImageHyperModel(ImageBlock(block, augment), head, settings,
                                       (side, side, channels), sample)


def keras_tuner_hp(hypermodel):
    """The first trial's hyperparameters: the space's defaults, as built."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    return hp


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
    assert hypermodel.block.augments(hp, kind, "vanilla") is augmented

    # the training batches: augmented, no picture comes out as it went in;
    # otherwise every one does (in a shuffled order)
    x = np.random.default_rng(0).random((8, 64, 64, 3), dtype="float32")
    batch = next(iter(batches(x, np.zeros((8, 1), "float32"), 8, shuffle=True, seed=0,
                              augment=hypermodel.augmentation(hp), repeat=True)))[0].numpy()
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

    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "16",
                                  "--block", block])
    hypermodel = default_hypermodel(block=args.block, side=16)
    model = hypermodel.build(keras_tuner.HyperParameters())
    sample = hypermodel.sample[:2]
    (marker, side) = family
    nested = [l for l in model.layers if isinstance(l, keras.Model)]
    names = [l.name for l in model.layers]
    if marker is None:
        assert not nested and "whiten" not in names
    else:
        assert marker in names
    if nested:
        assert nested[0].input_shape[1:3] == (side, side)
    assert model.predict(sample, verbose=0).shape == (2, 3)


def test_block_any_searches_every_family(classifier, shapes):
    import keras_tuner

    from pyimagesearch.search.blocks import FAMILIES

    args = classifier.parse_args(["--dataset", str(shapes), "--image-size", "16",
                                  "--block", "any"])
    hypermodel = default_hypermodel(block=args.block, side=16)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    # the family is a searched choice, the fast one first
    assert hp.get("block") == "airbench"
    choice = next(p for p in hp.space if p.name == "block")
    assert set(choice.values) == set(FAMILIES)
    hp.values["block"] = "xception"
    assert "xception" in [l.name for l in hypermodel.build(hp).layers]


@pytest.mark.parametrize("flag, augmented", [("--augment", True), ("--no-augment", False),
                                             (None, None)])
def test_augment_flags_decide_the_augmentation(classifier, shapes, flag, augmented):
    import keras_tuner

    argv = ["--dataset", str(shapes), "--image-size", "16", "--block", "vanilla"]
    args = classifier.parse_args(argv + ([flag] if flag else []))
    hypermodel = default_hypermodel(block=args.block, side=16, augment=args.augment)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    if augmented is None:
        # searched: a choice of the space, on for a classifier's first trial
        assert "augment" in hp.values and \
            hypermodel.block.augments(hp, "classification", "vanilla")
        hp.values["augment"] = False
        augmented = False
    else:
        assert "augment" not in hp.values
    # the training batches: augmented, no picture comes out as it went in
    x = np.random.default_rng(0).random((8, 16, 16, 3), dtype="float32")
    batch = next(iter(batches(x, np.zeros((8, 3), "float32"), 8, shuffle=True, seed=0,
                              augment=hypermodel.augmentation(hp), repeat=True)))[0].numpy()
    unchanged = [any(np.allclose(b, original) for original in x) for b in batch]
    assert not any(unchanged) if augmented else all(unchanged)


@pytest.mark.parametrize("augment, augmented", [(None, True), (True, True), (False, False)])
def test_the_airbench_family_augments_unless_told_not_to(augment, augmented):
    import keras_tuner

    # not searched: a short first rung would pick a network without it
    hypermodel = default_hypermodel(block="airbench", side=16, augment=augment)
    hp = keras_tuner.HyperParameters()
    hypermodel.build(hp)
    assert "augment" not in hp.values
    assert (hypermodel.augmentation(hp) is not None) == augmented


def test_an_airbench_regressor_trains_with_adam_and_tests_mirrored():
    import keras
    import keras_tuner

    from pyimagesearch.search.blocks import ImageBlock
    from pyimagesearch.search.heads import RegressionHead

    # airbench's SGD rates are set for a cross-entropy: a squared error in
    # years would blow them up, so its regressors take Adam and its rate
    head = RegressionHead().adapt(np.linspace(1.0, 90.0, 30))
    settings = resolve(ImageBlock(), 16, 30, "regression")
    assert (settings.batch_size, settings.schedule) == (32, "cosine")
    sample = np.random.default_rng(0).integers(0, 256, (64, 16, 16, 3), dtype="uint8")
    hypermodel = hypermodels.ImageHyperModel(ImageBlock(), head, settings, (16, 16, 3), sample)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    assert model.name == "search_airbench" and hp.get("learning_rate") == 1e-3
    assert "airbench_peak" not in hp.values   # SGD's multiple: nothing to search
    hypermodel.compile(model, hp)
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    # it learns flipped faces (the family always augments: not searched)
    # and averages each test picture with its mirror image, not airbench's
    # six views
    assert "augment" not in hp.values
    assert [v[:2] for v in hypermodel.views(hp, test=True)] == [(0, False), (0, True)]
    hypermodel.block.augment = False
    assert hypermodel.views(hp, test=True) == [(0, False, 1.0)]


def test_first_airbench_trial_is_the_recipes_network():
    import keras
    import keras_tuner

    from pyimagesearch import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=32)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    convs = [l for l in model.layers if isinstance(l, keras.layers.Conv2D)]
    assert [l.filters for l in convs] == [24, 64, 64, 256, 256, 256, 256]
    assert model.output_shape == (None, 3) and len(hypermodel.views(hp)) == 2
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


def test_a_slow_machine_starts_from_the_narrow_network(monkeypatch):
    import keras
    import keras_tuner

    def filters(hypermodel):
        model = hypermodel.build(keras_tuner.HyperParameters())
        return [l.filters for l in model.layers if isinstance(l, keras.layers.Conv2D)]

    # a step of 8 pictures in half a second: 80 pictures are an epoch in 5 s
    hypermodel = default_hypermodel("classification", "airbench", side=32)
    monkeypatch.setattr(hypermodel, "step_seconds", lambda hp, x, y: 0.5)
    (x, y) = (hypermodel.sample, np.eye(3, dtype="float32")[np.arange(64) % 3])
    enough = hypermodels.MIN_TOP_EPOCHS * 5.0
    assert hypermodel.size_first_network(1.01 * enough, x, y, 80) is None
    assert filters(hypermodel) == [24, 64, 64, 256, 256, 256, 256]
    # a top rung that pays for fewer epochs of the recipe's network starts
    # from the narrow one, which KerasTuner's first trial (the defaults) is
    said = hypermodel.size_first_network(0.99 * enough, x, y, 80)
    assert "airbench 32-128-128" in said and "16 pictures/s" in said, said
    assert filters(hypermodel) == [24, 32, 32, 128, 128, 128, 128]
    # unless the epochs asked for are fewer still
    hypermodel.first_widths = "64-256-256"
    hypermodel.settings = SearchSettings(block="airbench", batch_size=8, schedule="onecycle",
                                         epochs=3)
    assert hypermodel.size_first_network(0.99 * 3.5 / 4 * enough, x, y, 80) is None
    assert hypermodel.size_first_network(0.99 * 3 / 4 * enough, x, y, 80) is not None
    # Adam-trained regressors and the other families keep their first network
    for hypermodel in (default_hypermodel("regression", "airbench", side=32),
                       default_hypermodel("classification", "vanilla", side=32)):
        monkeypatch.setattr(hypermodel, "step_seconds", lambda hp, x, y: 1e6)
        assert hypermodel.size_first_network(1.0, x, y, 80) is None
        assert hypermodel.first_widths == "64-256-256"


def test_a_network_is_timed_once(tmp_path, monkeypatch):
    import keras_tuner

    from pyimagesearch.search.oracle import Clock

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    (compiled, compile) = ([], hypermodel.compile)
    monkeypatch.setattr(hypermodel, "compile",
                        lambda model, hp, **kw: compiled.append(hp) or compile(model, hp, **kw))
    (x, y) = (hypermodel.sample, np.eye(3, dtype="float32")[np.arange(64) % 3])
    first = hypermodel.step_seconds(keras_tuner.HyperParameters(), x, y)
    # the oracle's first trial (the defaults, its own values beside them)
    # is the network the search timed when it sized it: not timed again
    tuner = distributed.make_tuner(hypermodel, hypermodel.settings, str(tmp_path), True,
                                   Clock(None))
    hp = tuner.oracle.create_trial("tuner0").hyperparameters
    assert hypermodel.step_seconds(hp, x, y) == first and len(compiled) == 1
    hp.values["airbench_widths"] = "32-128-128"
    hypermodel.step_seconds(hp, x, y)
    assert len(compiled) == 2


def test_batch_norm_offsets_step_at_64_times_the_rate():
    import keras
    import keras_tuner

    from pyimagesearch import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    hp = keras_tuner.HyperParameters()
    model = hypermodel.compile(hypermodel.build(hp), hp)
    bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    head = model.get_layer("logits")
    model.optimizer.build(model.trainable_variables)
    grads = [keras.ops.ones_like(v) for v in model.trainable_variables]
    (beta0, kernel0) = (bn.beta.numpy().copy(), head.kernel.numpy().copy())
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
    kernelStep = (kernel0 * (1 - decay)) - head.kernel.numpy()
    np.testing.assert_allclose(kernelStep, rate * (1 + airbench.MOMENTUM), rtol=1e-3,
                               atol=1e-6)
    assert type(model.optimizer) is keras.optimizers.SGD


def test_muon_steps_each_filter_bank_along_its_orthogonalised_momentum():
    import keras
    import keras_tuner

    from pyimagesearch import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    hp = keras_tuner.HyperParameters()
    # the search's compile sets Muon up, at the rate for its batches of 8
    model = hypermodel.compile(hypermodel.build(hp), hp)
    muon = airbench.muon_rate(8)
    assert muon == pytest.approx(0.24 * (8 / 2000) ** 0.5)
    optimizer = model.optimizer
    # a decay this strong would show in any step it touched: Muon's take none
    optimizer.weight_decay = 20.0
    # 24 channels in, 64 filters out: the bank's norm is set to sqrt(64)
    (conv, head) = (model.get_layer("group1_conv1"), model.get_layer("logits"))
    variables = model.trainable_variables
    optimizer.build(variables)
    rng = np.random.default_rng(0)

    def step(rate, scale=1.0):
        """One step at ``rate`` times the peak on gradients of ``scale``: the
        gradients, and the filter bank's step over Muon's rate, as (filters,
        inputs) matrices."""
        grads = [scale * rng.normal(size=v.shape).astype("float32") for v in variables]
        optimizer.learning_rate.assign(peak * rate)
        kernel0 = conv.kernel.numpy().copy()
        optimizer.apply([keras.ops.convert_to_tensor(g) for g in grads], variables)
        start = kernel0 * np.sqrt(64) / np.linalg.norm(kernel0)
        moved = ((start - conv.kernel.numpy()) / (muon * rate)).reshape(-1, 64).T
        return (grads, moved)

    def nearest_orthogonal(matrix):
        (u, _, vt) = np.linalg.svd(matrix, full_matrices=False)
        return u @ vt

    def cosine(a, b):
        return np.sum(a * b) / (np.linalg.norm(a) * np.linalg.norm(b))

    index = next(i for (i, v) in enumerate(variables) if v is conv.kernel)
    peak = float(optimizer.learning_rate)
    head0 = head.kernel.numpy().copy()
    (grads, moved) = step(1.0)
    values = np.linalg.svd(moved, compute_uv=False)
    assert 0.5 < values.min() and values.max() < 1.3
    # Nesterov's first step: g + 0.6 g, made orthogonal
    g1 = grads[index].reshape(-1, 64).T
    assert cosine(moved, nearest_orthogonal(g1)) > 0.95
    # the head still steps by the recipe's SGD, decay included
    headGrad = next(g for (g, v) in zip(grads, variables) if v is head.kernel)
    decay = peak * optimizer.weight_decay
    np.testing.assert_allclose(head0 - head.kernel.numpy(),
                               decay * head0 + peak * (1 + airbench.MOMENTUM) * headGrad,
                               rtol=1e-3, atol=1e-6)
    # the second, at half the peak, on smaller gradients: half the length,
    # along Nesterov's g2 + 0.6 (0.6 g1 + g2), not plain momentum's
    # 0.6 g1 + g2 (0.89 alike here) nor g2 alone (0.71)
    (grads, moved) = step(0.5, scale=0.25)
    g2 = grads[index].reshape(-1, 64).T
    values = np.linalg.svd(moved, compute_uv=False)
    assert 0.5 < values.min() and values.max() < 1.3
    m = airbench.MUON_MOMENTUM
    assert cosine(moved, nearest_orthogonal(g2 + m * (m * g1 + g2))) > 0.97
    assert cosine(moved, nearest_orthogonal(m * g1 + g2)) < 0.93
    assert type(optimizer) is keras.optimizers.SGD


def test_batch_norm_statistics_are_recomputed_for_the_averaged_weights():
    import keras
    import keras_tuner

    from pyimagesearch import airbench

    hypermodel = default_hypermodel("classification", "airbench", side=16)
    model = hypermodel.build(keras_tuner.HyperParameters())
    images = (np.random.default_rng(2).random((40, 16, 16, 3)) * 255).astype("uint8")
    bn = next(l for l in model.layers if isinstance(l, keras.layers.BatchNormalization))
    # what the first batch norm sees, batch by batch, in training's order
    before = keras.Model(model.input, bn.input)
    order = np.random.default_rng(7).permutation(len(images))[:30]
    chunks = [images[order[i:i + 10]].astype("float32") / 255 for i in (0, 10, 20)]
    inputs = [np.asarray(before(c, training=True), dtype="float64") for c in chunks]
    airbench.recalibrate_batch_norm(model, images, seed=7, pictures=30, batch_size=10)
    # the plain average of the three batches' means and variances
    means = np.mean([i.mean(axis=(0, 1, 2)) for i in inputs], axis=0)
    variances = np.mean([i.var(axis=(0, 1, 2)) for i in inputs], axis=0)
    np.testing.assert_allclose(bn.moving_mean.numpy(), means, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(bn.moving_variance.numpy(), variances, rtol=2e-2, atol=1e-4)
    assert bn.momentum == airbench.BN_MOMENTUM


def test_a_trial_measures_its_networks_predictions(monkeypatch):
    import time

    import keras_tuner

    from pyimagesearch import airbench

    # batch norm's statistics on the 40 training pictures, then two views of
    # each of the 20 validation ones: 80 predictions in the time they took
    monkeypatch.setattr(airbench, "recalibrate_batch_norm", lambda *a: time.sleep(0.3))
    hypermodel = default_hypermodel("classification", "airbench", side=16)
    monkeypatch.setattr(hypermodel, "score", lambda *a: time.sleep(0.3) or {"val_loss": 1.0})
    hp = keras_tuner.HyperParameters()
    model = hypermodel.build(hp)
    x = (np.random.default_rng(3).random((40, 16, 16, 3)) * 255).astype("uint8")
    y = hypermodel.head.encode(np.arange(40) % 3, "y")
    metrics = hypermodel.fit(hp, model, x, y, validation_data=(x[:20], y[:20]), epochs=0.2,
                             verbose=0)
    assert len(hypermodel.views(hp)) == 2
    assert metrics["predict_seconds"] == pytest.approx(0.6 / 80, rel=0.15)
    # nothing predicted (no statistics, no validation pictures): nothing measured
    vanilla = default_hypermodel("classification", side=16)
    hp = keras_tuner.HyperParameters()
    metrics = vanilla.fit(hp, vanilla.build(hp), x, y, epochs=0.2, verbose=0)
    assert metrics["predict_seconds"] == 0.0


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
    np.testing.assert_allclose(hypermodel.predict(hp, model, x, test=True), expected,
                               atol=1e-5)
    assert len(hypermodel.views(hp, test=True)) == 6
