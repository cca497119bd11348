"""KerasTuner's ``Tuner``: a trial trains for what its share of the time pays
for, its network kept; ``export`` makes the model the search ends with."""

import os
import time

import keras
import keras_tuner
import numpy as np

from .. import reports
from ..models import side_by_side
from ..storage import save_model
from ..reports import (EPOCHS, KEPT_SECONDS, PARENT, PREDICT_SECONDS, SECONDS, STEP_SECONDS,
                       WITH_VALIDATION)

TRIAL_MODEL = "model.keras"


class SearchTuner(keras_tuner.Tuner):
    """``role``: "single", or a distributed search's "chief" or "worker";
    ``verbose``: Keras' ``fit`` verbosity while a trial trains."""

    def __init__(self, oracle, hypermodel, role="single", verbose=2, **kwargs):
        self.role = role   # before KerasTuner's __init__, which may resume
        super().__init__(oracle=oracle, hypermodel=hypermodel, **kwargs)
        self.fit_verbose = verbose
        self.asked = self.began = False
        # the last trial's network, which export takes without reading it back
        self.latest = (None, None)

    def pre_create_trial(self):
        # an IDLE answer (a rung still training elsewhere) comes back at once:
        # ask again in a second rather than in a busy loop
        if self.asked and not self.began:
            time.sleep(1.0)
        self.asked, self.began = True, False

    def on_trial_begin(self, trial):
        super().on_trial_begin(trial)
        self.began = True
        who = "" if self.role == "single" else f" on {self.tuner_id}"
        print(f"[INFO] trial {int(trial.trial_id) + 1} starts{who}: "
              f"{reports.describe_trial(trial)}", flush=True)

    def run_trial(self, trial, x, y, validation_data=None, callbacks=()):
        (hm, hp) = (self.hypermodel, trial.hyperparameters)
        self.latest = (None, None)   # not held while another network trains
        (seconds, deadline) = (float(hp.values.get(SECONDS, 0)), None)
        if hp.values.get(WITH_VALIDATION) and validation_data:
            # the search has chosen: the winner learns from every picture,
            # and is still scored on the validation ones (in-sample now)
            (x, y) = (np.concatenate([x, validation_data[0]]),
                      np.concatenate([y, validation_data[1]]))
        if seconds:
            # the trial's share ends here, less the scoring after its
            # training; the model the search ends with has the time kept for
            # the caller's test back (the chief's clock's), less that test
            # at its network's speed
            after = hm.after_training(hp, len(validation_data[1]) if validation_data else 0,
                                      bool(hp.values.get(WITH_VALIDATION)),
                                      float(hp.values.get(PREDICT_SECONDS, 0.0)), len(y))
            deadline = time.monotonic() + seconds - after + \
                float(hp.values.get(KEPT_SECONDS, 0.0))
        model = hm.build(hp)
        # a promoted network goes on from its parent's trained weights, as
        # Hyperband's do, rather than repeating those epochs from scratch
        # (from scratch only where the parent's file is on another machine)
        (earlier, parent) = (0.0, self.parent_model(trial))
        if parent is not None:
            model.set_weights(parent.get_weights())
            earlier = reports.network_epochs(self.oracle.get_trial(hp.values[PARENT]))
            print(f"[INFO] trial {int(trial.trial_id) + 1} goes on from trial "
                  f"{int(hp.values[PARENT]) + 1}'s network ({earlier:.2g} epoch(s))", flush=True)
        # the network's epochs by the end of the trial, its parent's included
        epochs = max(0.1, float(hp.values.get(EPOCHS, 1)) - earlier)
        if deadline is not None:
            step = float(hp.values.get(STEP_SECONDS, 0.0)) or hm.step_seconds(hp, x, y)
            epochs = hm.epochs_within(deadline - time.monotonic(), step, len(y), epochs)
        metrics = hm.fit(hp, model, x, y, validation_data, epochs=epochs, deadline=deadline,
                         callbacks=list(callbacks), verbose=self.fit_verbose)
        metrics["earlier_epochs"] = earlier
        save_model(model, os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_MODEL))
        self.latest = (trial.trial_id, model)
        return metrics

    def parent_model(self, trial):
        """The network a promoted trial's parent trained, or None (not
        promoted, or its file is on another machine)."""
        parent = trial.hyperparameters.values.get(PARENT)
        path = parent and os.path.join(self.get_trial_dir(parent), TRIAL_MODEL)
        return keras.models.load_model(path, compile=False) \
            if path and os.path.isfile(path) else None

    def trained_model(self, trial):
        """The network a trial trained (the last trial's as it is, handed
        over once; any other's from its folder), or None where it is not
        here (a worker on another machine kept it)."""
        if self.latest[0] == trial.trial_id:
            (model, self.latest) = (self.latest[1], (None, None))
            return model
        path = os.path.join(self.get_trial_dir(trial.trial_id), TRIAL_MODEL)
        return keras.models.load_model(path) if os.path.isfile(path) else None

    def export(self, best, x, y, clock, copies=1):
        """``best`` retrained on all of ``x``, ``y`` when the time left pays for
        it (a regressor's Adam-trained ``copies`` side by side, when they fit
        too) and its trial did not train on them all, else as its trial
        trained it: ``(model, retrained, epochs, copies)``."""
        hm, hp = self.hypermodel, best.hyperparameters
        if hm.head.task != "regression" or hm.schedule(hp) == "onecycle":
            copies = 1   # SGD's steps would shrink with the copies' shared gradient
        # from scratch: the epochs its network trained, its parent's included
        epochs = reports.network_epochs(best) or 1.0
        per_copy = (reports.trial_metric(best, "seconds") or 0.0) * len(y) / \
            max(1.0, reports.trial_metric(best, "samples") or len(y)) * \
            epochs / max(1e-6, reports.trial_metric(best, "epochs") or epochs)
        per_picture = reports.trial_metric(best, "predict_seconds") or 0.0

        def after(n):
            # what follows ``n`` copies' training: batch norm's statistics and
            # the caller's test at the network's speed, less the time kept for it
            return n * hm.after_training(hp, 0, True, per_picture, len(y)) - clock.kept

        left = clock.left()
        if left is not None and copies * per_copy > left - after(copies):
            copies = 1
        everything = (reports.trial_metric(best, "samples") or 0.0) >= len(y)
        model = None
        if copies == 1 and (everything or left is not None and per_copy > left - after(1)):
            model = self.trained_model(best)
        number = int(best.trial_id) + 1
        if model is not None and everything:
            print(f"[INFO] keeping trial {number}'s network: its last epochs trained on all "
                  f"{len(y)} images, the validation pictures included", flush=True)
            return model, False, epochs, 1
        if model is not None:
            print(f"[INFO] keeping trial {number}'s network as the search trained it on "
                  f"{int(reports.trial_metric(best, 'samples') or 0)} images: retraining on all "
                  f"{len(y)} would take about {reports.format_seconds(per_copy)}, with "
                  f"{reports.format_seconds(max(0, left - after(1)))} left", flush=True)
            return model, False, epochs, 1
        several = f", {copies} copies side by side, predicting their mean" if copies > 1 else ""
        print(f"[INFO] retraining trial {number} on all {len(y)} training images for "
              f"{epochs:g} epoch(s){several}...", flush=True)
        keras.utils.set_random_seed(hm.settings.seed)
        model = kept = hm.build(hp)
        if copies > 1:
            (model, kept) = side_by_side([kept] + [hm.build(hp) for _ in range(copies - 1)],
                                         kept.name, dtype="float32")
        deadline = clock.deadline()
        if deadline is not None:
            deadline -= after(copies)
        hm.fit(hp, model, x, y, epochs=epochs, deadline=deadline, verbose=self.fit_verbose)
        return kept, True, epochs, copies
