"""How one trial's network is fed, timed, stopped and scored.

* ``batches``: the ``tf.data`` pipeline. Pictures stay in memory as they
  were loaded (uint8 for CIFAR-10: 150 MB for 50,000, one copy) and each
  batch is scaled to [0, 1], augmented and its labels one-hot encoded as
  it is drawn, on the CPU, while the previous batch trains.
* ``MeanValidationLoss`` / ``averaged_metrics``: an Adam-trained trial is
  judged on its validation loss averaged over ``MEAN_EPOCHS`` epochs (one
  epoch's loss on a few dozen pictures jumps by a third from the next).
* ``ScheduleByProgress``: the learning rate step by step, by the share of
  the steps or of the time done; ``StepTimer``: seconds per training step,
  for turning a time budget into epochs.
* ``rate_changes`` / ``replayed_rate``: the rates the plateau rule set in a
  trial, kept with its metrics, so that the winner's retraining (which has
  no validation pictures to watch) lowers its rate at the same epochs.
"""

import time

import keras
import numpy as np
import tensorflow as tf

MEAN_EPOCHS = 5
MEAN_VAL_LOSS = "val_loss_mean"
RATE_FROM = "rate_from_epoch_"

# tf.data's autotuner would take both cores for itself (training.py)
_OPTIONS = tf.data.Options()
_OPTIONS.autotune.enabled = False


