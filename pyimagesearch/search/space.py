"""The search space, and how one candidate network trains (a KerasTuner HyperModel).

Blocks (``--block``):

* ``airbench``: the fast CIFAR-10 family (``airbench.py``): a whitened 2x2
  stem, three conv groups, Nesterov SGD up and down, label smoothing 0.2,
  flips and translations; searched: widths, convolutions per group
  (depth), activation, a residual connection, the peak learning rate, the
  translation. Scored, like the test, on each picture averaged with its
  mirror image.
* ``vanilla``: conv stacks of the SmallVGGNet family (searched depth,
  width, convolutions per block, batch normalization, dropout, head
  width, learning rate), trained with Adam; the post's affine
  augmentation.
* ``resnet`` / ``xception`` / ``efficient``: Keras' ResNet50V2, Xception
  and EfficientNetB0 with ``weights=None``, fed images enlarged to the
  smallest size each accepts.

Augmentation is done to the training batches in the ``tf.data`` pipeline,
so the exported model holds only the network, built from Keras' own
layers: ``keras.models.load_model`` opens it anywhere.
"""

import math
import time

import keras
import keras_tuner
import numpy as np

from ..models import side_by_side
from ..training import steps_per_epoch as training_steps_per_epoch
from . import airbench, trials
from .flags import BLOCKS, WARMUP_EPOCHS

# The smallest input each of Keras' applications accepts (include_top=False);
# smaller images are enlarged to it inside the model.
MIN_SIDE = {"resnet": 32, "xception": 71, "efficient": 32}

# The first trial of a search is the space's defaults: for a classifier,
# close to SmallVGGNet; for a regressor, close to the house CNN of
# cnn_regression.py (16-32-64 filters, one convolution each, a narrow head
# with the post's dropout of 0.5), small networks being what a few hundred
# images can train.
VANILLA_DEFAULTS = {
    "classification": {"blocks": 3, "filters": 32, "convs": 1, "dropout": 0.25,
                       "units": 256, "head_dropout": 0.5},
    "regression": {"blocks": 3, "filters": 16, "convs": 1, "dropout": 0.0,
                   "units": 16, "head_dropout": 0.5},
}
AIRBENCH_WIDTHS = {"64-256-256": (64, 256, 256), "32-128-128": (32, 128, 128),
                   "96-384-384": (96, 384, 384), "64-128-256": (64, 128, 256)}

# the Adam-trained blocks' classifier loss smooths one-hot labels by this
# much (the improved SmallVGGNet recipe's figure)
LABEL_SMOOTHING = 0.1
# pictures a second through a trained network, a little under the default
# airbench network's on two cores (720 a second recomputing batch norm's
# statistics, 880 predicting)
PREDICT_RATE = 700.0


def affine_augmentation(task="classification"):
    """The random flips, rotations, shifts and zooms of the vanilla blocks'
    training batches (``augmentation.random_affine``: one resampling pass).
    A classifier gets the post's ``ImageDataGenerator`` ranges
    (train_vgg.py); a regressor's pictures, whose target may depend on
    their framing, milder zooms and mirrored edges."""
    from functools import partial

    from ..augmentation import image_data_generator, random_affine

    if task == "classification":
        return image_data_generator(rotation_range=30, width_shift_range=0.1,
                                    height_shift_range=0.1, shear_range=0.2,
                                    zoom_range=0.2, horizontal_flip=True,
                                    fill_mode="nearest")
    return partial(random_affine, rotation=28.8, width_shift=0.1, height_shift=0.1,
                   zoom=0.1, horizontal_flip=True, fill_mode="REFLECT")


def vanilla_features(hp, x, task="classification"):
    """Conv blocks of the SmallVGGNet family: (CONV => BN => RELU) * k =>
    POOL => DROPOUT, the width doubling from block to block, then FC => BN
    => RELU => DROPOUT; the defaults are ``VANILLA_DEFAULTS[task]``."""
    layers = keras.layers
    d = VANILLA_DEFAULTS[task]
    blocks = hp.Int("vanilla_blocks", 2, 4, default=d["blocks"])
    filters = hp.Choice("vanilla_filters", [16, 32, 64], default=d["filters"])
    convs = hp.Int("vanilla_convs_per_block", 1, 2, default=d["convs"])
    batchNorm = hp.Boolean("vanilla_batch_norm", default=True)
    dropout = hp.Choice("vanilla_dropout", [0.0, 0.25, 0.4], default=d["dropout"])
    pooling = hp.Choice("vanilla_pooling", ["flatten", "global_avg"], default="flatten")
    units = hp.Choice("vanilla_dense_units", [16, 64, 128, 256, 512], default=d["units"])
    lastDropout = hp.Choice("vanilla_head_dropout", [0.0, 0.25, 0.5],
                            default=d["head_dropout"])
    for b in range(blocks):
        for _ in range(convs):
            x = layers.Conv2D(filters * 2 ** b, (3, 3), padding="same",
                              use_bias=not batchNorm)(x)
            if batchNorm:
                x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
        # stop pooling once the map is 2x2: very small images, deep stacks
        if x.shape[1] >= 4 and x.shape[2] >= 4:
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        if dropout > 0:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x) if pooling == "flatten" else layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(units, use_bias=not batchNorm)(x)
    if batchNorm:
        x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    return layers.Dropout(lastDropout)(x) if lastDropout > 0 else x


