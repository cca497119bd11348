"""What a run reports and keeps: the house scripts' files (``--output``),
the K-fold comparison's table, the record of an image classifier's run, the
machine it ran on (CPU, native bfloat16, peak memory), a search's trials
as they run and in its table, and the views its test predictions average.
"""

import csv
import math
import os
import time

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


def native_bfloat16():
    """The processor's bfloat16 instructions this Linux reports, or ''."""
    flags = set(cpu_info("flags").split())
    return next((flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags), "")


def cpu_info(field="model name"):
    """The first ``field`` of the processor this Linux reports, or ''."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            line = next((line for line in f if line.startswith(field)), ":")
    except OSError:
        return ""
    return line.split(":", 1)[1].strip()


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


# what the search's oracle adds to a trial's hyperparameter values (as
# KerasTuner's Hyperband does, under "tuner/")
(RUNG, EPOCHS, SECONDS, PARENT, STEP_SECONDS, PREDICT_SECONDS, KEPT_SECONDS,
 WITH_VALIDATION) = (
    "tuner/rung", "tuner/epochs", "tuner/seconds", "tuner/parent", "tuner/step_seconds",
    "tuner/predict_seconds", "tuner/kept_seconds", "tuner/with_validation")


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
    """``rung r, E epoch(s)[ at most, within S][, trial j promoted][, on the
    validation pictures too]: values``."""
    values = trial.hyperparameters.values
    text = f"rung {int(values.get(RUNG, 0)) + 1}, {round(values.get(EPOCHS, 0), 2):g} epoch(s)"
    if values.get(SECONDS):
        text += f" at most, within {format_seconds(values[SECONDS])}"
    if values.get(PARENT):
        text += f", trial {int(values[PARENT]) + 1} promoted"
    if values.get(WITH_VALIDATION):
        text += ", on the validation pictures too"
    return f"{text}: {describe_values(values)}"


def describe_views(views):
    """``the picture (w), the picture mirrored (w), ...`` for ``(shift, mirrored, weight)`` views."""
    names = {0: "the picture", -1: "moved a pixel up-left", 1: "moved a pixel down-right"}
    return ", ".join(f"{names[s]}{' mirrored' if m else ''} ({w:g})" for (s, m, w) in views)


def network_epochs(trial):
    """The epochs a trial's network has trained: its own, and those of the
    network it went on from (a promoted trial's parent's)."""
    return (trial_metric(trial, "epochs") or 0.0) + (trial_metric(trial, "earlier_epochs") or 0.0)


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
    rung = int(trial.hyperparameters.values.get(RUNG, 0)) + 1
    return f"[INFO] trial {int(trial.trial_id) + 1} (rung {rung}): {text} ({best}) - {elapsed}"


def trial_rows(oracle):
    """One dict per trial, in trial order: what the table and results.json show."""
    rows = []
    for trial_id in sorted(oracle.trials, key=int):
        trial = oracle.trials[trial_id]
        values = trial.hyperparameters.values
        rows.append({"trial": int(trial_id) + 1, "rung": int(values.get(RUNG, 0)) + 1,
                     "status": str(trial.status), "hyperparameters": network_values(values),
                     **{k: trial_metric(trial, k) for k in ("val_loss", "val_accuracy", "val_mae")},
                     "epochs": round(network_epochs(trial), 2),
                     "with_validation": bool(values.get(WITH_VALIDATION)),
                     "seconds": round(trial_metric(trial, "seconds") or 0.0, 1)})
    return rows


def print_trial_table(rows, best):
    """Number, rung, validation scores, epochs (the network's, a promoted
    one's parents' included), the trial's seconds, hyperparameters; the
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
    for r in rows:
        if r.get("with_validation") and r["val_loss"] is not None:
            print(f"  (trial {r['trial']} trained on the validation pictures too: its scores "
                  "there are not a test)")
