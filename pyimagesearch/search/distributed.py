"""What KerasTuner's resume and distributed search lack, in the one module
that reaches into KerasTuner's private parts (written for ``WRITTEN_FOR``):
a dead worker's trial handed to the next (the chief would wait forever),
a worker leaving a silent chief after ``project.chief_wait()`` (not an
hour), a search resumed from the oracle's own file (KerasTuner looks for
this process's tuner file) and an interrupted trial given fresh time."""

import contextlib
import os
import threading
import time

import grpc
import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from ..errors import UserError
from ..reports import KEPT_SECONDS, RUNG, SECONDS, WITH_VALIDATION
from . import project
from .oracle import MIN_TRIAL_SECONDS, HalvingOracle
from .tuner import SearchTuner

WRITTEN_FOR = "1.4.8"
BEAT_SECONDS = 10.0
SILENT_SECONDS = 60.0
RETRIES = 2


def check_version():
    if keras_tuner.__version__ != WRITTEN_FOR:
        print(f"[WARNING] KerasTuner {keras_tuner.__version__} is installed; the search's "
              f"resume and distributed extension were written for {WRITTEN_FOR}",
              flush=True)


def silence_limit():
    """``SEARCH_WORKER_SILENCE``: seconds before a silent worker counts as dead."""
    try:
        return max(1.0, float(os.environ.get("SEARCH_WORKER_SILENCE", SILENT_SECONDS)))
    except ValueError:
        return SILENT_SECONDS


class ChiefGone(keras_tuner.errors.FatalError):
    """A worker's chief stopped answering (this error leaves KerasTuner's loop)."""


def no_answer(error):
    """No chief answered (one that answers with an error is alive)."""
    return isinstance(error, grpc.RpcError) and callable(getattr(error, "code", None)) and \
        error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)


class Heartbeat(keras.callbacks.Callback):
    """Tells the chief that ``trial_id`` is worked on, every ``BEAT_SECONDS``
    (at most a quarter of the silence limit) until the ``with`` block ends;
    as a callback, stops training once a beat went unanswered (``lost``)."""

    def __init__(self, oracle, trial_id):
        super().__init__()
        (self.oracle, self.trial_id, self.lost) = (oracle, trial_id, None)
        self.seconds = min(BEAT_SECONDS, silence_limit() / 4)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.beat, name="heartbeat", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()

    def beat(self):
        while True:
            try:
                self.oracle.get_trial(self.trial_id)
            except Exception as error:
                self.lost = error if no_answer(error) else None
                return
            if self.done.wait(self.seconds):
                return

    def on_train_batch_end(self, batch, logs=None):
        if self.lost is not None:
            self.model.stop_training = True


def train_with_heartbeat(oracle, trial_id, train):
    """``train(callbacks)``, beating; ``ChiefGone`` if no chief takes the result."""
    with Heartbeat(oracle, trial_id) as beat:
        result = train([beat])
    if beat.lost is not None:
        raise ChiefGone(str(beat.lost))
    return result


@contextlib.contextmanager
def one_line_if_the_chief_is_gone(role):
    """A worker's search whose chief stopped answering ends in one line."""
    try:
        yield
    except (ChiefGone, grpc.RpcError) as error:
        if role != "worker" or not (isinstance(error, ChiefGone) or no_answer(error)):
            raise
        raise UserError(project.chief_gone_message()) from None


