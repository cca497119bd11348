"""Small training plumbing the posts don't show: the old ``decay=`` argument
and a warm-up with a cosine decay as Keras schedules, an in-memory input
pipeline, the callbacks behind ``--val-split``/``--resume-dir`` and Ctrl-C,
a rate that follows a search trial's steps or its deadline, and the thread
setting of the mixed model.

Why the pipeline: the posts' models are tiny, so on a CPU the time of
``model.fit`` goes to per-step bookkeeping, not arithmetic. A cached
``tf.data`` pipeline (NumPy arrays are re-wrapped by Keras every epoch) and a
whole epoch per graph call (``steps_per_execution`` in ``compile``) remove
most of it without changing the recipe: the same batches of the same size,
reshuffled every epoch (bench/README.md has what each saves).
"""

import os
import signal
import threading
import time

import keras
import numpy as np
import tensorflow as tf


def time_based_decay(initial_learning_rate, decay):
    """The old Keras ``decay=`` optimizer argument as a schedule.

    Keras 2 optimizers computed ``lr / (1 + decay * iterations)``; Keras 3
    removed the argument, and ``InverseTimeDecay`` with ``decay_steps=1``
    computes exactly the same value at every step.
    """
    return keras.optimizers.schedules.InverseTimeDecay(
        initial_learning_rate, decay_steps=1, decay_rate=decay)


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


def setup(seed, mixed_precision=False):
    """Seed Python, NumPy and TensorFlow, so that the same seed prints the
    same numbers; with ``mixed_precision`` compute in bfloat16 with float32
    weights (Keras' "mixed_bfloat16" policy: faster on CPUs with AVX512-BF16
    or AMX, figures within run-to-run noise)."""
    keras.utils.set_random_seed(seed)
    if mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")


