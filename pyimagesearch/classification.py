"""What the two image-classification training scripts share (part 4): their
flags, loading a folder-per-class dataset, label encoding, augmentation, the
report and the saved files.
"""

import argparse
import os

import numpy as np

from .cli import UserError, add_training_flags, existing_folder
from .datasets import load_image_folder
from .storage import ensure_writable_folder, save_labels, save_model

# a class needs images on both sides of a 75/25 split
MIN_IMAGES_PER_CLASS = 4


def parse_args(description, epochs, argv=None):
    """The post's four required flags, plus the common training flags."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", required=True,
                    help="path to input dataset of images (one sub-folder per class)")
    ap.add_argument("-m", "--model", required=True,
                    help="path to output trained model (saved as .keras)")
    ap.add_argument("-l", "--label-bin", required=True,
                    help="path to output label binarizer")
    ap.add_argument("-p", "--plot", required=True,
                    help="path to output accuracy/loss plot")
    add_training_flags(ap, epochs=epochs, batch_size=32)
    args = ap.parse_args(argv)

    # check every path before any work, so a typo costs a second, not a run
    existing_folder(args.dataset)
    for flag, path in (("--model", args.model), ("--label-bin", args.label_bin),
                       ("--plot", args.plot)):
        if os.path.isdir(path):
            raise UserError(f"{flag} {path!r} is a folder, expected a file name")
        ensure_writable_folder(os.path.dirname(path), f"folder of {flag}")
    if args.resume_dir is not None:
        ensure_writable_folder(args.resume_dir, "--resume-dir")
    return args


def load_dataset(datasetPath, width, height, flatten, seed):
    """Load the images and labels, and check the dataset can be trained on."""
    (data, labels, _) = load_image_folder(datasetPath, width, height, flatten, seed)
    if len(data) == 0:
        raise UserError(f"--dataset {datasetPath!r} holds no readable images in class "
                        "sub-folders (expected e.g. dataset/cats/cat_001.jpg)")
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise UserError(f"--dataset {datasetPath!r} has one class ({classes[0]!r}); "
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


def augmentation(seed=None):
    """The post's training-time augmentation as Keras preprocessing layers.

    The post's ImageDataGenerator took rotation 30 degrees, shifts of 0.1,
    zoom 0.2, horizontal flips and nearest fill. Its ``shear_range=0.2`` is
    in degrees: at 64x64 pixels it moves a pixel by at most a tenth of a
    pixel, so it is left out rather than paying for another resampling pass.
    """
    from keras import Sequential, layers

    return Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(30 / 360, fill_mode="nearest", seed=seed),
        layers.RandomTranslation(0.1, 0.1, fill_mode="nearest", seed=seed),
        layers.RandomZoom(0.2, 0.2, fill_mode="nearest", seed=seed),
    ], name="augmentation")


def report(model, testX, testY, classNames):
    """Print scikit-learn's classification report; return the accuracy."""
    from sklearn.metrics import classification_report

    from .training import predict

    predictions = predict(model, testX)
    trueIdx, predIdx = testY.argmax(axis=1), predictions.argmax(axis=1)
    print(classification_report(trueIdx, predIdx, labels=range(len(classNames)),
                                target_names=classNames, zero_division=0))
    return float(np.mean(trueIdx == predIdx))


def save_outputs(args, model, lb, history, title):
    """Plot the curves, then save the model and the label binarizer."""
    from .training import plot_history

    plot_history(history, args.plot, title,
                 {"loss": "train_loss", "val_loss": "val_loss",
                  "accuracy": "train_acc", "val_accuracy": "val_acc"})
    print("[INFO] serializing network and label binarizer...")
    modelPath = save_model(model, args.model)
    if modelPath != args.model:
        print(f"[INFO] Keras 3 saves models as .keras files: the model is in {modelPath}")
    save_labels(lb, args.label_bin)
