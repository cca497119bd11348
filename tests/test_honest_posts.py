"""Numbers a learner can trust, for the house scripts (parts 1-3 and
compare_house_models.py): nothing fitted sees the test houses (price scale,
min-max scaler, zip-code columns, the validation data that picks the best
epoch), and the settings that shape the figures (the posts' time-based
decay, epochs, batches, what is validated on) have the values the posts
give, checked against hand computations.

The general method: run a script twice, the second time with its test
houses changed beyond recognition (a price a hundred times the largest,
absurd attributes, zip codes swapped), and require everything that
training sees to be identical, byte for byte. The runs stop at
``model.fit`` (conftest's ``fits``), so no test here trains for long.
"""

import csv
import math
import os
from types import SimpleNamespace

import keras
import numpy as np
import pytest

from conftest import load_script, run_in_process
from pyimagesearch import datasets

HOUSE_SCRIPTS = ("mlp_regression.py", "cnn_regression.py", "mixed_regression.py")


# --------------------------------------------------------------------------
# Helpers: a copy of the houses with some houses changed, and what a fit saw


def read_houses(folder):
    """The rows of HousesInfo.txt as lists of five floats."""
    lines = (folder / "HousesInfo.txt").read_text().splitlines()
    return [[float(v) for v in line.split()] for line in lines if line.strip()]


def write_poisoned_copy(source, target, rows, numbers, zip_swap=None):
    """``source``'s houses in ``target`` (pictures linked, not copied), with
    houses ``numbers`` (0-based lines) made absurd: a hundred times the
    price, fifty times the area, 20 more bedrooms and 10 more bathrooms;
    ``zip_swap`` (two line numbers) exchanges those houses' zip codes,
    which keeps every zip code's count and so the post's filter."""
    target.mkdir()
    for picture in source.glob("*.jpg"):
        os.symlink(picture, target / picture.name)
    rows = [list(r) for r in rows]
    for i in numbers:
        (bedrooms, bathrooms, area, zipcode, price) = rows[i]
        rows[i] = [bedrooms + 20, bathrooms + 10, area * 50, zipcode, price * 100]
    if zip_swap:
        (a, b) = zip_swap
        (rows[a][3], rows[b][3]) = (rows[b][3], rows[a][3])
    (target / "HousesInfo.txt").write_text(
        "".join(" ".join(repr(v) for v in r) + "\n" for r in rows))
    return target


def houses_tested(folder):
    """Line numbers of the post's 25% test houses (its one
    ``train_test_split``, seed 42), in split order."""
    from sklearn.model_selection import train_test_split

    df = datasets.load_house_attributes(folder / "HousesInfo.txt")
    return list(train_test_split(df, test_size=0.25, random_state=42)[1].index)


def stop_at_fit(script, *argv, fits):
    """Run ``script`` in this process up to its (next) ``model.fit``, which
    is recorded in ``fits.calls`` and not run."""
    result = run_in_process(script, *argv, stop=len(fits.calls) + 1, fits=fits)
    assert result.stopped
    return fits.calls[-1]


def pipeline_rows(data):
    """Every example of a ``tf.data`` pipeline as bytes (inputs and target
    together), sorted: the same examples whatever the shuffle."""
    found = []
    for (x, y) in data:
        parts = [np.asarray(p) for p in (x if isinstance(x, (tuple, list)) else (x,))]
        y = np.asarray(y)
        for i in range(len(y)):
            found.append(b"|".join(p[i].tobytes() for p in parts) + b"|" + y[i].tobytes())
    return sorted(found)


def pipeline_targets(data):
    return np.concatenate([np.asarray(y).reshape(len(np.asarray(y)), -1)[:, 0]
                           for (_, y) in data])


@pytest.fixture(scope="module")
def poisoned_houses(houses, tmp_path_factory):
    """The sample houses with three test houses made absurd and two test
    houses of different zip codes exchanging them."""
    rows = read_houses(houses)
    tested = houses_tested(houses)
    zips = {}
    for i in tested:
        zips.setdefault(rows[i][3], i)
    swap = tuple(list(zips.values())[:2])
    assert len(swap) == 2 and rows[swap[0]][3] != rows[swap[1]][3]
    folder = write_poisoned_copy(houses, tmp_path_factory.mktemp("poisoned") / "houses", rows,
                                 tested[:3], zip_swap=swap)
    return folder, tested[:3]


