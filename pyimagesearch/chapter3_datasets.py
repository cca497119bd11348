"""The datasets of Deep Learning with Python, chapter 3, from whichever copy
the user has, each read the way ``keras.datasets`` reads its own.

* IMDB reviews: Keras' download, its ``imdb.npz``, or the original release's
  folders (``aclImdb/train|test/pos|neg``).
* Reuters newswires: Keras' download, its ``reuters.npz``, or the
  Reuters-21578 SGML files (``reuters21578.py`` makes them into the
  single-label set).
* Boston housing: Keras' download or its ``boston_housing.npz``.

IMDB and Reuters come as ``TextSplits`` (word-index sequences with a way
back to words), so the scripts do the rest of the chapter the same way
whichever copy they read; Boston comes as Keras' arrays. ``multi_hot`` is
the chapter's ``vectorize_sequences``. Nothing here imports TensorFlow at
module level; Keras is imported when a function needs it.
"""

import io
import json
import os
import zipfile
from dataclasses import dataclass, field

import numpy as np

from . import reuters21578
from .cli import FLOAT32_MAX, warn
from .errors import UserError
from .storage import NUMPY_GLOBALS, RestrictedUnpickler
from .textfolders import load_text_folder, make_vectorizer

# Keras' imdb/reuters loaders: 1 marks the start of a text, 2 a word outside
# the vocabulary, and real words start at index 3 (0 is padding)
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
# the seed Keras shuffles and splits its copies with
KERAS_SEED = 113


@dataclass
class TextSplits:
    """Word-index sequences and labels of a train and a test split."""
    train_seqs: list
    train_labels: np.ndarray
    test_seqs: list
    test_labels: np.ndarray
    words: dict = field(default_factory=dict)  # index -> word, for decoding
    class_names: list = field(default_factory=list)

    def decode(self, seq):
        """A sequence back to words; ``?`` for padding, start and unknown
        (the indices themselves when no word index came with the data)."""
        if not self.words:
            return " ".join(str(int(i)) for i in seq)
        return " ".join(self.words.get(int(i), "?") for i in seq)


def multi_hot(sequences, dimension=10000):
    """The chapter's ``vectorize_sequences``: one row per sequence, 1.0 in
    every column whose word index occurs in it (float32: half the memory of
    the chapter's float64, same values)."""
    results = np.zeros((len(sequences), dimension), dtype="float32")
    for (i, seq) in enumerate(sequences):
        seq = np.asarray(seq, dtype="int64")
        results[i, seq[seq < dimension]] = 1.0
    return results


def _keras_shuffle(count):
    """The order Keras' loaders shuffle ``count`` examples into."""
    order = np.arange(count)
    np.random.RandomState(KERAS_SEED).shuffle(order)
    return order


# --------------------------------------------------------------------------
# Which copy: the scripts' --dataset


def load_chapter_text(name, dataset, num_words=10000):
    """``imdb`` or ``reuters`` as the scripts take it: with ``dataset`` None,
    Keras' own copy (downloaded once by Keras); a folder, the original
    release (aclImdb, Reuters-21578 SGML); a file, Keras' ``.npz`` format."""
    if dataset is None:
        ((x_train, y_train), (x_test, y_test)) = keras_download(name, num_words=num_words)
        class_names = (["negative", "positive"] if name == "imdb"
                      else [str(i) for i in range(int(max(y_train.max(), y_test.max())) + 1)])
        return TextSplits(list(x_train), np.asarray(y_train), list(x_test), np.asarray(y_test),
                          keras_word_index(name), class_names)
    if os.path.isdir(dataset):
        loader = load_imdb_folder if name == "imdb" else load_reuters_folder
    elif os.path.isfile(dataset):
        loader = load_imdb_npz if name == "imdb" else load_reuters_npz
    else:
        raise UserError(f"--dataset {dataset!r} does not exist")
    return loader(dataset, num_words)


def keras_download(name, **kwargs):
    """``keras.datasets.<name>.load_data(**kwargs)``; one line if it can neither
    download nor find a cached copy."""
    import keras

    try:
        return getattr(keras.datasets, name).load_data(**kwargs)
    except Exception as error:
        reason = str(error).strip().splitlines()[-1][:120] if str(error).strip() else ""
        raise UserError(f"no --dataset given and Keras could not download {name}.npz "
                        f"({reason or type(error).__name__}); pass --dataset with a "
                        f"local copy") from None


def keras_word_index(name):
    """index -> word from ``keras.datasets.<name>.get_word_index()``, or {}."""
    import keras

    try:
        word_index = getattr(keras.datasets, name).get_word_index()
    except Exception:
        warn(f"Keras could not download the {name} word index; texts are shown as numbers")
        return {}
    return {int(i) + INDEX_FROM: w for (w, i) in word_index.items()}


# --------------------------------------------------------------------------
# Keras' .npz files


