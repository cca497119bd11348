"""The model a search exports: its best network retrained from scratch on
the whole training split, as the chapter's searcher does, when the time
left pays for it (``export_plan``); otherwise the network as the search
trained it, from its trial's folder.
"""

from ..errors import UserError
from . import reporting, trials


def export_plan(best, settings, trainSamples, clock, copies=1):
    """Whether to retrain ``best`` from scratch on all ``trainSamples``
    pictures (the chapter's way; ``copies`` times) or keep its weights from
    the search: the retraining is kept when it fits in the time left,
    judged from the trial's own seconds. Returns ``(retrain, epochs,
    why)``: an adaptive (plateau) trial is retrained for the epochs of its
    lowest loss, any other for all it trained."""
    epochs = reporting.metric(best, "epochs") or 1.0
    if settings.adaptive():
        epochs = reporting.metric(best, "best_epoch") or epochs
    left = clock.left() if clock is not None else None
    if left is None:
        return True, epochs, None
    trialSamples = max(1.0, reporting.metric(best, "samples") or trainSamples)
    needed = copies * (reporting.metric(best, "seconds") or 0.0) * trainSamples / trialSamples
    if needed <= left:
        return True, epochs, None
    return False, epochs, (f"retraining on all {trainSamples} training pictures would take "
                           f"about {reporting.format_seconds(needed)}, with "
                           f"{reporting.format_seconds(max(0, left))} left")


def export_model(tuner, best, settings, trainX, trainY, clock, copies=1, verbose=2):
    """The network to export: ``best`` retrained from scratch on all the
    training pictures when that fits in the time left (``export_plan``),
    as ``copies`` copies averaged when those fit, else its network from the
    search. Returns ``(model, retrained, epochs, copies)``."""
    import keras

    if not tuner.hypermodel.copies_train_alone(best.hyperparameters):
        copies = 1
    (retrain, epochs, why) = export_plan(best, settings, len(trainX), clock, copies)
    if not retrain and copies > 1:
        copies = 1
        (retrain, epochs, why) = export_plan(best, settings, len(trainX), clock)
    model = None if retrain else tuner.trained_model(best)
    number = int(best.trial_id) + 1
    if model is None:
        # (also when a worker on another machine kept the network)
        several = f", {copies} copies side by side, predicting their mean" if copies > 1 else ""
        print(f"[INFO] retraining trial {number} on all {len(trainX)} training "
              f"images for {epochs:g} epoch(s){several}...")
        keras.utils.set_random_seed(settings.seed)
        # no validation pictures to watch: a plateau trial's rate changes
        # are repeated at the epochs where its trial made them
        (model, _) = tuner.hypermodel.train(best.hyperparameters, trainX, trainY, None,
                                            epochs, deadline=clock.deadline(), verbose=verbose,
                                            rates=recorded_rates(best), copies=copies)
        return model, True, epochs, copies
    trained = int(reporting.metric(best, "samples") or 0)
    print(f"[INFO] keeping trial {number}'s network as the search trained it on "
          f"{trained} images: {why}")
    return model, False, epochs, 1


def recorded_rates(trial):
    """The rate changes a plateau trial recorded (``trials.rate_changes``)."""
    return {name: reporting.metric(trial, name) for name in trial.metrics.metrics
            if name.startswith(trials.RATE_FROM)}


def check_search_left_a_model(oracle):
    best = oracle.best_trial()
    if best is None:
        raise UserError("no trial completed, so there is no model to export; "
                        "the errors are above")
    return best
