"""What a run reports and keeps: the house-price scripts' closing lines and
files (``HouseReport``), and the record of an image classifier's run.
"""

import csv
import os
import time

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


# --------------------------------------------------------------------------
# A search's trials (part 5): a line as each starts and ends, and their
# table, read through KerasTuner's public attributes


def trial_metric(trial, name):
    """A metric a trial reported, or None (a failed trial reports none)."""
    try:
        if trial.metrics.exists(name):
            return float(trial.metrics.get_last_value(name))
    except (KeyError, ValueError, TypeError):
        pass
    return None


def network_values(values):
    """A trial's hyperparameters without what the oracle added (``tuner/...``)."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def describe_values(values):
    """``name=value`` pairs, short names."""
    parts = []
    for (name, value) in network_values(values).items():
        short = name.replace("vanilla_", "").replace("airbench_", "").replace("_per_block", "")
        parts.append(f"{short}={value:g}" if isinstance(value, float) else f"{short}={value}")
    return " ".join(parts)


def describe_trial(trial):
    """``rung r, E epoch(s)[ at most, within S][, trial j promoted]: values``."""
    values = trial.hyperparameters.values
    text = f"rung {int(values.get('tuner/rung', 0)) + 1}, {values.get('tuner/epochs', 0):g} epoch(s)"
    if values.get("tuner/seconds"):
        text += f" at most, within {format_seconds(values['tuner/seconds'])}"
    if values.get("tuner/parent"):
        text += f", trial {int(values['tuner/parent']) + 1} promoted"
    return f"{text}: {describe_values(values)}"


def progress_line(oracle, trial):
    """``[INFO] trial k (rung r): val_loss x (best ...) - elapsed``."""
    score = trial_metric(trial, "val_loss")
    text = f"val_loss {score:.4f}" if score is not None else str(trial.status).lower()
    if trial_metric(trial, "val_accuracy") is not None:
        text += f", val_accuracy {trial_metric(trial, 'val_accuracy'):.4f}"
    best = oracle.best_trial()
    best = (f"best of the highest rung {trial_metric(best, 'val_loss'):.4f}, trial "
            f"{int(best.trial_id) + 1}" if best is not None else "no completed trial yet")
    elapsed = (format_seconds(oracle.clock.elapsed()) if oracle.clock is not None
               else time.strftime("%H:%M:%S"))
    rung = int(trial.hyperparameters.values.get("tuner/rung", 0)) + 1
    return f"[INFO] trial {int(trial.trial_id) + 1} (rung {rung}): {text} ({best}) - {elapsed}"


def trial_rows(oracle):
    """One dict per trial, in trial order: what the table and results.json show."""
    rows = []
    for trial_id in sorted(oracle.trials, key=int):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        rows.append({"trial": int(trial_id) + 1, "rung": int(values.get("tuner/rung", 0)) + 1,
                     "status": str(trial.status), "hyperparameters": network_values(values),
                     **{k: trial_metric(trial, k) for k in ("val_loss", "val_accuracy", "val_mae")},
                     "epochs": round(trial_metric(trial, "epochs") or 0.0, 2),
                     "seconds": round(trial_metric(trial, "seconds") or 0.0, 1)})
    return rows


def print_trial_table(rows, best):
    """Number, rung, validation scores, epochs, seconds, hyperparameters; the
    exported trial (number ``best``) marked with ``*``."""
    key = "val_accuracy" if any(r["val_accuracy"] is not None for r in rows) else "val_mae"
    print("[INFO] trials (* = exported):")
    print(f"  {'trial':>6} {'rung':>4} {'val_loss':>9} {key[:7]:>8} {'epochs':>7} "
          f"{'seconds':>8}  hyperparameters")
    for r in rows:
        loss = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else r["status"].lower()
        second = "-" if r[key] is None else f"{r[key]:.4g}"
        print(f"  {'*' if r['trial'] == best else ' '}{r['trial']:>5} {r['rung']:>4} {loss:>9} "
              f"{second:>8} {r['epochs']:>7g} {r['seconds']:>8.1f}  "
              f"{describe_values(r['hyperparameters'])}")
