"""train_improved_classifier.py: its learning-rate schedules end exactly
when training ends, also with --val-split; the simple NN's flips mirror
images, not vectors; --resume-dir continues an interrupted training from
its last finished epoch (a crash in this process, and a real Ctrl-C to a
real process). What it saves is in test_saved_models.py."""

import os

import keras
import numpy as np
import pytest

from conftest import interrupt_after, load_script, run_in_process, run_script, script_argv

SCRIPT = "train_improved_classifier.py"
NETWORKS = ("simple_nn", "smallvggnet")


@pytest.mark.parametrize("network", NETWORKS)
def test_schedule_reaches_its_end_when_training_ends_with_val_split(network, shapes3, tmp_path,
                                                                    fits):
    # the schedule must count the steps of the training left after
    # --val-split holds data out; counted on the whole training split it
    # stops short of its end (issue 15). Batches of 4 make the two counts
    # differ: 54 training images, 43 after the hold-out.
    epochs = 2
    result = run_in_process(SCRIPT, *script_argv(SCRIPT, shapes3, tmp_path), "--network",
                            network, "--val-split", "0.2", "--epochs", epochs,
                            "--batch-size", 4, fits=fits)
    assert "holding out 11 of the 54 training examples" in result.stdout

    [call] = fits.calls
    optimizer = call.model.optimizer
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.CosineDecay)
    config = schedule.get_config()
    steps = int(optimizer.iterations.numpy())
    stepsPerEpoch = 43 // 4 if network == "smallvggnet" else -(-43 // 4)  # as the post counts
    assert steps == epochs * stepsPerEpoch
    assert config["warmup_steps"] + config["decay_steps"] == steps
    # the last step's learning rate is the end of the cosine: zero
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-6 * config["warmup_target"])
    assert float(schedule(steps // 2)) > 0.1 * config["warmup_target"]


def test_flip_flattened_mirrors_rows_only():
    import tensorflow as tf

    image = np.arange(2 * 3 * 3, dtype="float32").reshape(1, 2, 3, 3)
    flat = tf.constant(np.repeat(image.reshape(1, -1), 64, axis=0))
    flipped, _ = load_script(SCRIPT).flip_flattened(flat, tf.zeros((64, 1)), shape=(2, 3, 3))
    mirrored = image[:, :, ::-1, :].reshape(-1)
    rows = [tuple(r) for r in flipped.numpy()]
    assert set(rows) == {tuple(image.reshape(-1)), tuple(mirrored)}


# --------------------------------------------------------------------------
# --resume-dir: a run that crashes after N epochs continues from epoch N


class Crash(Exception):
    """What ends the first run: a crash of the process, in this process."""


class CrashAfter(keras.callbacks.Callback):
    """Raise ``Crash`` at the end of epoch ``epochs`` (the script's callbacks,
    its backup among them, have run for that epoch); keep the weights and
    the optimizer's step count at that point."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.epochs:
            self.weights = self.model.get_weights()
            self.iterations = int(self.model.optimizer.iterations.numpy())
            raise Crash


class Watch(keras.callbacks.Callback):
    """The weights and step count a fit starts from (after the script's
    callbacks have restored any backup), and the epochs it trains."""

    def on_train_begin(self, logs=None):
        self.start_weights = self.model.get_weights()
        self.start_iterations = int(self.model.optimizer.iterations.numpy())
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


# runs of an epoch or two: Keras' steps run eagerly (conftest.eager_steps)
@pytest.mark.eager_steps
@pytest.mark.parametrize("network", NETWORKS)
def test_resume_dir_continues_from_the_last_finished_epoch(network, shapes3, tmp_path, fits):
    resume = tmp_path / "state"
    argv = [*script_argv(SCRIPT, shapes3, tmp_path), "--network", network, "--epochs", 2,
            "--resume-dir", resume]

    # the first run crashes after its first epoch
    (first, crash) = (Watch(), CrashAfter(1))
    fits.extra = [first, crash]
    with pytest.raises(Crash):
        run_in_process(SCRIPT, *argv)
    assert first.epochs == [0]
    assert resume.is_dir() and any(resume.iterdir())  # the state of epoch 1 was kept
    stepsPerEpoch = crash.iterations
    assert stepsPerEpoch > 0

    # the same command again: it trains epoch 2 only (a fresh start would
    # train both), from the weights and optimizer state the first run reached
    second = Watch()
    fits.extra = [second]
    run_in_process(SCRIPT, *argv)
    (model, history) = (fits.calls[-1].model, fits.calls[-1].history)
    assert second.epochs == [1]
    assert len(history.history["loss"]) == 1
    assert len(second.start_weights) == len(crash.weights)
    for (resumed, reached) in zip(second.start_weights, crash.weights):
        np.testing.assert_array_equal(resumed, reached)
    # ... which are trained weights, not the fresh model's (same seed, same start)
    assert any(not np.array_equal(a, b) for (a, b) in zip(second.start_weights,
                                                           first.start_weights))
    assert second.start_iterations == stepsPerEpoch
    assert int(model.optimizer.iterations.numpy()) == 2 * stepsPerEpoch
    assert not resume.exists() or not any(resume.iterdir())  # removed once done


def test_ctrl_c_keeps_the_state_and_the_same_command_continues(shapes3, tmp_path):
    resume = tmp_path / "state"
    args = [*script_argv(SCRIPT, shapes3, tmp_path), "--network", "simple_nn",
            "--epochs", 5000, "--resume-dir", resume]
    proc = run_script(SCRIPT, *args, wait=False)
    rc, _, stderr = interrupt_after(proc, "Epoch 5/")
    assert rc == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert any(resume.iterdir())  # per-epoch state was kept

    # the same run, fewer epochs to finish sooner, in-process this time
    args[args.index(5000)] = 9
    result = run_in_process(SCRIPT, *args)
    epochs = [int(line.split()[1].split("/")[0]) for line in result.stdout.splitlines()
              if line.startswith("Epoch ")]
    assert epochs[0] >= 4 and epochs[-1] == 9  # it did not start over
    assert not resume.exists() or not any(resume.iterdir())  # removed when done
    assert (tmp_path / "net.model.keras").read_bytes()[:2] == b"PK"  # the model, complete
    assert os.path.exists(tmp_path / "net_results.json")


def test_resume_dir_that_is_a_file_is_one_line(shapes3, tmp_path):
    from pyimagesearch.errors import UserError

    (tmp_path / "state").write_text("a file")
    with pytest.raises(UserError, match="--resume-dir .* is a file, expected a folder"):
        run_in_process(SCRIPT, *script_argv(SCRIPT, shapes3, tmp_path), "--network",
                       "simple_nn", "--resume-dir", tmp_path / "state")
