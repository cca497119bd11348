"""Part 4's classifiers checked by what they do with each picture: nothing
fitted (class list, hold-out, training batches, weights) sees the test
split; predict.py names each colour right and prepares a picture exactly
as training did; every augmentation and learning-rate schedule of the
trainers does what its settings say, measured on the batches and rates
they produce (issue 39).

The pictures are solid colours whose class names are in neither the
colours' channel order nor its reverse, so a class list out of order, a
channel swap or a skipped scaling names some colour wrongly. Each picture's
right half is at half strength: a mirrored picture shows at a glance.
"""

import math
import pickle
from contextlib import contextmanager
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from conftest import Stopped, info_lines, run_in_process, script_argv

# class name -> BGR colour: alphabetical (amber, moss, zinc) is neither the
# channel order (moss, zinc, amber) nor its reverse (amber, zinc, moss)
COLOURS = {"amber": (0, 0, 230), "moss": (230, 0, 0), "zinc": (0, 230, 0)}
NAMES = sorted(COLOURS)
PER_CLASS = 8      # 24 pictures: 18 train (5 held out with --val-split 0.25), 6 test
SIDE = 16
IMPROVED = "train_improved_classifier.py"


def colour_picture(bgr, rng, side=SIDE):
    """A picture of ``bgr``, at half strength on its right half, with noise."""
    image = np.tile(np.array(bgr, "float64"), (side, side, 1))
    image[:, side // 2:] *= 0.5
    return np.clip(image + rng.normal(0, 12, image.shape), 0, 255).astype("uint8")


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    """A folder per class name, each of its own colour (PNG: no JPEG blur)."""
    root = tmp_path_factory.mktemp("colours")
    rng = np.random.default_rng(5)
    for (name, bgr) in COLOURS.items():
        (root / name).mkdir()
        for i in range(PER_CLASS):
            cv2.imwrite(str(root / name / f"{name}_{i}.png"), colour_picture(bgr, rng))
    return root


# --------------------------------------------------------------------------
# A run of a trainer, watched: what it loaded, split, fitted and predicted


@contextmanager
def watched(change_test=False, stop=None):
    """Record a trainer's run (the pictures it loaded and their paths, the
    test split, the label binarizer, each fit, each predict's input); with
    ``change_test`` the post's 75/25 split hands on other test pictures
    (negatives), all labelled as one class, the training side as it was;
    ``stop`` ends the run at that fit (conftest.run_in_process)."""
    import keras
    from sklearn import model_selection

    from pyimagesearch import datasets

    from pyimagesearch import training

    seen = SimpleNamespace(stop=stop, calls=[], predicted=[], lb=None, loaded=None,
                           test=None, augments=[])
    (split, load, binarizer) = (model_selection.train_test_split, datasets.load_image_folder,
                                datasets.fit_label_binarizer)
    (fit, predict, batches) = (keras.Model.fit, keras.Model.predict, training.batches)

    def spied_split(*arrays, **kwargs):
        parts = split(*arrays, **kwargs)
        # only the post's split (the hold-out asks for a count, not 0.25)
        if kwargs.get("test_size") == 0.25 and len(arrays) == 2:
            if change_test:
                parts[1] = (1.0 - parts[1]).astype(parts[1].dtype)
                parts[3] = np.full_like(parts[3], NAMES[-1])
            seen.test = (parts[1].copy(), parts[3].copy())
        return parts

    def spied_load(*args, **kwargs):
        seen.loaded = load(*args, **kwargs)
        return seen.loaded

    def spied_binarizer(labels):
        seen.lb = binarizer(labels)
        return seen.lb

    def spied_fit(model, *args, **kwargs):
        call = SimpleNamespace(model=model, args=args, kwargs=kwargs,
                               start=[w.copy() for w in model.get_weights()])
        seen.calls.append(call)
        if seen.stop == len(seen.calls):
            raise Stopped
        return fit(model, *args, **kwargs)

    def spied_batches(*args, **kwargs):
        seen.augments.append(kwargs.get("augment"))
        return batches(*args, **kwargs)

    def spied_predict(model, x, *args, **kwargs):
        seen.predicted.append(np.array(x))
        return predict(model, x, *args, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(model_selection, "train_test_split", spied_split)
        mp.setattr(datasets, "load_image_folder", spied_load)
        mp.setattr(datasets, "fit_label_binarizer", spied_binarizer)
        mp.setattr(keras.Model, "fit", spied_fit)
        mp.setattr(keras.Model, "predict", spied_predict)
        mp.setattr(training, "batches", spied_batches)
        yield seen


def run_watched(script, argv, change_test=False, stop=None):
    with watched(change_test, stop) as seen:
        seen.result = run_in_process(script, *argv, stop=stop, fits=seen if stop else None)
    return seen


def pictures(data, limit=None):
    """The pictures of a pipeline (its first ``limit`` batches), in order."""
    found = []
    for (i, (x, _)) in enumerate(data):
        if limit is not None and i == limit:
            break
        found.append(np.asarray(x))
    return np.concatenate(found)


def as_images(batch, side):
    """Flattened pictures (the simple NNs') back as images."""
    return batch.reshape(len(batch), side, side, 3) if batch.ndim == 2 else batch


def mirrored_share(images):
    """How many pictures are brighter on the right: mirrored ones."""
    half = images.shape[2] // 3
    (left, right) = (images[:, :, :half].mean(axis=(1, 2, 3)),
                     images[:, :, -half:].mean(axis=(1, 2, 3)))
    return int(np.sum(right > left)), len(images)


def unmirrored(images):
    """The pictures with the mirrored ones (brighter on the right) mirrored back."""
    half = images.shape[2] // 3
    flip = images[:, :, -half:].mean(axis=(1, 2, 3)) > images[:, :, :half].mean(axis=(1, 2, 3))
    return np.where(flip[:, None, None, None], images[:, :, ::-1], images)


# --------------------------------------------------------------------------
# train_simple_nn.py, trained: names, leaks and preparation by effect

SIMPLE = "train_simple_nn.py"


def simple_argv(colours, out):
    return [*script_argv(SIMPLE, colours, out), "--epochs", 10, "--batch-size", 1,
            "--val-split", 0.25]


@pytest.fixture(scope="module")
def simple_nn(colours, tmp_path_factory):
    """train_simple_nn.py trained on the colours, as a user runs it (its
    files under ``out``), watched."""
    out = tmp_path_factory.mktemp("simple_nn")
    seen = run_watched(SIMPLE, simple_argv(colours, out))
    seen.out = out
    return seen


def test_predict_names_every_colour_the_simple_nn_learned(simple_nn, colours):
    """The names predict.py prints, from the model and label file the
    trainer wrote, are each colour's own (a class list out of order, a
    channel swap, a skipped /255 or another flattening would misname one)."""
    out = simple_nn.out
    assert pickle.loads((out / "lb.pickle").read_bytes()).classes_.tolist() == NAMES
    for name in NAMES:
        lines = info_lines(run_in_process("predict.py", "--model", out / "net.model",
                                          "--label-bin", out / "lb.pickle",
                                          "--image", colours / name))
        verdicts = [line.split(": ")[1] for line in lines[1:]]
        assert verdicts == [name] * PER_CLASS, (name, verdicts)


def test_predict_draws_the_name_on_the_picture(simple_nn, colours, tmp_path):
    """The annotated picture carries the predicted name: the drawn text
    matches what printing the same name draws, pixel for pixel."""
    out = simple_nn.out
    image = colours / "amber" / "amber_0.png"
    lines = info_lines(run_in_process("predict.py", "--model", out / "net.model",
                                      "--label-bin", out / "lb.pickle", "--image", image,
                                      "--output", tmp_path / "a.png"))
    text = lines[-2][len("[INFO] "):]
    assert text.startswith("amber: ")
    drawn = cv2.imread(str(tmp_path / "a.png"))
    # the same enlarged picture with the same text drawn by hand
    import imutils

    (width, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.7, 2)
    expected = imutils.resize(cv2.imread(str(image)), width=width + 20)
    cv2.putText(expected, text, (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.7, (0, 0, 255), 2)
    np.testing.assert_array_equal(drawn, expected)


def test_simple_nn_learns_nothing_from_the_test_split(simple_nn, colours, tmp_path):
    """Run again with the test pictures replaced and their labels changed:
    the class list, the hold-out, the training batches, the start and the
    trained weights are identical, and the test split alone is evaluated."""
    again = run_watched(SIMPLE, simple_argv(colours, tmp_path), change_test=True)
    (first, second) = (simple_nn, again)
    # the change reached the test split: the pictures and labels differ
    assert not np.array_equal(first.test[0], second.test[0])
    assert not np.array_equal(first.test[1], second.test[1])
    assert first.lb.classes_.tolist() == second.lb.classes_.tolist() == NAMES
    [a], [b] = first.calls, second.calls
    np.testing.assert_array_equal(pictures(a.kwargs["validation_data"]),
                                  pictures(b.kwargs["validation_data"]))
    np.testing.assert_array_equal(pictures(a.args[0]), pictures(b.args[0]))
    for (u, v) in zip(a.start, b.start):
        np.testing.assert_array_equal(u, v)
    for (u, v) in zip(a.model.get_weights(), b.model.get_weights()):
        np.testing.assert_array_equal(u, v)
    # no held-out or training picture is a test picture
    test = {row.tobytes() for row in first.test[0]}
    for data in (a.args[0], a.kwargs["validation_data"]):
        assert not test & {row.tobytes() for row in pictures(data)}
    # the network is tested on the test split as it was split, nothing fitted on it
    np.testing.assert_array_equal(first.predicted[-1], first.test[0])
    np.testing.assert_array_equal(second.predicted[-1], second.test[0])


def test_predict_prepares_pictures_as_the_simple_nn_trained_on_them(simple_nn, colours):
    """predict.py feeds the model the very vectors training loaded for the
    same files, given one picture or a folder of them: 32x32, scaled to
    [0, 1], BGR, flattened row by row (a folder's wrong scaling still names
    these colours right, so the names alone would not show it)."""
    (data, _, paths) = simple_nn.loaded
    fed = predicted_input(simple_nn.out, paths[0])
    assert fed.shape == (1, 32 * 32 * 3)
    np.testing.assert_array_equal(fed[0], data[0])
    folder = sorted(str(p) for p in (colours / "moss").iterdir())
    fed = predicted_input(simple_nn.out, colours / "moss")
    np.testing.assert_array_equal(fed, data[[paths.index(p) for p in folder]])


def predicted_input(out, image, model="net.model", labels="lb.pickle"):
    """The array predict.py passes to the model for ``image``."""
    with watched() as seen:
        run_in_process("predict.py", "--model", out / model, "--label-bin", out / labels,
                       "--image", image)
    [fed] = seen.predicted
    return fed


# --------------------------------------------------------------------------
# The other trainers, stopped at their fit: what they would train on, how
# they augment, their schedules

STOPPED = {"train_vgg.py": [], "improved_simple_nn": ["--network", "simple_nn"],
           "improved_smallvggnet": ["--network", "smallvggnet"]}
EPOCHS = 20


def script_of(kind):
    return kind if kind.endswith(".py") else IMPROVED


def stopped_argv(kind, colours, out):
    return [*script_argv(script_of(kind), colours, out), *STOPPED[kind], "--epochs", EPOCHS,
            "--batch-size", 4, "--val-split", 0.25]


@pytest.fixture(scope="module")
def stopped(colours, tmp_path_factory):
    """Each trainer run to its fit and stopped there, watched, as it is and
    with the test split changed (``watched``)."""
    runs = {}
    for kind in STOPPED:
        out = tmp_path_factory.mktemp(kind.split(".")[0])
        runs[kind] = [run_watched(script_of(kind), stopped_argv(kind, colours, out), change,
                                  stop=1) for change in (False, True)]
        runs[kind][0].out = out
    return runs


def draws(call, batches=32):
    """The training pictures a fit draws: an endless pipeline's first
    ``batches`` batches, or as many passes over a finite one."""
    data = call.args[0]
    if call.kwargs.get("steps_per_epoch") is not None:
        return pictures(data, batches)
    found = [pictures(data)]
    while len(found) * len(found[0]) < 4 * batches:
        found.append(pictures(data))
    return np.concatenate(found)[:4 * batches]


@pytest.mark.parametrize("kind", STOPPED)
def test_trainers_fit_nothing_on_the_test_split(kind, stopped):
    """With the test split changed, each trainer's class list, hold-out,
    training batches and starting weights are the same, and no test picture
    is among the pictures it trains or validates on."""
    (first, second) = stopped[kind]
    assert not np.array_equal(first.test[0], second.test[0])
    assert first.lb.classes_.tolist() == second.lb.classes_.tolist() == NAMES
    [a], [b] = first.calls, second.calls
    np.testing.assert_array_equal(pictures(a.kwargs["validation_data"]),
                                  pictures(b.kwargs["validation_data"]))
    # the same pictures in the same order (the improved simple NN's flips
    # come from a stateful random op, which a second run in one process
    # draws anew: pictures are compared unmirrored)
    side = 32 if kind == "improved_simple_nn" else 64
    np.testing.assert_array_equal(unmirrored(as_images(draws(a, 8), side)),
                                  unmirrored(as_images(draws(b, 8), side)))
    for (u, v) in zip(a.start, b.start):
        np.testing.assert_array_equal(u, v)
    # the hold-out is training pictures: none of the test split's
    test = {row.tobytes() for row in first.test[0]}
    held = pictures(a.kwargs["validation_data"])
    assert len(held) == 5 and not test & {row.tobytes() for row in held}
    (loaded, _, _) = first.loaded
    everything = {row.tobytes() for row in loaded}
    assert {row.tobytes() for row in held} <= everything - test


@pytest.mark.parametrize("kind", STOPPED)
def test_augmenting_trainers_mirror_about_half_their_pictures(kind, stopped):
    """The drawn training pictures are mirrored at the rate of a fair coin
    (128 draws: 64 expected, 40 to 88 allowed, over four standard
    deviations), not never, not always."""
    [call] = stopped[kind][0].calls
    side = 32 if kind == "improved_simple_nn" else 64
    drawn = as_images(draws(call), side)
    (mirrored, n) = mirrored_share(drawn[:128])
    assert n == 128 and 40 <= mirrored <= 88, mirrored


def test_the_posts_simple_nn_trains_on_the_pictures_as_they_are(simple_nn):
    """train_simple_nn.py has no augmentation: no drawn picture is mirrored
    or otherwise changed from one that was loaded."""
    [call] = simple_nn.calls
    drawn = pictures(call.args[0])
    (loaded, _, _) = simple_nn.loaded
    assert mirrored_share(as_images(drawn, 32))[0] == 0
    assert {row.tobytes() for row in drawn} <= {row.tobytes() for row in loaded}


@pytest.mark.parametrize("kind", ["train_vgg.py", "improved_smallvggnet"])
def test_vgg_augmentation_is_the_posts_generator(kind, stopped):
    """train_vgg.py and the improved SmallVGGNet augment their training
    batches with the post's ImageDataGenerator ranges: their pipeline's
    transform, replayed on probe pictures with a seed, is random_affine with
    those ranges (whose effects test_augmentation.py and the tests below
    measure)."""
    from pyimagesearch.augmentation import random_affine

    augment = stopped[kind][0].augments[0]
    probe = np.random.default_rng(0).random((16, 24, 24, 3)).astype("float32")
    seed = np.array([4, 9], "int64")
    expected = random_affine(probe, seed, rotation=30, width_shift=0.1, height_shift=0.1,
                             shear=0.2, zoom=0.2, horizontal_flip=True, fill_mode="NEAREST")
    np.testing.assert_array_equal(augment(probe, seed), expected)


@pytest.mark.parametrize("kind", ["train_vgg.py", "improved_smallvggnet", "improved_simple_nn"])
def test_schedules_give_the_recipes_rates(kind, stopped):
    """The learning rate at given steps is the hand formula of the recipe:
    the post's time-based decay 0.01 / (1 + 0.01 / epochs * step), or a
    linear warm-up over 2 (simple NN) or 5 (SmallVGGNet) epochs to 1e-4 or
    1e-3, then a cosine to zero at the last step trained."""
    [call] = stopped[kind][0].calls
    optimizer = call.model.optimizer
    schedule = optimizer._learning_rate
    held = 5
    train = 3 * PER_CLASS - 6 - held   # 13 pictures train, in batches of 4
    if kind == "train_vgg.py":
        assert type(optimizer).__name__ == "SGD"
        for step in (0, 1, 7, 100, 10_000):
            assert float(schedule(step)) == pytest.approx(0.01 / (1 + 0.01 / EPOCHS * step),
                                                          rel=1e-6)
        return
    if kind == "improved_simple_nn":
        (name, peak, perEpoch, warmEpochs) = ("AdamW", 1e-4, math.ceil(train / 4), 2)
    else:
        (name, peak, perEpoch, warmEpochs) = ("Adam", 1e-3, train // 4, 5)
    assert type(optimizer).__name__ == name
    (total, warm) = (perEpoch * EPOCHS, perEpoch * warmEpochs)

    def by_hand(step):
        if step < warm:
            return peak * step / warm
        return peak * 0.5 * (1 + math.cos(math.pi * (step - warm) / (total - warm)))

    for step in (0, 1, warm // 2, warm, warm + 3, (warm + total) // 2, total - 1, total):
        assert float(schedule(step)) == pytest.approx(by_hand(step), rel=1e-4, abs=1e-12), step


def test_predict_prepares_a_picture_as_vgg_trained_on_it(stopped):
    """With train_vgg.py's network (saved as it is before training) and its
    label file, predict.py feeds the model the very array training loaded
    for the same file: 64x64 from the model, scaled to [0, 1], BGR, not
    flattened."""
    from pyimagesearch import storage

    seen = stopped["train_vgg.py"][0]
    [call] = seen.calls
    call.model.save(seen.out / "vgg.keras")
    storage.save_labels(seen.lb, seen.out / "vgg_lb.pickle")
    (data, _, paths) = seen.loaded
    fed = predicted_input(seen.out, paths[3], model="vgg.keras", labels="vgg_lb.pickle")
    assert fed.shape == (1, 64, 64, 3)
    np.testing.assert_array_equal(fed[0], data[3])


# --------------------------------------------------------------------------
# The augmentation's and the schedule's building blocks, by value

SEED = np.array([3, 4], "int64")


def square(n=64, side=41, half=8):
    """Bright squares of ``2 * half + 1`` pixels centred in black pictures."""
    x = np.zeros((n, side, side, 1), "float32")
    c = side // 2
    x[:, c - half:c + half + 1, c - half:c + half + 1] = 1.0
    return x


def extent(image, axis):
    """How many rows (axis 0) or columns (axis 1) the bright square spans."""
    return int(np.sum(image[..., 0].max(axis=1 - axis) > 0.5))


def test_zoom_scales_each_axis_within_its_range():
    """zoom=0.5 shows the scene between 1/1.5 and 1/0.5 times its size, each
    axis drawn on its own (ImageDataGenerator's zoom_range)."""
    from pyimagesearch.augmentation import random_affine

    y = random_affine(square(), SEED, zoom=0.5, fill_mode="CONSTANT").numpy()
    (rows, cols) = (np.array([extent(i, 0) for i in y]), np.array([extent(i, 1) for i in y]))
    # 17 pixels wide: from 17 / 1.5 = 11.3 to 17 / 0.5 = 34, a pixel of rounding
    for sizes in (rows, cols):
        assert sizes.min() >= 10 and sizes.max() <= 35
        assert sizes.min() <= 14 and sizes.max() >= 24   # the range is used, both ends
    assert np.mean(rows != cols) > 0.5   # each axis its own factor


def test_shear_tilts_by_at_most_its_degrees():
    """shear=20 tilts a vertical bar by at most 20 degrees, by different
    angles, rows keeping their place (a shear, not a rotation)."""
    from pyimagesearch.augmentation import random_affine

    x = np.zeros((64, 41, 41, 1), "float32")
    x[:, :, 20] = 1.0
    y = random_affine(x, SEED, shear=20, fill_mode="CONSTANT").numpy()
    angles = []
    for image in y[..., 0]:
        top = np.average(np.arange(41), weights=image[5] + 1e-9)
        bottom = np.average(np.arange(41), weights=image[35] + 1e-9)
        angles.append(np.degrees(np.arctan2(abs(top - bottom), 30)))
    assert max(angles) <= 21 and max(angles) >= 12 and np.std(angles) > 3


def test_generator_arguments_reach_their_own_effect():
    """image_data_generator passes each ImageDataGenerator argument to its
    own parameter of random_affine, nearest fill by default."""
    from pyimagesearch.augmentation import image_data_generator, random_affine

    x = np.random.default_rng(1).random((8, 20, 20, 3)).astype("float32")
    pairs = [({"rotation_range": 30}, {"rotation": 30}),
             ({"width_shift_range": 0.2}, {"width_shift": 0.2}),
             ({"height_shift_range": 0.2}, {"height_shift": 0.2}),
             ({"shear_range": 15}, {"shear": 15}), ({"zoom_range": 0.3}, {"zoom": 0.3}),
             ({"horizontal_flip": True}, {"horizontal_flip": True})]
    for (generator, affine) in pairs:
        made = image_data_generator(**generator)(x, SEED)
        np.testing.assert_array_equal(made, random_affine(x, SEED, fill_mode="NEAREST",
                                                          **affine))
        assert not np.allclose(made, x)


@pytest.mark.parametrize("steps, warmup", [(100, 10), (10, 8)])
def test_warmup_cosine_is_the_hand_formula(steps, warmup):
    """warmup_cosine: peak * step / warm-up, then peak * (1 + cos(pi * t)) / 2
    over the steps left, zero at the last; a warm-up longer than half the
    steps is cut to half."""
    from pyimagesearch.training import warmup_cosine

    schedule = warmup_cosine(0.4, steps, warmup)
    warm = min(warmup, steps // 2)
    for step in range(steps + 1):
        hand = 0.4 * step / warm if step < warm else \
            0.2 * (1 + math.cos(math.pi * (step - warm) / (steps - warm)))
        assert float(schedule(step)) == pytest.approx(hand, rel=1e-5, abs=1e-7), step