def application_features(hp, block, x):
    """Keras' ResNet50V2, Xception or EfficientNetB0, untrained, on the
    images enlarged to the smallest size the architecture accepts (grey
    pictures repeated into three channels)."""
    layers = keras.layers
    if x.shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    side = max(MIN_SIDE[block], int(x.shape[1]), int(x.shape[2]))
    if (int(x.shape[1]), int(x.shape[2])) != (side, side):
        x = layers.Resizing(side, side, name=f"{block}_resize")(x)
    shape = (side, side, 3)
    if block == "resnet":
        base = keras.applications.ResNet50V2(include_top=False, weights=None,
                                             input_shape=shape, pooling="avg")
    elif block == "xception":
        base = keras.applications.Xception(include_top=False, weights=None,
                                           input_shape=shape, pooling="avg")
    else:
        # EfficientNet rescales [0, 255] pixels itself; ours are in [0, 1]
        x = layers.Rescaling(255.0, name="to_0_255")(x)
        base = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                                 input_shape=shape, pooling="avg")
    x = base(x)
    dropout = hp.Choice(f"{block}_dropout", [0.0, 0.25, 0.5], default=0.25)
    return layers.Dropout(dropout)(x) if dropout > 0 else x


class ImageHyperModel(keras_tuner.HyperModel):
    """The space of networks for ``settings`` (a ``SearchSettings``) on
    pictures of ``inputShape``, with ``head``: ``{"kind":
    "classification", "classes": n}`` or ``{"kind": "regression", "loss":
    ..., "mean": m, "std": s, "start": z}`` (the model predicts ``mean +
    std * output``, so the exported model gives targets in their own units;
    ``output`` starts at ``z``). ``sample``: a few thousand training
    pictures, for the airbench stem's whitening and the normalisation."""

    def __init__(self, settings, inputShape, head, sample):
        super().__init__(name="image_search")
        self.settings = settings
        self.inputShape = tuple(inputShape)
        self.head = head
        self.sample = trials.as_unit_floats(sample)
        flat = self.sample.reshape(-1, self.inputShape[-1])
        self.mean, self.std = flat.mean(axis=0), flat.std(axis=0) + 1e-3

    # --- what a trial's hyperparameters say

    def block(self, hp):
        if self.settings.block == "any":
            return hp.Choice("block", list(BLOCKS), default="airbench")
        return self.settings.block

    def augments(self, hp):
        """Whether the network of ``hp`` trains on augmented pictures."""
        if self.settings.augment is None:
            return hp.Boolean("augment", default=self.head["kind"] == "classification")
        return self.settings.augment

    def schedule(self, hp):
        return "onecycle" if self.block(hp) == "airbench" else self.settings.schedule

    def flip_averaged(self, hp):
        """Whether a classifier's predictions average each picture with its
        mirror image: when it learned mirrored pictures."""
        return self.head["kind"] == "classification" and self.augments(hp)

    def shift_averaged(self, hp):
        """Whether the test predictions (``predict(..., shifted=True)``) also
        average each picture moved a pixel up-left and down-right, as
        airbench tests: a network that learned flipped and translated
        pictures."""
        return self.flip_averaged(hp) and self.block(hp) == "airbench"

    def copies_train_alone(self, hp):
        """Whether copies side by side train as if alone: Adam, a regressor."""
        return self.head["kind"] == "regression" and self.schedule(hp) != "onecycle"

    def augmentation(self, hp):
        """A function of a batch of pictures in [0, 1] and a seed, or None."""
        if not self.augments(hp):
            return None
        if self.block(hp) == "airbench":
            translate = hp.Choice("airbench_translate", [2, 4], default=2)
            return lambda images, seed: airbench.flip_and_translate(images, seed, translate)
        return affine_augmentation(self.head["kind"])

    # --- the network

    def build(self, hp):
        chosen = self.block(hp)
        self.augments(hp)   # the searched values, registered with hp
        self.augmentation(hp)
        if chosen == "airbench":
            return self.build_airbench(hp)
        inputs = keras.Input(shape=self.inputShape, name="image")
        if chosen == "vanilla":
            x = vanilla_features(hp, inputs, self.head["kind"])
        else:
            x = application_features(hp, chosen, inputs)
        hp.Choice("learning_rate", [1e-3, 3e-4, 1e-4], default=1e-3)
        return keras.Model(inputs, self.head_layers(x), name=f"search_{chosen}")

    def build_airbench(self, hp):
        widths = hp.Choice("airbench_widths", list(AIRBENCH_WIDTHS), default="64-256-256")
        convs = hp.Int("airbench_convs", 2, 3, default=2)
        activation = hp.Choice("airbench_activation", ["gelu", "relu"], default="gelu")
        residual = hp.Boolean("airbench_residual", default=False)
        hp.Choice("airbench_peak", [0.5, 1.0, 2.0], default=1.0)
        inputs = keras.Input(shape=self.inputShape, name="image")
        x = airbench.features(keras, inputs, self.mean, self.std,
                              widths=AIRBENCH_WIDTHS[widths], convs=convs,
                              activation=activation, residual=residual)
        outputs = (airbench.classifier_head(keras, x, self.head["classes"])
                   if self.head["kind"] == "classification" else self.head_layers(x))
        model = keras.Model(inputs, outputs, name="search_airbench")
        airbench.initialise(model, self.sample)
        return model

    def head_layers(self, x):
        layers = keras.layers
        if self.head["kind"] == "classification":
            return layers.Dense(self.head["classes"], activation="softmax", dtype="float32",
                                name="classes")(x)
        # the output starts at the typical scaled target (zero weights, bias
        # ``start``) rather than at a random value many times too large,
        # which a percentage error punishes hard
        x = layers.Dense(1, kernel_initializer="zeros", dtype="float32",
                         bias_initializer=keras.initializers.Constant(self.head.get("start", 0.0)),
                         name="regression")(x)
        # scaled outputs back to the target's units, a stock layer
        return layers.Rescaling(self.head["std"], offset=self.head["mean"], dtype="float32",
                                name="target_units")(x)

    # --- training

    def compile(self, model, hp, steps=1000):
        """The loss and the optimizer at the peak rate (the schedule moves
        it while training: ``rate``), for a run of ``steps``."""
        if self.schedule(hp) == "onecycle":
            optimizer = airbench.optimizer(keras, self.settings.batch_size,
                                           peakScale=hp.get("airbench_peak"), steps=steps)
            smoothing = airbench.LABEL_SMOOTHING
        else:
            optimizer = keras.optimizers.Adam(learning_rate=hp.get("learning_rate"))
            smoothing = LABEL_SMOOTHING
        if self.head["kind"] == "classification":
            # one-hot labels, smoothed: a network kept from certainty has a
            # validation loss that follows its accuracy
            loss = keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)
            metrics = ["accuracy"]
        else:
            (loss, metrics) = (self.head["loss"], ["mae"])
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        if self.schedule(hp) == "onecycle":
            return airbench.scale_bias_steps(model)
        # batch norm and Adam's steps on TensorFlow's fused kernels (fast.py)
        from ..fast import use_fused_kernels

        return use_fused_kernels(model)

    def rate(self, hp, epochs):
        """``(peak, rate)``: the learning rate at its peak, and as a function
        of the share of training done (None: the plateau rule moves it)."""
        schedule = self.schedule(hp)
        if schedule == "onecycle":
            return airbench.peak_rate(self.settings.batch_size, hp.get("airbench_peak")), \
                airbench.onecycle
        peak = hp.get("learning_rate")
        if schedule == "cosine":
            warmup = WARMUP_EPOCHS / max(1.0, epochs)
            return peak, lambda progress: trials.warmup_cosine(progress, warmup)
        return peak, None

    def steps_per_epoch(self, samples):
        return max(1, training_steps_per_epoch(samples, self.settings.batch_size))

    def scoring_seconds(self, pictures, shifted=False):
        """About how long scoring a trained network on ``pictures`` takes,
        with room to spare: the batch-norm statistics recomputed on
        ``RECALIBRATION_PICTURES`` training pictures, then each picture and
        its mirror image (and with ``shifted``, both moved each way)
        predicted at ``PREDICT_RATE`` a second."""
        views = 6 if shifted else 2
        return (airbench.RECALIBRATION_PICTURES + views * pictures) / PREDICT_RATE

    def step_seconds(self, hp, x, y, steps=2):
        """A training step's seconds for the network of ``hp``, timed on a
        throwaway copy (after a first step that builds the graph)."""
        model = self.compile(self.build(hp), hp)
        data = trials.batches(x, y, self.settings.batch_size, self.settings.seed,
                              None, repeat=True, classes=self.classes())
        timer = trials.StepTimer()
        model.fit(data, epochs=1, steps_per_epoch=steps + 1, shuffle=False, verbose=0,
                  callbacks=[timer])
        return timer.step_seconds()

    def epochs_within(self, seconds, stepSeconds, samples, most):
        """As many epochs (to a tenth) as ``seconds`` pay for at
        ``stepSeconds`` a step, with time for building the network; at most
        ``most``, at least a tenth. (A schedule that runs late is kept to
        the clock by ``trials.ScheduleByProgress``.)"""
        usable = 0.97 * seconds - 10.0
        epochs = usable / max(1e-6, stepSeconds * self.steps_per_epoch(samples))
        return float(min(most, max(0.1, math.floor(epochs * 10) / 10)))

    def classes(self):
        return self.head["classes"] if self.head["kind"] == "classification" else None

    def train(self, hp, x, y, validation, epochs, deadline=None, verbose=2, callbacks=(),
              rates=None, copies=1):
        """Build the network of ``hp`` and train it for ``epochs`` (a
        fraction allowed) on ``x``, ``y``; stop at ``deadline`` (a
        ``time.monotonic()``); repeat a plateau trial's ``rates``
        (``trials.rate_changes``); train ``copies`` of it side by side when
        ``copies_train_alone``, the model returned predicting their mean.
        Returns ``(model, metrics)``: the validation loss and accuracy (or
        MAE), the epochs trained, the seconds, a plateau's rate changes."""
        start = time.perf_counter()
        perEpoch = self.steps_per_epoch(len(y))
        totalSteps = max(1, int(round(epochs * perEpoch)))
        fitEpochs = max(1, math.ceil(epochs))
        (model, kept) = (self.build(hp), None)
        if copies > 1 and self.copies_train_alone(hp):
            (model, kept) = side_by_side([model] + [self.build(hp) for _ in range(copies - 1)],
                                         model.name, dtype="float32")
            y = np.reshape(y, (-1, 1))   # compared with every copy's column
        model = self.compile(model, hp, steps=totalSteps)
        data = trials.batches(x, y, self.settings.batch_size, self.settings.seed,
                              self.augmentation(hp), repeat=True, classes=self.classes())
        timer = trials.StepTimer()
        (peak, rate) = self.rate(hp, epochs)
        if rate is None and rates:
            rate = trials.replayed_rate(rates, peak, epochs)
        callbacks = [timer, trials.ScheduleByProgress(peak, rate, totalSteps, deadline),
                     *callbacks]
        schedule = self.schedule(hp)
        validationData = None
        if schedule != "onecycle" and validation is not None:
            # judged on the loss averaged over a few epochs (trials.py)
            validationData = trials.batches(*validation, 256, classes=self.classes())
            callbacks.insert(0, trials.MeanValidationLoss())
            if schedule == "plateau" and self.settings.epochs is None:
                callbacks += trials.plateau_callbacks(self.settings.patience)
        history = model.fit(data, validation_data=validationData, epochs=fitEpochs,
                            steps_per_epoch=math.ceil(totalSteps / fitEpochs),
                            shuffle=False, callbacks=callbacks, verbose=verbose)
        if schedule == "onecycle":
            # the weights are now Keras' running average of the last steps';
            # batch norm's statistics must describe those weights
            airbench.recalibrate_batch_norm(model, x, self.settings.seed or 0)
        trained = timer.steps / perEpoch
        if validationData is not None:
            metrics = trials.averaged_metrics(history.history)
            metrics.update(trials.rate_changes(history.history.get("learning_rate", []),
                                               metrics["best_epoch"]))
        else:
            # scored once, at the end, on the weights it exports
            metrics = self.evaluate(hp, model, *validation) if validation is not None else {}
            metrics["best_epoch"] = float(trained)
        metrics.update({"epochs": float(trained), "seconds": time.perf_counter() - start,
                        "step_seconds": float(timer.step_seconds()), "samples": float(len(y))})
        return (model if kept is None else kept), metrics

    def predict(self, hp, model, x, shifted=False):
        """The model's outputs for ``x``. A classifier that learned mirrored
        pictures averages each picture with its mirror image; with
        ``shifted`` (the test, not the trials' scores) an airbench network
        also averages in the picture moved a pixel up-left and down-right,
        each with its mirror, at a quarter weight each pair (airbench's
        test-time augmentation: 90.75% became 90.96% on the hour-long
        search's network, for three times the predictions)."""
        chosen = trials.views(self.flip_averaged(hp), shifted and self.shift_averaged(hp))
        return trials.average_views(model, x, chosen)

    def evaluate(self, hp, model, x, y):
        """Validation loss and accuracy (or MAE) of ``predict``."""
        preds = self.predict(hp, model, x)
        if self.head["kind"] == "classification":
            smoothing = airbench.LABEL_SMOOTHING if self.schedule(hp) == "onecycle" \
                else LABEL_SMOOTHING
            return trials.classification_scores(preds, y, smoothing)
        return trials.regression_scores(preds.reshape(-1), np.asarray(y).reshape(-1),
                                        self.head["loss"])

