"""Training plumbing shared by every script: seeds, the posts' learning-rate
decay, a fast in-memory input pipeline, and the training-curve plot.

Why the pipeline matters: the posts' models are tiny, so on a CPU the time of
``model.fit`` goes to per-step and per-epoch bookkeeping, not arithmetic.
Feeding Keras a cached ``tf.data`` pipeline (instead of NumPy arrays, which
Keras re-wraps every epoch) and running a whole epoch per graph call
(``steps_per_execution``) removes most of it without changing the recipe:
the same batches of the same size, reshuffled every epoch.
"""

import math
import signal
import threading
import time
from contextlib import contextmanager

from . import backend  # noqa: F401  (quiet TensorFlow import)
import keras
import numpy as np
import tensorflow as tf


def set_seed(seed):
    """Seed Python, NumPy and TensorFlow so that a run can be repeated."""
    keras.utils.set_random_seed(seed)


def setup(args):
    """Seed everything and choose the arithmetic, from the common flags.

    ``--mixed-precision`` computes in bfloat16 while keeping float32
    weights (Keras' "mixed_bfloat16" policy). CPUs with AVX512-BF16 or AMX
    run bfloat16 about twice as fast as float32; it changes the numbers a
    run prints, so it is a choice, off by default.
    """
    set_seed(args.seed)
    if getattr(args, "mixed_precision", False):
        keras.mixed_precision.set_global_policy("mixed_bfloat16")


def time_based_decay(initial_learning_rate, decay):
    """The old Keras ``decay=`` optimizer argument as a schedule.

    Keras 2 optimizers computed ``lr / (1 + decay * iterations)``; Keras 3
    removed the argument, and ``InverseTimeDecay`` with ``decay_steps=1``
    computes exactly the same value at every step.
    """
    return keras.optimizers.schedules.InverseTimeDecay(
        initial_learning_rate, decay_steps=1, decay_rate=decay)


def make_dataset(x, y, batch_size, shuffle=False, seed=None, augment=None,
                 repeat=False, drop_remainder=False):
    """An in-memory ``tf.data`` pipeline over arrays (or a tuple of arrays).

    ``augment``, a Keras layer or model, is mapped over the training batches
    on the CPU, in parallel with training, as in the keras-io examples.
    """
    ds = tf.data.Dataset.from_tensor_slices((_float32(x), _float32(y))).cache()
    if shuffle:
        ds = ds.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if augment is not None:
        ds = ds.map(lambda images, labels: (augment(images, training=True), labels),
                    num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def fit(model, x, y, validation_data, epochs, batch_size, seed,
        augment=None, steps_per_epoch=None, steps_per_execution=None,
        resume_dir=None):
    """``model.fit`` on a compiled model, with the pipeline described above.

    Without ``steps_per_epoch`` every epoch sees the whole training set once,
    the last batch possibly smaller. With it (the post's generator training),
    batches are full and an epoch is ``steps_per_epoch`` of them.
    ``steps_per_execution`` defaults to a whole epoch per graph call.

    With ``resume_dir``, Keras' BackupAndRestore keeps the training state
    there after every epoch: running the same command again after a crash
    or Ctrl-C continues from the last finished epoch. The backup is removed
    when training completes.
    """
    n = len(y)
    if steps_per_epoch is None:
        train = make_dataset(x, y, batch_size, shuffle=True, seed=seed, augment=augment)
        steps = math.ceil(n / batch_size)
    else:
        train = make_dataset(x, y, batch_size, shuffle=True, seed=seed, augment=augment,
                             repeat=True, drop_remainder=True)
        steps = steps_per_epoch
    model.steps_per_execution = steps_per_execution or steps

    # validation is only evaluated, so one big batch gives the same figure
    # (a mean over the examples) at a fraction of the cost
    valX, valY = validation_data
    val = make_dataset(valX, valY, batch_size=max(batch_size, 256))

    interrupt = _StopOnCtrlC()
    callbacks = [interrupt]
    if resume_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(resume_dir))

    # shuffle=False: the pipeline above already reshuffles every epoch
    start = time.perf_counter()
    with interrupt.installed():
        history = model.fit(train, validation_data=val, epochs=epochs, shuffle=False,
                            steps_per_epoch=steps_per_epoch, callbacks=callbacks)
    examples = n if steps_per_epoch is None else steps_per_epoch * batch_size
    print(f"[INFO] trained {len(history.epoch)} epochs of {examples} examples "
          f"in {time.perf_counter() - start:.1f}s")
    return history


class _StopOnCtrlC(keras.callbacks.Callback):
    """Turn Ctrl-C during training into a KeyboardInterrupt at a safe point.

    Python delivers Ctrl-C only between bytecodes, and a signal arriving
    while TensorFlow runs a step or pulls from its input pipeline can be
    lost in TensorFlow's own machinery. So during ``fit`` the first Ctrl-C
    only sets a flag, which this callback turns into a KeyboardInterrupt
    after the current step; a second Ctrl-C interrupts at once.
    """

    def __init__(self):
        super().__init__()
        self.requested = False

    @contextmanager
    def installed(self):
        if threading.current_thread() is not threading.main_thread():
            yield  # signal handlers can only be set from the main thread
            return

        def handler(signum, frame):
            if self.requested:
                raise KeyboardInterrupt
            self.requested = True

        previous = signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _check(self, *args, **kwargs):
        if self.requested:
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


def predict(model, x, batch_size=256):
    """Predict in large batches: inference has no batch-size effect here."""
    return model.predict(_float32(x), batch_size=batch_size, verbose=0)


def _float32(x):
    """Float arrays as float32 (``images / 255.0`` gives float64, which would
    double the memory and the copying for nothing); tuples for multi-input."""
    if isinstance(x, (list, tuple)):
        return tuple(_float32(a) for a in x)
    x = np.asarray(x)
    return x.astype("float32", copy=False) if x.dtype.kind == "f" else x


def plot_history(history, path, title, metrics):
    """Plot per-epoch curves (ggplot style) from a Keras History to ``path``.

    ``metrics`` maps a history key to its legend label, e.g.
    ``{"loss": "train_loss", "val_loss": "val_loss"}``.
    """
    import matplotlib

    matplotlib.use("Agg")  # write files; never needs a display
    import matplotlib.pyplot as plt

    from .storage import atomic_output

    epochs = np.arange(1, len(history.history["loss"]) + 1)
    with plt.style.context("ggplot"):
        fig, ax = plt.subplots(figsize=(8, 6))
        for key, label in metrics.items():
            if key in history.history:
                ax.plot(epochs, history.history[key], label=label)
        ax.set_title(title)
        ax.set_xlabel("Epoch #")
        ax.set_ylabel(" / ".join(sorted({_axis_name(k) for k in metrics})))
        ax.legend()
        fig.tight_layout()
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format="png")
        plt.close(fig)


def _axis_name(key):
    return "Accuracy" if key.endswith("accuracy") else "Loss"
