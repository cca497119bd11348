"""The training plumbing's speed settings: they must keep the data the
same and set TensorFlow up as documented."""

import argparse
import json
import subprocess
import sys

import numpy as np

from conftest import ROOT
from pyimagesearch import training


def test_pipeline_runs_without_the_autotuner_and_sees_every_example_each_epoch():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    y = np.arange(10, dtype="float32")
    ds = training.make_dataset(x, y, batch_size=4, shuffle=True, seed=1)
    assert ds.options().autotune.enabled is False

    epochs = [np.concatenate([b[1].numpy() for b in ds]) for _ in range(2)]
    for seen in epochs:
        assert sorted(seen.tolist()) == y.tolist()
    assert epochs[0].tolist() != epochs[1].tolist()  # reshuffled every epoch


def _threads_after_setup(small_ops):
    """Thread-pool sizes after ``setup`` in a fresh process (TensorFlow fixes
    them when it starts, so this cannot run in the test process)."""
    code = (
        "import argparse, json, tensorflow as tf\n"
        "from pyimagesearch import training\n"
        f"training.setup(argparse.Namespace(seed=1), small_ops={small_ops})\n"
        "tf.constant(1.0) + 1.0  # start TensorFlow\n"
        "print(json.dumps([tf.config.threading.get_intra_op_parallelism_threads(),\n"
        "                  tf.config.threading.get_inter_op_parallelism_threads()]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_small_ops_run_one_core_each_side_by_side():
    intra, inter = _threads_after_setup(small_ops=True)
    assert intra == 1
    assert inter >= 2


def test_other_models_keep_tensorflows_default_threads():
    assert _threads_after_setup(small_ops=False) == [0, 0]


def test_small_ops_after_tensorflow_started_is_not_an_error():
    # the tests call several scripts' main() in one process
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # TensorFlow has started
    before = tf.config.threading.get_intra_op_parallelism_threads()
    args = argparse.Namespace(seed=1)
    training.setup(args, small_ops=True)
    assert tf.config.threading.get_intra_op_parallelism_threads() == before
