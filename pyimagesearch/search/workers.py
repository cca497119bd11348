"""A distributed search that outlives a dead worker.

KerasTuner's oracle knows which worker (tuner id) holds which trial, and
can retry a trial (``max_retries_per_trial``, its retry queue), but a
worker that dies mid-trial never tells it: the trial stays "running" and
the chief waits for it forever. Here each worker's tuner sends a
``Heartbeat`` while it trains (a ``get_trial`` call to the chief every
``BEAT_SECONDS``), and the chief's ``WorkerWatch`` hands the trial of a
worker silent for ``SILENT_SECONDS`` back to KerasTuner's retry queue:
the next worker to ask trains it from the start (or, after
``RETRIES`` retries, it is recorded as failed). A worker restarted with
the same ``KERASTUNER_TUNER_ID`` is simply the next to ask.

The other way round, a worker's calls to the chief give up after the
wait a worker gives its chief at start-up (``project.chief_wait``, set on
KerasTuner's client by ``engine.make_tuner``) instead of KerasTuner's hour:
a heartbeat that gets no answer stops the trial (``StopIfChiefGone``) and
the worker's search ends with ``ChiefGone``.
"""

import contextlib
import os
import threading
import time

import grpc
import keras
import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from ..errors import UserError
from . import project

BEAT_SECONDS = 10.0
SILENT_SECONDS = 60.0
RETRIES = 2


def silence_limit():
    """Seconds without a heartbeat after which a worker counts as dead:
    ``SEARCH_WORKER_SILENCE``, default ``SILENT_SECONDS`` (the chief and the
    workers read the same variable)."""
    try:
        return max(1.0, float(os.environ.get("SEARCH_WORKER_SILENCE", SILENT_SECONDS)))
    except ValueError:
        return SILENT_SECONDS


class ChiefGone(keras_tuner.errors.FatalError):
    """A worker's chief stopped answering (KerasTuner lets this error out of
    its search loop)."""


class Heartbeat:
    """On a worker: tell the chief that ``trialId`` is still being worked on,
    at once and then every ``BEAT_SECONDS`` (at most a quarter of the
    silence limit), until the ``with`` block ends. ``lost``: the error of
    a beat the chief did not answer, or None."""

    def __init__(self, oracle, trialId):
        self.oracle = oracle
        self.trialId = trialId
        self.seconds = min(BEAT_SECONDS, silence_limit() / 4)
        self.lost = None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        return False

    def _beat(self):
        while True:
            try:
                self.oracle.get_trial(self.trialId)
            except Exception as error:
                if no_answer(error):   # within the wait: the chief is gone
                    self.lost = error
                return                 # otherwise training goes on, unbeaten
            if self.done.wait(self.seconds):
                return


def train_with_heartbeat(oracle, trialId, train):
    """On a worker: ``train(callbacks)`` with a ``Heartbeat`` for
    ``trialId``, stopped (``StopIfChiefGone``) when the chief no longer
    answers; then ``ChiefGone`` instead of a result nobody can receive."""
    with Heartbeat(oracle, trialId) as beat:
        result = train([StopIfChiefGone(beat)])
    if beat.lost is not None:
        raise ChiefGone(str(beat.lost))
    return result


class StopIfChiefGone(keras.callbacks.Callback):
    """Stops training after the step in which ``beat`` (a ``Heartbeat``)
    found the chief gone: the trial cannot be reported."""

    def __init__(self, beat):
        super().__init__()
        self.beat = beat

    def on_train_batch_end(self, batch, logs=None):
        if self.beat.lost is not None:
            self.model.stop_training = True


def no_answer(error):
    """Whether ``error``, from a call to the chief, means that no chief
    answered (none listening, or none within the wait); a chief that
    answers with an error is another matter."""
    return isinstance(error, grpc.RpcError) and callable(getattr(error, "code", None)) and \
        error.code() in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE)


@contextlib.contextmanager
def chief_gone_is_fatal(role):
    """Around a worker's call to the chief: no answer is ``ChiefGone``."""
    try:
        yield
    except grpc.RpcError as error:
        if role != "worker" or not no_answer(error):
            raise
        raise ChiefGone(str(error)) from None


@contextlib.contextmanager
def one_line_if_the_chief_is_gone(role):
    """Around a worker's search: its chief stopped answering (``ChiefGone``,
    or a call that got no answer) is one line (``UserError``)."""
    try:
        yield
    except (ChiefGone, grpc.RpcError) as error:
        if role != "worker" or not (isinstance(error, ChiefGone) or no_answer(error)):
            raise
        raise UserError(project.chief_gone_message()) from None


def heard_from(oracle, trialId, now=None):
    """Record that the worker of ``trialId`` is alive (the chief's side)."""
    oracle.lastHeard[trialId] = time.monotonic() if now is None else now


@keras_tuner.synchronized
def requeue_silent(oracle, now=None, silent=SILENT_SECONDS):
    """Hand back every trial whose worker has been silent for ``silent``
    seconds: to KerasTuner's retry queue, or recorded as failed after
    ``RETRIES`` retries. Returns the trial ids handed back. (KerasTuner's
    lock is not released if this raises: nothing here may.)"""
    now = time.monotonic() if now is None else now
    requeued = []
    try:
        _requeue(oracle, now, silent, requeued)
    except Exception as error:   # a full disk, a closed stdout: keep serving
        _report(f"[WARNING] checking for silent workers failed: {error}")
    return requeued


def _report(line):
    try:
        print(line, flush=True)
    except Exception:
        pass


def _requeue(oracle, now, silent, requeued):
    # a trial marked running that no worker holds (its state saved halfway
    # by a killed chief) would keep the others waiting: queue it again
    held = {t.trial_id for t in oracle.ongoing_trials.values()} | set(oracle._retry_queue)
    for trial in oracle.trials.values():
        if trial.status == TrialStatus.RUNNING and trial.trial_id not in held:
            trial.status = TrialStatus.INVALID
            oracle.requeue(trial.trial_id)
            requeued.append(trial.trial_id)
    for (tunerId, trial) in list(oracle.ongoing_trials.items()):
        last = oracle.lastHeard.setdefault(trial.trial_id, now)
        if now - last < silent:
            continue
        oracle.ongoing_trials.pop(tunerId)
        oracle.tuner_ids.discard(tunerId)
        oracle._run_times[trial.trial_id] += 1
        number = int(trial.trial_id) + 1
        if oracle._run_times[trial.trial_id] > RETRIES:
            trial.status = TrialStatus.FAILED
            trial.message = f"its workers fell silent {RETRIES + 1} times"
            oracle.end_order.append(trial.trial_id)
            what = "recorded as failed"
        else:
            trial.status = TrialStatus.INVALID
            oracle.requeue(trial.trial_id)
            what = "handed to the next worker that asks"
        oracle.lastHeard.pop(trial.trial_id, None)
        requeued.append(trial.trial_id)
        _report(f"[INFO] {tunerId} has sent nothing for {now - last:.0f}s: trial {number} "
                f"{what}")
        oracle._save_trial(trial)
        oracle.save()


class WorkerWatch:
    """On the chief: check for silent workers every few seconds (silent for
    ``silence_limit()`` seconds)."""

    def __init__(self, oracle, every=5.0):
        self.oracle = oracle
        self.silent = silence_limit()
        self.every = min(every, self.silent / 4)
        self.thread = threading.Thread(target=self._watch, name="worker-watch", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _watch(self):
        while True:
            time.sleep(self.every)
            requeue_silent(self.oracle, silent=self.silent)
