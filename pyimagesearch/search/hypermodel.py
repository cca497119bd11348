"""The search space as a KerasTuner ``HyperModel``: ``build(hp)`` makes a
network, ``fit(hp, model, ...)`` trains and scores it, following the share
of its steps or of its time done, whichever is further (a slow machine
still ends the schedule on time); scored once, at the end, as exported."""

import math
import time

import keras
import keras_tuner
import numpy as np

from .. import airbench, reports
from ..fast import use_fused_kernels
from ..training import ScheduleByProgress, batches, steps_per_epoch, warmup_cosine
from . import blocks

# Adam-trained classifiers smooth their one-hot labels by this much
LABEL_SMOOTHING = 0.1
WARMUP_EPOCHS = 5
# 32-pixel pictures a second through a trained network, by precision, a
# little under the default airbench network's on two cores, measured alone:
# 894-916 in mixed bfloat16 (AMD EPYC, Zen 4, AVX512-BF16); in float32 (AMD
# EPYC, Zen 3, no AVX-512) about 400 scoring a trial (batch norm's
# statistics, then predictions) and 500 predicting the test. What scoring,
# and the time kept for the caller's test, are budgeted at before a trial of
# the network has measured it, a quarter of it for pictures twice as wide
PREDICT_RATE = {"mixed_bfloat16": 850.0, "float32": 400.0}
# a rate a trial measured (its first predictions' tracing included) is
# budgeted with this much room, for a machine that slows down
MEASURED_ROOM = 1.15
# the most views a winner can test with (an airbench classifier's)
MOST_VIEWS = len(airbench.views(mirrored=True, shifted=True))
# airbench's recipe trains its network 8 to 10 epochs: where a timed top rung
# pays for fewer than this many of the default network's on this machine,
# the first trial is the narrow one, 2.5x as fast (bench/README.md)
MIN_TOP_EPOCHS = 4.0
NARROW_WIDTHS = "32-128-128"


def predictions(pictures, views, recalibration, trained=airbench.RECALIBRATION_PICTURES):
    """The pictures scoring predicts: batch norm's statistics (after
    training, on up to ``RECALIBRATION_PICTURES`` of the ``trained``), then
    ``views`` of each of ``pictures``."""
    return min(trained, airbench.RECALIBRATION_PICTURES) * recalibration + views * pictures


def scoring_seconds(pictures, side, views=2, recalibration=True, precision="float32",
                    trained=airbench.RECALIBRATION_PICTURES):
    """Scoring's seconds, with room: ``predictions`` of pictures of ``side``
    pixels, computed in ``precision``."""
    predicted = predictions(pictures, views, recalibration, trained)
    return predicted * max(1.0, (side / 32) ** 2) / PREDICT_RATE[precision]


