"""Successive halving on KerasTuner's ``Oracle`` (Hyperband's idea, one
bracket): every candidate (the defaults first) trains briefly, each rung's
best third going on to three times the epochs, until one trains in full;
with a time limit, the top rung gets 85% of it (less the time kept for the
caller's test, which the model the search ends with gets back) and trains
on the validation pictures too."""

import math
import time

import keras_tuner
import numpy as np
from keras_tuner.engine.trial import TrialStatus

from .. import reports
from ..reports import (EPOCHS, KEPT_SECONDS, PARENT, PREDICT_SECONDS, RUNG, SECONDS,
                       STEP_SECONDS, WITH_VALIDATION)

FACTOR = 3
# of a time-limited search, for the rungs below the top: the winner goes on
# from its first rung, so only the losers' share is spent on the search
LOW_SHARE = 0.15
MIN_TRIAL_SECONDS = 5.0


class Clock:
    """``minutes`` from now (None: no limit), less a ``reserve`` of seconds
    and the seconds ``kept`` for the caller's test (the model the search
    ends with gets those back, less its own test)."""

    def __init__(self, minutes, reserve=0.0, kept=0.0):
        self.start = time.monotonic()
        self.limit = None if minutes is None else float(minutes) * 60.0
        (self.reserve, self.kept) = (reserve, kept)

    def elapsed(self):
        return time.monotonic() - self.start

    def left(self):
        return None if self.limit is None else \
            self.limit - self.reserve - self.kept - self.elapsed()

    def deadline(self):
        return None if self.limit is None else \
            self.start + self.limit - self.reserve - self.kept


def rung_sizes(candidates):
    """Each rung's networks: ``[n, ceil(n/3), ..., 1]``."""
    sizes = [max(1, int(candidates))]
    while sizes[-1] > 1:
        sizes.append(math.ceil(sizes[-1] / FACTOR))
    return sizes


def top_rung(candidates):
    """The top rung's index, for ``candidates`` in the first."""
    return len(rung_sizes(candidates)) - 1


def top_share(top):
    """The share of a timed search's time the top rung (rung ``top``) gets."""
    return 1.0 if top == 0 else 1.0 - LOW_SHARE


def value(trial, key, default=None):
    return trial.hyperparameters.values.get(key, default)


