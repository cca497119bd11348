"""Dataset loaders: the Houses dataset (parts 1-3) and folder-per-class
image datasets (part 4).

Everything here reports problems with the user's files as ``UserError`` (one
clear line, exit code 2) or, for a damaged item inside an otherwise good
dataset, as a warning that names the file while the item is skipped.
"""

import os
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np
import pandas as pd
from imutils import paths
from sklearn.preprocessing import LabelBinarizer, MinMaxScaler

from .cli import FLOAT32_MAX, warn
from .errors import UserError

# HousesInfo.txt: five space-separated numbers per line, no header.
HOUSE_COLUMNS = ["bedrooms", "bathrooms", "area", "zipcode", "price"]
CONTINUOUS_COLUMNS = ["bedrooms", "bathrooms", "area"]
MIN_HOUSES_PER_ZIPCODE = 25

# The four pictures of a house, in file-name order; the montage places them
# top-left, top-right, bottom-right, bottom-left.
HOUSE_ROOMS = ("bathroom", "bedroom", "frontal", "kitchen")
HOUSE_TILE = 32

# Decoding JPEGs is the slow part of loading and OpenCV releases the GIL
# while it decodes, so a thread per core roughly divides the time by cores.
_LOAD_WORKERS = max(1, min(8, os.cpu_count() or 1))


# --------------------------------------------------------------------------
# Reading one image

# how the formats that imutils lists as images begin: JPEG, PNG, BMP, TIFF
_IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG", b"BM", b"II*\x00", b"MM\x00*")


def image_file_problem(path):
    """Return why ``path`` is not a usable image file, or None if it may be.

    This is a cheap check (a stat, the first and the last bytes) that
    catches missing, empty, mislabelled and truncated files before anything
    is decoded:
    OpenCV decodes a truncated JPEG without error, filling the missing part
    with grey, which would silently poison a training set.
    """
    try:
        size = os.path.getsize(path)
    except OSError:
        return "missing"
    if size == 0:
        return "empty file"
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            f.seek(max(0, size - 64))
            tail = f.read().rstrip(b"\x00\r\n\t ")
    except OSError as error:
        return f"cannot be read ({error.strerror})"
    if not head.startswith(_IMAGE_SIGNATURES):
        return "not an image file"
    if head.startswith(b"\xff\xd8") and not tail.endswith(b"\xff\xd9"):
        return "truncated JPEG"
    if head.startswith(b"\x89PNG") and b"IEND" not in tail:
        return "truncated PNG"
    return None


def read_image(path):
    """Read an image as 8-bit, 3-channel BGR, or return None if it cannot be.

    Grayscale pictures gain three channels and an alpha channel is dropped,
    so every picture reaches the network in the same shape. Reading the bytes
    with NumPy first lets OpenCV open paths with non-ASCII characters.
    """
    if image_file_problem(path) is not None:
        return None
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


def preprocess_image(image, width, height, flatten=False):
    """Resize (ignoring aspect ratio), scale to [0, 1] and optionally flatten.

    The training loaders and predict.py both call this, so a picture is
    prepared exactly the same way when it is learned and when it is judged.
    """
    image = cv2.resize(image, (width, height))
    image = image.astype("float32") / 255.0
    return image.reshape(-1) if flatten else image


# --------------------------------------------------------------------------
# Parts 1-3: the Houses dataset


