"""The README's common flags checked by their effect on what is trained:
--epochs and --batch-size of the posts' scripts, --seed (another seed,
other weights, shuffles and splits; the same seed, the same), and the
chapter-3 scripts' flags (--num-words, --units, --hidden-layers,
--activation, --loss, --labels, --validation-size, --validation-epochs,
--folds, --kfold-epochs, --kfold-batch-size, --kfold-loop, --test-size).

A wrapper of ``keras.Model.fit`` records each fit's model, data and
arguments; with ``stop`` set it ends the run at that fit instead of
training (``Stopped``), so most checks cost no training at all.
"""

import math

import keras
import numpy as np
import pytest

from conftest import CLASSIFIERS, run_main, script_argv
from pyimagesearch import sample_data
from pyimagesearch.chapter3_datasets import load_boston_npz, load_imdb_npz

# runs of an epoch or two: Keras' steps run eagerly (conftest.eager_steps)
pytestmark = pytest.mark.eager_steps

HOUSE_SCRIPTS = ("mlp_regression.py", "cnn_regression.py", "mixed_regression.py")
POSTS_SCRIPTS = HOUSE_SCRIPTS + CLASSIFIERS


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
# --epochs and --batch-size of the posts' scripts


@pytest.mark.parametrize("script, extra", [(s, []) for s in POSTS_SCRIPTS]
                         + [("mlp_regression.py", ["--recipe", "improved"])],
                         ids=[*POSTS_SCRIPTS, "mlp-improved"])
