"""The training plumbing: the input pipeline keeps the data the same, the
callbacks keep the best epoch's weights and stop early, the mixed model's
thread setting does what it says, and model.fit logs one line per epoch
when stdout is not a terminal."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from pyimagesearch import cli, splits, training


def test_pipeline_runs_without_the_autotuner_and_sees_every_example_each_epoch():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="float32")
    ds = training.batches(x, y, batch_size=4, shuffle=True, seed=1)
    assert ds.options().autotune.enabled is False

    epochs = [np.concatenate([b[1].numpy() for b in ds]) for _ in range(2)]
    for seen in epochs:
        assert sorted(seen.tolist()) == y.tolist()
    assert epochs[0].tolist() != epochs[1].tolist()  # reshuffled every epoch
    for batch in ds:  # the pairs stay together
        np.testing.assert_array_equal(batch[0].numpy()[:, 0], 2 * batch[1].numpy())


def test_repeat_gives_full_batches_forever():
    x = np.arange(10, dtype="float32").reshape(10, 1)
    ds = training.batches(x, x[:, 0], batch_size=4, shuffle=True, seed=0, repeat=True)
    sizes = [len(b[1]) for b in ds.take(7)]  # 28 examples from 10: it repeats
    assert sizes == [4] * 7


def test_early_stopping_restores_the_best_epochs_weights():
    import keras

    # pure-noise targets and a wide network: it memorises the training
    # examples, so the validation loss gets worse after the first epochs
    # and the last epoch is not the best one
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)).astype("float32")
    y = rng.normal(size=60).astype("float32")
    (trainX, trainY, valX, valY) = splits.hold_out(x, y, 0.25, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(128, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(0.01))
    history = model.fit(training.batches(trainX, trainY, 8, shuffle=True, seed=0),
                        validation_data=(valX, valY), validation_batch_size=256,
                        epochs=40, verbose=0,
                        callbacks=training.callbacks(early_stopping=True))
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert best != len(losses) - 1 and len(losses) == 40
    assert model.evaluate(valX, valY, verbose=0) == pytest.approx(losses[best], rel=1e-4)


def test_patience_stops_early():
    import keras

    x = np.zeros((40, 2), "float32")
    y = np.ones(40, "float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    # zero inputs: only the bias learns, and SGD at lr 0 learns nothing, so
    # the validation loss never improves after the first epoch
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(x, y, validation_data=(x, y), epochs=30, verbose=0,
                        callbacks=training.callbacks(early_stopping=True, patience=2))
    assert len(history.epoch) == 3


def test_one_core_per_op_before_tensorflow_starts():
    # TensorFlow fixes its thread pools when it starts: a fresh process
    code = ("import json, tensorflow as tf\n"
            "from pyimagesearch import training\n"
            "default = [tf.config.threading.get_intra_op_parallelism_threads(),\n"
            "           tf.config.threading.get_inter_op_parallelism_threads()]\n"
            "training.one_core_per_op()\n"
            "tf.constant(1.0) + 1.0  # start TensorFlow\n"
            "print(json.dumps(default + [\n"
            "    tf.config.threading.get_intra_op_parallelism_threads(),\n"
            "    tf.config.threading.get_inter_op_parallelism_threads()]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    (intra0, inter0, intra, inter) = json.loads(out.strip().splitlines()[-1])
    assert (intra0, inter0) == (0, 0)  # TensorFlow's default: all cores
    assert intra == 1 and inter >= 2


def test_one_core_per_op_after_tensorflow_started_is_not_an_error():
    # the tests call several scripts' main() in one process
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has started
    before = tf.config.threading.get_intra_op_parallelism_threads()
    training.one_core_per_op()
    assert tf.config.threading.get_intra_op_parallelism_threads() == before


def test_fit_verbosity_is_the_bar_on_a_terminal_one_line_per_epoch_otherwise(monkeypatch):
    class Terminal:
        def isatty(self):
            return True

    class LogFile:
        def isatty(self):
            return False

    monkeypatch.setattr(sys, "stdout", Terminal())
    assert cli.fit_verbosity() == 1
    monkeypatch.setattr(sys, "stdout", LogFile())
    assert cli.fit_verbosity() == 2