def load_house_attributes(input_path):
    """Read HousesInfo.txt into a DataFrame, keeping zip codes with >= 25 houses.

    The index keeps each house's 0-based line number: house ``i`` has its
    pictures in ``{i + 1}_*.jpg``, which ``load_house_images`` relies on.
    """
    try:
        with open(input_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise UserError(f"{input_path} not found: --dataset must be the folder "
                        "that holds HousesInfo.txt and the house pictures") from None
    except IsADirectoryError:
        raise UserError(f"{input_path} is a folder, expected the HousesInfo.txt file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{input_path} cannot be read: {error}") from None

    rows, index = [], []
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue  # blank lines (e.g. at the end of the file) carry no house
        rows.append(_parse_house_line(input_path, number, fields))
        index.append(number - 1)
    if not rows:
        raise UserError(f"{input_path} is empty: expected one house per line")

    df = pd.DataFrame(rows, columns=HOUSE_COLUMNS, index=index)
    df["zipcode"] = df["zipcode"].astype("int64")

    # zip codes with few houses cannot be learned; the post drops them
    counts = df["zipcode"].value_counts()
    common = counts[counts >= MIN_HOUSES_PER_ZIPCODE].index
    df = df[df["zipcode"].isin(common)]
    if df.empty:
        raise UserError(f"{input_path}: no zip code has {MIN_HOUSES_PER_ZIPCODE} or more "
                        f"houses, so no house is left after the post's filter")
    return df


def _parse_house_line(input_path, number, fields):
    if len(fields) != len(HOUSE_COLUMNS):
        raise UserError(f"{input_path}, line {number}: expected 5 numbers (bedrooms "
                        f"bathrooms area zipcode price), found {len(fields)}")
    values = []
    for name, field in zip(HOUSE_COLUMNS, fields):
        try:
            value = float(field)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise UserError(f"{input_path}, line {number}: {name} {field!r} is not a number")
        if abs(value) > FLOAT32_MAX:
            # the network computes in float32: it would train on inf
            raise UserError(f"{input_path}, line {number}: {name} {field!r} is beyond "
                            f"float32's range (+-{FLOAT32_MAX:.2e})")
        values.append(value)
    if values[-1] <= 0:
        raise UserError(f"{input_path}, line {number}: price must be positive, got {fields[-1]}")
    return values


def process_house_attributes(df, train, test):
    """Scale the continuous columns and one-hot encode the zip code.

    The scaler is fit on the training split only, so nothing about the test
    houses leaks into training. The zip-code binarizer is fit on every zip
    code left after filtering (``df``) so both splits get the same columns.
    Returns ``(train_x, test_x)`` as ``[one-hot zip | scaled continuous]``.
    """
    cs = MinMaxScaler()
    train_continuous = cs.fit_transform(train[CONTINUOUS_COLUMNS])
    test_continuous = cs.transform(test[CONTINUOUS_COLUMNS])

    zip_binarizer = LabelBinarizer().fit(df["zipcode"])
    train_categorical = zip_binarizer.transform(train["zipcode"])
    test_categorical = zip_binarizer.transform(test["zipcode"])

    train_x = np.hstack([train_categorical, train_continuous]).astype("float32")
    test_x = np.hstack([test_categorical, test_continuous]).astype("float32")
    return (train_x, test_x)


def house_image_paths(input_path, number):
    """The four picture files of house ``number`` (1-based), in montage order."""
    return [os.path.join(input_path, f"{number}_{room}.jpg") for room in HOUSE_ROOMS]


def drop_houses_with_bad_images(df, input_path):
    """Drop (with a warning) houses whose pictures are missing or damaged.

    One bad picture should not cost the whole run: the house is left out of
    both splits and the count is reported.
    """
    bad = []
    for i in df.index:
        for image_path in house_image_paths(input_path, i + 1):
            problem = image_file_problem(image_path)
            if problem is not None:
                warn(f"skipping house {i + 1}: {image_path}: {problem}")
                bad.append(i)
                break
    if bad:
        print(f"[INFO] skipped {len(bad)} house(s) with missing or damaged pictures")
    return df.drop(index=bad)


def load_house_images(df, input_path):
    """Return one 64x64x3 uint8 montage of the four pictures of each house.

    Houses come in ``df`` order. Pictures are resized to 32x32 and tiled:
    bathroom top-left, bedroom top-right, frontal bottom-right, kitchen
    bottom-left.
    """
    numbers = [i + 1 for i in df.index]
    with ThreadPoolExecutor(_LOAD_WORKERS) as pool:
        montages = list(pool.map(lambda n: _house_montage(input_path, n), numbers))
    return np.array(montages, dtype="uint8").reshape(-1, 2 * HOUSE_TILE, 2 * HOUSE_TILE, 3)


def _house_montage(input_path, number):
    tiles = []
    for image_path in house_image_paths(input_path, number):
        image = read_image(image_path)
        if image is None:
            raise UserError(f"{image_path} cannot be decoded as an image")
        tiles.append(cv2.resize(image, (HOUSE_TILE, HOUSE_TILE)))

    t = HOUSE_TILE
    output_image = np.zeros((2 * t, 2 * t, 3), dtype="uint8")
    output_image[0:t, 0:t] = tiles[0]
    output_image[0:t, t:2 * t] = tiles[1]
    output_image[t:2 * t, t:2 * t] = tiles[2]
    output_image[t:2 * t, 0:t] = tiles[3]
    return output_image


# --------------------------------------------------------------------------
# Part 4: a folder with one sub-folder per class


def load_image_folder(dataset_path, width, height, flatten=False, seed=42, raw=False):
    """Load every image under ``dataset_path``; label = its class folder.

    Paths are sorted, then shuffled with ``seed``, so the order (and hence
    the train/test split) is the same on every machine. Files without an
    image extension are ignored; image files that cannot be decoded are
    skipped with a warning. Returns ``(data, labels, paths)`` with data
    scaled to [0, 1], or with ``raw`` as uint8 pixels (a quarter of the
    memory: what the search's pipeline scales batch by batch).
    """
    image_paths = sorted(paths.list_images(dataset_path))
    rng = np.random.default_rng(seed)
    image_paths = [image_paths[i] for i in rng.permutation(len(image_paths))]

    def load(image_path):
        image = read_image(image_path)
        if image is None:
            return None
        if raw:
            return cv2.resize(image, (width, height))
        return preprocess_image(image, width, height, flatten)

    with ThreadPoolExecutor(_LOAD_WORKERS) as pool:
        images = list(pool.map(load, image_paths))

    data, labels, kept, unclassed = [], [], [], 0
    for image_path, image in zip(image_paths, images):
        label = class_of(dataset_path, image_path)
        if label is None:
            unclassed += 1
            continue
        if image is None:
            warn(f"skipping {image_path}: {image_file_problem(image_path) or 'not a readable image'}")
            continue
        data.append(image)
        labels.append(label)
        kept.append(image_path)
    if unclassed:
        warn(f"skipping {unclassed} image(s) lying directly in {dataset_path}: "
             "images must be inside one sub-folder per class")
    skipped = len(image_paths) - len(kept)
    if skipped:
        print(f"[INFO] skipped {skipped} file(s) that could not be used")
    shape = (width * height * 3,) if flatten else (height, width, 3)
    data = np.array(data, dtype="uint8" if raw else "float32")
    return data.reshape((-1,) + shape), np.array(labels), kept


def class_of(dataset_path, image_path):
    """The class of an image: the first folder below the dataset folder.

    For the usual layout (``animals/cats/x.jpg``) this is the parent folder,
    as in the post; nested folders (``animals/cats/indoor/x.jpg``) still
    belong to their top-level class. Images lying in the dataset folder
    itself have no class.
    """
    parts = os.path.relpath(image_path, dataset_path).split(os.sep)
    return parts[0] if len(parts) > 1 else None


# a class needs images on both sides of a 75/25 split
MIN_IMAGES_PER_CLASS = 4


def load_image_dataset(dataset_path, width, height, flatten, seed):
    """``load_image_folder``'s images and labels, checked to be a dataset a
    classifier can train on and test with the post's 75/25 split."""
    (data, labels, _) = load_image_folder(dataset_path, width, height, flatten, seed)
    if len(data) == 0:
        raise UserError(f"--dataset {dataset_path!r} holds no readable images in class "
                        "sub-folders (expected e.g. dataset/cats/cat_001.jpg)")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise UserError(f"--dataset {dataset_path!r} has one class ({classes[0]!r}); "
                        "a classifier needs at least two class folders")
    few = [f"{c} ({n})" for c, n in zip(classes, counts) if n < MIN_IMAGES_PER_CLASS]
    if few:
        raise UserError(f"too few images for a 75/25 split in class(es) {', '.join(few)}; "
                        f"each class needs at least {MIN_IMAGES_PER_CLASS}")
    summary = ", ".join(f"{c}: {n}" for c, n in zip(classes, counts))
    print(f"[INFO] {len(data)} images in {len(classes)} classes ({summary})")
    return data, labels


def fit_label_binarizer(labels):
    """A LabelBinarizer fit on every class name of the dataset.

    Fitting on all labels (not only the training split, as the post does)
    keeps a rare class that landed only in the test split from crashing.
    """
    from sklearn.preprocessing import LabelBinarizer

    return LabelBinarizer().fit(labels)


def one_hot(lb, labels):
    """One-hot labels with one column per class, also for two classes.

    For two classes LabelBinarizer returns a single 0/1 column; a softmax
    over two units with categorical cross-entropy needs two columns, so the
    complement is added in front (column i is still ``lb.classes_[i]``).
    """
    y = lb.transform(labels).astype("float32")
    if y.shape[1] == 1:
        y = np.hstack([1.0 - y, y])
    return y
