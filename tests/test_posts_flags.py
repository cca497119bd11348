"""The training flags of the posts' five scripts, checked by their effect on
what is trained rather than by what the scripts print: --epochs and
--batch-size, --seed (another seed, other weights, shuffles and splits; the
same seed, the same), --val-split (the best epoch's weights are kept and
saved), --patience (stops N epochs after the best epoch) and
--mixed-precision (a saved model that computes in bfloat16).

The scripts run in this process through ``main(argv)``; a wrapper of
``keras.Model.fit`` (conftest's ``fits``) records each fit's model, data and
arguments and adds the test's own callbacks, after the script's; with
``stop`` it ends the run at that fit instead of training, so most checks
cost no training at all.
"""

import json
import math

import keras
import numpy as np
import pytest

from conftest import CLASSIFIERS, info_lines, run_in_process, same_weights, script_argv

# runs of an epoch or two: Keras' steps run eagerly (conftest.eager_steps)
pytestmark = pytest.mark.eager_steps

HOUSE_SCRIPTS = ("mlp_regression.py", "cnn_regression.py", "mixed_regression.py")
POSTS_SCRIPTS = HOUSE_SCRIPTS + CLASSIFIERS
PNG = b"\x89PNG\r\n\x1a\n"


def dataset_of(script, houses, shapes3):
    return shapes3 if script in CLASSIFIERS else houses


def first_input(x):
    """The first input of a batch (a multi-input model's is a tuple)."""
    return np.asarray(x[0] if isinstance(x, (tuple, list)) else x)


def batch_sizes(data, limit=None):
    sizes = []
    for (i, (x, _)) in enumerate(data):
        if limit is not None and i == limit:
            break
        sizes.append(len(first_input(x)))
    return sizes


def rows(data):
    """The examples of a pipeline, as a sorted list of their bytes."""
    return sorted(row.tobytes() for (x, _) in data for row in first_input(x))


# --------------------------------------------------------------------------
# --epochs and --batch-size


