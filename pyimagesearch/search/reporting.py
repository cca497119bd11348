"""What a search prints and records: progress lines, the trials table, class counts,
which test pictures the grid shows, the peak memory.

Nothing here imports TensorFlow or KerasTuner; the oracle and trials are
read through their attributes.
"""

import time

import numpy as np


def metric(trial, name):
    """A metric a trial reported, or None (a trial that failed reports none)."""
    try:
        if trial.metrics.exists(name):
            return float(trial.metrics.get_last_value(name))
    except (KeyError, ValueError, TypeError):
        pass
    return None


def format_seconds(seconds):
    seconds = int(round(float(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def network_values(values):
    """A trial's hyperparameters without what the oracle added (``tuner/...``)."""
    return {k: v for k, v in values.items() if not k.startswith("tuner/")}


def describe_values(values):
    """Hyperparameter values as ``name=value`` pairs, short names, without
    what the oracle adds (``tuner/...``)."""
    parts = []
    for name, value in values.items():
        if name.startswith("tuner/"):
            continue
        short = (name.replace("vanilla_", "").replace("airbench_", "")
                 .replace("_per_block", ""))
        if isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{short}={value}")
    return " ".join(parts)


def describe_trial(trial):
    """``rung r, E epochs[, within S]: name=value ...`` for a trial."""
    values = trial.hyperparameters.values
    text = f"rung {int(values.get('tuner/rung', 0)) + 1}, {values.get('tuner/epochs', 0):g} epoch(s)"
    if values.get("tuner/seconds"):
        text += f" at most, within {format_seconds(values['tuner/seconds'])}"
    parent = values.get("tuner/parent")
    if parent:
        text += f", trial {int(parent) + 1} promoted"
    return f"{text}: {describe_values(values)}"


def progress_line(oracle, trial):
    """``[INFO] trial k (rung r): val_loss x (best y, trial j) - elapsed``."""
    score = metric(trial, "val_loss")
    scoreText = f"val_loss {score:.4f}" if score is not None else trial.status.lower()
    accuracy = metric(trial, "val_accuracy")
    if accuracy is not None:
        scoreText += f", val_accuracy {accuracy:.4f}"
    best = oracle.best_trial()
    bestText = (f"best of the highest rung {metric(best, 'val_loss'):.4f}, trial "
                f"{int(best.trial_id) + 1}" if best is not None else "no completed trial yet")
    rung = int(trial.hyperparameters.values.get("tuner/rung", 0)) + 1
    elapsed = (format_seconds(oracle.clock.elapsed()) if oracle.clock is not None
               else time.strftime("%H:%M:%S"))
    return (f"[INFO] trial {int(trial.trial_id) + 1} (rung {rung}): {scoreText} "
            f"({bestText}) - {elapsed}")


def trial_rows(oracle):
    """One dict per trial, in trial order: what the table and results.json show."""
    rows = []
    for trialId in sorted(oracle.trials, key=int):
        trial = oracle.trials[trialId]
        values = trial.hyperparameters.values
        rows.append({
            "trial": int(trialId) + 1,
            "rung": int(values.get("tuner/rung", 0)) + 1,
            "status": str(trial.status),
            "hyperparameters": network_values(values),
            "val_loss": metric(trial, "val_loss"),
            "val_accuracy": metric(trial, "val_accuracy"),
            "val_mae": metric(trial, "val_mae"),
            "epochs": round(metric(trial, "epochs") or 0.0, 2),
            "seconds": round(metric(trial, "seconds") or 0.0, 1),
        })
    return rows


def print_trial_table(rows, bestTrial):
    """The trials table: number, rung, validation score, epochs, seconds,
    hyperparameters; the exported one is marked with ``*``."""
    print("[INFO] trials (* = exported):")
    extra = "val_acc" if any(r["val_accuracy"] is not None for r in rows) else "val_mae"
    key = "val_accuracy" if extra == "val_acc" else "val_mae"
    print(f"  {'trial':>6} {'rung':>4} {'val_loss':>9} {extra:>8} {'epochs':>7} "
          f"{'seconds':>8}  hyperparameters")
    for r in rows:
        mark = "*" if r["trial"] == bestTrial else " "
        loss = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else r["status"].lower()
        second = "-" if r[key] is None else (f"{r[key]:.4f}" if key == "val_accuracy"
                                             else f"{r[key]:.4g}")
        print(f"  {mark}{r['trial']:>5} {r['rung']:>4} {loss:>9} {second:>8} "
              f"{r['epochs']:>7g} {r['seconds']:>8.1f}  "
              f"{describe_values(r['hyperparameters'])}")


def class_counts(names, labels):
    """How many of ``labels`` (class numbers) fall in each class."""
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=len(names))
    return {str(name): int(n) for name, n in zip(names, counts)}


def print_class_counts(what, counts):
    print(f"[INFO] {what} per class: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def peak_memory():
    """The process's peak resident memory in GB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def seeded_indices(count, seed, size=16):
    """Which test images the grid shows: up to ``size``, chosen with ``seed``."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(count)[:min(size, count)])
