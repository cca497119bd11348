"""What the three house-price scripts share: their flags, the error report
and the files written with ``--output``.
"""

import argparse
import csv
import os

import numpy as np

from .cli import UserError, add_training_flags, existing_folder
from .storage import atomic_output, ensure_writable_folder, save_model

# a 25% test split needs a handful of houses on each side to mean anything
MIN_HOUSES = 8


def parse_args(description, argv=None):
    """The flags of the house-price scripts (the post's, plus a few)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", type=str, required=True,
                    help="path to the Houses dataset folder (holds HousesInfo.txt)")
    add_training_flags(ap, epochs=200, batch_size=8)
    ap.add_argument("--output", type=str, default=None, metavar="DIR",
                    help="folder for the trained model (.keras), the loss plot and "
                         "the test-set predictions (CSV)")
    args = ap.parse_args(argv)

    existing_folder(args.dataset)
    if args.output is not None:
        ensure_writable_folder(args.output, "--output")
    if args.resume_dir is not None:
        ensure_writable_folder(args.resume_dir, "--resume-dir")
    return args


def check_enough_houses(df):
    """Refuse to split a dataset too small for a 75/25 split."""
    if len(df) < MIN_HOUSES:
        raise UserError(f"only {len(df)} house(s) left to train on; need at least "
                        f"{MIN_HOUSES} for a 75/25 train/test split")


def scale_prices(train, test):
    """Prices divided by the largest training price: targets near [0, 1].

    Only the training split decides the scale, so the test houses stay
    unseen. Returns ``(trainY, testY, maxPrice)``.
    """
    maxPrice = train["price"].max()
    trainY = (train["price"] / maxPrice).to_numpy("float32")
    testY = (test["price"] / maxPrice).to_numpy("float32")
    return trainY, testY, maxPrice


def format_price(value):
    """Dollars with thousands separators, without depending on the locale."""
    return f"${value:,.2f}"


def absolute_percentage_errors(preds, testY):
    """|predicted - true| / true * 100 for every test house."""
    diff = np.asarray(preds).flatten() - testY
    percentDiff = (diff / testY) * 100
    return np.abs(percentDiff)


def report(df, absPercentDiff):
    """Print the post's two closing lines; return (mean, std) of the errors."""
    mean = float(np.mean(absPercentDiff))
    std = float(np.std(absPercentDiff))
    print("[INFO] avg. house price: {}, std house price: {}".format(
        format_price(df["price"].mean()), format_price(df["price"].std())))
    print("[INFO] mean: {:.2f}%, std: {:.2f}%".format(mean, std))
    return mean, std


def save_outputs(outputDir, model, history, test, preds, maxPrice):
    """Write the model, the loss curves and the test predictions."""
    from .training import plot_history

    modelPath = save_model(model, os.path.join(outputDir, "model.keras"))
    plotPath = os.path.join(outputDir, "loss.png")
    plot_history(history, plotPath, f"Training and Validation Loss ({model.name})",
                 {"loss": "train_loss", "val_loss": "val_loss"})

    csvPath = os.path.join(outputDir, "predictions.csv")
    with atomic_output(csvPath) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["house", "true_price", "predicted_price"])
            for number, truePrice, pred in zip(test.index + 1, test["price"],
                                               np.asarray(preds).flatten()):
                writer.writerow([number, f"{truePrice:.2f}", f"{pred * maxPrice:.2f}"])
    print(f"[INFO] wrote {modelPath}, {plotPath} and {csvPath}")
