"""A small network family that learns CIFAR-10-sized pictures fast, in stock Keras.

The fastest known CIFAR-10 training recipes (Keller Jordan's airbench
among them) share a shape: a 2x2 convolution over the pixels whose weights
are fixed to whiten the image patches, three groups of
CONV => POOL => BN => GELU => CONV => BN => GELU with wide late groups, a
max-pool down to one pixel, and one linear layer whose outputs are scaled
down; trained briefly with Nesterov SGD on a warm-up-then-down schedule,
label smoothing, random flips and small translations, and tested on each
picture averaged with its mirror image. This module builds that family
from Keras' own layers, with the depth (convolutions per group), widths,
activation and an optional residual connection as parameters, and the
pieces of its training that Keras does not have by name:

* ``whitening_kernel``: the stem's weights from the covariance of 2x2
  patches of training pictures (set after the model is built, so the
  saved file holds a plain ``Conv2D``);
* ``flip_and_translate``: the augmentation, vectorised over a batch;
* ``optimizer``: SGD with the recipe's rates, a stock Keras optimizer, and
  ``scale_bias_steps``: batch normalization's offsets at 64 times the rate.

Nothing here imports Keras at module level.
"""

import numpy as np

# the recipe's figures, per 1,024 pictures (airbench's conventions): a
# loss summed over a batch, Nesterov momentum 0.85, the learning rate and
# the weight decay divided by 1 + 1/(1 - momentum)
MOMENTUM = 0.85
LR_PER_1024 = 11.5
WEIGHT_DECAY_PER_1024 = 0.0153
LABEL_SMOOTHING = 0.2
WARMUP_FRACTION = 0.23
BN_MOMENTUM = 0.6
OUTPUT_SCALE = 1 / 9
WHITEN_PATCH = 2
TRANSLATE = 2
BIAS_SCALE = 64.0
RECALIBRATION_PICTURES = 10000

DEFAULTS = {"widths": (64, 256, 256), "convs": 2, "activation": "gelu", "residual": False}


def whitening_kernel(images, eps=5e-4, patch=WHITEN_PATCH):
    """The stem's kernel, ``(patch, patch, 3, 2 * 3 * patch**2)``: each
    filter is an eigenvector of the covariance of the pictures' patches,
    scaled by one over the square root of its eigenvalue, and its negative,
    so the stem's outputs (before the activation) are uncorrelated with
    unit variance. ``images``: normalised pictures, ``(n, h, w, 3)``."""
    images = np.asarray(images, dtype="float64")
    (n, h, w, c) = images.shape
    windows = np.lib.stride_tricks.sliding_window_view(images, (patch, patch), axis=(1, 2))
    # (n, h', w', c, ph, pw) -> one row per patch, ordered (ph, pw, c) as
    # a Keras kernel is
    rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, patch * patch * c)
    covariance = rows.T @ rows / len(rows)
    (values, vectors) = np.linalg.eigh(covariance)
    order = np.argsort(values)[::-1]
    scaled = vectors[:, order] / np.sqrt(values[order] + eps)
    kernel = np.concatenate([scaled, -scaled], axis=1)
    return kernel.reshape(patch, patch, c, -1).astype("float32")