class HalvingOracle(keras_tuner.Oracle):
    """Successive halving of ``candidates``, ``full_epochs`` at the top."""

    def __init__(self, candidates, full_epochs, clock=None, seed=None, **kwargs):
        super().__init__(objective=keras_tuner.Objective("val_loss", "min"),
                         max_trials=None, seed=seed, **kwargs)
        (self.candidates, self.full_epochs, self.clock) = (candidates, full_epochs, clock)
        self.recorded_top = None
        self.stop_message = None
        self.distributed = False

    # --- the rungs, read from the trials (a resumed search knows them)

    def rung(self, r):
        return [t for t in self.trials.values() if value(t, RUNG, 0) == r]

    def top(self):
        """The top rung: as the candidates need, or as a resumed search began."""
        return self.recorded_top if self.recorded_top is not None \
            else top_rung(self.candidates)

    def sizes(self):
        sizes = rung_sizes(self.candidates) + [1] * (self.top() + 1)
        return sizes[:self.top()] + [1]

    def scored(self, r):
        """The completed trials of rung ``r``, best first."""
        done = [t for t in self.rung(r) if t.status == TrialStatus.COMPLETED
                and reports.trial_metric(t, "val_loss") is not None]
        return sorted(done, key=lambda t: (self.unseen_loss(t), int(t.trial_id)))

    def unseen_loss(self, trial):
        """A trial's validation loss on pictures it never trained on: a top
        rung that learned them too (``learns_validation``) is ranked by the
        network it went on from, since an in-sample loss favours memorising
        (a resumed search may add a second top trial)."""
        parent = value(trial, PARENT)
        if value(trial, WITH_VALIDATION) and parent and parent in self.trials:
            unseen = reports.trial_metric(self.trials[parent], "val_loss")
            return float("inf") if unseen is None else unseen
        return reports.trial_metric(trial, "val_loss")

    def learns_validation(self, r):
        """Whether rung ``r`` trains on the validation pictures too: a timed
        search's top rung, as no time is left to retrain the winner on all
        the pictures afterwards (AutoKeras' last fit)."""
        return bool(self.clock is not None and self.clock.limit is not None and r == self.top())

    def given_back(self, r):
        """The seconds kept for the caller's test that rung ``r``'s trial gets
        back, on whichever machine it trains: the top rung's, this clock's."""
        return float(self.clock.kept) if self.learns_validation(r) else 0.0

    def best_trial(self):
        """The best of the highest rung reached, or None."""
        for r in reversed(range(self.top() + 1)):
            if self.scored(r):
                return self.scored(r)[0]
        return None

    def budget(self, r):
        """Seconds for the next trial of rung ``r``: what is left, shared by the
        trials still to start (the top rung 85%, the others the rest)."""
        (sizes, top) = (self.sizes(), self.top())

        def share(k):
            if k == top:
                return top_share(top) / sizes[k]
            return LOW_SHARE / top / sizes[k]

        waiting = sum(share(k) * max(0, sizes[k] - len(self.rung(k)))
                      for k in range(r, top + 1))
        return self.clock.left() * share(r) / max(waiting, share(r))

    def fits(self, r):
        return self.clock is None or self.clock.limit is None or \
            self.budget(r) >= MIN_TRIAL_SECONDS

    def stop(self, why):
        if self.stop_message is None:
            self.stop_message = f"[INFO] {why}"
            print(self.stop_message, flush=True)
        return {"status": TrialStatus.STOPPED, "values": None}

    # --- KerasTuner's hooks

    def populate_space(self, trial_id):
        (top, sizes) = (self.top(), self.sizes())
        if len(self.rung(0)) < sizes[0]:
            values = self.random_values() if self.trials else self.hyperparameters.values
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
            if best is not None:
                # a rung the time cannot pay for is skipped: straight to the top
                target = next((k for k in range(r + 1, top) if self.fits(k)), top)
                return self.schedule(reports.network_values(best.hyperparameters.values),
                                     target, parent=best)
        if self.distributed and any(t.status == TrialStatus.RUNNING
                                    for t in self.trials.values()):
            # a trial still training may yet come back (distributed.py): stay
            return {"status": TrialStatus.IDLE, "values": None}
        return {"status": TrialStatus.STOPPED, "values": None}

    def random_values(self, attempts=100):
        """Random values, none of the trials' so far (None: none are left)."""
        tried = [reports.network_values(t.hyperparameters.values)
                 for t in self.trials.values()]
        rng = np.random.default_rng([int(self.seed or 0), len(self.trials)])
        for _ in range(attempts):
            hp = keras_tuner.HyperParameters()
            for p in self.hyperparameters.space:
                hp.merge([p])
                if hp.is_active(p):
                    hp.values[p.name] = p.random_sample(int(rng.integers(2 ** 31)))
            if hp.values not in tried:
                return hp.values
        return None

    def to_promote(self, r, sizes):
        """Rung ``r``'s next to go up: its best not yet promoted, while fewer
        than a third went up; then a later candidate (a resumed search with
        more) that beats every one promoted. None: nothing to promote."""
        scored = self.scored(r)
        promoted = {value(t, PARENT) for k in range(r + 1, self.top() + 1) for t in self.rung(k)}
        waiting = [t for t in scored if t.trial_id not in promoted]
        if not waiting:
            return None
        if len(promoted) < min(sizes[r + 1], math.ceil(len(scored) / FACTOR)):
            return waiting[0]
        beaten = [reports.trial_metric(t, "val_loss") for t in scored if t.trial_id in promoted]
        if beaten and reports.trial_metric(waiting[0], "val_loss") < min(beaten):
            return waiting[0]
        return None

    def schedule(self, values, r, parent):
        """A trial's values, its rung, epochs and seconds added; STOPPED when
        the time is spent."""
        epochs = max(1, int(round(self.full_epochs / FACTOR ** (self.top() - r))))
        values.update({RUNG: r, EPOCHS: epochs, PARENT: parent.trial_id if parent else "",
                       SECONDS: 0.0, STEP_SECONDS: 0.0, PREDICT_SECONDS: 0.0})
        if parent is not None:
            # the same network's speeds, as its parent measured them
            values[STEP_SECONDS] = reports.trial_metric(parent, "step_seconds") or 0.0
            values[PREDICT_SECONDS] = reports.trial_metric(parent, "predict_seconds") or 0.0
        trained = [reports.network_epochs(t) for t in self.rung(r)
                   if t.status == TrialStatus.COMPLETED and reports.trial_metric(t, "epochs")]
        if r < self.top() and trained:
            # a rung compares its networks at the epochs its first trained (a
            # faster network would train more, and look better for it)
            values[EPOCHS] = min(float(values[EPOCHS]), max(trained))
        values[WITH_VALIDATION] = self.learns_validation(r)
        values[KEPT_SECONDS] = self.given_back(r)
        if self.clock is not None and self.clock.limit is not None:
            seconds = self.budget(r)
            if seconds < MIN_TRIAL_SECONDS:
                return self.stop(f"time limit: {reports.format_seconds(self.clock.elapsed())}"
                                 " used, no time left for another trial")
            values[SECONDS] = float(seconds)
        return {"status": TrialStatus.RUNNING, "values": values}

    @keras_tuner.synchronized
    def end_trial(self, trial):
        super().end_trial(trial)
        # KerasTuner saves the oracle before it forgets the ended trial as
        # running: save the finished state, or a resumed search redoes it
        self.save()
        print(reports.progress_line(self, self.trials[trial.trial_id]), flush=True)

    # a resumed search keeps the depth it began with, more candidates
    # joining the first rung
    def get_state(self):
        return {**super().get_state(), "halving_top": self.top()}

    def set_state(self, state):
        super().set_state(state)
        self.recorded_top = state.get("halving_top")