def steps_per_epoch(examples, batch_size, full_batches=False):
    """Batches in an epoch: every example once, the last batch possibly
    smaller, or (``full_batches``, the post's generator training with
    ``len(trainX) // BS``) only full batches. Count the examples after any
    hold-out: schedules sized on more steps than training takes stop short
    of their end."""
    if full_batches:
        return max(1, examples // batch_size)
    return -(-examples // batch_size)


def one_core_per_op():
    """Run each TensorFlow operation on one core, independent ones side by side.

    The mixed model's step (batch 8) is a chain of operations too small to
    share out between cores; one core each, with its two branches running
    side by side, it trains faster on 2 cores (bench/README.md; the house CNN
    alone gained nothing and keeps TensorFlow's default). The same
    computation, though sums split differently round differently. It must
    run before TensorFlow starts; later (a second ``main()`` in one
    process) it changes nothing.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(max(2, cores or 1))
    except RuntimeError:
        pass  # TensorFlow has started already: its thread pools are fixed


# tf.data's autotuner runs a background thread for every iterator, and Keras
# makes a new iterator every epoch; freeing the old one waits for that
# thread, in about half of the epochs (bench/README.md). Without the
# autotuner AUTOTUNE still means something sensible: a parallel map uses
# every core, and prefetch grows its buffer whenever training waits.
_NO_AUTOTUNER = tf.data.Options()
_NO_AUTOTUNER.autotune.enabled = False


def batches(x, y=None, batch_size=32, shuffle=False, seed=None, augment=None, mix=None,
            repeat=False):
    """An in-memory ``tf.data`` pipeline of ``(x, y)`` batches (of ``x``
    alone when ``y`` is None).

    ``x`` may be a list of arrays (a multi-input model). uint8 pictures stay
    uint8 in memory (a quarter of float32's) and are scaled to [0, 1] as
    each batch is drawn. With ``shuffle`` the examples are reshuffled every
    epoch (seeded). With ``repeat`` the data never ends and every batch is
    full: an epoch is then the ``steps_per_epoch`` given to ``fit`` (the
    post's generator training).

    ``augment``, a function of a batch of images and a seed (a pair of
    integers, so every batch of every epoch differs and a seeded run
    repeats), is mapped over the batches on the CPU, in parallel with
    training, as in the keras-io examples. ``mix``, a function of a batch
    ``(images, labels)`` that returns a new one, is mapped after it.
    """
    first = np.asarray(x[0] if isinstance(x, (list, tuple)) else x)
    data = _float32(x) if y is None else (_float32(x), _float32(y))
    ds = tf.data.Dataset.from_tensor_slices(data).cache()
    if shuffle:
        ds = ds.shuffle(len(first), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=repeat)

    def scaled(images, *targets):
        images = tf.cast(images, tf.float32) / 255.0
        return (images, *targets) if targets else images

    if first.dtype == np.uint8 and not isinstance(x, (list, tuple)):
        ds = ds.map(scaled, num_parallel_calls=tf.data.AUTOTUNE)
    if augment is not None:
        if repeat:
            # one endless pass: a batch's number in it never recurs
            numbers = tf.data.Dataset.range(2 ** 62)
        else:
            # Keras iterates a finite pipeline afresh every epoch, which
            # would number its batches 0, 1, ... again and repeat the same
            # draws: number them with seeded random draws that change from
            # one pass to the next instead
            numbers = tf.data.Dataset.random(seed=int(seed or 0),
                                             rerandomize_each_iteration=True)

        def augmented(batch, i):
            pair = tf.stack([tf.constant(int(seed or 0), tf.int64), i])
            if y is None:
                return augment(batch, pair)
            return augment(batch[0], pair), batch[1]

        ds = tf.data.Dataset.zip(ds, numbers).map(augmented, num_parallel_calls=tf.data.AUTOTUNE)
    if mix is not None:
        ds = ds.map(mix, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE).with_options(_NO_AUTOTUNER)


def callbacks(early_stopping=False, patience=None, resume_dir=None):
    """The callbacks of the posts' scripts' ``model.fit`` (and their extras').

    * Ctrl-C stops training after the current step (``StopOnCtrlC``).
    * ``early_stopping`` (with ``--val-split``): keep the weights of the
      epoch with the lowest validation loss (Keras says which), and with
      ``patience`` stop after that many epochs without a better one.
    * ``resume_dir``: Keras' BackupAndRestore keeps the training state there
      after every epoch; the same command run again after a crash or Ctrl-C
      continues from the last finished epoch (the backup is removed when
      training completes).
    """
    found = [StopOnCtrlC()]
    if early_stopping:
        found.append(keras.callbacks.EarlyStopping(
            monitor="val_loss", patience=patience or 10**9, restore_best_weights=True,
            verbose=1))
    if resume_dir:
        found.append(keras.callbacks.BackupAndRestore(resume_dir))
    return found


class StopOnCtrlC(keras.callbacks.Callback):
    """Turn Ctrl-C during training into a KeyboardInterrupt at a safe point.

    Python delivers Ctrl-C only between bytecodes, and a signal arriving
    while TensorFlow runs a step or pulls from its input pipeline can be
    lost in TensorFlow's own machinery. So during training the first Ctrl-C
    only sets a flag, which this callback turns into a KeyboardInterrupt
    after the current step; a second Ctrl-C interrupts at once.
    """

    def __init__(self):
        super().__init__()
        self.requested = False
        self._previous = None

    def on_train_begin(self, logs=None):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handler)

    def on_train_end(self, logs=None):
        self._restore()

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def _restore(self):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _check(self, *args, **kwargs):
        if self.requested:
            self._restore()
            raise KeyboardInterrupt

    on_train_batch_end = on_test_batch_end = on_epoch_end = _check


class ScheduleByProgress(keras.callbacks.Callback):
    """The rate at ``peak * fraction(progress)``, training stopped at progress
    1: the share of ``steps`` or of the time to ``deadline``, the further;
    nor, once a step after the first is timed, is a step begun that would
    end past ``deadline`` at the timed steps' mean. It times the steps too,
    the first (a graph's build) left out."""

    def __init__(self, peak, fraction, steps, deadline=None):
        super().__init__()
        (self.peak, self.fraction, self.steps, self.deadline) = (peak, fraction, steps, deadline)
        (self.done, self.began, self.first, self.last) = (0, None, None, None)

    def progress(self):
        share = self.done / self.steps
        if self.deadline is not None:
            share = max(share, (time.monotonic() - self.began) /
                        max(1e-9, self.deadline - self.began))
        return min(1.0, share)

    def on_train_begin(self, logs=None):
        (self.done, self.began) = (0, time.monotonic())

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate.assign(self.peak * self.fraction(self.progress()))

    def on_train_batch_end(self, batch, logs=None):
        (self.done, self.last) = (self.done + 1, time.perf_counter())
        self.first = self.first or self.last
        if self.progress() >= 1.0 or self.deadline is not None and \
                time.monotonic() + self.step_seconds() > self.deadline:
            self.model.stop_training = True

    def step_seconds(self):
        return 0.0 if self.done < 2 else (self.last - self.first) / (self.done - 1)


def _float32(x):
    """Float arrays as float32 (``images / 255.0`` gives float64, which would
    double the memory and the copying for nothing); tuples for multi-input."""
    if isinstance(x, (list, tuple)):
        return tuple(_float32(a) for a in x)
    x = np.asarray(x)
    return x.astype("float32", copy=False) if x.dtype.kind == "f" else x