# --------------------------------------------------------------------------
# Parts 1-3: the test houses reach nothing that is fitted


@pytest.mark.parametrize("val_split", [None, "0.2"])
@pytest.mark.parametrize("script", HOUSE_SCRIPTS)
def test_house_scripts_train_on_nothing_of_the_test_houses(script, val_split, houses,
                                                           poisoned_houses, fits):
    """The price scale (the largest *training* price), the min-max scaler
    and the zip-code columns see only the training houses; with
    --val-split the epoch kept is chosen on training houses only."""
    flags = ["--epochs", 1] + (["--val-split", val_split] if val_split else [])
    for dataset in (houses, poisoned_houses[0]):
        stop_at_fit(script, "--dataset", dataset, *flags, fits=fits)
    (clean, poisoned) = fits.calls
    # the houses trained on, their inputs and scaled prices: identical
    assert pipeline_rows(clean.args[0]) == pipeline_rows(poisoned.args[0])
    (cleanVal, poisonedVal) = (c.kwargs["validation_data"] for c in (clean, poisoned))
    if val_split:
        # the validation houses pick the best epoch: training houses, untouched
        assert pipeline_rows(cleanVal) == pipeline_rows(poisonedVal)
    else:
        # the post validates on the test houses: the change shows there
        # (a hundred times the largest training price), so the run above
        # really did see other test houses
        assert pipeline_targets(poisonedVal).max() > 50 > pipeline_targets(cleanVal).max()
    # the training prices are scaled by their own largest, which becomes 1.0
    # (with --val-split it may be among the houses held out)
    trained = pipeline_targets(clean.args[0])
    assert trained.max() <= 1.0
    if not val_split:
        assert trained.max() == 1.0


def test_zip_code_columns_do_not_depend_on_the_test_houses(houses):
    """process_house_attributes: the training rows' one-hot zip columns and
    scaled attributes stay the same whatever attributes the test houses have
    and whichever of the houses' zip codes they are in, and a test house's
    column is its zip code's. (The post fits the zip codes' binarizer on
    every house kept, so a zip code found only among the test houses would
    add a column: it learns which zip codes exist, no price or attribute.)"""
    df = datasets.load_house_attributes(houses / "HousesInfo.txt")
    (train, test) = (df.iloc[:70], df.iloc[70:])
    (trainX, testX) = datasets.process_house_attributes(df, train, test)
    # every test house of one zip code and absurd attributes
    odd = test.copy()
    odd["zipcode"] = train["zipcode"].iloc[0]
    odd["area"] *= 1000
    odd["bedrooms"] += 50
    oddDf = df.copy()
    oddDf.loc[odd.index] = odd
    (trainX2, testX2) = datasets.process_house_attributes(oddDf, train, odd)
    np.testing.assert_array_equal(trainX, trainX2)
    # the zip columns come first, one per zip code in sorted order; a house's
    # 1 sits in its own zip code's column in both splits
    zips = sorted(df["zipcode"].unique())
    for (x, part) in ((trainX, train), (testX, test), (testX2, odd)):
        np.testing.assert_array_equal(x[:, :len(zips)].argmax(axis=1),
                                      [zips.index(z) for z in part["zipcode"]])
        np.testing.assert_array_equal(x[:, :len(zips)].sum(axis=1), 1)
    # the min-max scale is the training houses': (x - min) / (max - min)
    for (k, column) in enumerate(datasets.CONTINUOUS_COLUMNS):
        (low, high) = (train[column].min(), train[column].max())
        np.testing.assert_allclose(testX2[:, len(zips) + k],
                                   (odd[column] - low) / (high - low), rtol=1e-6)


# --------------------------------------------------------------------------
# compare_house_models.py: a fold's model sees only the other folds


@pytest.fixture
def unfitted(monkeypatch):
    """``keras.Model.fit`` recording its model and arguments and training
    nothing: a K-fold run's fits in a second (what is predicted then comes
    from untrained networks, which these tests do not look at)."""
    calls = []

    def record(model, *args, **kwargs):
        calls.append(SimpleNamespace(model=model, args=args, kwargs=kwargs))

    monkeypatch.setattr(keras.Model, "fit", record)
    return calls


def read_predictions(path):
    with open(path) as f:
        return {(r["model"], int(r["house"])): r for r in csv.DictReader(f)}


