"""The search space as a KerasTuner ``HyperModel``: ``build(hp)`` makes a
candidate network, ``fit(hp, model, ...)`` trains it and scores it, the one
place where a network is fed, scheduled, timed, averaged over views and
scored.

A trial trains on a schedule that ends with the time it was given: the
learning rate follows the share of the steps or of the time done, whichever
is further, so a machine that slows down still ends the schedule (small
rates, settled weights), not halfway down. It is scored once, at the end,
on the held-out pictures, as the exported network will be used.
"""

import math
import time

import keras
import keras_tuner
import numpy as np

from ..fast import use_fused_kernels
from ..recipes import warmup_cosine
from ..training import batches, steps_per_epoch
from . import airbench, blocks

# Adam-trained classifiers smooth their one-hot labels by this much
LABEL_SMOOTHING = 0.1
WARMUP_EPOCHS = 5
# pictures a second through a trained network, a little under the default
# airbench network's on two cores: what scoring is budgeted at
PREDICT_RATE = 700.0


class ImageHyperModel(keras_tuner.HyperModel):
    """Networks of ``block`` (an ``ImageBlock``) ending in ``head`` (an
    adapted head) for pictures of ``input_shape``, trained as ``settings``
    (a ``SearchSettings``) says; ``sample``, a few thousand training
    pictures, sets the normalisation and the airbench stem."""

    def __init__(self, block, head, settings, input_shape, sample):
        super().__init__(name="image_search")
        (self.block, self.head, self.settings) = (block, head, settings)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.sample = np.asarray(sample, dtype="float32")
        if np.asarray(sample).dtype == np.uint8:
            self.sample = self.sample / 255.0
        flat = self.sample.reshape(-1, self.input_shape[-1])
        (self.mean, self.std) = (flat.mean(axis=0), flat.std(axis=0) + 1e-3)

    # --- what a trial's hyperparameters say

    def family(self, hp):
        return self.block.family(hp, self.input_shape[0])

    def schedule(self, hp):
        return "onecycle" if self.family(hp) == "airbench" else self.settings.schedule

    def smoothing(self, hp):
        return airbench.LABEL_SMOOTHING if self.schedule(hp) == "onecycle" else LABEL_SMOOTHING

    def augmentation(self, hp):
        return self.block.augmentation(hp, self.family(hp), self.head.task)

    def views(self, hp, test=False):
        """The views of a picture its prediction averages: a classifier that
        learned mirrored pictures averages each with its mirror image; at
        test time an airbench network also with both moved a pixel up-left
        and down-right (airbench's test)."""
        mirrored = self.head.task == "classification" and self.block.augments(hp, "classification")
        return views(mirrored, test and mirrored and self.family(hp) == "airbench")

    # --- the network

    def build(self, hp):
        family = self.family(hp)
        self.augmentation(hp)   # its choices join the space before the network's
        inputs = keras.Input(shape=self.input_shape, name="image")
        if family == "airbench":
            x = blocks.airbench_features(hp, inputs, self.mean, self.std)
        elif family == "vanilla":
            x = blocks.vanilla_features(hp, inputs, self.head.task)
        else:
            x = blocks.application_features(hp, family, inputs)
        if family != "airbench":
            hp.Choice("learning_rate", [1e-3, 3e-4, 1e-4], default=1e-3)
        model = keras.Model(inputs, self.head.layers(keras, x, family), name=f"search_{family}")
        if family == "airbench":
            airbench.initialise(model, self.sample)
        return model

    def compile(self, model, hp, steps=1000):
        """The loss, and the optimizer at its peak rate, for ``steps`` steps."""
        if self.schedule(hp) == "onecycle":
            optimizer = airbench.optimizer(keras, self.settings.batch_size,
                                           scale=hp.get("airbench_peak"), steps=steps)
        else:
            optimizer = keras.optimizers.Adam(learning_rate=hp.get("learning_rate"))
        model.compile(optimizer=optimizer, loss=self.head.loss(keras, self.smoothing(hp)),
                      metrics=[self.head.metric])
        if self.schedule(hp) == "onecycle":
            return airbench.scale_bias_steps(model)
        # batch norm's and Adam's steps on TensorFlow's fused kernels
        return use_fused_kernels(model)

    def rate(self, hp, steps, per_epoch):
        """``(peak, fraction)``: the peak rate, and the rate as a fraction of
        it at a given share of the ``steps`` done."""
        if self.schedule(hp) == "onecycle":
            peak = airbench.peak_rate(self.settings.batch_size, hp.get("airbench_peak"))
            return peak, airbench.onecycle
        peak = hp.get("learning_rate")
        schedule = warmup_cosine(peak, steps, WARMUP_EPOCHS * per_epoch)
        return peak, lambda progress: float(schedule(progress * steps)) / peak

    # --- training and scoring

    def fit(self, hp, model, x, y, validation_data=None, epochs=1.0, deadline=None,
            callbacks=(), verbose=2):
        """Train ``model`` for ``epochs`` (a fraction allowed) on pictures
        ``x`` (uint8, or floats in [0, 1]) and encoded targets ``y``, ending
        by ``deadline`` (a ``time.monotonic()``); then score it on
        ``validation_data``. Returns the trial's metrics."""
        started = time.perf_counter()
        per_epoch = max(1, steps_per_epoch(len(y), self.settings.batch_size))
        total = max(1, int(round(epochs * per_epoch)))
        fit_epochs = max(1, math.ceil(epochs))
        self.compile(model, hp, steps=total)
        data = batches(x, y, self.settings.batch_size, shuffle=True, seed=self.settings.seed,
                       augment=self.augmentation(hp), repeat=True)
        timer = StepTimer()
        schedule = ScheduleByProgress(*self.rate(hp, total, per_epoch), total, deadline)
        model.fit(data, epochs=fit_epochs, steps_per_epoch=math.ceil(total / fit_epochs),
                  shuffle=False, verbose=verbose, callbacks=[timer, schedule, *callbacks])
        if self.schedule(hp) == "onecycle":
            # the weights are now a running average of the last steps'
            # (use_ema): batch norm's statistics must describe those
            airbench.recalibrate_batch_norm(model, x, self.settings.seed or 0)
        metrics = self.score(hp, model, *validation_data) if validation_data else {}
        metrics.update({"epochs": timer.steps / per_epoch, "samples": float(len(y)),
                        "seconds": time.perf_counter() - started,
                        "step_seconds": timer.step_seconds()})
        return metrics

    def predict(self, hp, model, x, test=False):
        """``model``'s outputs for ``x``, averaged over the ``views``."""
        return averaged(model, x, self.views(hp, test))

    def score(self, hp, model, x, y):
        """The validation loss (the training loss, as the trials compare) and
        accuracy or MAE of ``predict``."""
        return self.head.scores(self.predict(hp, model, x), y, self.smoothing(hp))

    # --- time

    def step_seconds(self, hp, x, y, steps=2):
        """A training step's seconds for the network of ``hp``, timed on a
        throwaway copy after a first step that builds the graph."""
        model = self.compile(self.build(hp), hp)
        timer = StepTimer()
        model.fit(batches(x, y, self.settings.batch_size, repeat=True), epochs=1,
                  steps_per_epoch=steps + 1, shuffle=False, verbose=0, callbacks=[timer])
        return timer.step_seconds()

    def epochs_within(self, seconds, step_seconds, samples, most):
        """As many epochs, to a tenth, as ``seconds`` pay for at
        ``step_seconds`` a step, with time to build the network; at most
        ``most``, at least a tenth."""
        per_epoch = max(1, steps_per_epoch(samples, self.settings.batch_size))
        epochs = (0.97 * seconds - 10.0) / max(1e-6, step_seconds * per_epoch)
        return float(min(most, max(0.1, math.floor(epochs * 10) / 10)))

    @staticmethod
    def scoring_seconds(pictures, views=2):
        """About how long scoring ``pictures`` takes, with room to spare: batch
        norm's statistics recomputed, then ``views`` of each predicted."""
        return (airbench.RECALIBRATION_PICTURES + views * pictures) / PREDICT_RATE