@pytest.mark.parametrize("script", POSTS_SCRIPTS)
def test_posts_scripts_fit_the_epochs_and_batches_given(script, houses, shapes3, tmp_path,
                                                        fits):
    run_in_process(script, *script_argv(script, dataset_of(script, houses, shapes3), tmp_path),
                   "--epochs", 3, "--batch-size", 5, stop=1, fits=fits)
    [call] = fits.calls
    assert call.kwargs["epochs"] == 3
    if script == "train_vgg.py":
        # the post's generator training: endless full batches, len // BS steps
        trainCount = 72 - 18  # 25% of the 72 shapes are tested
        assert call.kwargs["steps_per_epoch"] == trainCount // 5
        assert batch_sizes(call.args[0], limit=4) == [5] * 4
    else:
        sizes = batch_sizes(call.args[0])
        trainCount = 72 - 18 if script in CLASSIFIERS else 75
        assert sum(sizes) == trainCount
        assert sizes == [5] * (trainCount // 5) + ([trainCount % 5] if trainCount % 5 else [])
        assert call.kwargs.get("steps_per_epoch") is None


def test_epochs_and_batch_size_are_the_steps_trained(houses, fits):
    run_in_process("mlp_regression.py", "--dataset", houses, "--epochs", 2, "--batch-size", 6,
                   fits=fits)
    [call] = fits.calls
    assert len(call.history.history["loss"]) == 2
    # 75 training houses in batches of 6: 13 steps an epoch
    assert int(call.model.optimizer.iterations.numpy()) == 2 * math.ceil(75 / 6)


# --------------------------------------------------------------------------
# --seed: the starting weights and the shuffled batches (and, for the
# classifiers, which pictures are tested)


def seeded_starts(script, argv, seeds, fits):
    """For each seed: the first fit's starting weights, first training
    batch and validation (here: test) examples."""
    found = []
    for seed in seeds:
        fits.calls.clear()
        run_in_process(script, *argv, "--epochs", 1, "--seed", seed, stop=1, fits=fits)
        [call] = fits.calls
        (x, _) = next(iter(call.args[0]))
        found.append((call.weights, first_input(x), rows(call.kwargs["validation_data"])))
    return found


@pytest.mark.parametrize("script", POSTS_SCRIPTS)
def test_seed_sets_weights_shuffles_and_split(script, houses, shapes3, tmp_path, fits):
    argv = script_argv(script, dataset_of(script, houses, shapes3), tmp_path)
    [(w1, batch1, test1), (w1b, batch1b, test1b), (w2, batch2, test2)] = \
        seeded_starts(script, argv, (3, 3, 4), fits)
    # the same seed: the same start, batches and split
    assert same_weights(w1, w1b)
    np.testing.assert_array_equal(batch1, batch1b)
    assert test1 == test1b
    # another seed: other starting weights and another shuffle
    assert not same_weights(w1, w2)
    assert batch1.shape != batch2.shape or not np.array_equal(batch1, batch2)
    if script in CLASSIFIERS:
        # README: --seed shuffles the pictures before the post's split, so
        # another seed tests on another 25% of them
        assert len(test1) == len(test2) == 18 and test1 != test2


# --------------------------------------------------------------------------
# --val-split and --patience


def spoil_from_epoch_4():
    """A callback that knocks the weights far off at the start of each epoch
    from the fourth on: the best epoch is among the first three, and a run
    that kept the last epoch's weights keeps a worse model."""

    class Spoil(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch >= 3:
                self.model.set_weights([w * 5.0 for w in self.model.get_weights()])

    return Spoil()


@pytest.mark.parametrize("script", POSTS_SCRIPTS)
def test_val_split_keeps_the_best_epochs_weights(script, houses, shapes3, tmp_path, fits):
    fits.extra = [spoil_from_epoch_4()]
    saved = tmp_path / ("net.model.keras" if script in CLASSIFIERS else "model.keras")
    run_in_process(script, *script_argv(script, dataset_of(script, houses, shapes3), tmp_path),
                   "--epochs", 5, "--batch-size", 8, "--val-split", "0.2", fits=fits)
    [call] = fits.calls
    (model, val, losses) = (call.model, call.kwargs["validation_data"],
                            call.history.history["val_loss"])
    assert int(np.argmin(losses)) < len(losses) - 1, losses   # the test means something
    # the model the script saved has the best epoch's weights, not the last's
    scores = model.evaluate(val, verbose=0)
    loss = scores[0] if isinstance(scores, list) else scores
    assert loss == pytest.approx(min(losses), rel=1e-4)
    np.testing.assert_allclose(keras.models.load_model(saved).predict(val, verbose=0),
                               model.predict(val, verbose=0), rtol=1e-5)


def test_val_split_end_to_end(houses, tmp_path):
    result = run_in_process("mlp_regression.py", "-d", houses, "--epochs", 8,
                            "--val-split", "0.2", "--output", tmp_path)
    lines = info_lines(result)
    assert "[INFO] holding out 15 of the 75 training examples for validation" in lines
    # Keras says which epoch's weights it kept, once
    kept = [line for line in result.stdout.splitlines()
            if line.startswith("Restoring model weights from the end of the best epoch: ")]
    assert len(kept) == 1
    assert (tmp_path / "loss.png").read_bytes()[:8] == PNG
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["val_split"] == 0.2 and results["epochs"] == 8


def test_patience_stops_n_epochs_after_the_best_epoch(houses, tmp_path, fits):
    fits.extra = [spoil_from_epoch_4()]
    epochs, patience = 60, 2
    run_in_process("mlp_regression.py", "--dataset", houses, "--epochs", epochs,
                   "--val-split", "0.2", "--patience", patience, "--output", tmp_path,
                   fits=fits)
    [call] = fits.calls
    history = call.history
    losses = history.history["val_loss"]
    best = int(np.argmin(losses))
    assert len(losses) < epochs
    assert len(losses) == best + 1 + patience, losses
    assert (tmp_path / "model.keras").exists()


# --------------------------------------------------------------------------
# --mixed-precision: the saved model computes in bfloat16, float32 weights


# (eagerly, as this file's other runs: bfloat16 in a graph is test_saved_models'
# CNN, loaded and run in a fresh Python)
@pytest.mark.parametrize("script", ["mlp_regression.py", "mixed_regression.py",
                                    "train_simple_nn.py", "train_vgg.py"])
def test_mixed_precision_saves_a_bfloat16_model_that_predicts(script, houses, shapes3,
                                                              tmp_path):
    run_in_process(script, *script_argv(script, dataset_of(script, houses, shapes3), tmp_path),
                   "--epochs", 1, "--mixed-precision")
    if script in CLASSIFIERS:
        modelPath = tmp_path / "net.model.keras"
        results = json.loads((tmp_path / "net_results.json").read_text())
        assert results["mixed_precision"] is True
    else:
        modelPath = tmp_path / "model.keras"
    # loaded under the default float32 policy: the file itself says bfloat16
    assert keras.mixed_precision.global_policy().name == "float32"
    model = keras.models.load_model(modelPath)
    # every layer with weights computes in bfloat16 on float32 weights (the
    # output layer may keep float32, as Keras advises for a last softmax)
    outputLayer = model.layers[-1].name
    compute = [layer for layer in model._flatten_layers(include_self=False)
               if layer.weights and layer.name != outputLayer]
    assert len(compute) >= 2
    assert {layer.name: layer.dtype_policy.name for layer in compute} == \
        {layer.name: "mixed_bfloat16" for layer in compute}
    assert {layer.compute_dtype for layer in compute} == {"bfloat16"}
    assert model.weights and {w.dtype for w in model.weights} == {"float32"}

    rng = np.random.default_rng(0)
    inputs = [rng.random((5, *i.shape[1:])).astype("float32") for i in model.inputs]
    preds = np.asarray(model(inputs if len(inputs) > 1 else inputs[0]))
    assert preds.shape[0] == 5 and np.isfinite(preds.astype("float32")).all()
