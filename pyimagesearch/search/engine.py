"""The search itself: successive halving on KerasTuner's oracle, against a clock.

``HalvingOracle`` hands out the trials. The first rung holds the
``--max-trials`` candidate networks (the first the space's defaults, the
others drawn at random), each trained briefly: a third of the longest
trial's epochs, a ninth a rung further down. When a rung is done, the best
third of it (at least one) goes up a rung, trained from scratch on a
schedule three times as long, until one network is trained in full. A
search spends its time on the promising networks instead of as long on a
bad one as on a good one (Hyperband's idea, one bracket).

``Clock`` is the whole command's time (``--time-limit``): the oracle gives
each trial its share of what is left (the top rung three quarters of it),
and the trial turns seconds into epochs from its network's measured speed;
what the test, the figures and the saving need is kept back.

``SearchTuner`` trains a trial (``ImageHyperModel.train``) and keeps every
trained network in the trial's folder, so the best can be exported without
retraining when time is short. In a distributed search the oracle lives in
the chief, which prints the progress lines; the workers train.
"""

import math
import os
import time

import keras_tuner
from keras_tuner.engine.trial import TrialStatus

from . import project, reporting, workers
from .clock import Clock  # noqa: F401  (the scripts' engine.Clock)

FACTOR = 3
LOW_SHARE = 0.25        # of a time-limited search, for the rungs below the top
MIN_TRIAL_SECONDS = 5.0

# what the oracle adds to a trial's hyperparameter values
RUNG, EPOCHS, SECONDS, PARENT, STEP_SECONDS = (
    "tuner/rung", "tuner/epochs", "tuner/seconds", "tuner/parent", "tuner/step_seconds")
TRIAL_MODEL = "model.keras"


def rung_sizes(candidates, factor=FACTOR):
    """How many networks each rung trains: ``[n, ceil(n/3), ..., 1]``."""
    sizes = [max(1, int(candidates))]
    while sizes[-1] > 1:
        sizes.append(math.ceil(sizes[-1] / factor))
    return sizes


def rung_epochs(fullEpochs, rung, top, factor=FACTOR):
    """A trial's epochs at ``rung`` (``top`` trains ``fullEpochs``), at
    least one."""
    return max(1, int(round(fullEpochs / factor ** (top - rung))))


def trial_value(trial, key, default=None):
    return trial.hyperparameters.values.get(key, default)