def as_unit_floats(images):
    """Pictures as float32 in [0, 1] (uint8 pictures are divided by 255)."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype("float32") / 255.0
    return images.astype("float32", copy=False)


def _to_unit(images):
    if images.dtype == tf.uint8:
        return tf.cast(images, "float32") / 255.0
    return tf.cast(images, "float32")


def batches(x, y, batchSize, seed=None, augment=None, repeat=False, classes=None,
            mirror=False, shift=0):
    """Batches of ``(pictures in [0, 1], targets)`` (only pictures when ``y``
    is None). With ``repeat`` the pictures are reshuffled every pass and
    the data never ends (``fit`` takes ``steps_per_epoch``); ``augment``,
    a function of a batch and a seed, is mapped over the batches (seeded:
    a run repeats, every batch differs); ``classes``: ``y`` holds class
    numbers or one-hot rows, fed one-hot; ``shift`` (-1 or 1): every
    picture moved a pixel up and left or down and right, the edges
    mirrored, then with ``mirror`` flipped left-right (both for averaging
    at test time)."""
    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if repeat:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batchSize, drop_remainder=repeat)

    def prepare(images, targets=None, number=None):
        images = _to_unit(images)
        if shift:
            images = shifted(images, shift)
        if mirror:
            images = tf.reverse(images, axis=[2])
        if augment is not None:
            images = augment(images, tf.stack([tf.constant(int(seed or 0), "int64"), number]))
        if targets is None:
            return images
        if classes is not None and targets.shape.rank == 1:
            targets = tf.one_hot(tf.cast(targets, "int32"), classes)
        return images, tf.cast(targets, "float32")

    if augment is not None:
        ds = tf.data.Dataset.zip(ds, tf.data.Dataset.range(2 ** 62))
        ds = ds.map(lambda batch, i: prepare(*batch, number=i), num_parallel_calls=2)
    elif y is None:
        ds = ds.map(lambda images: prepare(images), num_parallel_calls=2)
    else:
        ds = ds.map(lambda images, targets: prepare(images, targets), num_parallel_calls=2)
    return ds.prefetch(2).with_options(_OPTIONS)


def shifted(images, shift):
    """A batch of pictures moved ``shift`` pixels down and right (up and
    left when negative), the edges mirrored."""
    (h, w) = (tf.shape(images)[1], tf.shape(images)[2])
    s = abs(int(shift))
    padded = tf.pad(images, [[0, 0], [s, s], [s, s], [0, 0]], mode="REFLECT")
    start = s - int(shift)
    return padded[:, start:start + h, start:start + w]


def warmup_cosine(progress, warmupFraction):
    """Adam's rate as a fraction of its peak, ``progress`` of the way
    through training: up from zero over ``warmupFraction`` (at most half),
    then a cosine down to zero."""
    warmup = min(0.5, warmupFraction)
    if progress < warmup:
        return progress / warmup
    return 0.5 * (1 + np.cos(np.pi * min(1.0, (progress - warmup) / (1 - warmup))))


def plateau_callbacks(patience):
    """Halve the rate when the averaged validation loss stalls for half of
    ``patience`` epochs; stop when it has not improved for ``patience``."""
    return [keras.callbacks.ReduceLROnPlateau(monitor=MEAN_VAL_LOSS, mode="min", factor=0.5,
                                              patience=max(2, patience // 2), min_lr=1e-6,
                                              verbose=0),
            keras.callbacks.EarlyStopping(monitor=MEAN_VAL_LOSS, mode="min",
                                          patience=patience)]


def rate_changes(rates, epochs):
    """The learning rates a plateau trial trained at (``rates``: one per
    epoch, as Keras' ``ReduceLROnPlateau`` logs them) up to its ``epochs``-th
    epoch, as metrics: ``{"rate_from_epoch_K": rate}`` for each epoch K
    (counted from 1) that began at a new rate."""
    changes = {}
    for k in range(1, min(len(rates), int(round(epochs)))):
        if rates[k] != rates[k - 1]:
            changes[f"{RATE_FROM}{k + 1}"] = float(rates[k])
    return changes


def replayed_rate(changes, peak, epochs):
    """A ``rate(progress)`` for ``ScheduleByProgress`` over ``epochs``
    epochs that trains at ``peak`` and from each epoch K in ``changes``
    (``rate_changes``) on at that epoch's rate."""
    starts = sorted((int(name[len(RATE_FROM):]), value) for (name, value) in changes.items())

    def rate(progress):
        epoch = int(np.floor(progress * epochs + 1e-9)) + 1
        current = peak
        for (start, value) in starts:
            if epoch >= start:
                current = value
        return current / peak

    return rate


class MeanValidationLoss(keras.callbacks.Callback):
    """Adds ``val_loss_mean``, the validation loss averaged over the last
    ``MEAN_EPOCHS`` epochs, to each epoch's logs (first in the list, so
    that the callbacks after it see it)."""

    def on_train_begin(self, logs=None):
        self.losses = []

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None and "val_loss" in logs:
            self.losses.append(float(logs["val_loss"]))
            logs[MEAN_VAL_LOSS] = float(trailing_mean(self.losses)[-1])


class ScheduleByProgress(keras.callbacks.Callback):
    """Sets the learning rate before every step to ``peak * rate(progress)``
    and stops training when ``progress`` reaches 1. Progress is the share
    of ``totalSteps`` done or, with a ``deadline`` (a ``time.monotonic()``),
    the share of the time until it spent, whichever is further: a trial
    whose machine slows down still ends on time, at the end of its
    schedule (small rates, settled weights), not halfway down. ``rate``
    None: the rate is left alone (the plateau rule moves it), only the
    deadline is kept."""

    def __init__(self, peak, rate, totalSteps, deadline=None):
        super().__init__()
        (self.peak, self.rate, self.totalSteps, self.deadline) = (peak, rate, totalSteps, deadline)
        self.steps = 0

    def progress(self):
        done = self.steps / max(1, self.totalSteps)
        if self.deadline is not None:
            span = max(1e-9, self.deadline - self.began)
            done = max(done, (time.monotonic() - self.began) / span)
        return min(1.0, done)

    def on_train_begin(self, logs=None):
        self.began = time.monotonic()
        self.steps = 0

    def on_train_batch_begin(self, batch, logs=None):
        if self.rate is not None:
            self.model.optimizer.learning_rate.assign(self.peak * self.rate(self.progress()))

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.progress() >= 1.0:
            self.model.stop_training = True


class StepTimer(keras.callbacks.Callback):
    """Counts training steps and times them, leaving out the first (which
    builds the graph)."""

    def __init__(self):
        super().__init__()
        self.steps, self.first, self.last = 0, None, None

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        now = time.perf_counter()
        if self.steps == 1:
            self.first = now
        self.last = now

    def step_seconds(self):
        if self.steps < 2:
            return 0.0
        return (self.last - self.first) / (self.steps - 1)


def trailing_mean(values, window=MEAN_EPOCHS):
    """Each epoch's value averaged with those of the epochs just before it,
    ``window`` epochs in all, fewer at the start; a non-finite value (a
    diverged epoch) counts as infinitely bad."""
    values = np.asarray(values, dtype="float64")
    values = np.where(np.isfinite(values), values, np.inf)
    return np.array([values[max(0, i + 1 - window):i + 1].mean()
                     for i in range(len(values))])


def averaged_metrics(history):
    """The validation loss and accuracy or MAE averaged over ``MEAN_EPOCHS``
    epochs, at the epoch (from the ``MEAN_EPOCHS``-th on, when the trial ran
    that long: a lucky first epoch, averaged with nothing, does not win)
    where that averaged loss is lowest."""
    valLoss = trailing_mean(history["val_loss"])
    start = MEAN_EPOCHS - 1 if len(valLoss) >= MEAN_EPOCHS else 0
    best = start + int(np.argmin(valLoss[start:]))
    metrics = {"val_loss": float(valLoss[best]), "best_epoch": float(best + 1)}
    for key in ("val_accuracy", "val_mae"):
        if key in history:
            metrics[key] = float(trailing_mean(history[key])[best])
    return metrics


def classification_scores(probabilities, labels, smoothing):
    """Cross-entropy against labels smoothed by ``smoothing`` (the training
    loss) and accuracy; ``labels``: class numbers or one-hot rows."""
    probabilities = np.asarray(probabilities, dtype="float64")
    labels = np.asarray(labels)
    numbers = labels.argmax(axis=1) if labels.ndim == 2 else labels.astype(int)
    classes = probabilities.shape[1]
    target = np.full(probabilities.shape, smoothing / classes)
    target[np.arange(len(numbers)), numbers] += 1.0 - smoothing
    loss = -np.mean(np.sum(target * np.log(np.clip(probabilities, 1e-7, 1.0)), axis=1))
    accuracy = np.mean(probabilities.argmax(axis=1) == numbers)
    return {"val_loss": float(loss) if np.isfinite(loss) else float("nan"),
            "val_accuracy": float(accuracy)}


def regression_scores(predictions, targets, lossName):
    """The training loss (percentage or squared error) and the MAE."""
    errors = predictions - targets
    if lossName == "mean_absolute_percentage_error":
        loss = np.mean(np.abs(errors / np.where(targets == 0, 1e-7, targets))) * 100
    else:
        loss = np.mean(errors ** 2)
    return {"val_loss": float(loss), "val_mae": float(np.mean(np.abs(errors)))}


def views(mirrored, shifted):
    """The views of each test picture a prediction averages: ``(shift,
    mirrored, weight)``, the picture itself first."""
    shifts = [(0, 1.0)] if not shifted else [(0, 0.5), (-1, 0.25), (1, 0.25)]
    flips = [(False, 1.0)] if not mirrored else [(False, 0.5), (True, 0.5)]
    return [(shift, flip, w * v) for (shift, w) in shifts for (flip, v) in flips]


def average_views(model, x, chosen):
    """``model``'s outputs for ``x``, averaged over the ``views`` ``chosen``."""
    preds = 0.0
    for (shift, mirrored, weight) in chosen:
        data = batches(x, None, 500, mirror=mirrored, shift=shift)
        preds = preds + weight * model.predict(data, verbose=0)
    return preds