class Oracle(HalvingOracle):
    """The halving oracle, hearing from its workers (``last_heard``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.last_heard = {}

    def heard_from(self, trial_id, now=None):
        self.last_heard[trial_id] = time.monotonic() if now is None else now

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
            self.heard_from(trial.trial_id)
        return trial

    def get_trial(self, trial_id):
        self.heard_from(trial_id)   # a worker's heartbeat
        return super().get_trial(trial_id)

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        if trial_id in self.end_order:
            return self.trials[trial_id]   # a second result for a finished trial
        return super().update_trial(trial_id, metrics, step=step)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        self.last_heard.pop(trial.trial_id, None)
        if trial.trial_id in self._retry_queue:
            # a worker taken for dead finished after all: its result stands
            self._retry_queue.remove(trial.trial_id)
        if trial.trial_id in self.end_order:
            # handed on, and its first worker came back: the first result stands
            self.ongoing_trials = {k: t for (k, t) in self.ongoing_trials.items()
                                   if t.trial_id != trial.trial_id}
            return
        super().end_trial(trial)

    def reload(self):
        super().reload()
        for trial_id in list(self._retry_queue):
            self.requeue(trial_id, queued=True)

    def requeue(self, trial_id, queued=False):
        """To KerasTuner's retry queue, with a fresh share of the time."""
        values = self.trials[trial_id].hyperparameters.values
        values[SECONDS] = 0.0
        # a resumed search's time limit may differ from the one it began with
        values[WITH_VALIDATION] = self.learns_validation(int(values.get(RUNG, 0)))
        values[KEPT_SECONDS] = self.given_back(int(values.get(RUNG, 0)))
        if self.clock is not None and self.clock.limit is not None:
            values[SECONDS] = float(max(MIN_TRIAL_SECONDS, self.budget(int(values.get(RUNG, 0)))))
        if not queued:
            self._retry_queue.append(trial_id)

    @keras_tuner.synchronized
    def requeue_silent(self, now=None, silent=SILENT_SECONDS):
        """Hand back the trials of workers silent for ``silent`` seconds;
        returns their ids. Nothing may raise here: KerasTuner's lock would
        stay taken."""
        now = time.monotonic() if now is None else now
        requeued = []
        try:
            self.hand_back(now, silent, requeued)
        except Exception as error:   # a full disk, a closed stdout: keep serving
            say(f"[WARNING] checking for silent workers failed: {error}")
        return requeued

    def hand_back(self, now, silent, requeued):
        # a trial marked running that no worker holds (saved halfway by a
        # killed chief) would keep the others waiting: queue it again
        held = {t.trial_id for t in self.ongoing_trials.values()} | set(self._retry_queue)
        for trial in self.trials.values():
            if trial.status == TrialStatus.RUNNING and trial.trial_id not in held:
                trial.status = TrialStatus.INVALID
                self.requeue(trial.trial_id)
                requeued.append(trial.trial_id)
        for (tuner_id, trial) in list(self.ongoing_trials.items()):
            last = self.last_heard.setdefault(trial.trial_id, now)
            if now - last < silent:
                continue
            self.ongoing_trials.pop(tuner_id)
            self.tuner_ids.discard(tuner_id)
            self._run_times[trial.trial_id] += 1
            if self._run_times[trial.trial_id] > RETRIES:
                (trial.status, what) = (TrialStatus.FAILED, "recorded as failed")
                trial.message = f"its workers fell silent {RETRIES + 1} times"
                self.end_order.append(trial.trial_id)
            else:
                (trial.status, what) = (TrialStatus.INVALID, "handed to the next worker that asks")
                self.requeue(trial.trial_id)
            self.last_heard.pop(trial.trial_id, None)
            requeued.append(trial.trial_id)
            say(f"[INFO] {tuner_id} has sent nothing for {now - last:.0f}s: trial "
                f"{int(trial.trial_id) + 1} {what}")
            self._save_trial(trial)
            self.save()


def say(line):
    with contextlib.suppress(Exception):
        print(line, flush=True)


def watch_workers(oracle, every=5.0):
    """On the chief: look for silent workers every few seconds."""
    silent = silence_limit()

    def watch():
        while True:
            time.sleep(min(every, silent / 4))
            oracle.requeue_silent(silent=silent)

    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


class Tuner(SearchTuner):
    """The search's tuner, resuming from the oracle's file and beating."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.role == "chief":
            watch_workers(self.oracle)

    def _populate_initial_space(self):
        if self.role != "worker" and os.path.isfile(self.oracle._get_oracle_fname()):
            self.oracle.reload()
            return
        super()._populate_initial_space()

    def search(self, *args, **kwargs):
        with one_line_if_the_chief_is_gone(self.role):
            return super().search(*args, **kwargs)

    def _run_and_update_trial(self, trial, *args, **kwargs):
        try:
            return super()._run_and_update_trial(trial, *args, **kwargs)
        except grpc.RpcError as error:
            # an unanswered report ends the worker's search; it is not a
            # failed trial (whose traceback KerasTuner would print)
            if self.role != "worker" or not no_answer(error):
                raise
            raise ChiefGone(str(error)) from None

    def run_trial(self, trial, x, y, validation_data=None, callbacks=()):
        if self.role != "worker":
            return super().run_trial(trial, x, y, validation_data, callbacks)
        return train_with_heartbeat(
            self.oracle, trial.trial_id,
            lambda beats: super(Tuner, self).run_trial(trial, x, y, validation_data,
                                                       [*callbacks, *beats]))


def make_tuner(hypermodel, settings, folder, overwrite, clock, role="single", verbose=2):
    """The tuner over ``hypermodel`` in ``folder`` (the chief's to overwrite)."""
    check_version()
    oracle = Oracle(settings.max_trials, settings.full_epochs(), clock=clock, seed=settings.seed)
    oracle.distributed = role != "single"
    if role == "worker":
        # the worker found its chief at start-up; a chief silent for as long
        # afterwards has stopped: its calls give up then, not after an hour
        from keras_tuner.src.distribute import oracle_client

        oracle_client.TIMEOUT = project.chief_wait()
    tuner = Tuner(oracle=oracle, hypermodel=hypermodel, role=role, verbose=verbose,
                  directory=folder, project_name=project.TRIALS,
                  overwrite=overwrite and role != "worker")
    if role != "worker":
        tuner.oracle.verbose = 0   # the progress lines replace KerasTuner's tables
    return tuner