def test_posts_scripts_fit_the_epochs_and_batches_given(script, extra, houses, shapes3,
                                                        tmp_path, fits):
    run_main(script, *script_argv(script, shapes3 if script in CLASSIFIERS else houses, tmp_path), *extra,
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
    run_main("mlp_regression.py", "--dataset", houses, "--epochs", 2, "--batch-size", 6,
             fits=fits)
    [call] = fits.calls
    assert len(call.history.history["loss"]) == 2
    # 75 training houses in batches of 6: 13 steps an epoch
    assert int(call.model.optimizer.iterations.numpy()) == 2 * math.ceil(75 / 6)


# --------------------------------------------------------------------------
# --seed of the posts' scripts: the starting weights and the shuffled
# batches (and, for the classifiers, which pictures are tested)


def seeded_starts(script, argv, seeds, fits):
    """For each seed: the first fit's starting weights, first training
    batch and validation (here: test) examples."""
    found = []
    for seed in seeds:
        fits.calls.clear()
        run_main(script, *argv, "--epochs", 1, "--seed", seed, stop=1, fits=fits)
        [call] = fits.calls
        (x, _) = next(iter(call.args[0]))
        found.append((call.weights, first_input(x), rows(call.kwargs["validation_data"])))
    return found


def same_weights(a, b):
    return len(a) == len(b) and all(np.array_equal(u, v) for (u, v) in zip(a, b))


@pytest.mark.parametrize("script", POSTS_SCRIPTS)
def test_seed_sets_weights_shuffles_and_split(script, houses, shapes3, tmp_path, fits):
    argv = script_argv(script, shapes3 if script in CLASSIFIERS else houses, tmp_path)
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
# the chapter-3 scripts


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("common_flags")
    sample_data.write_imdb_npz(str(root / "imdb.npz"), count=120)
    sample_data.write_reuters_sgml(str(root / "reuters"), count=150)
    sample_data.write_boston_npz(str(root / "boston.npz"), count=100)
    sample_data.write_text_folder(str(root / "folder"), perClass=24)
    return root


def dense_layers(model):
    return [(layer.units, layer.activation.__name__) for layer in model.layers
            if isinstance(layer, keras.layers.Dense)]


def test_imdb_flags_shape_the_model_and_both_runs(data, tmp_path, fits):
    run_main("imdb_reviews.py", "--dataset", data / "imdb.npz", "--num-words", 50,
             "--hidden-layers", 1, "--units", 8, "--activation", "tanh", "--loss", "mse",
             "--validation-size", 20, "--validation-epochs", 2, "--epochs", 1,
             "--batch-size", 7, "--output", tmp_path, fits=fits)
    trainCount = len(load_imdb_npz(str(data / "imdb.npz"), numWords=50).trainSeqs)
    (holdout, final) = fits.calls
    for call in (holdout, final):
        assert call.model.inputs[0].shape[-1] == 50                      # --num-words
        assert dense_layers(call.model) == [(8, "tanh"), (1, "sigmoid")]  # the others
        assert call.model.loss == "mse"
    # the first run: --validation-size reviews held out, --validation-epochs
    (x, y) = holdout.args
    assert x.shape == (trainCount - 20, 50) and len(y) == trainCount - 20
    assert len(holdout.kwargs["validation_data"][0]) == 20
    assert len(holdout.history.history["val_loss"]) == 2
    assert int(holdout.model.optimizer.iterations.numpy()) == 2 * math.ceil((trainCount - 20) / 7)
    # the final run: all reviews, --epochs at --batch-size
    assert len(final.args[0]) == trainCount
    assert len(final.history.history["loss"]) == 1
    assert int(final.model.optimizer.iterations.numpy()) == math.ceil(trainCount / 7)


@pytest.mark.parametrize("labels", ["onehot", "sparse"])
def test_reuters_flags_shape_the_model_and_labels(labels, data, tmp_path, fits):
    run_main("reuters_newswires.py", "--dataset", data / "reuters", "--num-words", 60,
             "--units", 4, "--labels", labels, "--validation-size", 15,
             "--validation-epochs", 1, "--epochs", 2, "--batch-size", 9,
             "--output", tmp_path, fits=fits)
    (holdout, final) = fits.calls
    topics = 3
    for call in (holdout, final):
        assert call.model.inputs[0].shape[-1] == 60
        assert dense_layers(call.model) == [(64, "relu"), (4, "relu"), (topics, "softmax")]
    (x, y) = final.args
    trainCount = len(x)
    assert len(holdout.args[0]) == trainCount - 15
    assert len(holdout.kwargs["validation_data"][0]) == 15
    if labels == "sparse":
        assert final.model.loss == "sparse_categorical_crossentropy" and y.ndim == 1
    else:
        assert final.model.loss == "categorical_crossentropy" and y.shape == (trainCount, topics)
    assert int(holdout.model.optimizer.iterations.numpy()) == math.ceil((trainCount - 15) / 9)
    assert int(final.model.optimizer.iterations.numpy()) == 2 * math.ceil(trainCount / 9)


def test_boston_kfold_and_final_flags(data, tmp_path, fits):
    ((trainX, _), _) = load_boston_npz(str(data / "boston.npz"))
    n = len(trainX)
    # in one model (stopped at its fit): one model of --folds networks, each
    # fed batches of --kfold-batch-size for --kfold-epochs
    run_main("boston_housing.py", "--dataset", data / "boston.npz", "--folds", 3,
             "--kfold-epochs", 2, "--kfold-batch-size", 4, "--output", tmp_path / "a",
             stop=1, fits=fits)
    [kfold] = fits.calls
    assert len(kfold.model.inputs) == 3 and kfold.kwargs["epochs"] == 2
    perFold = n - n // 3
    sizes = [[len(a) for a in x] for (x, _) in kfold.args[0]]
    assert sizes == [[4] * 3] * (perFold // 4) + ([[perFold % 4] * 3] if perFold % 4 else [])

    # --kfold-loop chapter: a fresh model per fold, then the final one,
    # trained --epochs at --batch-size on every training house
    fits.calls.clear()
    run_main("boston_housing.py", "--dataset", data / "boston.npz", "--folds", 2,
             "--kfold-epochs", 1, "--kfold-batch-size", 8, "--epochs", 3, "--batch-size", 9,
             "--kfold-loop", "chapter", "--output", tmp_path / "b", fits=fits)
    assert len(fits.calls) == 3
    assert len({id(c.model) for c in fits.calls}) == 3
    for call in fits.calls[:2]:
        assert len(call.model.inputs) == 1 and len(call.args[0]) == n - n // 2
        assert len(call.history.history["loss"]) == 1
        assert int(call.model.optimizer.iterations.numpy()) == math.ceil((n - n // 2) / 8)
    final = fits.calls[2]
    assert len(final.args[0]) == n and len(final.history.history["loss"]) == 3
    assert int(final.model.optimizer.iterations.numpy()) == 3 * math.ceil(n / 9)


def test_train_text_flags_shape_the_model_split_and_training(data, tmp_path, fits):
    run_main("train_text.py", "--dataset", data / "folder", "--model", tmp_path / "m",
             "--plot", tmp_path / "p.png", "--num-words", 12, "--units", 5,
             "--test-size", 0.5, "--epochs", 2, "--batch-size", 7, fits=fits)
    [call] = fits.calls
    assert call.model.inputs[0].shape[-1] == 12  # the vocabulary has more words
    assert dense_layers(call.model) == [(5, "relu"), (5, "relu"), (3, "softmax")]
    (x, _) = call.args
    assert len(x) == 36 and len(call.kwargs["validation_data"][0]) == 36  # half of 72
    assert len(call.history.history["loss"]) == 2
    assert int(call.model.optimizer.iterations.numpy()) == 2 * math.ceil(36 / 7)


# --seed of the chapter-3 scripts: script -> (flags, whether it splits)
CHAPTER3_SEEDED = {
    "imdb_reviews.py": (["--dataset", "imdb.npz", "--validation-size", 20], False),
    "reuters_newswires.py": (["--dataset", "reuters", "--validation-size", 20], False),
    "boston_housing.py": (["--dataset", "boston.npz", "--folds", 2], False),
    "train_text.py": (["--dataset", "folder", "--model", "OUT/m", "--plot", "OUT/p.png"],
                      True),
}


@pytest.mark.parametrize("script", CHAPTER3_SEEDED)
def test_chapter3_seed_sets_the_start_and_split(script, data, tmp_path, fits):
    (flags, splits) = CHAPTER3_SEEDED[script]
    argv = [str(tmp_path / a[4:]) if str(a).startswith("OUT/")
            else data / a if a in ("imdb.npz", "reuters", "boston.npz", "folder") else a
            for a in flags]
    if script != "train_text.py":
        argv += ["--output", tmp_path / "out"]
    found = []
    for seed in (3, 3, 4):
        fits.calls.clear()
        run_main(script, *argv, "--seed", seed, stop=1, fits=fits)
        [call] = fits.calls
        found.append((call.weights,
                      np.asarray(call.kwargs["validation_data"][0]) if splits else None))
    [(w1, v1), (w1b, v1b), (w2, v2)] = found
    assert w1 and same_weights(w1, w1b) and not same_weights(w1, w2)
    if splits:
        np.testing.assert_array_equal(v1, v1b)
        assert not np.array_equal(v1, v2)
