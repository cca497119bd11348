"""What a run reports and keeps: the house-price scripts' closing lines and
files (``HouseReport``), and the record of an image classifier's run.
"""

import csv
import os

import numpy as np

from .storage import atomic_output, save_model, save_results


def format_price(value):
    """Dollars with thousands separators, without depending on the locale."""
    return f"${value:,.2f}"


class HouseReport:
    """Collects each split's errors and predictions; reports and saves them.

    One split (the post) ends with the post's two lines, the mean and
    standard deviation over the test houses. K folds print one line per
    fold and end with the mean and standard deviation of the K fold means,
    the figure to compare recipes by.
    """

    def __init__(self, script, df, folds=None, val_split=None, record=None):
        self.script, self.df = script, df
        self.kfolds, self.val_split = folds, val_split
        # what results.json records of the run's settings (recipe, seed, ...)
        self.record = dict(record or {})
        self.folds = []

    def add(self, absPercentDiff, test, predictedPrices, history, model):
        fold = {"mean": float(np.mean(absPercentDiff)), "std": float(np.std(absPercentDiff)),
                "houses": test.index.to_numpy() + 1, "true": test["price"].to_numpy(),
                "predicted": np.asarray(predictedPrices, dtype="float64").flatten(),
                "history": history.history, "model": model}
        self.folds.append(fold)
        if self.val_split:
            losses = history.history["val_loss"]
            best = int(np.argmin(losses))
            print(f"[INFO] kept the weights of epoch {best + 1} (lowest validation loss "
                  f"{losses[best]:.4f})")
        if self.kfolds:
            print(f"[INFO] fold {len(self.folds)}/{self.kfolds}: "
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
        if not self.kfolds:
            return ""
        return (f" (over {self.kfolds} folds: mean and standard deviation of the "
                "fold means)")

    def save(self, outputDir, seconds):
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
                         smooth=bool(self.val_split))
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
        written.append(self._save_json(os.path.join(outputDir, "results.json"), seconds))
        print(f"[INFO] wrote {', '.join(written)}")

    def _prediction_rows(self):
        rows = []
        for k, fold in enumerate(self.folds, start=1):
            rows += zip(fold["houses"].tolist(), [k] * len(fold["houses"]),
                        fold["true"].tolist(), fold["predicted"].tolist())
        return sorted(rows)

    def _label(self):
        split = f"{self.kfolds} folds" if self.kfolds else "the post's split"
        return f"recipe {self.record.get('recipe', 'posts')}, {split}"

    def _save_json(self, path, seconds):
        (mean, std) = self.figure
        return save_results(path, {
            "script": self.script, **self.record,
            "folds": self.kfolds, "val_split": self.val_split,
            "metric": "mean absolute percentage error (%)",
            "value": round(mean, 4),
            "std": round(std, 4),
            "per_fold": [round(f["mean"], 4) for f in self.folds] if self.kfolds else None,
            "houses": int(len(self.df)),
            "seconds": round(seconds, 1),
        })


def classifier_results(script, record, accuracy, classNames, confusion, seconds):
    """What ``<model>_results.json`` records of a classifier's run; ``record``
    holds its settings (recipe, seed, epochs, ...)."""
    return {
        "script": script, **record,
        "metric": "accuracy", "value": round(float(accuracy), 4),
        "classes": list(classNames), "confusion_matrix": np.asarray(confusion).tolist(),
        "seconds": round(seconds, 1),
    }


def format_seconds(seconds):
    """``42s``, ``3m05s`` or ``1h02m``."""
    seconds = int(round(float(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def peak_memory():
    """The process's peak resident memory in GB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def class_counts(names, labels):
    """How many of ``labels`` (class numbers) fall in each class of ``names``."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=len(names))
    return {str(name): int(n) for name, n in zip(names, counts)}


def seeded_indices(count, seed, size=16):
    """Which test pictures a grid shows: up to ``size``, chosen with ``seed``."""
    return np.sort(np.random.default_rng(seed).permutation(count)[:min(size, count)])
