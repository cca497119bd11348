"""What the three house-price scripts share beyond the posts' steps: their
flags, the splits (the post's one split or K folds), and the report and
files of a run (``--output``).
"""

import argparse
import csv
import os
import time

import numpy as np

from .cli import (UserError, add_training_flags, apply_recipe_defaults, existing_folder,
                  positive_int)
from .storage import atomic_output, ensure_writable_folder, save_model, save_results

# a 25% test split needs a handful of houses on each side to mean anything
MIN_HOUSES = 8


def parse_args(description, defaults, argv=None):
    """The flags of the house-price scripts (the post's, plus a few).

    ``defaults``: the script's epochs and batch size per recipe.
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", type=str, required=True,
                    help="path to the Houses dataset folder (holds HousesInfo.txt)")
    ap.add_argument("--folds", type=positive_int, default=None, metavar="K",
                    help="K-fold evaluation: train K models, each tested on one fold "
                         "of the houses, and report the mean and spread over folds "
                         "(default: the post's single 75/25 split)")
    add_training_flags(ap, defaults)
    ap.add_argument("--output", type=str, default=None, metavar="DIR",
                    help="folder for the trained model (.keras), the loss plot and "
                         "the test-set predictions (CSV)")
    args = apply_recipe_defaults(ap, ap.parse_args(argv), defaults)

    existing_folder(args.dataset)
    if args.folds == 1:
        ap.error("--folds needs at least 2 folds (each fold is tested by a model "
                 "trained on the others)")
    if args.output is not None:
        ensure_writable_folder(args.output, "--output")
    if args.resume_dir is not None:
        if args.folds:
            # one backup for K models would start fold 1 of a rerun from the
            # weights of the fold that was interrupted, which saw its test houses
            ap.error("--resume-dir resumes one model's training; it cannot be "
                     "combined with --folds")
        ensure_writable_folder(args.resume_dir, "--resume-dir")
    return args


def check_enough_houses(df, folds=None):
    """Refuse to split a dataset too small for a 75/25 split or K folds."""
    if len(df) < MIN_HOUSES:
        raise UserError(f"only {len(df)} house(s) left to train on; need at least "
                        f"{MIN_HOUSES} for a 75/25 train/test split")
    if folds and len(df) < 2 * folds:
        raise UserError(f"only {len(df)} house(s) left to train on; {folds} folds "
                        f"need at least {2 * folds}")


def splits(df, folds=None):
    """Row numbers of (train, test) houses: the post's split, or K folds.

    Without ``folds`` this is the post's ``train_test_split(df,
    test_size=0.25, random_state=42)``: the same houses in the same order.
    With ``folds`` every house is tested exactly once, by a model that never
    saw it (scikit-learn's KFold, shuffled with the same seed 42). Too few
    houses for the split end in a ``UserError``, before any training.
    """
    from sklearn.model_selection import KFold, train_test_split

    check_enough_houses(df, folds)
    rows = np.arange(len(df))
    if not folds:
        return [tuple(train_test_split(rows, test_size=0.25, random_state=42))]
    return list(KFold(n_splits=folds, shuffle=True, random_state=42).split(rows))


def format_price(value):
    """Dollars with thousands separators, without depending on the locale."""
    return f"${value:,.2f}"


class Results:
    """Collects each split's errors and predictions; reports and saves them.

    One split (the post) ends with the post's two lines, the mean and
    standard deviation over the test houses. K folds print one line per
    fold and end with the mean and standard deviation of the K fold means,
    the figure to compare recipes by.
    """

    def __init__(self, script, args, df):
        self.script, self.args, self.df = script, args, df
        self.folds = []

    def add(self, absPercentDiff, test, predictedPrices, history, model):
        fold = {"mean": float(np.mean(absPercentDiff)), "std": float(np.std(absPercentDiff)),
                "houses": test.index.to_numpy() + 1, "true": test["price"].to_numpy(),
                "predicted": np.asarray(predictedPrices, dtype="float64").flatten(),
                "history": history.history, "model": model}
        self.folds.append(fold)
        if self.args.val_split:
            losses = history.history["val_loss"]
            best = int(np.argmin(losses))
            print(f"[INFO] kept the weights of epoch {best + 1} (lowest validation loss "
                  f"{losses[best]:.4f})")
        if self.args.folds:
            print(f"[INFO] fold {len(self.folds)}/{self.args.folds}: "
                  f"mean: {fold['mean']:.2f}%, std: {fold['std']:.2f}%")

    @property
    def figure(self):
        """(mean, std): over the houses for one split, over folds for K."""
        if len(self.folds) == 1:
            return self.folds[0]["mean"], self.folds[0]["std"]
        means = [f["mean"] for f in self.folds]
        return float(np.mean(means)), float(np.std(means))

    @property
    def over_folds(self):
        """What the closing line adds with ``--folds``: what its figures are."""
        if not self.args.folds:
            return ""
        return (f" (over {self.args.folds} folds: mean and standard deviation of the "
                "fold means)")

    def save(self, outputDir):
        """Write the model (one split only), the loss curves, the predictions
        (CSV and a predicted-vs-actual scatter) and results.json."""
        from .plots import plot_fold_histories, plot_history, plot_predictions

        written = []
        if len(self.folds) == 1:
            fold = self.folds[0]
            written.append(save_model(fold["model"], os.path.join(outputDir, "model.keras")))
            lossPath = os.path.join(outputDir, "loss.png")
            plot_history(fold["history"], lossPath,
                         f"Training and Validation Loss ({fold['model'].name})",
                         {"loss": "train_loss", "val_loss": "val_loss"},
                         smooth=bool(self.args.val_split))
        else:
            print("[INFO] K-fold evaluation keeps no model: run without --folds to "
                  "train the one to keep")
            lossPath = os.path.join(outputDir, "loss.png")
            plot_fold_histories([f["history"] for f in self.folds], lossPath,
                                f"Validation loss over {len(self.folds)} folds")
        written.append(lossPath)

        rows = self._prediction_rows()
        csvPath = os.path.join(outputDir, "predictions.csv")
        with atomic_output(csvPath) as tmp:
            with open(tmp, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(["house", "fold", "true_price", "predicted_price"])
                for (house, fold, truePrice, pred) in rows:
                    writer.writerow([house, fold, f"{truePrice:.2f}", f"{pred:.2f}"])
        written.append(csvPath)

        scatterPath = os.path.join(outputDir, "predictions.png")
        plot_predictions([r[2] for r in rows], [r[3] for r in rows], scatterPath,
                         f"Predicted vs actual price, {self.script}\n({self._label()})")
        written.append(scatterPath)
        written.append(self._save_json(os.path.join(outputDir, "results.json")))
        print(f"[INFO] wrote {', '.join(written)}")

    def _prediction_rows(self):
        rows = []
        for k, fold in enumerate(self.folds, start=1):
            rows += zip(fold["houses"].tolist(), [k] * len(fold["houses"]),
                        fold["true"].tolist(), fold["predicted"].tolist())
        return sorted(rows)

    def _label(self):
        split = f"{self.args.folds} folds" if self.args.folds else "the post's split"
        return f"recipe {self.args.recipe}, {split}"

    def _save_json(self, path):
        (mean, std) = self.figure
        return save_results(path, {
            "script": self.script, "recipe": self.args.recipe, "seed": self.args.seed,
            "folds": self.args.folds, "epochs": self.args.epochs,
            "val_split": self.args.val_split,
            "metric": "mean absolute percentage error (%)",
            "value": round(mean, 4),
            "std": round(std, 4),
            "per_fold": [round(f["mean"], 4) for f in self.folds] if self.args.folds else None,
            "houses": int(len(self.df)),
            "seconds": round(time.perf_counter() - self.args.start_time, 1),
        })