def dirac(kernel):
    """A 3x3 kernel whose first ``min(in, out)`` filters pass their input
    channel through (added to the random start): a deep stack starts close
    to the identity."""
    kernel = np.array(kernel)
    (kh, kw, cin, cout) = kernel.shape
    for i in range(min(cin, cout)):
        kernel[:, :, i, i] = 0.0
        kernel[kh // 2, kw // 2, i, i] = 1.0
    return kernel


def features(keras, inputs, mean, std, widths=DEFAULTS["widths"], convs=DEFAULTS["convs"],
             activation=DEFAULTS["activation"], residual=DEFAULTS["residual"]):
    """The network's body on pictures in [0, 1]: normalised with the
    training pictures' per-channel ``mean`` and ``std`` (a stock
    ``Normalization``), the whitening stem, one group per width (``convs``
    convolutions, the first followed by a 2x2 max-pool; with ``residual``
    the group's later convolutions add their input back), then a max-pool
    to one pixel. The stem's weights and the identity starts are set by
    ``initialise``."""
    layers = keras.layers
    channels = int(inputs.shape[-1])
    x = layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                             name="normalise")(inputs)
    x = layers.Conv2D(2 * channels * WHITEN_PATCH ** 2, WHITEN_PATCH, padding="valid",
                      trainable=False, name="whiten")(x)
    x = layers.Activation(activation)(x)
    for (g, width) in enumerate(widths):
        for k in range(convs):
            y = layers.Conv2D(width, 3, padding="same", use_bias=False,
                              name=f"group{g + 1}_conv{k + 1}")(x)
            if k == 0:
                y = layers.MaxPooling2D(2)(y)
            y = layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=1e-5, scale=False)(y)
            y = layers.Activation(activation)(y)
            x = layers.Add()([x, y]) if (residual and k > 0) else y
    return layers.GlobalMaxPooling2D()(x)


def classifier_head(keras, x, classes):
    """One linear layer without bias, its outputs scaled by 1/9 (a softer
    start for the softmax), then the softmax."""
    layers = keras.layers
    x = layers.Dense(classes, use_bias=False, name="logits")(x)
    x = layers.Rescaling(OUTPUT_SCALE, name="scale_logits")(x)
    return layers.Activation("softmax", dtype="float32", name="classes")(x)


def initialise(model, images):
    """Set the stem to whiten ``images`` (pictures in [0, 1], normalised by
    the model's first layer) and start each group's convolutions at the
    identity. ``images``: a few thousand training pictures."""
    normalise = model.get_layer("normalise")
    normalised = np.asarray(normalise(np.asarray(images, dtype="float32")), dtype="float32")
    whiten = model.get_layer("whiten")
    kernel = whitening_kernel(normalised)
    whiten.set_weights([kernel, np.zeros(kernel.shape[-1], dtype="float32")])
    for layer in model.layers:
        if layer.name.startswith("group"):
            layer.set_weights([dirac(layer.get_weights()[0])])


def peak_rate(batchSize, peakScale=1.0):
    """The peak learning rate for Keras' mean loss over ``batchSize``
    pictures: the recipe's, given for a loss summed over 1,024, scaled."""
    return LR_PER_1024 / (1024 * (1 + 1 / (1 - MOMENTUM))) * batchSize * peakScale


def onecycle(progress):
    """The learning rate, as a fraction of the peak, ``progress`` (0 to 1)
    of the way through training: from a fifth of the peak up to the peak
    over the first 23%, then straight down to 7% of it."""
    if progress < WARMUP_FRACTION:
        return 0.2 + 0.8 * progress / WARMUP_FRACTION
    return 1.0 - 0.93 * min(1.0, (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION))


def ema_momentum(steps):
    """How much of the weights' running average each step keeps: 0.99 (an
    average over about the last hundred steps) for a long run, less for a
    short one, so that the average covers the last twentieth of training
    rather than the random start (Keras' average begins at the initial
    weights; a one-epoch trial averaged at 0.99 would be mostly them)."""
    return float(min(0.99, max(0.0, 1.0 - 20.0 / max(1, steps))))


def optimizer(keras, batchSize, peakScale=1.0, steps=1000):
    """Nesterov SGD at the peak rate (``onecycle`` moves it while training).
    The recipe's weight decay is added to the gradient before the momentum
    (PyTorch's SGD), which makes each step's decay 1/(1 - momentum) times
    larger; Keras' decay is decoupled from the momentum and multiplied by
    the rate, so it is scaled up by that much and divided by the peak.
    The weights kept are a running average of the last steps' (Keras'
    ``use_ema``, ``ema_momentum`` for a run of ``steps``)."""
    peak = peak_rate(batchSize, peakScale)
    decayPerStep = (WEIGHT_DECAY_PER_1024 * batchSize / (1024 * (1 + 1 / (1 - MOMENTUM)))
                    / (1 - MOMENTUM))
    return keras.optimizers.SGD(learning_rate=peak, momentum=MOMENTUM, nesterov=True,
                                weight_decay=decayPerStep / peak, use_ema=True,
                                ema_momentum=ema_momentum(steps))


