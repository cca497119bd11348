"""The opt-in improved recipes (``--recipe improved``), one home for all of
them. The scripts keep the posts' recipe as their default, line by line;
where a reader asks for the improved one, these functions supply the parts
that change. README, "Results", has what each one reaches and how it was
measured.

Nothing here uses pretrained weights: everything trains from scratch.
Keras is imported inside the functions, so that the scripts can read the
defaults below while parsing flags, before TensorFlow loads.
"""

# epochs and batch size of each script, per recipe (the flags' defaults)
DEFAULTS = {
    "mlp": {"posts": {"epochs": 200, "batch_size": 8},
            "improved": {"epochs": 200, "batch_size": 16}},
    # the CNN learns from pictures alone, where a bigger batch costs far
    # less per house on a CPU than four small ones
    "cnn": {"posts": {"epochs": 200, "batch_size": 8},
            "improved": {"epochs": 200, "batch_size": 32}},
    "mixed": {"posts": {"epochs": 200, "batch_size": 8},
              "improved": {"epochs": 200, "batch_size": 16}},
    "simple_nn": {"posts": {"epochs": 80, "batch_size": 32},
                  "improved": {"epochs": 80, "batch_size": 32}},
    "smallvggnet": {"posts": {"epochs": 75, "batch_size": 32},
                    "improved": {"epochs": 150, "batch_size": 32}},
}


def warmup_cosine(peak, steps, warmup_steps):
    """Learning rate rising linearly to ``peak``, then a cosine down to 0.

    The warm-up keeps the first large updates from knocking freshly
    initialised batch-norm statistics about; the cosine spends the last
    epochs at small learning rates, where most of the accuracy is gained.
    """
    import keras

    warmup_steps = min(warmup_steps, steps // 2)
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0, decay_steps=max(1, steps - warmup_steps),
        warmup_target=peak, warmup_steps=warmup_steps)


def smallvggnet(steps_per_epoch, epochs):
    """Optimizer and loss of the improved SmallVGGNet recipe.

    Adam with a 5-epoch warm-up and a cosine decay over twice the post's
    epochs (instead of SGD at 0.01 with a slow time-based decay), and
    categorical cross-entropy with label smoothing 0.1, which keeps the
    network from becoming over-confident on 2,250 training images. The
    post's augmentation is kept as it is. Returns ``(optimizer, loss)``.
    """
    import keras

    from .optimizers import Adam

    schedule = warmup_cosine(1e-3, steps_per_epoch * epochs, steps_per_epoch * 5)
    opt = Adam(learning_rate=schedule)
    loss = keras.losses.CategoricalCrossentropy(label_smoothing=0.1)
    return opt, loss


def simple_nn(width, height, depth, classes, steps_per_epoch, epochs):
    """Model, optimizer and batch transform of the improved simple-NN recipe.

    The post's 3072-1024-512-C shape with ReLU units and 30% dropout after
    each hidden layer (sigmoid units saturate and learn slowly; dropout
    keeps a 3.7-million-weight network from memorising 2,250 images),
    AdamW at 1e-4 with a short warm-up and a cosine decay, and every
    training batch randomly mirrored left-right: a mirrored cat is still a
    cat, and the flattened network cannot learn that by itself.
    Returns ``(model, optimizer, mix)``.
    """
    import keras

    from .optimizers import AdamW

    model = keras.Sequential(name="simple_nn")
    model.add(keras.Input(shape=(width * height * depth,)))
    for units in (1024, 512):
        model.add(keras.layers.Dense(units, activation="relu"))
        model.add(keras.layers.Dropout(0.3))
    model.add(keras.layers.Dense(classes, activation="softmax"))
    schedule = warmup_cosine(1e-4, steps_per_epoch * epochs, steps_per_epoch * 2)
    opt = AdamW(learning_rate=schedule)
    return model, opt, flip_flattened(width, height, depth)


def flip_flattened(width, height, depth):
    """Random left-right flips of flattened images, as a batch transform."""
    import tensorflow as tf

    def flip(images, labels):
        batch = tf.reshape(images, (-1, height, width, depth))
        batch = tf.image.random_flip_left_right(batch)
        return tf.reshape(batch, (-1, height * width * depth)), labels

    return flip


def house_ensemble(model, members):
    """Copies of the post's house-price model, trained side by side.

    The houses are few and noisy: retrain the post's model with another
    seed and its error moves by several points. Averaging the prices of
    several copies, each trained on its own from its own random start,
    keeps what they agree on and cancels much of that luck. The copies are
    fresh clones of ``model`` (same architecture, new weights) joined into
    one Keras model whose output has one column per copy; the posts' loss,
    mean absolute percentage error, averages over the last axis, so each
    copy is trained exactly as if alone, and one training step updates all.
    After training, ``average_members`` gives the model that predicts their
    mean. Returns ``(ensemble, loss)``: the loss is the post's mean absolute
    percentage error of each copy, averaged over the copies.
    """
    import keras

    clones = [model] + [keras.models.clone_model(model) for _ in range(members - 1)]
    # unique names for the copies (their layers may keep theirs)
    clones = [keras.Model(m.inputs if len(m.inputs) > 1 else m.inputs[0], m.outputs[0],
                          name=f"{model.name}_{i + 1}")
              for i, m in enumerate(clones)]
    inputs = [keras.Input(shape=t.shape[1:], name=f"input_{i + 1}")
              for i, t in enumerate(model.inputs)]
    feed = inputs if len(inputs) > 1 else inputs[0]
    outputs = keras.layers.Concatenate(name="members")([m(feed) for m in clones])
    ensemble = keras.Model(feed, outputs, name=f"{model.name}_ensemble")
    return ensemble, members_mape


def members_mape(y_true, y_pred):
    """Mean absolute percentage error of each column of ``y_pred`` (one per
    copy of the model) against the one true price, averaged over columns."""
    from keras import ops

    y_true = ops.reshape(ops.cast(y_true, y_pred.dtype), (-1, 1))
    errors = ops.abs(y_pred - y_true) / ops.maximum(ops.abs(y_true), 1e-7)
    return 100.0 * ops.mean(errors, axis=-1)


def average_members(ensemble):
    """The trained ensemble as a model that outputs the mean price."""
    import keras

    members = ensemble.get_layer("members").input
    mean = keras.layers.Average(name="mean_price")(members)
    return keras.Model(ensemble.inputs, mean, name=ensemble.name)
