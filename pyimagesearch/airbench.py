"""The network family of the fastest known CIFAR-10 recipes (Keller Jordan's
airbench), built from Keras' own layers.

A 2x2 convolution whose fixed weights whiten the pictures' patches, three
groups of CONV => POOL => BN => GELU => CONV => BN => GELU with wide late
groups, a max-pool to one pixel and one linear layer scaled down; trained
briefly, the filters by Muon and the rest by Nesterov SGD, up and down,
with label smoothing, flips and small translations, and tested on each
picture averaged with its mirror image.
Here: the family (depth, widths, activation, a residual connection as
parameters) and the parts of its training Keras has no name for.
"""

import numpy as np

# the recipe's figures, per 1,024 pictures (airbench's conventions): a loss
# summed over a batch, Nesterov momentum 0.85, the learning rate and the
# weight decay divided by 1 + 1/(1 - momentum)
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
WIDTHS = {"64-256-256": (64, 256, 256), "32-128-128": (32, 128, 128),
          "96-384-384": (96, 384, 384), "64-128-256": (64, 128, 256)}
DEFAULT_WIDTHS = "64-256-256"   # the recipe's


def whitening_kernel(images, eps=5e-4, patch=WHITEN_PATCH):
    """The stem's kernel, ``(patch, patch, 3, 2 * 3 * patch**2)``: the
    eigenvectors of the covariance of the pictures' patches, each scaled by
    one over the square root of its eigenvalue, and their negatives, so the
    stem's outputs are uncorrelated with unit variance."""
    images = np.asarray(images, dtype="float64")
    windows = np.lib.stride_tricks.sliding_window_view(images, (patch, patch), axis=(1, 2))
    # one row per patch, ordered (row, column, channel) as a Keras kernel is
    rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(-1, patch * patch * images.shape[-1])
    (values, vectors) = np.linalg.eigh(rows.T @ rows / len(rows))
    order = np.argsort(values)[::-1]
    scaled = vectors[:, order] / np.sqrt(values[order] + eps)
    kernel = np.concatenate([scaled, -scaled], axis=1)
    return kernel.reshape(patch, patch, images.shape[-1], -1).astype("float32")