def test_each_fold_fits_nothing_of_its_own_test_houses(houses, tmp_path, unfitted):
    """Per fold, the price scale, the scaler and zip columns (the MLP's
    training data), the mean-price yardstick and the boosting yardstick are
    fitted on the training folds only: houses of fold 2 made absurd change
    nothing of fold 2's training and predictions, and do change fold 1's."""
    from threadpoolctl import threadpool_limits

    argv = ["--models", "mlp", "mean-price", "boosting", "--folds", 2, "--epochs", 1]
    # boosting's OpenMP threads on one core: on a busy machine its spinning
    # threads take seconds for these 50 houses
    with threadpool_limits(limits=1):
        run_in_process("compare_house_models.py", "--dataset", houses, *argv,
                       "--output", tmp_path / "clean")
        clean = read_predictions(tmp_path / "clean" / "predictions.csv")
        fold2 = sorted(h for (m, h), r in clean.items() if m == "mlp" and r["fold"] == "2")
        poisoned = fold2[:4]
        folder = write_poisoned_copy(houses, tmp_path / "houses", read_houses(houses),
                                     [h - 1 for h in poisoned])
        run_in_process("compare_house_models.py", "--dataset", folder, *argv,
                       "--output", tmp_path / "poisoned")
    changed = read_predictions(tmp_path / "poisoned" / "predictions.csv")
    assert {k: r["fold"] for k, r in clean.items()} == {k: r["fold"] for k, r in changed.items()}
    # the MLP's fits: fold 1, fold 2 of each run
    (clean1, clean2, changed1, changed2) = unfitted
    assert pipeline_rows(clean2.args[0]) == pipeline_rows(changed2.args[0])
    assert pipeline_rows(clean1.args[0]) != pipeline_rows(changed1.args[0])
    for (model, house) in clean:
        (before, after) = (clean[model, house], changed[model, house])
        if model == "mlp" or (model == "boosting" and house in poisoned):
            continue  # untrained networks; a poisoned house's own features
        if before["fold"] == "2":
            assert after["predicted_price"] == before["predicted_price"], (model, house)
        elif model == "mean-price":
            # fold 1 trains on the poisoned houses: its mean price moves
            assert float(after["predicted_price"]) > float(before["predicted_price"])


# --------------------------------------------------------------------------
# The posts' decay: Keras 2's decay=1e-3/200, by its values


def posts_rate(step):
    """What the posts' Adam(lr=1e-3, decay=1e-3 / 200) used at ``step``
    in Keras 2: lr / (1 + decay * iterations), iterations counting batches."""
    return 1e-3 / (1 + (1e-3 / 200) * step)


STEPS = [0, 1, 9, 10, 2000, 200_000, 10**7]


def house_script_models(houses, fits):
    """The compiled model of each house script, stopped at its fit."""
    return {script: stop_at_fit(script, "--dataset", houses, "--epochs", 1, fits=fits).model
            for script in HOUSE_SCRIPTS}


@pytest.fixture(scope="module")
def compare_models(houses):
    """compare_house_models.py's improved networks as train_network
    compiles them (its fit recording, training nothing)."""
    compare = load_script("compare_house_models.py")
    df = datasets.load_house_attributes(houses / "HousesInfo.txt")
    images = datasets.load_house_images(df, houses) / 255.0
    (train, test) = (np.arange(60), np.arange(60, 100))
    prices = (df["price"] / df["price"].iloc[train].max()).to_numpy("float32")
    models = {}
    fit = keras.Model.fit
    try:
        for name in ("mlp-improved", "cnn-improved"):
            calls = []
            keras.Model.fit = lambda model, *a, **k: calls.append(model)
            (trainX, testX) = compare.fold_inputs(compare.NETWORKS[name][0], df, images,
                                                  train, test)
            compare.train_network(name, trainX, prices[train], testX, prices[test], 1, 0)
            models[name] = (calls[0], trainX, prices[train])
    finally:
        keras.Model.fit = fit
    return models


def test_every_networks_rate_is_the_posts_inverse_time_decay(houses, fits, compare_models):
    """Keras 3 has no decay=: the schedule each script compiles gives the
    rate Keras 2 gave at every step, counted in batches (a decay counted in
    epochs or over another step count is off by the 10th step)."""
    models = house_script_models(houses, fits)
    models.update({name: m for (name, (m, _, _)) in compare_models.items()})
    for (name, model) in models.items():
        schedule = model.optimizer._learning_rate
        rates = [float(schedule(step)) for step in STEPS]
        np.testing.assert_allclose(rates, [posts_rate(s) for s in STEPS], rtol=1e-6,
                                   err_msg=name)


