"""Loaders for Deep Learning with Python, chapter 3, and for your own text.

* IMDB reviews: the original release's folders (``aclImdb/train|test/pos|neg``)
  or Keras' ``imdb.npz`` (reviews already turned into word indices).
* Reuters newswires: the Reuters-21578 SGML files, made into the single-label
  set the way Keras' ``reuters.npz`` was, or ``reuters.npz`` itself.
* Boston housing: Keras' ``boston_housing.npz`` (arrays ``x`` and ``y``),
  split as ``keras.datasets.boston_housing.load_data`` splits it.
* Your own text: a folder with one sub-folder of ``.txt`` files per class;
  empty, binary or non-UTF-8 files are skipped with a warning.
* ``multi_hot``: the chapter's ``vectorize_sequences``.

Every loader returns word-index sequences with a way back to words, so the
scripts do the rest of the chapter the same way whichever copy they read.
Nothing here imports TensorFlow at module level; ``texts_to_sequences``
imports Keras when it is called.

``python -m pyimagesearch.text imdb|reuters|boston|folder OUT`` writes small
generated data in each format (for the demo and the tests).
"""

import glob
import html
import io
import json
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np

from .cli import UserError, warn

# Keras' imdb/reuters loaders: 1 marks the start of a text, 2 a word outside
# the vocabulary, and real words start at index 3 (0 is padding)
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3
# the seed Keras shuffles and splits its copies with
KERAS_SEED = 113


@dataclass
class TextSplits:
    """Word-index sequences and labels of a train and a test split."""
    trainSeqs: list
    trainLabels: np.ndarray
    testSeqs: list
    testLabels: np.ndarray
    words: dict = field(default_factory=dict)  # index -> word, for decoding
    classNames: list = field(default_factory=list)

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


# --------------------------------------------------------------------------
# Keras' .npz files


_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}


class _ArrayUnpickler(pickle.Unpickler):
    """Rebuilds NumPy arrays of lists of numbers, nothing else: Keras'
    imdb.npz and reuters.npz hold pickled object arrays, and a pickle from
    elsewhere could run any code."""

    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def load_npz(path, names, flag="--dataset"):
    """The arrays ``names`` of a ``.npz`` file; object arrays (lists of word
    indices) are read with ``_ArrayUnpickler``. Any problem is one line."""
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
    array = _ArrayUnpickler(f, encoding="latin1").load()
    return np.asarray(array, dtype=object).reshape(shape)


def _check_sequences(seqs, name, path):
    """Every item must be a list of whole numbers >= 0."""
    for seq in seqs:
        arr = np.asarray(seq)
        if arr.ndim != 1 or (arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0)):
            raise UserError(f"--dataset {path!r}: {name} must hold lists of word "
                            f"indices (Keras' format)")


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


def _keras_indices(seqs, numWords):
    """What Keras' loaders do to the stored indices: a start mark, every
    word shifted by 3, words outside the ``numWords`` most frequent -> 2."""
    out = []
    for seq in seqs:
        seq = [START_CHAR] + [int(w) + INDEX_FROM for w in seq]
        out.append([w if w < numWords else OOV_CHAR for w in seq])
    return out


def _word_index_beside(path, filename):
    """index -> word from Keras' ``*_word_index.json`` next to the .npz, if any."""
    jsonPath = os.path.join(os.path.dirname(os.path.abspath(path)), filename)
    if not os.path.isfile(jsonPath):
        return {}
    try:
        with open(jsonPath, encoding="utf-8") as f:
            wordIndex = json.load(f)
        return {int(i) + INDEX_FROM: w for (w, i) in wordIndex.items()}
    except (OSError, ValueError, TypeError, AttributeError):
        warn(f"{jsonPath!r} is not a word index; reviews are shown as numbers")
        return {}