def load_npz(path, names, flag="--dataset"):
    """The arrays ``names`` of a ``.npz`` file. Object arrays (Keras' lists
    of word indices are pickled) are rebuilt by ``storage.RestrictedUnpickler``,
    which makes NumPy arrays and nothing else: a pickle from elsewhere could
    run any code. Any problem is one line."""
    if not os.path.isfile(path):
        raise UserError(f"{flag} {path!r} does not exist")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise UserError(f"{flag} {path!r} is not a .npz file") from None
    arrays = {}
    with archive:
        members = set(archive.namelist())
        missing = [n for n in names if n + ".npy" not in members]
        if missing:
            found = ", ".join(sorted(m[:-4] for m in members if m.endswith(".npy"))) or "none"
            raise UserError(f"{flag} {path!r} has no array {missing[0]!r} "
                            f"(expected {', '.join(names)}; found {found})")
        for name in names:
            try:
                with archive.open(name + ".npy") as f:
                    arrays[name] = _read_npy(io.BytesIO(f.read()))
            except Exception as error:
                raise UserError(f"{flag} {path!r}: array {name!r} cannot be read "
                                f"({str(error)[:120]})") from None
    return arrays


def _read_npy(f):
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        (shape, fortran, dtype) = np.lib.format.read_array_header_1_0(f)
    else:
        (shape, fortran, dtype) = np.lib.format.read_array_header_2_0(f)
    if not dtype.hasobject:
        f.seek(0)
        return np.lib.format.read_array(f, allow_pickle=False)
    array = RestrictedUnpickler(f, NUMPY_GLOBALS, encoding="latin1").load()
    return np.asarray(array, dtype=object).reshape(shape)


def _check_sequences(seqs, name, path, least=1):
    """At least ``least`` items, each a list of whole numbers >= 0."""
    problem = f"--dataset {path!r}: {name} must hold lists of word indices (Keras' format)"
    if np.ndim(seqs) == 0:
        raise UserError(problem)
    if len(seqs) < least:
        raise UserError(f"--dataset {path!r}: {name} holds {len(seqs)} sequence(s); "
                        f"at least {least} needed")
    for seq in seqs:
        try:
            arr = np.asarray(seq)
        except (ValueError, TypeError):   # a list of lists of different lengths
            raise UserError(problem) from None
        if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0)):
            raise UserError(problem)


