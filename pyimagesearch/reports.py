"""What a run reports and keeps: the house scripts' files (``--output``),
the K-fold comparison's table, and the record of an image classifier's run.
"""

import csv
import math
import os

import numpy as np

from .storage import atomic_output, save_model, save_results

PREDICTIONS_HEADER = ["house", "true_price", "predicted_price"]


def format_price(value):
    """Dollars with thousands separators, without depending on the locale."""
    return f"${value:,.2f}"


def save_house_run(output_dir, script, model, history, test, predicted_prices,
                   abs_percent_diff, record, seconds):
    """A house script's ``--output``: the model (``model.keras``), its loss
    curves (``loss.png``), the test houses' predictions (``predictions.csv``
    and the predicted-vs-actual picture ``predictions.png``) and
    ``results.json`` (``record``: the run's settings)."""
    from .plots import plot_history, plot_predictions

    written = [save_model(model, os.path.join(output_dir, "model.keras"))]
    loss_path = os.path.join(output_dir, "loss.png")
    plot_history(history.history, loss_path, f"Training and Validation Loss ({model.name})",
                 {"loss": "train_loss", "val_loss": "val_loss"},
                 smooth=bool(record.get("val_split")))
    written.append(loss_path)

    houses = test.index.to_numpy() + 1
    truth = test["price"].to_numpy()
    predicted = np.asarray(predicted_prices, dtype="float64").flatten()
    rows = sorted(zip(houses.tolist(), truth.tolist(), predicted.tolist()))
    written.append(write_predictions(os.path.join(output_dir, "predictions.csv"),
                                     PREDICTIONS_HEADER, rows))
    picture_path = os.path.join(output_dir, "predictions.png")
    plot_predictions(truth, predicted, picture_path,
                     f"Predicted vs actual price, {script}\n(the post's test split)")
    written.append(picture_path)
    written.append(save_results(os.path.join(output_dir, "results.json"), {
        "script": script, **record,
        "metric": "mean absolute percentage error (%)",
        "value": round(float(np.mean(abs_percent_diff)), 4),
        "std": round(float(np.std(abs_percent_diff)), 4),
        "houses": int(len(test)), "seconds": round(seconds, 1)}))
    print(f"[INFO] wrote {', '.join(written)}")


def write_predictions(path, header, rows):
    """A CSV of ``header`` and ``rows``, prices (the last two columns) in
    cents, written atomically; returns ``path``."""
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            for row in rows:
                writer.writerow([*row[:-2], f"{row[-2]:.2f}", f"{row[-1]:.2f}"])
    return path


def paired_difference(errors, best):
    """How much worse a model's fold errors are than ``best``'s, on the
    same folds: ``(mean difference, low, high, folds worse)`` with a 95%
    interval from the per-fold differences. The folds' training sets
    overlap, so the differences are not independent and the plain t
    interval is too narrow: its variance is corrected as Nadeau and Bengio
    (2003) propose for K-fold, by (1/K + 1/(K - 1)) instead of 1/K."""
    from scipy import stats

    differences = np.asarray(errors, dtype="float64") - np.asarray(best, dtype="float64")
    k = len(differences)
    mean = float(differences.mean())
    if k < 2 or not differences.any():
        return mean, mean, mean, int((differences > 0).sum())
    spread = math.sqrt((1 / k + 1 / (k - 1)) * differences.var(ddof=1))
    half = float(stats.t.ppf(0.975, k - 1)) * spread
    return mean, mean - half, mean + half, int((differences > 0).sum())


def comparison_lines(errors):
    """The comparison's table, one line a model, best first: ``errors`` maps
    a model to its fold errors (the folds in the same order for every
    model). The spread is the standard deviation of the fold errors; the
    last column compares each model with the best fold by fold."""
    order = sorted(errors, key=lambda name: np.mean(errors[name]))
    best = order[0]
    width = max(len(name) for name in order)
    fold_width = 6 * len(errors[best]) - 1  # the per-fold column's
    lines = [f"{'model':<{width}}  {'mean':>7}  {'spread':>7}  {'per fold':<{fold_width}}"
             f"  against {best}"]
    for name in order:
        per_fold = " ".join(f"{e:5.1f}" for e in errors[name])
        if name == best:
            against = "best"
        else:
            (mean, low, high, worse) = paired_difference(errors[name], errors[best])
            against = (f"{mean:+.2f} points (95% interval {low:+.2f} to {high:+.2f}), "
                       f"worse in {worse} of {len(errors[name])} folds")
        lines.append(f"{name:<{width}}  {np.mean(errors[name]):6.2f}%  "
                     f"{np.std(errors[name]):7.2f}  {per_fold}  {against}")
    return lines


def classifier_results(script, record, accuracy, class_names, confusion, seconds):
    """What ``<model>_results.json`` records of a classifier's run; ``record``
    holds its settings (recipe, seed, epochs, ...)."""
    return {
        "script": script, **record,
        "metric": "accuracy", "value": round(float(accuracy), 4),
        "classes": list(class_names), "confusion_matrix": np.asarray(confusion).tolist(),
        "seconds": round(seconds, 1),
    }