def load_imdb_npz(path, numWords=10000):
    """Keras' ``imdb.npz`` read as ``keras.datasets.imdb.load_data`` reads it
    (each split shuffled with seed 113)."""
    arrays = load_npz(path, ["x_train", "y_train", "x_test", "y_test"])
    splits = []
    for part in ("train", "test"):
        (x, y) = (arrays[f"x_{part}"], arrays[f"y_{part}"])
        _check_sequences(x, f"x_{part}", path)
        y = _check_labels(y, f"y_{part}", path, len(x), classes=2)
        order = np.arange(len(x))
        np.random.RandomState(KERAS_SEED).shuffle(order)
        splits.append((_keras_indices(x[order], numWords), y[order]))
    words = _word_index_beside(path, "imdb_word_index.json")
    return TextSplits(splits[0][0], splits[0][1], splits[1][0], splits[1][1], words,
                      ["negative", "positive"])


def load_reuters_npz(path, numWords=10000, testSplit=0.2):
    """Keras' ``reuters.npz`` read as ``keras.datasets.reuters.load_data``
    reads it (shuffled with seed 113, the last 20% for testing)."""
    arrays = load_npz(path, ["x", "y"])
    (x, y) = (arrays["x"], arrays["y"])
    _check_sequences(x, "x", path)
    y = _check_labels(y, "y", path, len(x))
    order = np.arange(len(x))
    np.random.RandomState(KERAS_SEED).shuffle(order)
    (x, y) = (_keras_indices(x[order], numWords), y[order])
    split = int(len(x) * (1 - testSplit))
    words = _word_index_beside(path, "reuters_word_index.json")
    return TextSplits(x[:split], y[:split], x[split:], y[split:], words,
                      [str(i) for i in range(int(y.max()) + 1)])


# --------------------------------------------------------------------------
# Text in folders (aclImdb, your own data)


