"""How the scripts divide their data beyond the posts' one
``train_test_split``: K folds of the houses (compare_house_models.py), and
validation data held out of the training split (``--val-split``, the
searches).
"""

import math

import numpy as np

from .errors import UserError

# a 25% test split needs a handful of houses on each side to mean anything
MIN_HOUSES = 8


def check_enough_houses(df, folds=None):
    """Refuse a dataset too small for the post's 75/25 split or ``folds`` folds."""
    if len(df) < MIN_HOUSES:
        raise UserError(f"only {len(df)} house(s) left to train on; need at least "
                        f"{MIN_HOUSES} for a 75/25 train/test split")
    if folds and len(df) < 2 * folds:
        raise UserError(f"only {len(df)} house(s) left to train on; {folds} folds "
                        f"need at least {2 * folds}")


def kfold(folds, *arrays):
    """K-fold splits of ``arrays`` (a DataFrame, NumPy arrays, all of one
    length), in ``train_test_split``'s order: ``(train1, test1, train2,
    test2, ...)`` for each fold. Every row is tested exactly once, by a
    model that never saw it (scikit-learn's KFold, shuffled with the seed
    42 of the post's split)."""
    from sklearn.model_selection import KFold

    def take(a, rows):
        return a.iloc[rows] if hasattr(a, "iloc") else a[rows]

    for (train_rows, test_rows) in KFold(folds, shuffle=True,
                                       random_state=42).split(arrays[0]):
        yield [part for a in arrays for part in (take(a, train_rows), take(a, test_rows))]


def hold_out(x, y, fraction, seed, stratify=False):
    """Split ``fraction`` of ``(x, y)`` off as validation data, seeded.

    ``x`` may be a list of arrays (a multi-input model). With ``stratify``
    (``y`` class labels, or one-hot rows) every class keeps its share where
    every class has enough examples. At least one example lands on each
    side. Returns ``(train_x, train_y, val_x, val_y)``.
    """
    from sklearn.model_selection import train_test_split

    parts = list(x) if isinstance(x, (list, tuple)) else [x]
    n = len(y)
    # as many as scikit-learn's test_size=fraction holds out, at least one each side
    held = min(n - 1, max(1, math.ceil(fraction * n)))
    strata = None
    if stratify:
        labels = np.argmax(y, axis=1) if np.ndim(y) == 2 else np.asarray(y)
        counts = np.unique(labels, return_counts=True)[1]
        if counts.min() >= 2 and min(held, n - held) >= len(counts):
            strata = labels
    split = train_test_split(*parts, y, test_size=held, random_state=seed, stratify=strata)
    (train_parts, val_parts) = (split[0:-2:2], split[1:-2:2])
    (train_y, val_y) = (split[-2], split[-1])
    if isinstance(x, (list, tuple)):
        return list(train_parts), train_y, list(val_parts), val_y
    return train_parts[0], train_y, val_parts[0], val_y


def validation_data(train_x, train_y, test_x, test_y, val_split, seed):
    """What training is validated on: the test split, as the posts do, or
    with ``val_split`` a seeded fraction of the training data held out, so
    that the test split stays unseen until the final figure. Returns
    ``(train_x, train_y, val_x, val_y)``."""
    if not val_split:
        return train_x, train_y, test_x, test_y
    (train_x, train_y, val_x, val_y) = hold_out(train_x, train_y, val_split, seed)
    print(f"[INFO] holding out {len(val_y)} of the {len(val_y) + len(train_y)} training "
          "examples for validation")
    return train_x, train_y, val_x, val_y
