"""Part 5's searches checked by what they do with each picture (issue 39):
the candidates train and are scored on training pictures only, the
exported model trains on exactly the training pictures, the test pictures
are only tested on; the names in the grid, the report, results.json and
the label file predict.py reads land on their colours; the learning rate
of every fit is its schedule's hand formula at every step, over the steps
the fit really has; a time limit shorter than the untimed search ends the
search within it, with fewer trials; the augmentation the search chooses
moves and mirrors pictures as its settings say.

The runs are tiny (10-pixel pictures, one candidate, a few epochs, steps
run eagerly: conftest.eager_steps) and shared by the tests of the module.
"""

import csv
import json
import math
import re
import time
from contextlib import contextmanager
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from conftest import eager_steps, info_lines, outputs, run_in_process

pytestmark = [pytest.mark.usefixtures("float32_after"), pytest.mark.eager_steps]

# class name -> BGR colour: alphabetical (amber, moss, zinc) is neither the
# channel order (moss, zinc, amber) nor its reverse (amber, zinc, moss)
COLOURS = {"amber": (0, 0, 230), "moss": (230, 0, 0), "zinc": (0, 230, 0)}
NAMES = sorted(COLOURS)
# pictures per class, unequal, so that a report's rows show whose they are
TRAIN = {"amber": 14, "moss": 16, "zinc": 18}
TEST = {"amber": 3, "moss": 4, "zinc": 5}
SIDE = 10


def colour_of(image):
    """The class whose colour a BGR picture shows."""
    mean = np.asarray(image, "float64").reshape(-1, 3).mean(axis=0)
    return NAMES[int(np.argmin([np.abs(mean - COLOURS[n]).sum() for n in NAMES]))]


def rows(x):
    """Pictures as a sorted list of their bytes (a multiset)."""
    return sorted(np.ascontiguousarray(p).tobytes() for p in np.asarray(x))


@pytest.fixture(scope="module")
def colour_split(tmp_path_factory):
    """train/<class>/ and test/<class>/ of 10-pixel pictures of each class's
    colour with noise; returns the folder and its pictures as read."""
    root = tmp_path_factory.mktemp("colour_split")
    rng = np.random.default_rng(11)
    found = {"train": [], "test": []}
    for (split, counts) in (("train", TRAIN), ("test", TEST)):
        for (name, count) in counts.items():
            (root / split / name).mkdir(parents=True)
            for i in range(count):
                image = np.clip(np.array(COLOURS[name]) + rng.normal(0, 15, (SIDE, SIDE, 3)),
                                0, 255).astype("uint8")
                cv2.imwrite(str(root / split / name / f"{i:02d}.png"), image)
                found[split].append(image)
    return SimpleNamespace(root=root, train=np.stack(found["train"]),
                           test=np.stack(found["test"]))


