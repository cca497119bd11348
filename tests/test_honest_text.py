"""Numbers a learner can trust, for chapter 3 (Deep Learning with Python):
Boston's standardisation sees neither the test houses nor, in its K-fold
validation, the fold's own validation block; IMDB's and Reuters'
vocabularies and labels, and train_text.py's vocabulary, come from the
training texts only; and the names the scripts print (predict_text.py's
classes, the reviews' and newswires' labels and predicted topics) are the
classes the texts belong to.

Every class here has cue words of its own, chosen so that the class names
and their cue words sort in different orders: a name printed for the
wrong output cannot come out right by the accident of sorting.
"""

import os
import re
import shutil
from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import load_script, run_in_process, same_weights

# Keras' loaders (and so the scripts' copies of them) shuffle with this seed
KERAS_SEED = 113
# filler words shared by every class
NEUTRAL = "the a movie story and of it was this to is in with".split()
# novel words, frequent in the texts that replace the test split: any of
# them in a vocabulary means the test texts were read
NOVEL = "qoph zayin tsade resh shin taw samekh ayin".split()


def sentences(rng, cues, count, length=14):
    """``count`` texts of neutral words, about a fifth of them ``cues``."""
    texts = []
    for _ in range(count):
        words = list(rng.choice(NEUTRAL, size=length))
        for k in rng.choice(length, size=length // 4, replace=False):
            words[k] = str(rng.choice(cues))
        texts.append(" ".join(words))
    return texts


def write_texts(folder, texts):
    folder.mkdir(parents=True, exist_ok=True)
    for (i, text) in enumerate(texts):
        (folder / f"{i:03d}.txt").write_text(text)


def keras_order(count):
    """The order Keras' loaders shuffle ``count`` examples into."""
    order = np.arange(count)
    np.random.RandomState(KERAS_SEED).shuffle(order)
    return order


def stop_at_fit(script, *argv, fits):
    """Run ``script`` in this process up to its next ``model.fit``, which
    is recorded in ``fits.calls`` and not run."""
    result = run_in_process(script, *argv, stop=len(fits.calls) + 1, fits=fits)
    assert result.stopped
    return fits.calls[-1]


def same_arrays(a, b):
    """Whether two (nests of) arrays are equal, element for element."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same_arrays(u, v) for (u, v) in zip(a, b))
    return np.array_equal(np.asarray(a), np.asarray(b))


def info(result):
    return [line for line in result.stdout.splitlines() if line.startswith("[INFO]")]


# --------------------------------------------------------------------------
# Boston: standardised with the statistics of what trains, and only that


def write_boston(path, x, y):
    np.savez(path, x=x, y=y)
    return path


@pytest.fixture(scope="module")
def boston(tmp_path_factory):
    """A Boston file and a copy whose 20 test houses (the last fifth in
    Keras' order) have features a thousand times larger and other prices."""
    root = tmp_path_factory.mktemp("boston")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 13)) * rng.uniform(0.5, 50, 13) + rng.uniform(0, 100, 13)
    y = rng.uniform(5, 50, 100)
    tested = keras_order(100)[80:]
    (x2, y2) = (x.copy(), y.copy())
    x2[tested] *= 1000
    y2[tested] = 49.0
    return (write_boston(root / "clean.npz", x, y), write_boston(root / "poisoned.npz", x2, y2))


@pytest.fixture
def unfitted(monkeypatch):
    """``keras.Model.fit`` recording its arguments and training nothing;
    the history it returns holds a 1.0 for every epoch of any metric (what
    boston_housing.py reads back), so a whole run takes a second."""
    import keras

    calls = []

    def record(model, *args, **kwargs):
        calls.append(SimpleNamespace(model=model, args=args, kwargs=kwargs))
        epochs = [1.0] * kwargs.get("epochs", 1)
        return SimpleNamespace(history=defaultdict(lambda: epochs))

    monkeypatch.setattr(keras.Model, "fit", record)
    return calls


