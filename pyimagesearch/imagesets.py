"""The search scripts' pictures (part 5), kept as uint8 (the input pipeline
scales each batch) in OpenCV's BGR order, which predict.py reads in.

The classifier's: CIFAR-10 from ``keras.datasets`` as the chapter loads it,
a folder of ``train/`` and ``test/`` (one sub-folder per class in each: that
split is kept), or one folder of class folders (split 75/25 as
train_vgg.py). The regressor's: the Houses dataset's montages, or any
folder of pictures with a ``targets.csv`` of ``file,target`` rows.
``layout``, ``image_side`` and ``read_targets`` look at a folder before
TensorFlow is loaded.
"""

import csv
import math
import os

import cv2
import numpy as np
from imutils import paths

from .cli import FLOAT32_MAX, warn
from .errors import UserError

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]
SIDE_SAMPLE = 64        # pictures looked at to find their common size
TARGETS_FILE = "targets.csv"
HOUSES_FILE = "HousesInfo.txt"
MIN_IMAGES = 8


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
    (train_classes, test_classes) = (class_folders(train), class_folders(test))
    if not train_classes:
        raise UserError(f"--dataset {dataset!r}: train/ holds no class folders "
                        "(expected train/<class>/picture.jpg)")
    if train_classes != test_classes:
        only = sorted(set(train_classes) ^ set(test_classes))
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


def load_cifar10():
    """CIFAR-10 from Keras, as uint8 BGR pictures and class numbers:
    ``(train_x, train_y, test_x, test_y, class_names)``."""
    import keras

    try:
        ((train_x, train_y), (test_x, test_y)) = keras.datasets.cifar10.load_data()
    except Exception as error:  # no network and no cached copy, or a broken one
        cache = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")),
                             "datasets")
        reason = str(error).strip().splitlines()[0][:120] if str(error).strip() else \
            type(error).__name__
        raise UserError(f"CIFAR-10 is not in Keras' cache ({cache}) and could not be "
                        f"downloaded ({reason}); pass --dataset with a folder of "
                        "train/<class>/ and test/<class>/ pictures instead") from None
    return (train_x[..., ::-1].copy(), train_y.reshape(-1).astype("int64"),
            test_x[..., ::-1].copy(), test_y.reshape(-1).astype("int64"), list(CIFAR10_CLASSES))


def load_folder(folder, side, seed, class_names=None):
    """Pictures of ``folder``'s class folders at ``side`` px, uint8, with
    class numbers (in the order of ``class_names``, the sorted folders by
    default)."""
    from .datasets import load_image_folder

    (data, labels, _) = load_image_folder(folder, side, side, seed=seed, raw=True)
    names = class_names or sorted(set(labels.tolist()))
    lookup = {name: i for i, name in enumerate(names)}
    return data, np.array([lookup[label] for label in labels], dtype="int64"), names


def load(dataset, kind, side, seed):
    """``(train_x, train_y, test_x, test_y, class_names)`` for the layout ``kind``."""
    from sklearn.model_selection import train_test_split

    if kind == "keras":
        (train_x, train_y, test_x, test_y, names) = load_cifar10()
        if side != train_x.shape[1]:
            (train_x, test_x) = ([np.stack([cv2.resize(image, (side, side)) for image in images])
                                for images in (train_x, test_x)])
        return train_x, train_y, test_x, test_y, names
    if kind == "split":
        (train_x, train_y, names) = load_folder(os.path.join(dataset, "train"), side, seed)
        (test_x, test_y, _) = load_folder(os.path.join(dataset, "test"), side, seed, names)
        return train_x, train_y, test_x, test_y, names
    (data, labels, names) = load_folder(dataset, side, seed)
    # the same 75/25 train/test split as train_vgg.py
    (train_x, test_x, train_y, test_y) = train_test_split(data, labels, test_size=0.25,
                                                      random_state=42)
    return train_x, train_y, test_x, test_y, names