def dirac(kernel):
    """A 3x3 kernel whose first filters also pass their input channel
    through: a deep stack starts close to the identity."""
    kernel = np.array(kernel)
    for i in range(min(kernel.shape[2], kernel.shape[3])):
        kernel[:, :, i, i] = 0.0
        kernel[kernel.shape[0] // 2, kernel.shape[1] // 2, i, i] = 1.0
    return kernel


def features(keras, inputs, mean, std, widths=WIDTHS[DEFAULT_WIDTHS], convs=2,
             activation="gelu", residual=False):
    """The body on pictures in [0, 1]: normalised by the training pictures'
    per-channel ``mean`` and ``std``, the whitening stem, one group per width
    (``convs`` convolutions, a max-pool after the first; with ``residual``
    the later ones add their input back), a max-pool to one pixel."""
    layers = keras.layers
    x = layers.Normalization(mean=list(mean), variance=[s * s for s in std],
                             name="normalise")(inputs)
    x = layers.Conv2D(2 * int(inputs.shape[-1]) * WHITEN_PATCH ** 2, WHITEN_PATCH,
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
    x = keras.layers.Dense(classes, use_bias=False, name="logits")(x)
    x = keras.layers.Rescaling(OUTPUT_SCALE, name="scale_logits")(x)
    return keras.layers.Activation("softmax", dtype="float32", name="classes")(x)


def initialise(model, images):
    """Set the stem to whiten ``images`` (a few thousand training pictures in
    [0, 1]) and start each group's convolutions at the identity; the saved
    file still holds plain ``Conv2D`` layers."""
    normalised = np.asarray(model.get_layer("normalise")(np.asarray(images, "float32")))
    kernel = whitening_kernel(normalised)
    model.get_layer("whiten").set_weights([kernel, np.zeros(kernel.shape[-1], "float32")])
    for layer in model.layers:
        if layer.name.startswith("group"):
            layer.set_weights([dirac(layer.get_weights()[0])])


def peak_rate(batch_size, scale=1.0):
    """The peak learning rate for Keras' mean loss over ``batch_size``
    pictures: the recipe's, given for a loss summed over 1,024, times
    ``scale``."""
    return LR_PER_1024 / (1024 * (1 + 1 / (1 - MOMENTUM))) * batch_size * scale


def onecycle(progress):
    """The rate as a fraction of the peak, ``progress`` of the way through
    training: from a fifth up to the peak over the first 23%, then straight
    down to 7% of it."""
    if progress < WARMUP_FRACTION:
        return 0.2 + 0.8 * progress / WARMUP_FRACTION
    return 1.0 - 0.93 * min(1.0, (progress - WARMUP_FRACTION) / (1 - WARMUP_FRACTION))


def ema_momentum(steps):
    """The weights' running average keeps 0.99 a step for a long run and
    less for a short one, so that it covers the last twentieth of training,
    not the random start (Keras' average begins at the initial weights)."""
    return float(min(0.99, max(0.0, 1.0 - 20.0 / max(1, steps))))


def optimizer(keras, batch_size, scale=1.0, steps=1000):
    """Nesterov SGD at the peak rate (``onecycle`` moves it), keeping a
    running average of the weights (``use_ema``). The recipe adds its weight
    decay to the gradient before the momentum, as PyTorch's SGD does, which
    makes each step's decay 1/(1 - momentum) times larger; Keras' decay is
    decoupled and multiplied by the rate, hence the scaling."""
    peak = peak_rate(batch_size, scale)
    decay = WEIGHT_DECAY_PER_1024 * batch_size / (1024 * (1 + 1 / (1 - MOMENTUM)))
    return keras.optimizers.SGD(learning_rate=peak, momentum=MOMENTUM, nesterov=True,
                                weight_decay=decay / (1 - MOMENTUM) / peak, use_ema=True,
                                ema_momentum=ema_momentum(steps))


def scale_bias_steps(model, scale=BIAS_SCALE):
    """Batch normalization's offsets step at ``scale`` times the rate (the
    recipe's), by scaling their gradients as the optimizer applies them:
    SGD's steps are linear in the gradient and Keras' decay does not depend
    on it. The optimizer keeps its class and configuration: the saved model
    is stock Keras."""
    import keras

    offsets = {id(layer.beta) for layer in model.layers
               if isinstance(layer, keras.layers.BatchNormalization) and layer.center}
    apply = model.optimizer.apply

    def apply_scaled(grads, trainable_variables=None):
        variables = model.trainable_variables if trainable_variables is None \
            else trainable_variables
        return apply([g * scale if id(v) in offsets else g for (g, v) in zip(grads, variables)],
                     variables)

    model.optimizer.apply = apply_scaled
    return model


# Muon (airbench94_muon's optimizer for its 3x3 filters): each filter bank
# steps along its Nesterov momentum made orthogonal, a fixed length a step,
# the bank kept at norm sqrt(filters); its figures, at batches of 2,000
MUON_RATE = 0.24
MUON_BATCH = 2000
MUON_MOMENTUM = 0.6
NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)


def muon_rate(batch_size):
    """Muon's peak rate for ``batch_size`` pictures a step: the recipe's
    0.24 at 2,000 times the square root of the batch's share of 2,000 (a
    fixed-length step's noise falls as the root of the batch; measured in
    bench/README.md)."""
    return MUON_RATE * (batch_size / MUON_BATCH) ** 0.5


def orthogonalised(matrix, steps=3):
    """``matrix`` with its singular values pushed towards 1 (Muon's quintic
    Newton-Schulz iteration, in bfloat16), its singular vectors kept."""
    import tensorflow as tf

    (a, b, c) = NEWTON_SCHULZ
    x = tf.cast(matrix, "bfloat16")
    x = x / (tf.norm(x) + 1e-7)
    tall = matrix.shape[0] > matrix.shape[1]
    if tall:
        x = tf.transpose(x)
    for _ in range(steps):
        gram = tf.matmul(x, x, transpose_b=True)
        x = a * x + tf.matmul(b * gram + c * tf.matmul(gram, gram), x)
    return tf.transpose(x) if tall else x


def muon_steps(model, rate=MUON_RATE, momentum=MUON_MOMENTUM):
    """The trainable convolutions' kernels step by Muon at ``rate`` times the
    optimizer's schedule (its rate over the rate it has now, its peak: call
    this right after ``compile``), the rest by the optimizer, which still
    averages every weight (``use_ema``). As ``scale_bias_steps``, only the
    optimizer's ``apply`` changes: the saved model and its optimizer stay
    stock Keras."""
    import keras
    import tensorflow as tf

    kernels = [layer.kernel for layer in model.layers
               if isinstance(layer, keras.layers.Conv2D) and layer.trainable]
    buffers = {id(k): tf.Variable(tf.zeros(k.shape), trainable=False) for k in kernels}
    optimizer = model.optimizer
    # the recipe's Muon does not decay them: their norm is set each step
    # (Keras keeps one such list: this one replaces any before it)
    optimizer.exclude_from_weight_decay(var_list=kernels)
    peak = float(optimizer.learning_rate.numpy())
    apply = optimizer.apply

    def step(kernel, grad, schedule):
        buffer = buffers[id(kernel)]
        buffer.assign(momentum * buffer + grad)
        update = grad + momentum * buffer
        filters = kernel.shape[-1]
        # PyTorch's (filters, inputs * 9) matrix of the bank
        matrix = tf.transpose(tf.reshape(update, (-1, filters)))
        update = tf.reshape(tf.transpose(orthogonalised(matrix)), kernel.shape)
        kernel.assign(kernel * (filters ** 0.5 / tf.norm(kernel)))
        kernel.assign_sub(rate * schedule * tf.cast(update, kernel.dtype))

    def apply_muon(grads, trainable_variables=None):
        variables = model.trainable_variables if trainable_variables is None \
            else trainable_variables
        schedule = tf.cast(optimizer.learning_rate, "float32") / peak
        grads = list(grads)
        for (i, (g, v)) in enumerate(zip(grads, variables)):
            if id(v) in buffers:
                step(v, tf.cast(g, "float32"), schedule)
                # the optimizer keeps averaging it, and its own step is nil
                grads[i] = tf.zeros_like(g)
        return apply(grads, variables)

    optimizer.apply = apply_muon
    return model


def recalibrate_batch_norm(model, images, seed=0, pictures=RECALIBRATION_PICTURES,
                           batch_size=500):
    """Recompute every batch normalization's statistics for the weights the
    model holds now, from up to ``pictures`` of ``images`` drawn at random
    with ``seed``: each layer's mean and variance become the average of the
    batches', by pictures.

    Keras' weight average (``use_ema``) replaces the weights when ``fit``
    ends, but the running statistics still describe the last steps' weights
    (momentum 0.6: the last two or three batches); recomputed, they match
    the averaged weights (bench/README.md measures what that gains)."""
    import keras

    from .training import batches

    norms = [layer for layer in model.layers
             if isinstance(layer, keras.layers.BatchNormalization)]
    if not norms or len(images) == 0:
        return model
    chosen = np.random.default_rng(seed).permutation(len(images))[:pictures]
    kept = [layer.momentum for layer in norms]
    seen = 0
    try:
        for batch in batches(np.asarray(images)[chosen], batch_size=batch_size):
            n = int(batch.shape[0])
            # momentum seen / (seen + n): the mean of the batches so far
            for layer in norms:
                layer.momentum = seen / (seen + n)
            model(batch, training=True)
            seen += n
    finally:
        for (layer, momentum) in zip(norms, kept):
            layer.momentum = momentum
    return model


def flip_and_translate(images, seed, translate=TRANSLATE):
    """Each picture of a batch mirrored with probability 1/2 and moved by up
    to ``translate`` pixels each way (edges mirrored), in a few batched
    operations."""
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
    images = tf.gather(padded, dy[:, None] + tf.range(h)[None, :], axis=1, batch_dims=1)
    return tf.gather(images, dx[:, None] + tf.range(w)[None, :], axis=2, batch_dims=1)


# --------------------------------------------------------------------------
# The test: each picture averaged with its mirror image and with both moved a
# pixel up-left and down-right, as airbench tests (bench/README.md)


def views(mirrored, shifted):
    """``(shift, mirrored, weight)`` of each view a prediction averages."""
    shifts = [(0, 0.5), (-1, 0.25), (1, 0.25)] if shifted else [(0, 1.0)]
    flips = [(False, 0.5), (True, 0.5)] if mirrored else [(False, 1.0)]
    return [(s, f, w * v) for (s, w) in shifts for (f, v) in flips]


def averaged(model, x, chosen):
    """``model``'s outputs for ``x`` averaged over the views ``chosen``."""
    from .training import batches

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