def rates_callback(stop_at=None):
    """A callback keeping the learning rate each step trains with (read
    after the search's own schedule has set it); past ``stop_at`` (a
    ``time.monotonic()``) it stops training, so that a search whose time
    limit is broken fails in seconds instead of training for minutes."""
    import keras

    class Rates(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.rates = []

        def on_train_batch_begin(self, batch, logs=None):
            self.rates.append(float(self.model.optimizer.learning_rate))

        def on_train_batch_end(self, batch, logs=None):
            if stop_at is not None and time.monotonic() > stop_at:
                self.model.stop_training = True

    return Rates()


@contextmanager
def watched_search(stop_at=None):
    """Record a search: each ``ImageHyperModel.fit`` (its pictures, targets,
    scoring pictures, epochs, hyperparameters and the rate of every step),
    the pictures ``evaluate`` and ``predict`` are given, the prediction grid,
    each ``fit`` of the searcher (its arguments, seconds and clock)."""
    from pyimagesearch import plots
    from pyimagesearch.search import hypermodel, oracle, tasks

    seen = SimpleNamespace(fits=[], tested=[], grids=[], searches=[], clocks=[])
    (train, evaluate, grid, search, clock) = (
        hypermodel.ImageHyperModel.fit, tasks.ImageSearch.evaluate, plots.plot_prediction_grid,
        tasks.ImageSearch.fit, oracle.Clock)

    def spied_train(self, hp, model, x, y, validation_data=None, epochs=1.0, deadline=None,
                    callbacks=(), verbose=2):
        rates = rates_callback(stop_at)
        seen.fits.append(SimpleNamespace(x=np.array(x), y=np.array(y), held=validation_data,
                                         epochs=epochs, values=dict(hp.values),
                                         batch_size=self.settings.batch_size, rates=rates,
                                         hypermodel=self, deadline=deadline))
        return train(self, hp, model, x, y, validation_data, epochs, deadline,
                     [*callbacks, rates], verbose)

    def spied_evaluate(self, x, y):
        seen.tested.append(np.array(x))
        return evaluate(self, x, y)

    def spied_grid(images, titles, path, **kwargs):
        seen.grids.append((np.array(images), list(titles)))
        return grid(images, titles, path, **kwargs)

    def spied_search(self, x, y, *args, **kwargs):
        started = time.monotonic()
        try:
            return search(self, x, y, *args, **kwargs)
        finally:
            seen.searches.append(SimpleNamespace(searcher=self, x=np.array(x), y=np.array(y),
                                                 args=args, kwargs=kwargs,
                                                 seconds=time.monotonic() - started))

    class SeenClock(clock):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            seen.clocks.append(self)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hypermodel.ImageHyperModel, "fit", spied_train)
        mp.setattr(tasks.ImageSearch, "evaluate", spied_evaluate)
        mp.setattr(tasks.ImageSearch, "fit", spied_search)
        mp.setattr(plots, "plot_prediction_grid", spied_grid)
        mp.setattr(oracle, "Clock", SeenClock)
        yield seen


@pytest.fixture(scope="module")
def searched(colour_split, tmp_path_factory):
    """search_image_classifier.py on the colours, one candidate, four epochs
    (learnt in that), in float32 on every processor, watched; its outputs
    under ``out``."""
    import keras

    out = tmp_path_factory.mktemp("searched")
    with eager_steps(), watched_search() as seen:
        seen.result = run_in_process(
            "search_image_classifier.py", "--dataset", colour_split.root, "--max-trials", 1,
            "--epochs", 4, "--batch-size", 16, "--precision", "float32", *outputs(out),
            "--label-bin", out / "lb.pickle")
    keras.mixed_precision.set_global_policy("float32")
    seen.out = out
    return seen


# --------------------------------------------------------------------------
# Which pictures do what


def test_candidates_train_and_score_on_training_pictures_only(searched, colour_split):
    """Every trial trains and is scored on training pictures, apart from one
    another and from the test pictures; the exported model trains on all
    the training pictures and nothing else; the test pictures are only
    tested on; every picture keeps its own label throughout."""
    (train, test) = (rows(colour_split.train), rows(colour_split.test))
    assert not set(train) & set(test)
    *trials, export = searched.fits
    assert trials and export.held is None
    for trial in trials:
        (heldX, heldY) = trial.held
        assert not set(rows(trial.x)) & set(rows(heldX))
        assert sorted(rows(trial.x) + rows(heldX)) == train
        assert len(heldX) == math.ceil(0.2 * len(train))
        for (x, y) in ((trial.x, trial.y), (heldX, heldY)):
            assert [NAMES[i] for i in np.argmax(y, axis=1)] == [colour_of(p) for p in x]
    assert rows(export.x) == train
    assert [NAMES[i] for i in np.argmax(export.y, axis=1)] == [colour_of(p) for p in export.x]
    [tested] = searched.tested
    assert rows(tested) == test