def check_classes(dataset, train_y, test_y, names):
    if len(names) < 2 or len(train_y) == 0:
        raise UserError(f"--dataset {dataset!r} has {len(train_y)} usable training picture(s) "
                        f"in {len(names)} class folder(s); a classifier needs two or more")
    missing = [names[i] for i in range(len(names)) if not np.any(train_y == i)]
    if missing:
        raise UserError(f"--dataset {dataset!r}: no training pictures of {', '.join(missing)}")


def read_targets(folder):
    """The (image path, target) rows of ``folder/targets.csv``, checked: a
    header ``file,target``, files inside ``folder`` that exist, numeric
    targets that float32 holds."""
    path = os.path.join(folder, TARGETS_FILE)
    try:
        # utf-8-sig: a spreadsheet's "CSV UTF-8" starts with a byte-order mark
        with open(path, newline="", encoding="utf-8-sig") as f:
            lines = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path} cannot be read: {error}") from None
    lines = [(n, line) for n, line in enumerate(lines, start=1) if any(c.strip() for c in line)]
    if not lines or [c.strip().lower() for c in lines[0][1]] != ["file", "target"]:
        raise UserError(f"{path}: the first line must be the header 'file,target'")
    rows = []
    for number, line in lines[1:]:
        if len(line) != 2:
            raise UserError(f"{path}, line {number}: expected 'file,target', "
                            f"found {len(line)} field(s)")
        (name, text) = (line[0].strip(), line[1].strip())
        try:
            target = float(text)
        except ValueError:
            target = math.nan
        if not math.isfinite(target):
            raise UserError(f"{path}, line {number}: target {text!r} is not a number")
        if abs(target) > FLOAT32_MAX:
            raise UserError(f"{path}, line {number}: target {text!r} is beyond float32's "
                            f"range (+-{FLOAT32_MAX:.2e}), which the network computes in")
        image_path = os.path.join(folder, name)
        if os.path.isabs(name) or os.path.normpath(name).split(os.sep)[0] == os.pardir:
            raise UserError(f"{path}, line {number}: {name!r} is outside {folder}; "
                            f"targets.csv names files inside its own folder")
        if not os.path.isfile(image_path):
            raise UserError(f"{path}, line {number}: {name!r} not found in {folder}")
        rows.append((image_path, target))
    if len(rows) < MIN_IMAGES:
        raise UserError(f"{path} names {len(rows)} image(s); a 75/25 split with "
                        f"validation needs at least {MIN_IMAGES}")
    return rows


def resized(image, side, grey):
    """A picture at ``side`` x ``side`` pixels, as one grey channel with ``grey``."""
    image = cv2.resize(image, (side, side))
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)[..., None] if grey else image


def load_houses(folder, side, grey=False):
    """The Houses dataset as cnn_regression.py loads it (each house the
    montage of its four pictures), uint8: ``(houses, montages)``."""
    from . import datasets

    print("[INFO] loading house attributes...")
    df = datasets.load_house_attributes(os.path.join(folder, HOUSES_FILE))
    print("[INFO] loading house images...")
    df = datasets.drop_houses_with_bad_images(df, folder)
    if len(df) < MIN_IMAGES:
        raise UserError(f"only {len(df)} house(s) left to train on; need at least "
                        f"{MIN_IMAGES} for a 75/25 split with validation")
    montages = datasets.load_house_images(df, folder)
    return df, np.stack([resized(m, side, grey) for m in montages])


def load_targets(folder, rows, side, grey=False):
    """The pictures ``rows`` (``read_targets``) name, uint8, and their
    targets; damaged files are skipped with a warning."""
    from .datasets import image_file_problem, read_image

    print("[INFO] loading images...")
    (images, targets) = ([], [])
    for (path, target) in rows:
        image = read_image(path)
        if image is None:
            warn(f"skipping {path}: {image_file_problem(path) or 'not a readable image'}")
            continue
        images.append(resized(image, side, grey))
        targets.append(target)
    if len(images) < MIN_IMAGES:
        raise UserError(f"only {len(images)} usable image(s) in --dataset {folder!r}; need "
                        f"at least {MIN_IMAGES}")
    return np.asarray(images, dtype="uint8"), np.asarray(targets, dtype="float32")