@pytest.mark.eager_steps  # untrained models evaluate once (conftest.eager_steps)
@pytest.mark.parametrize("loop", ["chapter", "one-model"])
def test_boston_trains_on_nothing_of_the_test_houses(loop, boston, tmp_path, unfitted):
    """The K-fold models and the final model train and validate on the same
    numbers whatever the test houses hold: the standardisation's mean and
    deviation are the training houses'."""
    argv = ["--folds", 2, "--kfold-epochs", 1, "--kfold-batch-size", 40, "--epochs", 1,
            "--batch-size", 80, "--kfold-loop", loop]
    runs = []
    for dataset in boston:
        unfitted.clear()
        run_in_process("boston_housing.py", "--dataset", dataset, *argv,
                       "--output", tmp_path / dataset.stem)
        runs.append([[examples(c.args), examples(c.kwargs.get("validation_data"))]
                     for c in unfitted])
    (clean, poisoned) = runs
    assert len(clean) == (3 if loop == "chapter" else 2)
    assert clean == poisoned


def examples(data):
    """What a fit is given, as comparable bytes: arrays as they are, a
    ``tf.data`` pipeline (the folds in one model) as its sorted examples."""
    import tensorflow as tf

    if data is None:
        return None
    if isinstance(data, tf.data.Dataset):
        return sorted(str([np.asarray(t).tobytes() for t in tf.nest.flatten(example)])
                      for example in data.unbatch())
    if isinstance(data, (tuple, list)):
        return [examples(d) for d in data]
    return np.asarray(data).tobytes()


class Recorder:
    """Stands in for keras in ``kfold_chapter_loop``: each fold's model
    records what it is trained and validated on."""

    def __init__(self):
        self.fits = []
        self.Sequential = lambda layers, name=None: self
        self.layers = SimpleNamespace(Dense=lambda *a, **k: None)

    def compile(self, **kwargs):
        pass

    def fit(self, x, y, validation_data, epochs, **kwargs):
        self.fits.append((x, y, validation_data))
        return SimpleNamespace(history={"val_mae": [0.0] * epochs})

    def evaluate(self, x, y, verbose):
        return (0.0, 0.0)


def kfold_data(boston, k, fold, poison):
    """Per fold, what it trains on and is validated on, from the chapter's
    loop and from the folds in one model (``kfold_splits``), with the raw
    training houses of fold ``fold``'s validation block multiplied by
    ``poison``."""
    from pyimagesearch.chapter3_datasets import load_boston_npz

    script = load_script("boston_housing.py")
    ((x, y), _) = load_boston_npz(str(boston))
    n = len(x) // k
    x = x.copy()
    x[fold * n:(fold + 1) * n] *= poison
    keras = Recorder()
    script.kfold_chapter_loop(keras, x, y, k, 1, 1)
    chapter = [(f[0], f[2][0]) for f in keras.fits]
    oneModel = [(f[0], f[2]) for f in script.kfold_splits(x, y, k)]
    return (x, chapter, oneModel)


def test_each_kfold_fold_is_standardised_with_its_training_blocks_only(boston):
    """Inside the K-fold validation a fold's validation block is its test
    data: its model trains on the other blocks standardised with their own
    mean and deviation, which a changed validation block leaves alone."""
    (k, fold) = (4, 1)
    (x, chapter, oneModel) = kfold_data(boston[0], k, fold, 1.0)
    (_, chapter2, oneModel2) = kfold_data(boston[0], k, fold, 1000.0)
    n = len(x) // k
    raw = np.concatenate([x[:fold * n], x[(fold + 1) * n:]])
    (mean, std) = (raw.mean(axis=0), raw.std(axis=0))
    for (folds, changed) in ((chapter, chapter2), (oneModel, oneModel2)):
        (train, val) = folds[fold]
        np.testing.assert_allclose(train, (raw - mean) / std, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(val, (x[fold * n:(fold + 1) * n] - mean) / std,
                                   rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(changed[fold][0], train)
        # the other folds train on the changed block, and see it
        assert not np.array_equal(changed[0][0], folds[0][0])
