"""What the two image-classification training scripts share beyond the
post's steps: their flags, the checks on a folder-per-class dataset, label
encoding for two classes, and the record of a run.
"""

import argparse
import os
import time

import numpy as np

from .cli import UserError, add_training_flags, apply_recipe_defaults, existing_folder
from .datasets import load_image_folder
from .storage import ensure_writable_folder

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


def results(args, script, accuracy, classNames, confusion):
    """What ``<model>_results.json`` records of a run."""
    return {
        "script": script, "recipe": args.recipe, "seed": args.seed,
        "epochs": args.epochs, "val_split": args.val_split,
        "mixed_precision": args.mixed_precision,
        "metric": "accuracy", "value": round(float(accuracy), 4),
        "classes": list(classNames), "confusion_matrix": np.asarray(confusion).tolist(),
        "seconds": round(time.perf_counter() - args.start_time, 1),
    }


def beside(path, suffix):
    """A file beside ``path``: ``out/vgg.model`` -> ``out/vgg`` + suffix.

    The confusion matrix goes beside the plot (``out/vgg_confusion.png``)
    and the results beside the model (``out/vgg_results.json``).
    """
    root = os.path.splitext(path)[0] if os.path.splitext(path)[1] else path
    return root + suffix