def test_names_in_grid_report_results_and_label_file(searched, colour_split):
    """The grid titles each test picture with its own colour's name as the
    real class, and the network learnt the colours; the report's rows, the
    results' classes and counts and the label file name the same classes
    in the same order."""
    import pickle

    [(images, titles)] = searched.grids
    assert len(titles) == sum(TEST.values())   # every test picture is shown
    predicted = {name: [] for name in NAMES}
    for (image, title) in zip(images, titles):
        (p, r) = re.fullmatch(r"Predicted: (\w+), Real: (\w+)", title).groups()
        assert r == colour_of(image), title
        predicted[r].append(p)
    assert all(p == [name] * TEST[name] for (name, p) in predicted.items()), predicted
    # scikit-learn's report: each name's row with its own number of pictures
    for name in NAMES:
        assert re.search(rf"^\s*{name}\s+1\.00\s+1\.00\s+1\.00\s+{TEST[name]}$",
                         searched.result.stdout, re.M), name
    results = json.loads((searched.out / "m_results.json").read_text())
    assert results["classes"] == NAMES
    assert (results["train_counts"], results["test_counts"]) == (TRAIN, TEST)
    assert results["test_accuracy"] == 1.0
    assert pickle.loads((searched.out / "lb.pickle").read_bytes()).classes_.tolist() == NAMES


def test_predict_names_the_searchs_test_pictures(searched, colour_split):
    """predict.py, with the model and label file the search wrote, names
    every test picture's colour (the search's pictures and predict.py's
    agree on size, scaling and channel order)."""
    for name in NAMES:
        lines = info_lines(run_in_process(
            "predict.py", "--model", searched.out / "m.keras", "--label-bin",
            searched.out / "lb.pickle", "--image", colour_split.root / "test" / name))
        verdicts = [line.split(": ")[1] for line in lines[1:]]
        assert verdicts == [name] * TEST[name], (name, verdicts)


@pytest.fixture(scope="module")
def regressed(tmp_path_factory):
    """search_image_regressor.py on flat grey pictures whose target is their
    grey level over ten (vanilla block, one candidate, twelve one-step epochs:
    the warm-up's five epochs are under half of them), watched;
    returns the run and each picture file's target."""
    import keras

    folder = tmp_path_factory.mktemp("greys")
    levels = np.random.default_rng(4).permutation(np.arange(20, 236, 9))[:24]
    targets = {}
    with open(folder / "targets.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "target"])
        for (i, level) in enumerate(levels):
            cv2.imwrite(str(folder / f"g{i:02d}.png"), np.full((SIDE, SIDE, 3), level, "uint8"))
            writer.writerow([f"g{i:02d}.png", level / 10])
            targets[int(level)] = level / 10
    out = tmp_path_factory.mktemp("regressed")
    with eager_steps(), watched_search() as seen:
        seen.result = run_in_process(
            "search_image_regressor.py", "--dataset", folder, "--image-size", SIDE, "--block",
            "vanilla", "--max-trials", 1, "--epochs", 12, "--batch-size", 32, *outputs(out))
    keras.mixed_precision.set_global_policy("float32")
    seen.targets = targets
    return seen


def test_regressor_trains_on_its_training_split_and_titles_each_picture_by_its_own_target(
        regressed):
    """The regressor's trials and exported copies train on the training
    split's pictures (the trials' scoring pictures among them), never on a
    test picture; the test pictures are the rest of the folder; the grid
    titles each test picture with its own target."""
    [search] = regressed.searches
    [tested] = regressed.tested
    (train, test) = (rows(search.x), rows(tested))
    assert len(train) == 18 and len(test) == 6 and not set(train) & set(test)
    levels = sorted(int(p[0, 0, 0]) for p in np.concatenate([search.x, tested]))
    assert levels == sorted(regressed.targets)
    # each training picture goes in with its own target
    for (picture, target) in zip(search.x, search.y):
        assert target == pytest.approx(regressed.targets[int(picture[0, 0, 0])])
    *trials, export = regressed.fits
    for trial in trials:
        (heldX, heldY) = trial.held
        assert sorted(rows(trial.x) + rows(heldX)) == train
        assert not set(rows(heldX)) & set(test)
    assert rows(export.x) == train
    [(images, titles)] = regressed.grids
    assert len(titles) == 6
    for (image, title) in zip(images, titles):
        real = float(re.fullmatch(r"Predicted: -?[\d.]+, Real: ([\d.]+)", title).group(1))
        assert real == pytest.approx(regressed.targets[int(image[0, 0, 0])], abs=0.05)


# --------------------------------------------------------------------------
# Settings by value: the rate at every step, the time limit, augmentation


def onecycle_by_hand(progress):
    """airbench's rate as a share of its peak (docs/search.md): from a fifth
    up to the peak over the first 23% of the steps, then straight down to 7%."""
    if progress < 0.23:
        return 0.2 + 0.8 * progress / 0.23
    return 1.0 - 0.93 * (progress - 0.23) / 0.77


def cosine_by_hand(step, total, warm, peak):
    """Adam's rate: up linearly over the warm-up, then a cosine to zero."""
    if step < warm:
        return peak * step / warm
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))