def views(mirrored, shifted):
    """``(shift, mirrored, weight)`` of each view a prediction averages."""
    shifts = [(0, 0.5), (-1, 0.25), (1, 0.25)] if shifted else [(0, 1.0)]
    flips = [(False, 0.5), (True, 0.5)] if mirrored else [(False, 1.0)]
    return [(s, f, w * v) for (s, w) in shifts for (f, v) in flips]


def averaged(model, x, chosen):
    """``model``'s outputs for ``x`` averaged over the views ``chosen``."""
    preds = 0.0
    for (shift, mirrored, weight) in chosen:
        transform = None if not (shift or mirrored) else \
            (lambda images, seed, s=shift, m=mirrored: view(images, s, m))
        preds = preds + weight * model.predict(batches(x, batch_size=500, augment=transform),
                                               verbose=0)
    return preds


def view(images, shift=0, mirrored=False):
    """A batch of pictures moved ``shift`` pixels down and right (up and left
    when negative), the edges mirrored, then with ``mirrored`` flipped."""
    import tensorflow as tf

    if shift:
        (s, h, w) = (abs(shift), tf.shape(images)[1], tf.shape(images)[2])
        padded = tf.pad(images, [[0, 0], [s, s], [s, s], [0, 0]], mode="REFLECT")
        images = padded[:, s - shift:s - shift + h, s - shift:s - shift + w]
    return tf.reverse(images, axis=[2]) if mirrored else images


class ScheduleByProgress(keras.callbacks.Callback):
    """Sets the rate before every step to ``peak * fraction(progress)`` and
    stops training when ``progress`` reaches 1: the share of ``steps`` done
    or, with a ``deadline``, of the time until it, whichever is further."""

    def __init__(self, peak, fraction, steps, deadline=None):
        super().__init__()
        (self.peak, self.fraction, self.steps, self.deadline) = (peak, fraction, steps, deadline)
        (self.done, self.began) = (0, None)

    def progress(self):
        share = self.done / self.steps
        if self.deadline is not None:
            share = max(share, (time.monotonic() - self.began) /
                        max(1e-9, self.deadline - self.began))
        return min(1.0, share)

    def on_train_begin(self, logs=None):
        (self.done, self.began) = (0, time.monotonic())

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.peak * self.fraction(self.progress()))

    def on_train_batch_end(self, batch, logs=None):
        self.done += 1
        if self.progress() >= 1.0:
            self.model.stop_training = True


class StepTimer(keras.callbacks.Callback):
    """Counts the training steps and times them, the first (which builds the
    graph) left out."""

    def __init__(self):
        super().__init__()
        (self.steps, self.first, self.last) = (0, None, None)

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.last = time.perf_counter()
        if self.steps == 1:
            self.first = self.last

    def step_seconds(self):
        return 0.0 if self.steps < 2 else (self.last - self.first) / (self.steps - 1)
