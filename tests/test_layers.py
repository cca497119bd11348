"""The fused BatchNormalization computes what Keras' layer computes: outputs,
gradients and moving averages, in training and in inference, and survives a
save and load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch.layers import BatchNormalization


def pair(shape):
    """Keras' layer and ours, built for ``shape``, with the same non-trivial weights."""
    ours, theirs = BatchNormalization(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    channels = shape[-1]
    for layer in (ours, theirs):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, channels))
        layer.beta.assign(np.arange(channels, dtype="float32"))
        layer.moving_mean.assign(np.full(channels, 0.3))
        layer.moving_variance.assign(np.full(channels, 1.7))
    return ours, theirs


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_training_matches_keras(shape):
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


def op_types(layer, x, training):
    graph = tf.function(lambda t: layer(t, training=training)).get_concrete_function(x).graph
    return {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("shape", [(6, 5, 4, 3), (7, 5)])
def test_training_runs_the_fused_kernel(shape):
    ours, theirs = pair(shape)
    x = tf.zeros(shape)
    assert "FusedBatchNormV3" in op_types(ours, x, training=True)
    assert "FusedBatchNormV3" not in op_types(theirs, x, training=True)
    assert "FusedBatchNormV3" not in op_types(ours, x, training=False)


def test_inference_and_frozen_layer_use_the_moving_averages():
    x = tf.constant(np.random.default_rng(1).normal(size=(4, 3, 3, 2)).astype("float32"))
    ours, theirs = pair(x.shape)
    np.testing.assert_allclose(ours(x, training=False), theirs(x, training=False), atol=1e-5)
    ours.trainable = theirs.trainable = False  # fine-tuning: Keras then normalizes as in inference
    np.testing.assert_allclose(ours(x, training=True), theirs(x, training=True), atol=1e-5)
    np.testing.assert_allclose(ours.moving_mean, 0.3)


def test_bfloat16_inputs_give_bfloat16_outputs():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        layer = BatchNormalization()
        y = layer(tf.random.normal((8, 4, 4, 3)), training=True)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert y.dtype == tf.bfloat16
    assert layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(tf.reduce_mean(tf.cast(y, "float32"), axis=(0, 1, 2)), 0, atol=0.05)


def test_saved_model_loads_with_the_layer(tmp_path):
    from pyimagesearch.storage import load_model, save_model

    model = keras.Sequential([keras.Input((4, 4, 2)), BatchNormalization(), keras.layers.Flatten()])
    x = np.random.default_rng(2).normal(size=(5, 4, 4, 2)).astype("float32")
    model(x, training=True)  # move the moving averages away from their start
    path = save_model(model, str(tmp_path / "bn"))
    loaded = load_model(path)
    assert type(loaded.layers[0]) is BatchNormalization
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
