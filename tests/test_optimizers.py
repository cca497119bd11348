"""The fused optimizers train as Keras' own do, run the fused kernels, and
survive a save and load."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from pyimagesearch import optimizers, storage, training


def train(optimizer, seed=3, epochs=3):
    """A small sigmoid network trained on fixed random data; its weights."""
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(64, 20)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 64)]
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(16, activation="sigmoid"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    model.fit(x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0)
    return model


def assert_trained_like(ours, theirs, **tolerance):
    """Training moved the weights, and moved them as Keras' optimizer does."""
    start = train(keras.optimizers.SGD(learning_rate=0.0), epochs=1)
    for a, b, c in zip(ours.get_weights(), theirs.get_weights(), start.get_weights()):
        assert not np.allclose(a, c, rtol=1e-3, atol=1e-3)
        if tolerance:
            np.testing.assert_allclose(a, b, **tolerance)
        else:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_weights_equal_keras_sgd(momentum):
    schedule = training.time_based_decay(0.5, 0.01)
    assert_trained_like(train(optimizers.SGD(learning_rate=schedule, momentum=momentum)),
                        train(keras.optimizers.SGD(learning_rate=schedule, momentum=momentum)))


@pytest.mark.parametrize("name, kwargs", [
    ("Adam", {}), ("Adam", {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-3}),
    ("Adam", {"amsgrad": True}), ("AdamW", {"weight_decay": 0.05})])
def test_weights_match_keras_adam(name, kwargs):
    # the same update to float rounding (1 - beta_1 is rounded once more),
    # over 24 steps of a decaying learning rate
    schedule = training.time_based_decay(0.01, 0.01)
    ours = train(getattr(optimizers, name)(learning_rate=schedule, **kwargs))
    theirs = train(getattr(keras.optimizers, name)(learning_rate=schedule, **kwargs))
    assert_trained_like(ours, theirs, rtol=1e-4, atol=1e-6)


def update_ops(optimizer):
    weights = keras.Variable(np.ones((4, 3), "float32"))
    optimizer.build([weights])
    step = tf.function(lambda g: optimizer.apply_gradients([(g, weights)]))
    graph = step.get_concrete_function(tf.ones((4, 3))).graph
    return {op.type for op in graph.get_operations()}


def test_plain_steps_run_the_fused_kernels():
    assert "ResourceApplyGradientDescent" in update_ops(optimizers.SGD(0.1))
    assert "ResourceApplyGradientDescent" not in update_ops(keras.optimizers.SGD(0.1))
    assert "ResourceApplyGradientDescent" not in update_ops(optimizers.SGD(0.1, momentum=0.9))
    assert "ResourceApplyAdam" in update_ops(optimizers.Adam(0.1))
    assert "ResourceApplyAdam" in update_ops(optimizers.AdamW(0.1))
    assert "ResourceApplyAdam" not in update_ops(keras.optimizers.Adam(0.1))
    assert "ResourceApplyAdam" not in update_ops(optimizers.Adam(0.1, amsgrad=True))


@pytest.mark.parametrize("optimizer", [
    lambda: optimizers.SGD(learning_rate=training.time_based_decay(0.5, 0.01)),
    lambda: optimizers.Adam(learning_rate=training.time_based_decay(1e-3, 1e-3 / 200))])
def test_saved_model_loads_with_its_optimizer(tmp_path, optimizer):
    opt = optimizer()
    model = train(opt, epochs=1)
    path = storage.save_model(model, str(tmp_path / "net.keras"))
    loaded = storage.load_model(path)
    assert type(loaded.optimizer) is type(opt)
    x = np.linspace(-1, 1, 40, dtype="float32").reshape(2, 20)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)