def read_text_file(path):
    """The text of a file, or ``(None, reason)`` if it is no usable text."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        return (None, error.strerror or "cannot be read")
    if not data.strip():
        return (None, "empty")
    if b"\x00" in data:
        return (None, "binary, not text")
    try:
        return (data.decode("utf-8-sig"), None)
    except UnicodeDecodeError:
        return (None, "not UTF-8 text")


# the original IMDB release keeps 50,000 unlabelled reviews in train/unsup
UNLABELLED_FOLDERS = ("unsup",)


def load_text_folder(folder, flag="--dataset", minClasses=2):
    """Texts and integer labels from ``folder/<class>/*.txt`` (classes sorted
    by name). Unusable files are skipped with a warning each (at most five,
    then a count); no usable class, or fewer than ``minClasses``, is a
    ``UserError``."""
    if not os.path.isdir(folder):
        raise UserError(f"{flag} {folder!r} is not a folder")
    classes = sorted(d for d in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    for name in [c for c in classes if c in UNLABELLED_FOLDERS]:
        warn(f"skipping {os.path.join(folder, name)}: unlabelled texts, not a class")
        classes.remove(name)
    (texts, labels, names, skipped) = ([], [], [], [])
    for name in classes:
        files = sorted(glob.glob(os.path.join(folder, name, "*.txt")))
        classTexts = []
        for path in files:
            (text, problem) = read_text_file(path)
            if problem:
                skipped.append(f"{path}: {problem}")
            else:
                classTexts.append(text)
        if not classTexts:
            if files:
                warn(f"{flag}: class {name!r} has no readable .txt file; left out")
            continue
        labels.extend([len(names)] * len(classTexts))
        names.append(name)
        texts.extend(classTexts)
    for line in skipped[:5]:
        warn(f"skipped {line}")
    if len(skipped) > 5:
        warn(f"skipped {len(skipped) - 5} more unusable files")
    if not names:
        raise UserError(f"{flag} {folder!r} has no sub-folder of .txt files "
                        f"(expected {flag} FOLDER/<class>/*.txt)")
    if len(names) < minClasses:
        raise UserError(f"{flag} {folder!r} has only one class ({names[0]!r}); "
                        f"a classifier needs at least two sub-folders of .txt files")
    return (texts, np.array(labels, dtype="int64"), names)


def list_text_files(folder, flag="--folder"):
    """The ``.txt`` files directly in ``folder``, sorted."""
    if not os.path.isdir(folder):
        raise UserError(f"{flag} {folder!r} is not a folder")
    files = sorted(glob.glob(os.path.join(folder, "*.txt")))
    if not files:
        raise UserError(f"{flag} {folder!r} holds no .txt file")
    return files


def make_vectorizer(numWords, outputMode):
    """``keras.layers.TextVectorization`` keeping the ``numWords`` most
    frequent words (index 0 padding, 1 unknown words: what ``num_words``
    did to Keras' copies)."""
    import keras

    return keras.layers.TextVectorization(max_tokens=numWords, output_mode=outputMode)


def vectorize_texts(vectorizer, texts, batchSize=512):
    """``vectorizer`` applied to ``texts`` in batches, as one NumPy array."""
    return np.concatenate([
        np.asarray(vectorizer(np.array(texts[start:start + batchSize], dtype=object)))
        for start in range(0, len(texts), batchSize)])


def labels_path(modelPath):
    """Where the class names of a text model are kept: beside the model,
    ``M.keras`` -> ``M_labels.pickle``."""
    stem = modelPath[:-len(".keras")] if modelPath.endswith(".keras") else modelPath
    return stem + "_labels.pickle"


def texts_to_sequences(trainTexts, testTexts, numWords=10000):
    """Word-index sequences of raw texts, vocabulary from the training texts.

    Returns ``(trainSeqs, testSeqs, words)``; a sequence starts with 1 (as
    Keras' copies mark the start of a text) and words outside the
    vocabulary are 1 too ("?" when decoded).
    """
    vectorizer = make_vectorizer(numWords, "int")
    vectorizer.adapt(np.array(trainTexts, dtype=object), batch_size=512)

    def encode(texts):
        seqs = []
        for start in range(0, len(texts), 512):
            batch = vectorizer(np.array(texts[start:start + 512], dtype=object)).numpy()
            seqs.extend([START_CHAR] + row[row > 0].tolist() for row in batch)
        return seqs

    vocabulary = vectorizer.get_vocabulary()
    words = {i: w for (i, w) in enumerate(vocabulary) if i > 1}
    return (encode(trainTexts), encode(testTexts), words)


def load_imdb_folder(folder, numWords=10000):
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
        order = np.arange(len(texts))
        np.random.RandomState(KERAS_SEED).shuffle(order)
        loaded[part] = ([texts[i] for i in order], labels[order])
    (trainSeqs, testSeqs, words) = texts_to_sequences(loaded["train"][0],
                                                      loaded["test"][0], numWords)
    return TextSplits(trainSeqs, loaded["train"][1], testSeqs, loaded["test"][1], words,
                      ["negative", "positive"])


# --------------------------------------------------------------------------
# Reuters-21578 (SGML)


_REUTERS = re.compile(r"<REUTERS\b[^>]*>(.*?)</REUTERS>", re.S)
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _sgml_text(match):
    if not match:
        return ""
    return _CONTROL.sub(" ", html.unescape(match.group(1))).strip()


def parse_reuters_sgml(text):
    """``(topics, title, body)`` of every ``<REUTERS>`` element of one file."""
    docs = []
    for element in _REUTERS.finditer(text):
        inner = element.group(1)
        topics = _TOPICS.search(inner)
        topics = [t.strip() for t in _D.findall(topics.group(1))] if topics else []
        docs.append((topics, _sgml_text(_TITLE.search(inner)),
                     _sgml_text(_BODY.search(inner))))
    return docs


def reuters_single_label(docs, minCount=10):
    """The single-label set: newswires with a topic, labelled by their first
    topic, topics with fewer than ``minCount`` such newswires dropped.
    Returns ``(texts, labels, topicNames)``, text = title + body."""
    labelled = [(topics[0], f"{title}\n{body}") for (topics, title, body) in docs if topics]
    counts = {}
    for (topic, _) in labelled:
        counts[topic] = counts.get(topic, 0) + 1
    topicNames = sorted(t for (t, n) in counts.items() if n >= minCount)
    ids = {t: i for (i, t) in enumerate(topicNames)}
    kept = [(text, ids[topic]) for (topic, text) in labelled if topic in ids]
    return ([t for (t, _) in kept], np.array([i for (_, i) in kept], dtype="int64"),
            topicNames)


def load_reuters_folder(folder, numWords=10000, minCount=10, testSplit=0.2):
    """Reuters-21578's ``reut2-*.sgm`` (latin-1) as a single-label set, split
    80/20 after a shuffle with seed 113, as Keras split its copy."""
    files = sorted(glob.glob(os.path.join(folder, "*.sgm")))
    if not files:
        nested = sorted(glob.glob(os.path.join(folder, "*", "*.sgm")))
        files = nested
    if not files:
        raise UserError(f"--dataset {folder!r} holds no Reuters-21578 .sgm file")
    docs = []
    for path in files:
        with open(path, encoding="latin-1") as f:
            docs.extend(parse_reuters_sgml(f.read()))
    (texts, labels, topicNames) = reuters_single_label(docs, minCount)
    if len(topicNames) < 2:
        raise UserError(f"--dataset {folder!r}: fewer than two topics with {minCount} "
                        f"or more newswires")
    order = np.arange(len(texts))
    np.random.RandomState(KERAS_SEED).shuffle(order)
    texts = [texts[i] for i in order]
    labels = labels[order]
    split = int(len(texts) * (1 - testSplit))
    (trainSeqs, testSeqs, words) = texts_to_sequences(texts[:split], texts[split:],
                                                      numWords)
    return TextSplits(trainSeqs, labels[:split], testSeqs, labels[split:], words,
                      topicNames)


# --------------------------------------------------------------------------
# Boston housing


def load_boston_npz(path, testSplit=0.2):
    """``(trainX, trainY), (testX, testY)`` as ``keras.datasets.boston_housing``
    makes them: shuffled with ``RandomState(113)``, the first 80% for training."""
    arrays = load_npz(path, ["x", "y"])
    (x, y) = (arrays["x"], arrays["y"])
    if x.dtype.kind not in "iuf" or x.ndim != 2 or y.ndim != 1 or len(x) != len(y):
        raise UserError(f"--dataset {path!r}: expected x (houses x features) and y "
                        f"(one price per house) as numbers, got x {x.shape}, y {y.shape}")
    if y.dtype.kind not in "iuf" or not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise UserError(f"--dataset {path!r}: x and y must be finite numbers")
    if len(x) < 10:
        raise UserError(f"--dataset {path!r} holds only {len(x)} houses")
    order = np.arange(len(x))
    np.random.RandomState(KERAS_SEED).shuffle(order)
    (x, y) = (x[order].astype("float32"), y[order].astype("float32"))
    split = int(len(x) * (1 - testSplit))
    return (x[:split], y[:split]), (x[split:], y[split:])


# --------------------------------------------------------------------------
# Keras' own copies


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
        wordIndex = getattr(keras.datasets, name).get_word_index()
    except Exception:
        warn(f"Keras could not download the {name} word index; texts are shown as numbers")
        return {}
    return {int(i) + INDEX_FROM: w for (w, i) in wordIndex.items()}


def load_chapter_text(name, dataset, numWords=10000):
    """``imdb`` or ``reuters`` as the scripts take it: with ``dataset`` None,
    Keras' own copy (downloaded once by Keras); a folder, the original
    release (aclImdb, Reuters-21578 SGML); a file, Keras' ``.npz`` format."""
    if dataset is None:
        ((xTrain, yTrain), (xTest, yTest)) = keras_download(name, num_words=numWords)
        classNames = (["negative", "positive"] if name == "imdb"
                      else [str(i) for i in range(int(max(yTrain.max(), yTest.max())) + 1)])
        return TextSplits(list(xTrain), np.asarray(yTrain), list(xTest), np.asarray(yTest),
                          keras_word_index(name), classNames)
    if os.path.isdir(dataset):
        loader = load_imdb_folder if name == "imdb" else load_reuters_folder
    elif os.path.isfile(dataset):
        loader = load_imdb_npz if name == "imdb" else load_reuters_npz
    else:
        raise UserError(f"--dataset {dataset!r} does not exist")
    return loader(dataset, numWords)


def add_chapter_flags(ap, items, validationSize, epochs, output):
    """The flags imdb_reviews.py and reuters_newswires.py share: the
    chapter's two runs (one watched on held-out ``items``, then a fresh
    model on all of them), the vocabulary, seed and outputs."""
    from .cli import add_seed_flag, positive_int

    ap.add_argument("--num-words", type=positive_int, default=10000,
                    help="keep the N most frequent training words (default: 10000)")
    ap.add_argument("--validation-size", type=positive_int, default=validationSize,
                    help=f"training {items} held out in the first run "
                         f"(default: {validationSize})")
    ap.add_argument("--validation-epochs", type=positive_int, default=20,
                    help=f"epochs of the first run, watched on the held-out {items} "
                         "(default: 20)")
    ap.add_argument("--epochs", type=positive_int, default=epochs,
                    help=f"epochs of the final model on all training {items} "
                         f"(default: {epochs})")
    ap.add_argument("--batch-size", type=positive_int, default=512,
                    help="batch size (default: 512)")
    add_seed_flag(ap)
    ap.add_argument("--output", default=output,
                    help=f"folder for the curves and results.json (default: {output})")
    ap.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="write TensorBoard logs under DIR (holdout/ and final/)")


def check_chapter_args(args):
    """Check --dataset and the output folders before anything loads."""
    from .storage import ensure_writable_folder

    if args.dataset is not None and not os.path.exists(args.dataset):
        raise UserError(f"--dataset {args.dataset!r} does not exist")
    ensure_writable_folder(args.output, "--output")
    if args.tensorboard:
        ensure_writable_folder(args.tensorboard, "--tensorboard")
    return args


def tensorboard_callbacks(folder, run):
    """``[keras.callbacks.TensorBoard(folder/run)]``, or ``[]`` without a folder."""
    if not folder:
        return []
    import keras

    return [keras.callbacks.TensorBoard(os.path.join(folder, run))]


# --------------------------------------------------------------------------
# Small generated data in each format


_POSITIVE = "great wonderful superb loved brilliant moving fun best enjoyable".split()
_NEGATIVE = "awful boring terrible hated worst dull waste poor annoying".split()
_NEUTRAL = ("the a movie film plot actor story scene and of it was this "
            "to is in with director music ending").split()


def _sentence(rng, cue, length):
    words = [rng.choice(_NEUTRAL) for _ in range(length)]
    for _ in range(max(1, length // 5)):
        words[rng.integers(length)] = rng.choice(cue)
    return " ".join(words)


def write_sample_imdb_folder(folder, perClass=40, seed=0):
    """An aclImdb-like folder: ``train|test/neg|pos/<i>_<rating>.txt``."""
    rng = np.random.default_rng(seed)
    for part in ("train", "test"):
        for (name, cue) in (("neg", _NEGATIVE), ("pos", _POSITIVE)):
            os.makedirs(os.path.join(folder, part, name), exist_ok=True)
            for i in range(perClass):
                rating = rng.integers(7, 11) if name == "pos" else rng.integers(1, 5)
                path = os.path.join(folder, part, name, f"{i}_{rating}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(_sentence(rng, cue, int(rng.integers(12, 40))))


def write_sample_text_folder(folder, classes=("cats", "dogs", "fish"), perClass=30, seed=0):
    """A folder of ``<class>/*.txt``; each class has its own cue words."""
    rng = np.random.default_rng(seed)
    for name in classes:
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        cue = [f"{name}{k}" for k in range(6)] + [name]
        for i in range(perClass):
            with open(os.path.join(folder, name, f"{name}_{i:04d}.txt"), "w",
                      encoding="utf-8") as f:
                f.write(_sentence(rng, cue, int(rng.integers(10, 30))))


def _sample_sequences(rng, count, numClasses, vocab=200):
    """Lists of word indices (Keras' stored form: most frequent word = 1)
    whose class shows in a few class-specific words."""
    labels = rng.integers(0, numClasses, size=count)
    seqs = np.empty(count, dtype=object)
    for i in range(count):
        seq = rng.integers(1, vocab, size=int(rng.integers(10, 40)))
        seq[: max(2, len(seq) // 4)] = vocab + 3 * labels[i] + rng.integers(0, 3)
        seqs[i] = rng.permutation(seq).tolist()
    return seqs, labels.astype("int64")


def write_sample_imdb_npz(path, count=200, seed=0):
    """A small ``imdb.npz`` in Keras' format (and its word index beside it)."""
    rng = np.random.default_rng(seed)
    (xTrain, yTrain) = _sample_sequences(rng, count, 2)
    (xTest, yTest) = _sample_sequences(rng, count, 2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x_train=xTrain, y_train=yTrain, x_test=xTest, y_test=yTest)
    with open(os.path.join(os.path.dirname(os.path.abspath(path)),
                           "imdb_word_index.json"), "w") as f:
        json.dump({f"word{i}": i for i in range(1, 210)}, f)


def write_sample_reuters_npz(path, count=300, topics=5, seed=0):
    """A small ``reuters.npz`` in Keras' format."""
    rng = np.random.default_rng(seed)
    (x, y) = _sample_sequences(rng, count, topics)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x=x, y=y)


def write_sample_reuters_sgml(folder, count=120, seed=0):
    """One ``reut2-000.sgm`` in Reuters-21578's layout: three frequent topics,
    one rare topic, and newswires without a topic."""
    rng = np.random.default_rng(seed)
    cues = {"grain": ["wheat", "corn", "harvest"], "crude": ["oil", "barrel", "opec"],
            "acq": ["merger", "shares", "acquire"], "rare": ["unusual"]}
    parts = ['<!DOCTYPE lewis SYSTEM "lewis.dtd">']
    for i in range(count):
        topic = ("grain", "crude", "acq")[i % 3] if i % 10 else ""
        if i == 7:
            topic = "rare"
        topicsXml = f"<D>{topic}</D><D>trade</D>" if topic else ""
        body = _sentence(rng, cues.get(topic, ["said"]), 25) + " &lt;ABC&gt; &amp; co"
        parts.append(f'<REUTERS TOPICS="YES" NEWID="{i + 1}">\n<TOPICS>{topicsXml}'
                     f'</TOPICS>\n<TEXT>&#2;\n<TITLE>{topic.upper()} NEWS {i}</TITLE>\n'
                     f'<BODY>{body}\n&#3;</BODY></TEXT>\n</REUTERS>')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "reut2-000.sgm"), "w", encoding="latin-1") as f:
        f.write("\n".join(parts))


def write_sample_boston_npz(path, count=120, seed=0):
    """A small ``boston_housing.npz`` (arrays ``x``, ``y``): a price that is a
    noisy function of 13 features."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(count, 13)) * rng.uniform(0.5, 50, size=13) + rng.uniform(0, 100, 13)
    z = (x - x.mean(0)) / x.std(0)
    y = 22 + 4 * z[:, 5] - 3 * z[:, 12] + 1.5 * z[:, 0] * z[:, 2] + rng.normal(0, 1, count)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, x=x, y=np.clip(y, 5, 50))


def _main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(prog="python -m pyimagesearch.text",
                                 description="write small generated data for chapter 3")
    ap.add_argument("kind", choices=["imdb", "imdb-npz", "reuters", "reuters-npz",
                                     "boston", "folder"])
    ap.add_argument("out", help="folder (imdb, reuters, folder) or .npz file to write")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    writers = {"imdb": write_sample_imdb_folder, "imdb-npz": write_sample_imdb_npz,
               "reuters": write_sample_reuters_sgml, "reuters-npz": write_sample_reuters_npz,
               "boston": write_sample_boston_npz, "folder": write_sample_text_folder}
    writers[args.kind](args.out, seed=args.seed)
    print(f"[INFO] wrote {args.kind} sample data to {args.out}")


if __name__ == "__main__":
    _main()
