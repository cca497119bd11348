"""pyimagesearch/fast.py: Keras' BatchNormalization and optimizers with
the fused training steps of ``use_fused_kernels`` compute what they compute
without them (outputs, gradients, moving averages, weights after training),
run the fused kernels, and a model trained with them is saved with Keras'
own classes only."""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch import fast, storage, training

# --------------------------------------------------------------------------
# BatchNormalization


def fused_layer(**kwargs):
    """Keras' BatchNormalization with the fused training step."""
    layer = keras.layers.BatchNormalization(**kwargs)
    fast.use_fused_kernels(keras.Sequential([layer]))
    return layer


def fused(opt, **kwargs):
    """``opt`` as ``use_fused_kernels(model, **kwargs)`` leaves a compiled
    model's optimizer."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=opt, loss="mse")
    fast.use_fused_kernels(model, **kwargs)
    return opt


def pair(shape):
    """Keras' layer with the fused step and without, built for ``shape``,
    with the same non-trivial weights."""
    ours = fused_layer(momentum=0.9)
    theirs = keras.layers.BatchNormalization(momentum=0.9)
    channels = shape[-1]
    for layer in (ours, theirs):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, channels))
        layer.beta.assign(np.arange(channels, dtype="float32"))
        layer.moving_mean.assign(np.full(channels, 0.3))
        layer.moving_variance.assign(np.full(channels, 1.7))
    return ours, theirs


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_batch_norm_training_matches_keras(shape):
    x = tf.constant(np.random.default_rng(0).normal(2.0, 3.0, shape).astype("float32"))
    ours, theirs = pair(shape)
    grads = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(y ** 3)  # a loss whose gradient depends on y
        grads.append((y, *tape.gradient(loss, [x, layer.gamma, layer.beta])))
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)
    # the moving averages moved, and moved the same way
    assert not np.allclose(ours.moving_mean, 0.3)
    np.testing.assert_allclose(ours.moving_mean, theirs.moving_mean, rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-5)


def op_types(fn, *args):
    graph = tf.function(fn).get_concrete_function(*args).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_batch_norm_training_runs_the_fused_kernel(shape):
    ours, theirs = pair(shape)
    x = tf.zeros(shape)
    assert "FusedBatchNormV3" in op_types(lambda t: ours(t, training=True), x)
    assert "FusedBatchNormV3" not in op_types(lambda t: theirs(t, training=True), x)
    assert "FusedBatchNormV3" not in op_types(lambda t: ours(t, training=False), x)


def test_batch_norm_inference_and_frozen_layer_use_the_moving_averages():
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 3, 3, 2)).astype("float32"))
    ours, theirs = pair(x.shape)
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)
    ours.trainable = theirs.trainable = False  # fine-tuning: Keras then normalizes as in inference
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-5)
    np.testing.assert_allclose(ours.moving_mean, 0.3)


def test_batch_norm_bfloat16_inputs_give_bfloat16_outputs():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = fused_layer()
        y = layer(tf.random.normal((8, 4, 4, 3)), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == tf.bfloat16
    assert layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(tf.reduce_mean(tf.cast(y, "float32"), axis=(0, 1, 2)), 0, atol=0.05)


# --------------------------------------------------------------------------
# Optimizers


def train(optimizer, seed=3, epochs=3, norm=False, fuse=False):
    """A small sigmoid network trained on fixed random data (with ``fuse``,
    on the fused kernels); the model."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 20)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 64)]
    layers = [keras.Input((20,)), keras.layers.Dense(16, activation="sigmoid")]
    if norm:
        layers.append(keras.layers.BatchNormalization())
    model = keras.Sequential(layers + [keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    if fuse:
        fast.use_fused_kernels(model)
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return model


@functools.lru_cache(maxsize=1)
def start_weights():
    """The weights ``train`` starts from (a learning rate of 0 keeps them)."""
    return tuple(train(keras.optimizers.SGD(learning_rate=0.0), epochs=1).get_weights())


def assert_trained_like(ours, theirs, **tolerance):
    """Training moved the weights, and moved them as Keras' optimizer does."""
    for a, b, c in zip(ours.get_weights(), theirs.get_weights(), start_weights()):
        assert not np.allclose(a, c, rtol=1e-3, atol=1e-3)
        if tolerance:
            np.testing.assert_allclose(a, b, **tolerance)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weights_equal_keras_sgd(momentum):
    schedule = training.time_based_decay(0.5, 0.01)
    assert_trained_like(train(keras.optimizers.SGD(learning_rate=schedule, momentum=momentum),
                              fuse=True),
                        train(keras.optimizers.SGD(learning_rate=schedule, momentum=momentum)))


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", {}), ("Adam", {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 0.05})])
def test_weights_match_keras_adam(name, kwargs):
    # the same update to float rounding (1 - beta_1 is rounded once more),
    # over 24 steps of a decaying learning rate
    schedule = training.time_based_decay(0.01, 0.01)
    ours = train(getattr(keras.optimizers, name)(learning_rate=schedule, **kwargs), fuse=True)
    theirs = train(getattr(keras.optimizers, name)(learning_rate=schedule, **kwargs))
    assert_trained_like(ours, theirs, rtol=1e-4, atol=1e-6)


def update_ops(optimizer):
    weights = keras.Variable(np.ones((4, 3), "float32"))
    optimizer.build([weights])
    return op_types(lambda g: optimizer.apply_gradients([(g, weights)]), tf.ones((4, 3)))


def test_plain_steps_run_the_fused_kernels():
    opt = keras.optimizers
    assert "ResourceApplyGradientDescent" in update_ops(fused(opt.SGD(0.1)))
    assert "ResourceApplyGradientDescent" not in update_ops(opt.SGD(0.1))
    assert "ResourceApplyGradientDescent" not in update_ops(fused(opt.SGD(0.1, momentum=0.9)))
    assert "ResourceApplyAdam" in update_ops(fused(opt.Adam(0.1)))
    assert "ResourceApplyAdam" in update_ops(fused(opt.AdamW(0.1)))
    assert "ResourceApplyAdam" not in update_ops(opt.Adam(0.1))
    assert "ResourceApplyAdam" not in update_ops(fused(opt.Adam(0.1, amsgrad=True)))
    assert "ResourceApplyAdam" not in update_ops(fused(opt.Adam(0.1), optimizer=False))


def test_stock_steps_undo_what_training_bound():
    """A model trained on the fused kernels, airbench's bias-scaled steps
    then bound too, runs Keras' own code again after ``stock_steps``: nothing bound
    on its batch norm or its optimizer, their methods their classes'."""
    from pyimagesearch import airbench

    model = train(keras.optimizers.SGD(0.1), epochs=1, norm=True, fuse=True)
    airbench.scale_bias_steps(model)
    norm = model.layers[1]
    assert "call" in vars(norm) and {"apply", "update_step"} <= set(vars(model.optimizer))
    assert fast.stock_steps(model) is model
    assert "call" not in vars(norm)
    assert not {"apply", "update_step"} & set(vars(model.optimizer))
    for name in ("apply", "update_step"):
        assert getattr(model.optimizer, name).__func__ is getattr(type(model.optimizer), name)
    assert norm.call.__func__ is keras.layers.BatchNormalization.call
    assert model.train_function is None   # the next fit traces Keras' own steps


# --------------------------------------------------------------------------
# What is saved: Keras' own classes, the trained weights


@pytest.mark.parametrize("optimizer", [
    lambda: keras.optimizers.SGD(learning_rate=training.time_based_decay(0.5, 0.01)),
    lambda: keras.optimizers.AdamW(learning_rate=training.time_based_decay(1e-3, 1e-3 / 200),
                                   weight_decay=0.01)])
def test_saved_model_has_keras_classes_and_the_trained_weights(tmp_path, optimizer):
    opt = optimizer()
    model = train(opt, epochs=1, norm=True, fuse=True)
    path = storage.save_model(model, str(tmp_path / "net"))
    assert path.endswith(".keras")
    loaded = keras.models.load_model(path)  # plain Keras, no custom objects
    norm = loaded.layers[1]
    assert type(norm) is keras.layers.BatchNormalization
    assert type(loaded.optimizer) is type(opt)
    assert loaded.optimizer.get_config() == opt.get_config()
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = np.linspace(-1, 1, 40, dtype="float32").reshape(2, 20)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
