"""Your own text: ``.txt`` files read from folders (one sub-folder per
class), and Keras' ``TextVectorization`` that turns them into vectors.

A file that is empty, binary or not UTF-8 is skipped with a warning, never
a traceback: folders of text collected by hand hold such files. Nothing
here imports TensorFlow at module level; the vectorizer helpers import
Keras when they are called.
"""

import glob
import os

import numpy as np

from .cli import warn
from .errors import UserError

# the original IMDB release keeps 50,000 unlabelled reviews in train/unsup
UNLABELLED_FOLDERS = ("unsup",)


def read_text_file(path):
    """``(text, None)`` for a file of text, ``(None, reason)`` if it is no
    usable text (unreadable, empty, binary, not UTF-8)."""
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


def load_text_folder(folder, flag="--dataset", min_classes=2):
    """Texts and integer labels from ``folder/<class>/*.txt``.

    The classes are sorted by name and numbered in that order (the order of
    a LabelBinarizer's ``classes_`` fitted on the names). Unusable files are
    skipped with a warning each (at most five, then a count); no usable
    class, or fewer than ``min_classes``, is a ``UserError``. Returns
    ``(texts, labels, class_names)``.
    """
    if not os.path.isdir(folder):
        raise UserError(f"{flag} {folder!r} is not a folder")
    classes = sorted(d for d in os.listdir(folder)
                     if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))
    for name in [c for c in classes if c in UNLABELLED_FOLDERS]:
        warn(f"skipping {os.path.join(folder, name)}: unlabelled texts, not a class")
        classes.remove(name)
    (texts, labels, names, skipped, left_out) = ([], [], [], [], [])
    for name in classes:
        files = sorted(glob.glob(os.path.join(folder, name, "*.txt")))
        class_texts = []
        for path in files:
            (text, problem) = read_text_file(path)
            if problem:
                skipped.append(f"{path}: {problem}")
            else:
                class_texts.append(text)
        if not class_texts:
            if files:
                left_out.append(name)
            continue
        labels.extend([len(names)] * len(class_texts))
        names.append(name)
        texts.extend(class_texts)
    if not names and left_out:
        # nothing usable at all: the one line says why, without the warnings
        raise UserError(f"{flag} {folder!r}: none of the {len(skipped)} .txt file(s) in its "
                        f"{len(left_out)} class folder(s) is usable text (each is empty, "
                        f"binary or not UTF-8)")
    for line in skipped[:5]:
        warn(f"skipped {line}")
    if len(skipped) > 5:
        warn(f"skipped {len(skipped) - 5} more unusable files")
    for name in left_out:
        warn(f"{flag}: class {name!r} has no readable .txt file; left out")
    if not names:
        raise UserError(f"{flag} {folder!r} has no sub-folder of .txt files "
                        f"(expected {flag} FOLDER/<class>/*.txt)")
    if len(names) < min_classes:
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


def make_vectorizer(num_words, output_mode):
    """``keras.layers.TextVectorization`` keeping the ``num_words`` most
    frequent words (index 0 padding, 1 unknown words: what ``num_words``
    did to Keras' copies)."""
    import keras

    return keras.layers.TextVectorization(max_tokens=num_words, output_mode=output_mode)


def vectorize_texts(vectorizer, texts, batch_size=512):
    """``vectorizer`` applied to ``texts`` in batches, as one NumPy array."""
    return np.concatenate([
        np.asarray(vectorizer(np.array(texts[start:start + batch_size], dtype=object)))
        for start in range(0, len(texts), batch_size)])
