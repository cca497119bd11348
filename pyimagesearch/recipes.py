"""This repository's improved recipes (``--recipe improved``), apart from the
posts' code.

The scripts train the posts' recipe, line by line. With ``--recipe
improved`` they hand the same data to ``train_improved`` instead, one
interface for every script::

    (model, H) = recipes.train_improved("smallvggnet", build, (trainX, trainY),
                                        (valX, valY), EPOCHS, BS, seed, callbacks)

``build`` makes the post's network (fresh weights) for the recipes that
start from it; ``(valX, valY)`` is what the script validates on (the test
split as in the posts, or data held out with ``--val-split``). The result
is a trained model that predicts as the post's does (one price per house,
or class probabilities), and Keras' History. Everything trains from
scratch; README, "Results", has what each recipe reaches.
"""

import math
from collections import namedtuple
from functools import partial

import keras
import numpy as np

from . import training
from .cli import fit_verbosity
from .fast import use_fused_kernels
from .models import side_by_side

# copies of the post's house-price model averaged by the improved recipe
HOUSE_MEMBERS = {"mlp": 8, "cnn": 4, "mixed": 4}


# what every recipe trains with: the script's epochs, batch size, seed and
# fit callbacks (Ctrl-C, --val-split, --resume-dir)
Settings = namedtuple("Settings", "epochs batch_size seed callbacks")


def train_improved(name, build, train, validation, epochs, batchSize, seed, callbacks,
                   augment=None):
    """Build, compile and train the improved recipe of script ``name``
    ("mlp", "cnn", "mixed", "simple_nn" or "smallvggnet") for ``epochs`` on
    batches of ``batchSize``; return ``(model, history)``. ``augment`` is
    the post's augmentation of the training batches (SmallVGGNet)."""
    run = Settings(epochs, batchSize, seed, callbacks)
    if name in HOUSE_MEMBERS:
        return _house_ensemble(build, HOUSE_MEMBERS[name], train, validation, run)
    if name == "smallvggnet":
        return _smallvggnet(build, train, validation, run, augment)
    return _simple_nn(build, train, validation, run)


def _fit(model, data, validation, run, steps_per_epoch=None):
    """``model.fit`` as the scripts call it, on the pipeline in training.py,
    with the fused kernels of fast.py."""
    use_fused_kernels(model)
    return model.fit(data, validation_data=training.batches(*validation, batch_size=256),
                     epochs=run.epochs, steps_per_epoch=steps_per_epoch,
                     callbacks=run.callbacks, verbose=fit_verbosity())


def warmup_cosine(peak, steps, warmup_steps):
    """Learning rate rising linearly to ``peak``, then a cosine down to 0.

    The warm-up keeps the first large updates from knocking freshly
    initialised batch-norm statistics about; the cosine spends the last
    epochs at small learning rates, where most of the accuracy is gained.
    ``steps`` must count the training that really happens (after any
    hold-out), or the schedule stops short of its end.
    """
    warmup_steps = min(warmup_steps, steps // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, steps - warmup_steps),
        warmup_target=peak, warmup_steps=warmup_steps)


# --------------------------------------------------------------------------
# House prices: several copies of the post's model, averaged


def _house_ensemble(build, members, train, validation, run):
    """Copies of the post's house-price model, trained side by side.

    The houses are few and noisy: retrain the post's model with another
    seed and its error moves by several points. Averaging the prices of
    several copies, each trained on its own from its own random start,
    keeps what they agree on and cancels much of that luck. The copies are
    joined into one Keras model whose output has one column per copy; the
    post's loss, mean absolute percentage error, compares each column with
    the one true price and averages over the columns, so each copy is
    trained exactly as if alone (same optimizer, learning rate and decay as
    the post), and one step updates all. The model returned predicts their
    mean.
    """
    copies = [build() for _ in range(members)]
    (ensemble, mean) = side_by_side(copies, copies[0].name)

    # prices as a column, which the loss compares with every member's column
    (trainX, trainY) = (train[0], np.reshape(train[1], (-1, 1)))
    validation = (validation[0], np.reshape(validation[1], (-1, 1)))
    steps = training.steps_per_epoch(len(trainY), run.batch_size)
    ensemble.compile(loss="mean_absolute_percentage_error",
                     optimizer=keras.optimizers.Adam(
                         learning_rate=training.time_based_decay(1e-3, 1e-3 / 200)),
                     steps_per_execution=steps)
    H = _fit(ensemble, training.batches(trainX, trainY, run.batch_size, shuffle=True,
                                        seed=run.seed), validation, run)
    return mean, H


# --------------------------------------------------------------------------
# Image classifiers


def _simple_nn(build, train, validation, run):
    """The post's 3072-1024-512-C shape with ReLU units and 30% dropout
    after each hidden layer (sigmoid units saturate and learn slowly;
    dropout keeps a 3.7-million-weight network from memorising 2,250
    images), AdamW at 1e-4 with a short warm-up and a cosine decay, and
    every training batch randomly mirrored left-right: a mirrored cat is
    still a cat, and the flattened network cannot learn that by itself."""
    post = build()
    (inputs, classes) = (post.inputs[0].shape[-1], post.outputs[0].shape[-1])
    side = math.isqrt(inputs // 3)
    model = keras.Sequential(name="simple_nn")
    model.add(keras.Input(shape=(inputs,)))
    for units in (1024, 512):
        model.add(keras.layers.Dense(units, activation="relu"))
        model.add(keras.layers.Dropout(0.3))
    model.add(keras.layers.Dense(classes, activation="softmax"))

    (trainX, trainY) = train
    steps = training.steps_per_epoch(len(trainY), run.batch_size)
    schedule = warmup_cosine(1e-4, steps * run.epochs, steps * 2)
    model.compile(loss="categorical_crossentropy",
                  optimizer=keras.optimizers.AdamW(learning_rate=schedule),
                  metrics=["accuracy"], steps_per_execution=steps)
    data = training.batches(trainX, trainY, run.batch_size, shuffle=True, seed=run.seed,
                            mix=partial(_flip_flattened, shape=(side, side, 3)))
    return model, _fit(model, data, validation, run)


def _flip_flattened(images, labels, shape):
    """Random left-right flips of a batch of flattened images."""
    import tensorflow as tf

    batch = tf.image.random_flip_left_right(tf.reshape(images, (-1,) + shape))
    return tf.reshape(batch, (-1, math.prod(shape))), labels


def _smallvggnet(build, train, validation, run, augment):
    """The post's SmallVGGNet and augmentation with Adam, a 5-epoch warm-up
    and a cosine decay over twice the post's epochs (instead of SGD at 0.01
    with a slow time-based decay), and label smoothing 0.1, which keeps the
    network from becoming over-confident on 2,250 training images."""
    model = build()
    (trainX, trainY) = train
    steps = training.steps_per_epoch(len(trainY), run.batch_size, full_batches=True)
    schedule = warmup_cosine(1e-3, steps * run.epochs, steps * 5)
    model.compile(loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1),
                  optimizer=keras.optimizers.Adam(learning_rate=schedule), metrics=["accuracy"])
    data = training.batches(trainX, trainY, run.batch_size, shuffle=True, seed=run.seed,
                            augment=augment, repeat=True)
    return model, _fit(model, data, validation, run, steps_per_epoch=steps)
