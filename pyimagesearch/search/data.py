"""The classifier's pictures: CIFAR-10 from Keras, a train/test folder, or one folder.

* No ``--dataset``: ``keras.datasets.cifar10.load_data()``, as the chapter
  does (downloaded once into Keras' cache, ``~/.keras/datasets``).
* A folder holding ``train/`` and ``test/``, each with one sub-folder per
  class (CIFAR-10 as images): that split is kept.
* Any other folder with one sub-folder per class: split 75/25 as
  train_vgg.py does.

Pictures are kept as uint8 (the pipeline scales each batch), in OpenCV's
BGR order, which predict.py reads pictures in. ``layout`` and
``image_side`` look at the folder before TensorFlow is loaded.
"""

import os

import cv2
import numpy as np
from imutils import paths

from ..errors import UserError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
CIFAR10_CACHE = "cifar-10-batches-py"
SIDE_SAMPLE = 64        # pictures looked at to find their common size


def class_folders(folder):
    return sorted(d for d in os.listdir(folder)
                  if os.path.isdir(os.path.join(folder, d)) and not d.startswith("."))


def layout(dataset):
    """``"keras"`` (no dataset), ``"split"`` (train/ and test/ with the same
    class folders) or ``"folder"``; a ``UserError`` for a train/test folder
    whose classes differ."""
    if dataset is None:
        return "keras"
    (train, test) = (os.path.join(dataset, "train"), os.path.join(dataset, "test"))
    if not (os.path.isdir(train) and os.path.isdir(test)):
        return "folder"
    (trainClasses, testClasses) = (class_folders(train), class_folders(test))
    if not trainClasses:
        raise UserError(f"--dataset {dataset!r}: train/ holds no class folders "
                        "(expected train/<class>/picture.jpg)")
    if trainClasses != testClasses:
        only = sorted(set(trainClasses) ^ set(testClasses))
        raise UserError(f"--dataset {dataset!r}: train/ and test/ hold different class "
                        f"folders ({', '.join(only[:5])} in only one of them)")
    return "split"


def image_side(dataset, kind):
    """The pictures' own side when the first ``SIDE_SAMPLE`` of them are
    square and of one size (32 for CIFAR-10), else None."""
    if kind == "keras":
        return 32
    folder = os.path.join(dataset, "train") if kind == "split" else dataset
    sizes = set()
    for path in sorted(paths.list_images(folder))[:SIDE_SAMPLE]:
        image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
        if image is not None:
            sizes.add(image.shape[:2])
    if len(sizes) == 1:
        (h, w) = sizes.pop()
        if h == w:
            return h
    return None


def count_pictures(dataset, kind):
    """How many training pictures there are (for the hold-out's size)."""
    if kind == "keras":
        return 50000
    folder = os.path.join(dataset, "train") if kind == "split" else dataset
    count = sum(1 for _ in paths.list_images(folder))
    return count if kind == "split" else int(count * 0.75)


def load_cifar10():
    """CIFAR-10 from Keras, as uint8 BGR pictures and class numbers:
    ``(trainX, trainY, testX, testY, classNames)``."""
    import keras

    try:
        ((trainX, trainY), (testX, testY)) = keras.datasets.cifar10.load_data()
    except Exception as error:  # no network and no cached copy, or a broken one
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
                             "datasets")
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else \
            type(error).__name__
        raise UserError(f"CIFAR-10 is not in Keras' cache ({cache}) and could not be "
                        f"downloaded ({reason}); pass --dataset with a folder of "
                        "train/<class>/ and test/<class>/ pictures instead") from None
    return (trainX[..., ::-1].copy(), trainY.reshape(-1).astype("int64"),
            testX[..., ::-1].copy(), testY.reshape(-1).astype("int64"), list(CIFAR10_CLASSES))


def load_folder(folder, side, seed, classNames=None):
    """Pictures of ``folder``'s class folders at ``side`` px, uint8, with
    class numbers (in the order of ``classNames``, the sorted folders by
    default)."""
    from ..datasets import load_image_folder

    (data, labels, _) = load_image_folder(folder, side, side, seed=seed, raw=True)
    names = classNames or sorted(set(labels.tolist()))
    lookup = {name: i for i, name in enumerate(names)}
    return data, np.array([lookup[label] for label in labels], dtype="int64"), names


def load(dataset, kind, side, seed):
    """``(trainX, trainY, testX, testY, classNames)`` for the layout ``kind``."""
    from sklearn.model_selection import train_test_split

    if kind == "keras":
        (trainX, trainY, testX, testY, names) = load_cifar10()
        if side != trainX.shape[1]:
            (trainX, testX) = ([np.stack([cv2.resize(image, (side, side)) for image in images])
                                for images in (trainX, testX)])
        return trainX, trainY, testX, testY, names
    if kind == "split":
        (trainX, trainY, names) = load_folder(os.path.join(dataset, "train"), side, seed)
        (testX, testY, _) = load_folder(os.path.join(dataset, "test"), side, seed, names)
        return trainX, trainY, testX, testY, names
    (data, labels, names) = load_folder(dataset, side, seed)
    # the same 75/25 train/test split as train_vgg.py
    (trainX, testX, trainY, testY) = train_test_split(data, labels, test_size=0.25,
                                                      random_state=42)
    return trainX, trainY, testX, testY, names


def check_classes(dataset, trainY, testY, names):
    if len(names) < 2 or len(trainY) == 0:
        raise UserError(f"--dataset {dataset!r} has {len(trainY)} usable training picture(s) "
                        f"in {len(names)} class folder(s); a classifier needs two or more")
    missing = [names[i] for i in range(len(names)) if not np.any(trainY == i)]
    if missing:
        raise UserError(f"--dataset {dataset!r}: no training pictures of {', '.join(missing)}")
