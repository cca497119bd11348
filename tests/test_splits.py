"""pyimagesearch/splits.py: K folds keep a house's rows together and test
every house once; the held-out validation data is seeded, disjoint and
keeps pairs together."""

import numpy as np
import pandas as pd

from pyimagesearch.splits import hold_out, kfold


def test_folds_keep_houses_and_pictures_together():
    df = pd.DataFrame({"price": np.arange(40.0) + 1})
    images = np.arange(40.0) * 10
    for (train, test, trainImages, testImages) in kfold(4, df, images):
        assert (trainImages == train["price"].to_numpy() * 10 - 10).all()
        assert (testImages == test["price"].to_numpy() * 10 - 10).all()


def test_folds_partition_the_houses():
    df = pd.DataFrame({"price": np.arange(23.0) + 1})
    folds = [(train.index, test.index) for (train, test) in kfold(5, df)]
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(23))
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == 23


def test_hold_out_is_seeded_disjoint_and_keeps_pairs():
    x = np.arange(50).reshape(25, 2)
    y = np.arange(25)
    (trainX, trainY, valX, valY) = hold_out(x, y, 0.2, seed=3)
    assert len(valY) == 5 and len(trainY) == 20
    assert not set(trainY) & set(valY)
    assert (trainX[:, 0] == 2 * trainY).all() and (valX[:, 0] == 2 * valY).all()
    again = hold_out(x, y, 0.2, seed=3)[3]
    other = hold_out(x, y, 0.2, seed=4)[3]
    assert list(again) == list(valY) and list(other) != list(valY)
    # multi-input models: every input is split the same way
    (_, _, valParts, _) = hold_out([x, x * 10], y, 0.2, seed=3)
    assert (valParts[1] == valParts[0] * 10).all()