def adam_step_sizes(model, x, y, iterations):
    """The size of each weight's change in one training step taken at
    ``iterations`` from fresh Adam moments, over the rate expected then:
    with t large, Adam moves every weight by lr_t * (1 - b1) / sqrt(1 - b2)."""
    model.optimizer.iterations.assign(iterations)
    before = [w.numpy().copy() for w in model.trainable_weights]
    model.train_on_batch(x, y)
    (b1, b2) = (model.optimizer.beta_1, model.optimizer.beta_2)
    expected = posts_rate(iterations) * (1 - b1) / math.sqrt(1 - b2)
    moved = np.concatenate([np.abs(w.numpy() - b).ravel()
                            for (w, b) in zip(model.trainable_weights, before)])
    return moved[moved > 0] / expected


@pytest.mark.eager_steps  # one step per model (conftest.eager_steps)
def test_the_rate_a_step_applies_is_the_schedules(houses, fits, compare_models):
    """The rate actually applied, by its effect: one Adam step at iteration
    200,000 (rate 1e-3 / 2) moves the weights by that rate, through Keras'
    Adam (mlp, cnn) and the fused Adam kernel (mixed, mlp-improved) alike."""
    models = house_script_models(houses, fits)
    df = datasets.load_house_attributes(houses / "HousesInfo.txt")
    (attrs, _) = datasets.process_house_attributes(df, df, df.iloc[:1])
    images = (datasets.load_house_images(df, houses) / 255.0).astype("float32")
    y = np.full(len(df), 0.5, "float32")
    feeds = {"mlp_regression.py": attrs, "cnn_regression.py": images,
             "mixed_regression.py": [attrs, images]}
    for (name, model) in models.items():
        feed = feeds[name]
        batch = [f[:8] for f in feed] if isinstance(feed, list) else feed[:8]
        ratios = adam_step_sizes(model, batch, y[:8], 200_000)
        # (a weight with a gradient far below Adam's epsilon moves less)
        assert np.median(ratios) == pytest.approx(1.0, rel=1e-3), name
        assert ratios.max() < 1.0 + 1e-3, name
    (model, x, y) = compare_models["mlp-improved"]
    ratios = adam_step_sizes(model, x[:16], y[:16].reshape(-1, 1), 200_000)
    assert np.median(ratios) == pytest.approx(1.0, rel=1e-3)


@pytest.mark.eager_steps  # six steps (conftest.eager_steps)
def test_the_decay_counts_every_batch_of_a_run(houses, fits):
    """After a run of 2 epochs of 3 batches (75 houses, batch 25) the fused
    Adam of the mixed model stands at iteration 6 and the posts' rate for
    it: the decay advances once a batch, as Keras 2's did."""
    run_in_process("mixed_regression.py", "--dataset", houses, "--epochs", 2,
                   "--batch-size", 25, fits=fits)
    optimizer = fits.calls[-1].model.optimizer
    assert int(optimizer.iterations.numpy()) == 2 * math.ceil(75 / 25)
    assert float(optimizer.learning_rate) == pytest.approx(posts_rate(6), rel=1e-7)


# --------------------------------------------------------------------------
# The posts' other settings, left at their defaults


@pytest.mark.parametrize("script", HOUSE_SCRIPTS)
def test_house_scripts_default_to_the_posts_training(script, houses, fits):
    """Without flags: 200 epochs on batches of 8 of the 75 training houses,
    validated (as the posts) on the 25 test houses, whose targets are their
    prices over the largest training price."""
    call = stop_at_fit(script, "--dataset", houses, fits=fits)
    assert call.kwargs["epochs"] == 200
    sizes = [len(np.asarray(y)) for (_, y) in call.args[0]]
    assert sizes == [8] * 9 + [3]
    df = datasets.load_house_attributes(houses / "HousesInfo.txt")
    tested = houses_tested(houses)
    largest = df["price"].drop(index=tested).max()
    np.testing.assert_allclose(sorted(pipeline_targets(call.kwargs["validation_data"])),
                               sorted(df["price"].loc[tested] / largest), rtol=1e-6)
