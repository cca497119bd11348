"""What the two image-classification training scripts share (part 4): their
flags, loading a folder-per-class dataset, label encoding, augmentation, the
report and the saved files.
"""

import argparse
import os
import time

import numpy as np

from .cli import UserError, add_training_flags, apply_recipe_defaults, existing_folder
from .datasets import load_image_folder
from .storage import ensure_writable_folder, save_labels, save_model, save_results

# a class needs images on both sides of a 75/25 split
MIN_IMAGES_PER_CLASS = 4


def parse_args(description, defaults, argv=None):
    """The post's four required flags, plus the common training flags.

    ``defaults``: the script's epochs and batch size per recipe.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", required=True,
                    help="path to input dataset of images (one sub-folder per class)")
    ap.add_argument("-m", "--model", required=True,
                    help="path to output trained model (saved as .keras)")
    ap.add_argument("-l", "--label-bin", required=True,
                    help="path to output label binarizer")
    ap.add_argument("-p", "--plot", required=True,
                    help="path to output accuracy/loss plot")
    add_training_flags(ap, defaults)
    args = apply_recipe_defaults(ap, ap.parse_args(argv), defaults)

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


def augmentation():
    """The post's training-time augmentation, as a function of a batch and a seed.

    The post's ImageDataGenerator took rotation 30 degrees, shifts of 0.1,
    shear 0.2 (degrees), zoom 0.2, horizontal flips and nearest fill; they
    are composed and applied in one resampling pass (augmentation.py).
    """
    from functools import partial

    from .augmentation import random_affine

    return partial(random_affine, rotation=30, width_shift=0.1, height_shift=0.1,
                   shear=0.2, zoom=0.2, horizontal_flip=True, fill_mode="NEAREST")


def report(model, testX, testY, classNames):
    """Print scikit-learn's classification report on the test split.

    Returns what the saved files need: the accuracy, the confusion matrix
    (rows: true class, columns: predicted class) and the class names.
    """
    from sklearn.metrics import classification_report, confusion_matrix

    from .training import predict

    predictions = predict(model, testX)
    trueIdx, predIdx = testY.argmax(axis=1), predictions.argmax(axis=1)
    labels = list(range(len(classNames)))
    print(classification_report(trueIdx, predIdx, labels=labels,
                                target_names=classNames, zero_division=0))
    return {"accuracy": float(np.mean(trueIdx == predIdx)),
            "confusion": confusion_matrix(trueIdx, predIdx, labels=labels),
            "classes": list(classNames)}


def save_outputs(args, script, model, lb, history, title, evaluation):
    """Plot the curves and the confusion matrix, save the model, the label
    binarizer and ``results.json``.

    The confusion matrix and the results go beside the plot and the model:
    ``--plot out/vgg.png`` also writes ``out/vgg_confusion.png``, and
    ``--model out/vgg.model`` also writes ``out/vgg_results.json``.
    """
    from .plots import plot_confusion_matrix, plot_history

    plot_history(history.history, args.plot, title,
                 {"loss": "train_loss", "val_loss": "val_loss",
                  "accuracy": "train_acc", "val_accuracy": "val_acc"},
                 smooth=bool(args.val_split))
    confusionPath = _beside(args.plot, "_confusion.png")
    plot_confusion_matrix(evaluation["confusion"], evaluation["classes"], confusionPath,
                          f"Confusion matrix on the test split\n({model.name}, "
                          f"{evaluation['accuracy']:.0%} accuracy)")
    print("[INFO] serializing network and label binarizer...")
    modelPath = save_model(model, args.model)
    if modelPath != args.model:
        print(f"[INFO] Keras 3 saves models as .keras files: the model is in {modelPath}")
    save_labels(lb, args.label_bin)
    resultsPath = save_results(_beside(args.model, "_results.json"), {
        "script": script, "recipe": args.recipe, "seed": args.seed, "folds": None,
        "epochs": args.epochs, "val_split": args.val_split,
        "mixed_precision": args.mixed_precision,
        "metric": "accuracy", "value": round(evaluation["accuracy"], 4),
        "classes": evaluation["classes"],
        "confusion_matrix": evaluation["confusion"].tolist(),
        "seconds": round(time.perf_counter() - args.start_time, 1),
    })
    print(f"[INFO] wrote {confusionPath} and {resultsPath}")


def _beside(path, suffix):
    """``out/vgg.model`` -> ``out/vgg`` + suffix (the extension dropped)."""
    root = os.path.splitext(path)[0] if os.path.splitext(path)[1] else path
    return root + suffix