class HalvingOracle(keras_tuner.Oracle):
    """Successive halving over ``candidates`` networks, each rung's best
    third promoted; ``fullEpochs`` for the top rung. With a ``clock``,
    every trial gets ``SECONDS`` of training too (``budget``)."""

    def __init__(self, candidates, fullEpochs, clock=None, seed=None, **kwargs):
        super().__init__(objective=keras_tuner.Objective("val_loss", "min"),
                         max_trials=None, seed=seed, **kwargs)
        self.candidates = candidates
        self.fullEpochs = fullEpochs
        self.clock = clock
        self.stopMessage = None
        self.lastHeard = {}     # trial id -> when its worker last spoke (workers.py)
        self.distributed = False

    # --- the rungs, read from the trials (so a resumed search knows them)

    def rung(self, r):
        return [t for t in self.trials.values() if trial_value(t, RUNG, 0) == r]

    def top(self):
        """The top rung: as deep as the candidates need, or as the search
        was when it began (a resumed search)."""
        recorded = getattr(self, "recordedTop", None)
        if recorded is not None:
            return recorded
        return len(rung_sizes(self.candidates)) - 1

    def sizes(self):
        """Each rung's trials, up to ``top``: a third of the rung below,
        one at the top."""
        sizes = rung_sizes(self.candidates) + [1] * (self.top() + 1)
        return sizes[:self.top()] + [1]

    def scored(self, r):
        """The completed trials of rung ``r``, best first."""
        done = [t for t in self.rung(r) if t.status == TrialStatus.COMPLETED
                and reporting.metric(t, "val_loss") is not None]
        return sorted(done, key=lambda t: (reporting.metric(t, "val_loss"), int(t.trial_id)))

    def best_trial(self):
        """The best completed trial of the highest rung reached, or None."""
        for r in reversed(range(self.top() + 1)):
            if self.scored(r):
                return self.scored(r)[0]
        return None

    # --- the clock's share for each trial

    def budget(self, r):
        """Seconds for the next trial of rung ``r``: what is left, shared
        out over the trials still to start as planned (the top rung three
        quarters of the time, each lower rung an equal part of the rest)."""
        left = self.clock.left()
        sizes = self.sizes()
        top = self.top()

        def share(k):
            if k == top:
                return (1.0 if top == 0 else 1.0 - LOW_SHARE) / sizes[k]
            return LOW_SHARE / top / sizes[k]

        waiting = sum(share(k) * max(0, sizes[k] - len(self.rung(k)))
                      for k in range(r, top + 1))
        return left * share(r) / max(waiting, share(r))

    def stop(self, why):
        if self.stopMessage is None:
            self.stopMessage = f"[INFO] {why}"
            print(self.stopMessage, flush=True)
        return {"status": TrialStatus.STOPPED, "values": None}

    # --- KerasTuner's hooks

    def populate_space(self, trial_id):
        top = self.top()
        sizes = self.sizes()
        if len(self.rung(0)) < sizes[0]:
            values = (self.hyperparameters.values if not self.trials
                      else self._random_values())
            if values is not None and (top == 0 or self.fits(0)):
                return self.schedule(dict(values), 0, parent=None)
            if values is not None and not self.trials:
                # no time to search: the defaults get all of it
                return self.schedule(dict(values), top, parent=None)
        for r in range(top):
            if any(t.status == TrialStatus.RUNNING for t in self.rung(r)):
                # the rung is still being trained (by other workers): wait
                return {"status": TrialStatus.IDLE, "values": None}
            best = self.to_promote(r, sizes)
            if best is None:
                continue
            # a rung the time cannot pay for is skipped: straight to the top
            target = next((k for k in range(r + 1, top) if self.fits(k)), top)
            values = reporting.network_values(best.hyperparameters.values)
            return self.schedule(values, target, parent=best)
        if self.distributed and any(t.status == TrialStatus.RUNNING
                                    for t in self.trials.values()):
            # a trial still training may yet come back (workers.py): stay
            return {"status": TrialStatus.IDLE, "values": None}
        return {"status": TrialStatus.STOPPED, "values": None}

    def to_promote(self, r, sizes):
        """The trial of rung ``r`` to train next a rung up, or None: the best
        not yet promoted while the rung above has fewer than a third of
        rung ``r``'s scored trials; or, once it has, a later candidate (a
        resumed search with more of them) that beats every one promoted."""
        scored = self.scored(r)
        promoted = {trial_value(t, PARENT) for k in range(r + 1, self.top() + 1)
                    for t in self.rung(k)}
        waiting = [t for t in scored if t.trial_id not in promoted]
        if not waiting:
            return None
        if len(promoted) < min(sizes[r + 1], math.ceil(len(scored) / FACTOR)):
            return waiting[0]
        promotedScores = [reporting.metric(t, "val_loss") for t in scored
                          if t.trial_id in promoted]
        if promotedScores and reporting.metric(waiting[0], "val_loss") < min(promotedScores):
            return waiting[0]
        return None

    def fits(self, r):
        """Whether the time left pays for a trial of rung ``r``."""
        return self.clock is None or self.clock.limit is None or \
            self.budget(r) >= MIN_TRIAL_SECONDS

    def schedule(self, values, r, parent):
        """The trial's values with its rung, epochs and (with a clock) its
        seconds; a STOPPED answer when the time is spent."""
        values.update({RUNG: r, EPOCHS: rung_epochs(self.fullEpochs, r, self.top()),
                       PARENT: parent.trial_id if parent else "", SECONDS: 0.0,
                       STEP_SECONDS: (reporting.metric(parent, "step_seconds") or 0.0)
                       if parent else 0.0})
        trained = [reporting.metric(t, "epochs") for t in self.rung(r)
                   if t.status == TrialStatus.COMPLETED and reporting.metric(t, "epochs")]
        if r < self.top() and trained:
            # a rung compares its networks at the same epochs: those its
            # first trained in its time (a fast network given the same
            # seconds would train more epochs, and look better for it)
            values[EPOCHS] = min(float(values[EPOCHS]), max(trained))
        if self.clock is not None and self.clock.limit is not None:
            seconds = self.budget(r)
            if seconds < MIN_TRIAL_SECONDS:
                return self.stop(f"--time-limit: {reporting.format_seconds(self.clock.elapsed())}"
                                 " used, no time left for another trial")
            values[SECONDS] = float(seconds)
        return {"status": TrialStatus.RUNNING, "values": values}

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        trial = super().create_trial(tuner_id)
        if trial.status == TrialStatus.RUNNING:
            workers.heard_from(self, trial.trial_id)
        return trial

    @keras_tuner.synchronized
    def update_trial(self, trial_id, metrics, step=0):
        if trial_id in self.end_order:
            # a second result for a finished trial (see end_trial): ignored
            return self.trials[trial_id]
        return super().update_trial(trial_id, metrics, step=step)

    def get_trial(self, trial_id):
        # a worker's heartbeat (workers.py)
        workers.heard_from(self, trial_id)
        return super().get_trial(trial_id)

    @keras_tuner.synchronized
    def end_trial(self, trial):
        self.lastHeard.pop(trial.trial_id, None)
        if trial.trial_id in self._retry_queue:
            # a worker taken for dead finished after all: its result stands
            self._retry_queue.remove(trial.trial_id)
        if trial.trial_id in self.end_order:
            # finished twice (handed on, and its first worker came back):
            # the first result stands
            self.ongoing_trials = {k: t for (k, t) in self.ongoing_trials.items()
                                   if t.trial_id != trial.trial_id}
            return
        super().end_trial(trial)
        # KerasTuner saves the oracle before it forgets the ended trial as
        # running; a chief does not save again, and a resumed search would
        # redo the last trial: save the finished state
        self.save()
        print(reporting.progress_line(self, self.trials[trial.trial_id]), flush=True)

    # --- a resumed search

    def get_state(self):
        state = super().get_state()
        state["halving_top"] = self.top()
        return state

    def set_state(self, state):
        super().set_state(state)
        # the rungs keep the depth the search began with, whatever
        # --max-trials says now (more candidates join the first rung)
        self.recordedTop = state.get("halving_top")

    def reload(self):
        super().reload()
        # a trial interrupted (Ctrl-C) is trained again: with this run's
        # share of the time, not the one it was given before
        for trialId in list(self._retry_queue):
            self.requeue(trialId, queued=True)

    def requeue(self, trialId, queued=False):
        """Put ``trialId`` in KerasTuner's retry queue, with a fresh share of
        the time (the trial starts again from scratch)."""
        values = self.trials[trialId].hyperparameters.values
        values[SECONDS] = 0.0
        if self.clock is not None and self.clock.limit is not None:
            rung = int(values.get(RUNG, 0))
            values[SECONDS] = float(max(MIN_TRIAL_SECONDS, self.budget(rung)))
        if not queued:
            self._retry_queue.append(trialId)