@pytest.mark.parametrize("run", ["searched", "regressed"])
def test_every_step_trains_at_its_schedules_rate(run, request):
    """Each fit of a search (every trial and the export) trains for its
    epochs' steps exactly, at the rate its schedule gives each step: the
    airbench family's one-cycle from its peak (11.5 per 1,024 pictures over
    1 + 1/(1 - 0.85), times the batch), the others' 5-epoch warm-up and
    cosine to zero from Adam's rate."""
    fits = request.getfixturevalue(run).fits
    assert len(fits) == 2
    for fit in fits:
        perEpoch = math.ceil(len(fit.x) / fit.batch_size)
        total = max(1, round(fit.epochs * perEpoch))
        if run == "searched":
            peak = 11.5 / (1024 * (1 + 1 / 0.15)) * fit.batch_size * fit.values["airbench_peak"]
            expected = [peak * onecycle_by_hand(k / total) for k in range(total)]
        else:
            (peak, warm) = (fit.values["learning_rate"], min(5 * perEpoch, total // 2))
            expected = [cosine_by_hand(k, total, warm, peak) for k in range(total)]
        assert len(fit.rates.rates) == total
        np.testing.assert_allclose(fit.rates.rates, expected, rtol=1e-5, atol=1e-9)


def test_a_time_limit_shorter_than_the_search_ends_it_in_time_with_fewer_trials(searched,
                                                                               tmp_path):
    """The searched pictures again, two candidates of 200 epochs (untimed:
    three trials, test_search.py::test_successive_halving_promotes_the_best_third,
    each far longer than the limit), with a limit of 8.4 seconds: fit
    returns within it (a second's slack), a model exported (its share then
    leaves room for one trial); the clock it kept moved with the wall
    clock. (tests/test_search.py checks that a trial ends by its deadline.)"""
    import keras

    from pyimagesearch.search import ImageClassifier

    [search] = searched.searches
    (limit, untimedTrials) = (0.14 * 60, 3)
    # an untimed trial of 200 epochs, at the searched trial's seconds an epoch
    trial = search.searcher.trials()[0]
    assert 200 * trial["seconds"] / trial["epochs"] > 10 * limit
    clf = ImageClassifier(max_trials=2, time_limit=limit / 60, batch_size=8, seed=42,
                          directory=tmp_path, block_type="airbench", precision="float32")
    with eager_steps(), watched_search(stop_at=time.monotonic() + limit + 5) as seen:
        clf.fit(search.x, search.y, epochs=200, verbose=0)
    keras.mixed_precision.set_global_policy("float32")
    [timed] = seen.searches
    assert timed.seconds <= limit + 1.0, timed.seconds
    assert not bound_steps(clf.export_model())   # kept or retrained
    assert 1 <= len(clf.trials()) < untimedTrials
    [clock] = seen.clocks
    assert clock.elapsed() >= timed.seconds - 0.5


def bound_steps(model):
    """What of its training is still bound on a model's own objects (its
    batch norms' and optimizer's methods)."""
    import keras

    bound = {name for name in ("apply", "update_step") if name in vars(model.optimizer)}
    return bound | {f"{layer.name}.call" for layer in model.layers
                    if isinstance(layer, keras.layers.BatchNormalization)
                    and "call" in vars(layer)}


def test_the_exported_network_runs_keras_own_steps(searched):
    """The network the search exports (retrained here, on Muon's steps) is a
    plain Keras model, as a loaded one: nothing of its training is bound on
    its optimizer or its layers (the timed search below: kept or retrained)."""
    [search] = searched.searches
    assert search.searcher.retrained
    assert not bound_steps(search.searcher.export_model())


def search_augmentation(block, task, values):
    """The augmentation a search's hypermodel trains a network with, its
    hyperparameters set to ``values`` (the rest their defaults)."""
    import keras_tuner

    from pyimagesearch.search.blocks import ImageBlock

    hp = keras_tuner.HyperParameters()
    for (name, value) in values.items():
        hp.Fixed(name, value)
    return ImageBlock(block).augmentation(hp, block, task)


def airbench_moves(originals, moved, translate):
    """For each moved picture, the (mirrored, dy, dx) that makes it from its
    original (edges mirrored), or None."""
    found = []
    t = translate
    for (a, b) in zip(originals, moved):
        match = None
        for (mirrored, image) in ((False, a), (True, a[:, ::-1])):
            padded = np.pad(image, ((t, t), (t, t), (0, 0)), mode="reflect")
            for dy in range(-t, t + 1):
                for dx in range(-t, t + 1):
                    view = padded[t + dy:t + dy + a.shape[0], t + dx:t + dx + a.shape[1]]
                    if np.allclose(view, b, atol=1e-6):
                        match = (mirrored, dy, dx)
        found.append(match)
    return found


@pytest.mark.parametrize("translate", [2, 4])
def test_airbench_augmentation_mirrors_half_and_moves_up_to_its_pixels(translate):
    """The airbench family's augmentation, as the search chooses it
    (airbench_translate 2 or 4): each picture mirrored with probability
    one half and moved by whole pixels, every offset up to the setting's
    used and none beyond it (edges mirrored)."""
    augment = search_augmentation("airbench", "classification",
                                  {"airbench_translate": translate})
    x = np.random.default_rng(7).random((160, 12, 12, 3)).astype("float32")
    moves = airbench_moves(x, np.asarray(augment(x, np.array([5, 6], "int64"))), translate)
    assert None not in moves
    mirrored = sum(m for (m, _, _) in moves)
    assert 50 <= mirrored <= 110, mirrored   # 80 expected, over four deviations
    for axis in (1, 2):
        assert {move[axis] for move in moves} == set(range(-translate, translate + 1)), axis


@pytest.mark.parametrize("task, ranges", [
    ("classification", {"rotation": 30, "width_shift": 0.1, "height_shift": 0.1,
                        "shear": 0.2, "zoom": 0.2, "horizontal_flip": True,
                        "fill_mode": "NEAREST"}),
    ("regression", {"rotation": 28.8, "width_shift": 0.1, "height_shift": 0.1,
                    "zoom": 0.1, "horizontal_flip": True, "fill_mode": "REFLECT"})])
def test_vanilla_augmentation_has_the_documented_ranges(task, ranges):
    """The other families' augmentation, replayed with a seed, is
    random_affine with the post's ranges for a classifier and the milder
    ones (no shear, zoom 0.1, mirrored edges) for a regressor."""
    from pyimagesearch.augmentation import random_affine

    augment = search_augmentation("vanilla", task, {"augment": True})
    x = np.random.default_rng(8).random((16, 20, 20, 3)).astype("float32")
    seed = np.array([2, 3], "int64")
    np.testing.assert_array_equal(augment(x, seed), random_affine(x, seed, **ranges))