def _check_labels(labels, name, path, count, classes=None):
    """One whole-number label >= 0 per sequence (below ``classes`` if given)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != count or labels.dtype.kind not in "iu":
        raise UserError(f"--dataset {path!r}: {name} must hold one whole-number "
                        f"label per sequence")
    if len(labels) and (labels.min() < 0 or (classes and labels.max() >= classes)):
        allowed = f"0 to {classes - 1}" if classes else ">= 0"
        raise UserError(f"--dataset {path!r}: {name} holds labels outside {allowed}")
    return labels.astype("int64")


def _keras_indices(seqs, num_words):
    """What Keras' loaders do to the stored indices: a start mark, every
    word shifted by 3, words outside the ``num_words`` most frequent -> 2."""
    out = []
    for seq in seqs:
        seq = [START_CHAR] + [int(w) + INDEX_FROM for w in seq]
        out.append([w if w < num_words else OOV_CHAR for w in seq])
    return out


def _saved_word_index(path, filename):
    """index -> word from Keras' ``*_word_index.json`` in the folder of the
    .npz, if there is one."""
    json_path = os.path.join(os.path.dirname(os.path.abspath(path)), filename)
    if not os.path.isfile(json_path):
        return {}
    try:
        with open(json_path, encoding="utf-8") as f:
            word_index = json.load(f)
        return {int(i) + INDEX_FROM: w for (w, i) in word_index.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        warn(f"{json_path!r} is not a word index; reviews are shown as numbers")
        return {}


def load_imdb_npz(path, num_words=10000):
    """Keras' ``imdb.npz`` read as ``keras.datasets.imdb.load_data`` reads it
    (each split shuffled with seed 113)."""
    arrays = load_npz(path, ["x_train", "y_train", "x_test", "y_test"])
    splits = []
    for part in ("train", "test"):
        (x, y) = (arrays[f"x_{part}"], arrays[f"y_{part}"])
        _check_sequences(x, f"x_{part}", path)
        y = _check_labels(y, f"y_{part}", path, len(x), classes=2)
        order = _keras_shuffle(len(x))
        splits.append((_keras_indices(x[order], num_words), y[order]))
    words = _saved_word_index(path, "imdb_word_index.json")
    return TextSplits(splits[0][0], splits[0][1], splits[1][0], splits[1][1], words,
                      ["negative", "positive"])


def load_reuters_npz(path, num_words=10000, test_split=0.2):
    """Keras' ``reuters.npz`` read as ``keras.datasets.reuters.load_data``
    reads it (shuffled with seed 113, the last 20% for testing)."""
    arrays = load_npz(path, ["x", "y"])
    (x, y) = (arrays["x"], arrays["y"])
    # five at least, so that the last fifth tests one newswire or more
    _check_sequences(x, "x", path, least=5)
    y = _check_labels(y, "y", path, len(x))
    order = _keras_shuffle(len(x))
    (x, y) = (_keras_indices(x[order], num_words), y[order])
    split = int(len(x) * (1 - test_split))
    words = _saved_word_index(path, "reuters_word_index.json")
    return TextSplits(x[:split], y[:split], x[split:], y[split:], words,
                      [str(i) for i in range(int(y.max()) + 1)])


def load_boston_npz(path, test_split=0.2):
    """``(train_x, train_y), (test_x, test_y)`` as ``keras.datasets.boston_housing``
    makes them: shuffled with ``RandomState(113)``, the first 80% for training."""
    arrays = load_npz(path, ["x", "y"])
    (x, y) = (arrays["x"], arrays["y"])
    if x.dtype.kind not in "iuf" or x.ndim != 2 or y.ndim != 1 or len(x) != len(y) \
            or x.shape[1] == 0:
        raise UserError(f"--dataset {path!r}: expected x (houses x features, one feature "
                        f"or more) and y (one price per house) as numbers, got x "
                        f"{x.shape}, y {y.shape}")
    if y.dtype.kind not in "iuf" or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UserError(f"--dataset {path!r}: x and y must be finite numbers")
    if max(np.abs(x).max(initial=0), np.abs(y).max(initial=0)) > FLOAT32_MAX:
        raise UserError(f"--dataset {path!r}: x or y holds a number beyond float32's range "
                        f"(+-{FLOAT32_MAX:.2e}), which the network computes in")
    if len(x) < 10:
        raise UserError(f"--dataset {path!r} holds only {len(x)} houses")
    order = _keras_shuffle(len(x))
    (x, y) = (x[order].astype("float32"), y[order].astype("float32"))
    split = int(len(x) * (1 - test_split))
    return (x[:split], y[:split]), (x[split:], y[split:])


# --------------------------------------------------------------------------
# The original releases: raw text, tokenised here


def texts_to_sequences(train_texts, test_texts, num_words=10000):
    """Word-index sequences of raw texts, vocabulary from the training texts.

    Returns ``(train_seqs, test_seqs, words)``; a sequence starts with 1 (as
    Keras' copies mark the start of a text) and words outside the
    vocabulary are 1 too ("?" when decoded).
    """
    vectorizer = make_vectorizer(num_words, "int")
    vectorizer.adapt(np.array(train_texts, dtype=object), batch_size=512)

    def encode(texts):
        seqs = []
        for start in range(0, len(texts), 512):
            batch = vectorizer(np.array(texts[start:start + 512], dtype=object)).numpy()
            seqs.extend([START_CHAR] + row[row > 0].tolist() for row in batch)
        return seqs

    vocabulary = vectorizer.get_vocabulary()
    words = {i: w for (i, w) in enumerate(vocabulary) if i > 1}
    return (encode(train_texts), encode(test_texts), words)


def load_imdb_folder(folder, num_words=10000):
    """The original release: ``folder/train|test/neg|pos/*.txt``."""
    for part in ("train", "test"):
        if not os.path.isdir(os.path.join(folder, part)):
            raise UserError(f"--dataset {folder!r} has no {part!r} folder "
                            f"(expected the aclImdb layout train|test/neg|pos/*.txt)")
    loaded = {}
    for part in ("train", "test"):
        (texts, labels, names) = load_text_folder(os.path.join(folder, part))
        if names != ["neg", "pos"]:
            raise UserError(f"--dataset {folder!r}: {part}/ must hold exactly the "
                            f"classes 'neg' and 'pos', found {names}")
        # the folders list negatives first: shuffle (with Keras' seed) so
        # that any slice, such as the held-out first reviews, mixes both
        order = _keras_shuffle(len(texts))
        loaded[part] = ([texts[i] for i in order], labels[order])
    (train_seqs, test_seqs, words) = texts_to_sequences(loaded["train"][0],
                                                      loaded["test"][0], num_words)
    return TextSplits(train_seqs, loaded["train"][1], test_seqs, loaded["test"][1], words,
                      ["negative", "positive"])


def load_reuters_folder(folder, num_words=10000, min_count=10, test_split=0.2):
    """Reuters-21578's ``reut2-*.sgm`` as the single-label set, split 80/20
    after a shuffle with seed 113, as Keras split its copy."""
    (texts, labels, topic_names) = reuters21578.load_single_label(folder, min_count)
    order = _keras_shuffle(len(texts))
    texts = [texts[i] for i in order]
    labels = labels[order]
    split = int(len(texts) * (1 - test_split))
    (train_seqs, test_seqs, words) = texts_to_sequences(texts[:split], texts[split:],
                                                      num_words)
    return TextSplits(train_seqs, labels[:split], test_seqs, labels[split:], words,
                      topic_names)