class ImageHyperModel(keras_tuner.HyperModel):
    """Networks of ``block`` ending in ``head`` for pictures of ``input_shape``,
    trained as ``settings`` says; ``sample``, a few thousand training
    pictures, sets the normalisation and the airbench stem; the model the
    search ends with leaves time to predict ``test_pictures`` after it."""

    def __init__(self, block, head, settings, input_shape, sample, test_pictures=0):
        super().__init__(name="image_search")
        self.test_pictures = test_pictures
        (self.block, self.head, self.settings) = (block, head, settings)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.sample = np.asarray(sample, dtype="float32")
        if np.asarray(sample).dtype == np.uint8:
            self.sample = self.sample / 255.0
        flat = self.sample.reshape(-1, self.input_shape[-1])
        (self.mean, self.std) = (flat.mean(axis=0), flat.std(axis=0) + 1e-3)
        self.first_widths = airbench.DEFAULT_WIDTHS
        self.timed = {}   # a step's seconds, by network

    def family(self, hp):
        return self.block.family(hp, self.input_shape[0], self.head.task)

    def schedule(self, hp):
        onecycle = blocks.sgd_recipe(self.family(hp), self.head.task)
        return "onecycle" if onecycle else self.settings.schedule

    def smoothing(self, hp):
        return airbench.LABEL_SMOOTHING if self.schedule(hp) == "onecycle" else LABEL_SMOOTHING

    def augmentation(self, hp):
        return self.block.augmentation(hp, self.family(hp), self.head.task)

    def views(self, hp, test=False):
        """A network that learned mirrored pictures averages each with its
        mirror image; an airbench classifier tests as airbench does."""
        mirrored = self.block.augments(hp, self.head.task, self.family(hp))
        shifted = blocks.sgd_recipe(self.family(hp), self.head.task)
        return airbench.views(mirrored, test and mirrored and shifted)

    def build(self, hp):
        family = self.family(hp)
        self.augmentation(hp)   # its choices join the space before the network's
        inputs = keras.Input(shape=self.input_shape, name="image")
        if family == "airbench":
            x = blocks.airbench_features(hp, inputs, self.mean, self.std, self.first_widths)
        elif family == "vanilla":
            x = blocks.vanilla_features(hp, inputs, self.head.task)
        else:
            x = blocks.application_features(hp, family, inputs)
        # the rate: airbench's SGD recipe's times a searched multiple, or Adam's
        if self.schedule(hp) == "onecycle":
            hp.Choice("airbench_peak", [0.5, 1.0, 2.0], default=1.0)
        else:
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
            model = airbench.scale_bias_steps(model)
            if self.family(hp) == "airbench":
                # the filters, each followed by batch norm, step by Muon
                model = airbench.muon_steps(model, airbench.muon_rate(self.settings.batch_size))
            return model
        # batch norm's and Adam's steps on TensorFlow's fused kernels
        return use_fused_kernels(model)

    def rate(self, hp, steps, per_epoch):
        """The peak rate, and the rate's fraction of it by the share done."""
        if self.schedule(hp) == "onecycle":
            peak = airbench.peak_rate(self.settings.batch_size, hp.get("airbench_peak"))
            return peak, airbench.onecycle
        peak = hp.get("learning_rate")
        schedule = warmup_cosine(peak, steps, WARMUP_EPOCHS * per_epoch)
        return peak, lambda progress: float(schedule(progress * steps)) / peak

    def fit(self, hp, model, x, y, validation_data=None, epochs=1.0, deadline=None,
            callbacks=(), verbose=2):
        """Train ``model`` ``epochs`` (a fraction allowed) on pictures ``x``
        and encoded targets ``y`` by ``deadline`` (a ``time.monotonic()``),
        then score it on ``validation_data``; returns the trial's metrics."""
        started = time.perf_counter()
        per_epoch = max(1, steps_per_epoch(len(y), self.settings.batch_size))
        total = max(1, int(round(epochs * per_epoch)))
        fit_epochs = max(1, math.ceil(epochs))
        self.compile(model, hp, steps=total)
        data = batches(x, y, self.settings.batch_size, shuffle=True, seed=self.settings.seed,
                       augment=self.augmentation(hp), repeat=True)
        schedule = ScheduleByProgress(*self.rate(hp, total, per_epoch), total, deadline)
        model.fit(data, epochs=fit_epochs, steps_per_epoch=math.ceil(total / fit_epochs),
                  shuffle=False, verbose=verbose, callbacks=[schedule, *callbacks])
        scoring = time.perf_counter()
        recalibration = self.schedule(hp) == "onecycle"
        if recalibration:
            # the weights are now a running average of the last steps'
            # (use_ema): batch norm's statistics must describe those
            airbench.recalibrate_batch_norm(model, x, self.settings.seed or 0)
        metrics = self.score(hp, model, *validation_data) if validation_data else {}
        predicted = predictions(len(validation_data[0]) if validation_data else 0,
                                len(self.views(hp)), recalibration, trained=len(x))
        metrics.update({"epochs": schedule.done / per_epoch, "samples": float(len(y)),
                        "seconds": time.perf_counter() - started,
                        "step_seconds": schedule.step_seconds(),
                        # a picture's, as its trial predicted them (0: none)
                        "predict_seconds": (time.perf_counter() - scoring) / predicted
                        if predicted else 0.0})
        return metrics

    def predict(self, hp, model, x, test=False):
        """``model``'s outputs for ``x``, averaged over the ``views``."""
        return airbench.averaged(model, x, self.views(hp, test))

    def score(self, hp, model, x, y):
        """The training loss (what trials are compared by) and accuracy or MAE."""
        return self.head.scores(self.predict(hp, model, x), y, self.smoothing(hp))

    def step_seconds(self, hp, x, y, steps=2):
        """A step's seconds, timed on a throwaway copy after a first step,
        once for each network (``hp`` without values: the defaults')."""
        model = None if hp.values else self.build(hp)
        network = tuple(sorted(reports.network_values(hp.values).items()))
        if network not in self.timed:
            model = self.compile(model or self.build(hp), hp)
            timer = ScheduleByProgress(0.0, lambda progress: 0.0, steps + 1)
            model.fit(batches(x, y, self.settings.batch_size, repeat=True), epochs=1,
                      steps_per_epoch=steps + 1, shuffle=False, verbose=0, callbacks=[timer])
            self.timed[network] = timer.step_seconds()
        return self.timed[network]

    def size_first_network(self, seconds, x, y, samples):
        """Make the first trial the narrow airbench classifier where
        ``seconds`` of the top rung pay for fewer than ``MIN_TOP_EPOCHS``
        epochs (or those asked for) of ``samples`` pictures of the default
        network, a step timed here on ``x``, ``y``; returns what it found,
        a line to print, or None."""
        hp = keras_tuner.HyperParameters()
        if not blocks.sgd_recipe(self.family(hp), self.head.task):
            return None
        step = max(1e-6, self.step_seconds(hp, x, y))
        epochs = seconds / (step * steps_per_epoch(samples, self.settings.batch_size))
        if epochs >= min(MIN_TOP_EPOCHS, self.settings.full_epochs()):
            return None
        self.first_widths = NARROW_WIDTHS
        rate = self.settings.batch_size / step
        return (f"[INFO] the first network is airbench {NARROW_WIDTHS}: the default "
                f"{airbench.DEFAULT_WIDTHS} trains {rate:.0f} pictures/s here, {epochs:.1f} "
                f"epoch(s) in the top rung's {reports.format_seconds(seconds)} "
                f"(airbench's recipe trains 8-10)")

    def epochs_within(self, seconds, step_seconds, samples, most):
        """The epochs, to a tenth, that ``seconds`` of training pay for, and a
        tenth more (at most ``most``): the deadline, not the count of steps,
        then ends a timed trial, and none of its time is left over."""
        per_epoch = max(1, steps_per_epoch(samples, self.settings.batch_size))
        epochs = 1.1 * seconds / max(1e-6, step_seconds * per_epoch)
        return float(min(most, max(0.1, math.ceil(round(epochs * 10, 6)) / 10)))

    def scoring_seconds(self, pictures, views=2, recalibration=True, per_picture=0.0,
                        trained=airbench.RECALIBRATION_PICTURES):
        """``scoring_seconds`` of this model's pictures, or, where a trial of
        the network measured it, ``per_picture`` seconds each, with room."""
        if not per_picture:
            return scoring_seconds(pictures, self.input_shape[0], views, recalibration,
                                   self.settings.precision, trained)
        return MEASURED_ROOM * per_picture * predictions(pictures, views, recalibration, trained)

    def after_training(self, hp, validation_pictures, last, per_picture=0.0,
                       trained=airbench.RECALIBRATION_PICTURES):
        """The seconds a network of ``hp`` needs once trained on ``trained``
        pictures: batch norm's statistics, its ``validation_pictures`` scored
        and, where it is the model the search ends with (``last``), the
        ``test_pictures``, each predicted at ``per_picture`` seconds (0: at
        ``PREDICT_RATE``)."""
        seconds = self.scoring_seconds(validation_pictures, len(self.views(hp)),
                                       self.schedule(hp) == "onecycle", per_picture, trained)
        if last and self.test_pictures:
            seconds += self.scoring_seconds(self.test_pictures, len(self.views(hp, test=True)),
                                            False, per_picture)
        return seconds

    def kept_for_test(self):
        """The seconds a timed search keeps from the start for the caller's
        test: ``test_pictures`` in the most views a winner can test with, at
        ``PREDICT_RATE``. The model the search ends with has them back, less
        its own test (``after_training``), once its network's speed is known."""
        return self.scoring_seconds(self.test_pictures, MOST_VIEWS, recalibration=False)