class SearchTuner(keras_tuner.Tuner):
    """KerasTuner's tuner: a trial is ``hypermodel.train`` for the trial's
    epochs (or, with seconds, as many as fit), its network kept."""

    def __init__(self, oracle, hypermodel, role="single", verbose=2, **kwargs):
        self.role = role   # before KerasTuner's __init__, which may resume (below)
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.fitVerbose = verbose
        self.asked = self.began = False
        if role == "chief":
            workers.WorkerWatch(self.oracle).start()

    def _populate_initial_space(self):
        # KerasTuner resumes a project only where it finds the file of this
        # process's tuner id ("tuner0" for a single process). A distributed
        # search leaves "chief.json" and the files of the workers that
        # finished a trial, so one process continuing it, a chief renamed,
        # or a "tuner0" killed before its first trial found none, and began
        # again over the finished trials. The oracle's own file (its rungs;
        # --overwrite removed it) is what says that there is a search here.
        oracleFile = self.oracle._get_oracle_fname()
        if self.role != "worker" and os.path.isfile(oracleFile):
            self.oracle.reload()
            return
        super()._populate_initial_space()

    def pre_create_trial(self):
        # an IDLE answer (a rung still training elsewhere) comes back at
        # once: ask again in a second rather than in a busy loop
        if self.asked and not self.began:
            time.sleep(1.0)
        self.asked, self.began = True, False

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.began = True
        who = "" if self.role == "single" else f" on {self.tuner_id}"
        print(f"[INFO] trial {int(trial.trial_id) + 1} starts{who}: "
              f"{reporting.describe_trial(trial)}", flush=True)

    def search(self, *args, **kwargs):
        with workers.one_line_if_the_chief_is_gone(self.role):
            return super().search(*args, **kwargs)

    def _run_and_update_trial(self, trial, *args, **kwargs):
        # a report the chief does not answer ends the worker's search; it is
        # not a failed trial (whose traceback KerasTuner prints, and whose
        # end it would report to the same silent chief)
        with workers.chief_gone_is_fatal(self.role):
            return super()._run_and_update_trial(trial, *args, **kwargs)

    def run_trial(self, trial, x, y, validation_data=None):
        if self.role != "worker":
            return self.train_trial(trial, x, y, validation_data)
        # a worker tells the chief it is alive while it works on the trial,
        # and stops when the chief no longer answers
        return workers.train_with_heartbeat(
            self.oracle, trial.trial_id,
            lambda callbacks: self.train_trial(trial, x, y, validation_data, callbacks))

    def train_trial(self, trial, x, y, validation_data, callbacks=()):
        hp = trial.hyperparameters
        epochs = float(hp.values.get(EPOCHS, 1))
        seconds = float(hp.values.get(SECONDS, 0.0))
        deadline = None
        if seconds:
            # the network is scored after its training: keep time for that
            deadline = time.monotonic() + seconds - self.hypermodel.scoring_seconds(
                len(validation_data[1]) if validation_data is not None else 0)
            stepSeconds = float(hp.values.get(STEP_SECONDS, 0.0)) or \
                self.hypermodel.step_seconds(hp, x, y)
            epochs = self.hypermodel.epochs_within(seconds, stepSeconds, len(y), epochs)
        model, metrics = self.hypermodel.train(hp, x, y, validation_data, epochs,
                                               deadline=deadline, verbose=self.fitVerbose,
                                               callbacks=callbacks)
        from ..storage import save_model

        save_model(model, os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_MODEL))
        return metrics

    def trained_model(self, trial):
        """The network a trial trained, from its folder, or None when it is
        not there (a worker on another machine kept it)."""
        import keras

        path = os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_MODEL)
        return keras.models.load_model(path) if os.path.isfile(path) else None


def make_tuner(hypermodel, settings, projectDir, overwrite, clock, role="single", verbose=2):
    """KerasTuner's tuner over ``hypermodel``, kept in ``projectDir``.
    Workers never overwrite: the chief owns the folder."""
    oracle = HalvingOracle(settings.max_trials, settings.full_epochs(), clock=clock,
                           seed=settings.seed)
    oracle.distributed = role != "single"
    if role == "worker":
        # the worker found its chief at start-up; a chief silent for as long
        # afterwards has stopped: its calls give up then, not after an hour
        from keras_tuner.src.distribute import oracle_client

        oracle_client.TIMEOUT = project.chief_wait()
    tuner = SearchTuner(oracle=oracle, hypermodel=hypermodel, role=role, verbose=verbose,
                        directory=projectDir, project_name=project.PROJECT_NAME,
                        overwrite=overwrite and role != "worker")
    if role != "worker":
        # the progress lines replace KerasTuner's own per-trial tables
        tuner.oracle.verbose = 0
    return tuner