def scale_bias_steps(model, scale=BIAS_SCALE):
    """Give batch normalization's offsets ``scale`` times the learning rate
    of the other weights (the recipe's), by scaling their gradients as the
    compiled optimizer applies them. SGD's steps are linear in the
    gradient, and Keras' weight decay does not depend on it, so this is the
    recipe's per-parameter rate. The optimizer keeps its class and its
    configuration, so the saved model is stock Keras."""
    import keras

    offsets = {id(layer.beta) for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization) and layer.center}
    optimizer = model.optimizer
    apply = optimizer.apply

    def apply_scaled(grads, trainable_variables=None):
        variables = trainable_variables if trainable_variables is not None \
            else model.trainable_variables
        grads = [g * scale if id(v) in offsets else g for (g, v) in zip(grads, variables)]
        return apply(grads, variables)

    optimizer.apply = apply_scaled
    return model


def recalibrate_batch_norm(model, images, seed=0, pictures=RECALIBRATION_PICTURES,
                           batchSize=500):
    """Recompute every batch normalization's statistics for the weights the
    model now holds, from up to ``pictures`` of ``images`` (drawn with
    ``seed``, as they were loaded: uint8 or in [0, 1]), each layer's mean
    and variance the average over the batches, by pictures. The batches are drawn
    at random, like training's: a batch of one class would understate the
    variance.

    Keras' weight average (``use_ema``) replaces the weights when ``fit``
    ends, but batch normalization's running statistics are not weights the
    optimizer averages: they still describe the last steps' weights, and
    followed them at momentum 0.6, over the last two or three batches. On
    the hour-long CIFAR-10 search's network this took the test accuracy
    from 90.20% to 90.75% (bench/README.md). The layers keep their
    momentum, so the saved model is unchanged but for the statistics."""
    import keras

    from .trials import batches

    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms or len(images) == 0:
        return model
    chosen = np.random.default_rng(seed).permutation(len(images))[:pictures]
    kept = [layer.momentum for layer in norms]
    seen = 0
    try:
        for batch in batches(np.asarray(images)[chosen], None, batchSize):
            # momentum seen / (seen + n): each statistic becomes the mean of
            # the batches' statistics, each weighted by its pictures
            n = int(batch.shape[0])
            for layer in norms:
                layer.momentum = seen / (seen + n)
            model(batch, training=True)
            seen += n
    finally:
        for (layer, momentum) in zip(norms, kept):
            layer.momentum = momentum
    return model


def flip_and_translate(images, seed, translate=TRANSLATE):
    """A batch of pictures, each flipped left-right with probability 1/2 and
    shifted by up to ``translate`` pixels each way (the edges mirrored), in
    a few batched TensorFlow ops: the CPU prepares the next batch in a
    fraction of a training step."""
    import tensorflow as tf

    shape = tf.shape(images)
    (n, h, w) = (shape[0], shape[1], shape[2])
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, "int64"), 3)
    flip = tf.random.stateless_uniform([n], seeds[0]) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)
    if not translate:
        return images
    t = translate
    padded = tf.pad(images, [[0, 0], [t, t], [t, t], [0, 0]], mode="REFLECT")
    dy = tf.random.stateless_uniform([n], seeds[1], 0, 2 * t + 1, dtype="int32")
    dx = tf.random.stateless_uniform([n], seeds[2], 0, 2 * t + 1, dtype="int32")
    rows = dy[:, None] + tf.range(h)[None, :]
    cols = dx[:, None] + tf.range(w)[None, :]
    images = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(images, cols, axis=2, batch_dims=1)
