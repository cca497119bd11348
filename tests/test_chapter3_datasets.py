"""The chapter 3 datasets (pyimagesearch/chapter3_datasets.py) on data the
tests write: Keras' npz formats, Boston, the aclImdb layout. No training."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pyimagesearch import chapter3_datasets, sample_data
from pyimagesearch.errors import UserError

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def test_multi_hot_marks_each_word_once_and_ignores_rare_indices():
    x = chapter3_datasets.multi_hot([[1, 3, 3, 9], [], [12, 2]], dimension=10)
    assert x.shape == (3, 10) and x.dtype == np.float32
    assert np.flatnonzero(x[0]).tolist() == [1, 3, 9]
    assert x[1].sum() == 0
    assert np.flatnonzero(x[2]).tolist() == [2]  # 12 >= dimension is left out


def _keras_sequences(count, seed):
    rng = np.random.default_rng(seed)
    seqs = np.empty(count, dtype=object)
    for i in range(count):
        seqs[i] = rng.integers(1, 50, size=int(rng.integers(3, 9))).tolist()
    return seqs


def test_imdb_npz_is_read_as_keras_reads_it(tmp_path):
    (xTrain, xTest) = (_keras_sequences(30, 0), _keras_sequences(20, 1))
    yTrain = np.arange(30) % 2
    yTest = np.arange(20) % 2
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=xTrain, y_train=yTrain, x_test=xTest, y_test=yTest)
    data = chapter3_datasets.load_imdb_npz(str(path), num_words=20)

    order = np.arange(30)
    np.random.RandomState(113).shuffle(order)  # Keras' shuffle of the training split
    assert data.train_labels.tolist() == yTrain[order].tolist()
    first = xTrain[order[0]]
    expected = [1] + [w + 3 if w + 3 < 20 else 2 for w in first]
    assert data.train_seqs[0] == expected
    assert len(data.test_seqs) == 20
    assert all(s[0] == 1 and max(s) < 20 for s in data.train_seqs + data.test_seqs)
    # no word index beside the file: a review decodes to its numbers
    assert data.decode([1, 5]) == "1 5"


def test_word_index_beside_the_npz_decodes_reviews(tmp_path):
    path = tmp_path / "imdb.npz"
    sample_data.write_imdb_npz(str(path), count=20)
    data = chapter3_datasets.load_imdb_npz(str(path))
    with open(tmp_path / "imdb_word_index.json") as f:
        wordIndex = json.load(f)
    byIndex = {i: w for (w, i) in wordIndex.items()}
    seq = data.train_seqs[0]
    assert data.decode(seq).split() == ["?"] + [byIndex.get(i - 3, "?") for i in seq[1:]]


def test_reuters_npz_split_80_20_after_keras_shuffle(tmp_path):
    path = tmp_path / "reuters.npz"
    (x, y) = (_keras_sequences(50, 2), np.arange(50) % 5)
    np.savez(path, x=x, y=y)
    data = chapter3_datasets.load_reuters_npz(str(path))
    order = np.arange(50)
    np.random.RandomState(113).shuffle(order)
    assert (len(data.train_seqs), len(data.test_seqs)) == (40, 10)
    assert data.test_labels.tolist() == y[order][40:].tolist()
    assert data.class_names == ["0", "1", "2", "3", "4"]


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("case", ["foreign", "wrong_array", "not_zip", "missing", "pickle",
                                  "ragged", "zero_d", "empty_test"])
def test_bad_npz_files_are_one_line_errors(tmp_path, case):
    path = tmp_path / "data.npz"
    if case == "foreign":
        np.savez(path, x=np.zeros((5, 13)), y=np.zeros(5))  # a Boston file
    elif case == "wrong_array":
        np.savez(path, x_train=np.zeros((4, 3)), y_train=np.zeros(4),
                 x_test=np.zeros((4, 3)), y_test=np.zeros(4))  # floats, not indices
    elif case == "not_zip":
        path.write_text("not an archive")
    elif case in ("ragged", "zero_d", "empty_test"):
        good = _keras_sequences(4, 0)
        bad = {"ragged": np.array([[[1, 2], [3]], [4]] + [[5]] * 2, dtype=object),
               "zero_d": np.array(7), "empty_test": good[:0]}[case]
        np.savez(path, x_train=good, y_train=np.zeros(4, int), x_test=bad,
                 y_test=np.zeros(np.size(bad) if case != "ragged" else 4, int))
    elif case == "pickle":
        evil = np.empty(2, dtype=object)
        evil[0], evil[1] = _Evil(), [1, 2]
        np.savez(path, x_train=evil, y_train=np.zeros(2, int), x_test=evil,
                 y_test=np.zeros(2, int))
    with pytest.raises(UserError) as error:
        chapter3_datasets.load_imdb_npz(str(path))
    message = str(error.value)
    assert "\n" not in message and "data.npz" in message
    if case == "foreign":
        assert "x_train" in message
    if case == "pickle":
        assert "refusing" in message
    if case in ("ragged", "zero_d"):
        assert "x_test must hold lists of word indices" in message
    if case == "empty_test":
        assert "x_test holds 0 sequence(s)" in message


def test_boston_npz_split_as_keras_does(tmp_path):
    path = tmp_path / "boston.npz"
    sample_data.write_boston_npz(str(path), count=50)
    with np.load(path) as f:
        (x, y) = (f["x"], f["y"])
    ((trainX, trainY), (testX, testY)) = chapter3_datasets.load_boston_npz(str(path))
    order = np.arange(50)
    np.random.RandomState(113).shuffle(order)
    assert (len(trainX), len(testX)) == (40, 10)
    np.testing.assert_allclose(trainX[0], x[order[0]], rtol=1e-6)
    np.testing.assert_allclose(testY, y[order[40:]], rtol=1e-6)


@pytest.mark.parametrize("x, y", [(np.zeros((20, 13)), np.zeros(19)),
                                  (np.zeros((20, 0)), np.zeros(20)),   # no features
                                  (np.array(3.0), np.zeros(20)),
                                  (np.full((20, 13), 1e39), np.zeros(20))])   # beyond float32
def test_boston_npz_with_wrong_arrays(tmp_path, x, y):
    path = tmp_path / "boston.npz"
    np.savez(path, x=x, y=y)
    with pytest.raises(UserError, match="one price per house|beyond float32"):
        chapter3_datasets.load_boston_npz(str(path))


@pytest.mark.parametrize("labels, bad", [([0, 2], "y_train"), ([0, -1], "y_train")])
def test_imdb_npz_labels_must_be_0_or_1(tmp_path, labels, bad):
    path = tmp_path / "imdb.npz"
    np.savez(path, x_train=_keras_sequences(2, 0), y_train=np.array(labels),
             x_test=_keras_sequences(2, 1), y_test=np.array([0, 1]))
    with pytest.raises(UserError, match=f"{bad} holds labels outside 0 to 1"):
        chapter3_datasets.load_imdb_npz(str(path), num_words=20)


def test_reuters_npz_negative_label_is_refused(tmp_path):
    path = tmp_path / "reuters.npz"
    np.savez(path, x=_keras_sequences(10, 0), y=np.array([0, 1, 2, -1, 0, 1, 2, 0, 1, 2]))
    with pytest.raises(UserError, match="labels outside >= 0"):
        chapter3_datasets.load_reuters_npz(str(path), num_words=20)


def test_imdb_folder_must_have_the_release_layout(tmp_path):
    sample_data.write_text_folder(str(tmp_path / "train"), classes=("neg", "pos"), per_class=2)
    with pytest.raises(UserError, match="'test'"):
        chapter3_datasets.load_imdb_folder(str(tmp_path))
    sample_data.write_text_folder(str(tmp_path / "test"), classes=("bad", "good"), per_class=2)
    with pytest.raises(UserError, match="'neg' and 'pos'"):
        chapter3_datasets.load_imdb_folder(str(tmp_path))


@pytest.mark.skipif(not (SHARED / "boston_housing.npz").exists(), reason="no ../shared")
def test_real_boston_first_row_is_the_chapters():
    ((trainX, trainY), (testX, _)) = chapter3_datasets.load_boston_npz(str(SHARED / "boston_housing.npz"))
    assert (len(trainX), len(testX)) == (404, 102)
    np.testing.assert_allclose(trainX[0][:3], [1.23247, 0.0, 8.14], rtol=1e-5)
    np.testing.assert_allclose(trainY[:3], [15.2, 42.3, 50.0], rtol=1e-5)
    assert (trainY.min(), round(float(trainY.mean()), 3), trainY.max()) == (5.0, 22.395, 50.0)
