"""What a search prints and records of its trials: a line as each starts and
ends, the table of them all. Nothing here imports TensorFlow; trials are
read through KerasTuner's public attributes.
"""

import time

from ..reports import format_seconds


def metric(trial, name):
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
    score = metric(trial, "val_loss")
    text = f"val_loss {score:.4f}" if score is not None else str(trial.status).lower()
    if metric(trial, "val_accuracy") is not None:
        text += f", val_accuracy {metric(trial, 'val_accuracy'):.4f}"
    best = oracle.best_trial()
    best = (f"best of the highest rung {metric(best, 'val_loss'):.4f}, trial "
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
                     **{k: metric(trial, k) for k in ("val_loss", "val_accuracy", "val_mae")},
                     "epochs": round(metric(trial, "epochs") or 0.0, 2),
                     "seconds": round(metric(trial, "seconds") or 0.0, 1)})
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
