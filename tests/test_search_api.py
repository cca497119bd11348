"""The chapter's four lines on this package's classes (pyimagesearch.search):
``ImageClassifier(max_trials=2).fit(x, y)``, ``evaluate``, ``predict``,
``export_model``; the regressor and the AutoModel form; a caller's mistakes.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from conftest import ROOT, predict_many_in_fresh_python

from pyimagesearch.search import (AutoModel, ClassificationHead, ImageBlock, ImageClassifier,
                                  ImageInput, ImageRegressor, RegressionHead)

pytestmark = pytest.mark.usefixtures("float32_after")


def coloured_pictures(n, seed, side=16):
    """CIFAR-10-like arrays: uint8 RGB pictures whose class (0, 1, 2, as an
    (n, 1) column) is their colour, with noise."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200]])
    x = colours[y][:, None, None, :] + rng.normal(0, 30, (n, side, side, 3))
    return np.clip(x, 0, 255).astype("uint8"), y.reshape(-1, 1)


# In a fresh Python, in a folder of its own, as a notebook runs it: the
# chapter's cells with the import changed, on arrays from an .npz file
CHAPTER = textwrap.dedent("""
    import sys
    import numpy as np
    from pyimagesearch.search import ImageClassifier

    data = np.load(sys.argv[1])
    (x_train, y_train, x_test, y_test) = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))

    clf = ImageClassifier(max_trials=2, seed=3, batch_size=16)
    clf.fit(x_train, y_train, epochs=3)
    metrics = clf.evaluate(x_test, y_test)
    print(metrics)
    predicted_y = clf.predict(x_test)
    model = clf.export_model()
    model.summary()
    model.save("exported.keras")
    np.savez("results.npz", metrics=metrics, predicted=predicted_y,
             outputs=clf.predict_outputs(x_test), views=np.array(clf.test_views()))
""")


def views_of(x, views):
    """The test's views of pictures ``x``, made here in NumPy: each moved a
    pixel down-right (+1) or up-left (-1), edges mirrored, then mirrored."""
    out = []
    for (shift, mirrored, _) in views:
        v = x.astype("float32") / 255.0
        if shift:
            padded = np.pad(v, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="reflect")
            s = 1 - int(shift)
            v = padded[:, s:s + x.shape[1], s:s + x.shape[2]]
        out.append(v[:, :, ::-1] if mirrored else v)
    return out


def test_the_chapters_four_lines_in_a_fresh_process(tmp_path):
    (x_train, y_train) = coloured_pictures(60, 0)
    (x_test, y_test) = coloured_pictures(24, 1)
    np.savez(tmp_path / "cifar.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DISPLAY", None)
    result = subprocess.run([sys.executable, "-c", CHAPTER, str(tmp_path / "cifar.npz")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    out = np.load(tmp_path / "results.npz")
    # the chapter's project folder, in the notebook's own folder: two trials
    # and the promoted one, the defaults first
    trials = sorted((tmp_path / "image_classifier" / "trials").glob("trial_*/trial.json"))
    assert len(trials) == 3
    assert json.loads((tmp_path / "image_classifier" / "search.json").read_text())[
        "image_size"] == 16
    # predict gives the classes as fit was given them, an (n, 1) column of
    # class numbers; evaluate's accuracy is theirs against the labels, its
    # loss the cross-entropy of the averaged outputs; colours are easy
    (loss, accuracy) = out["metrics"]
    predicted = out["predicted"]
    assert predicted.shape == y_test.shape and predicted.dtype.kind == "i"
    assert accuracy == pytest.approx(np.mean(predicted == y_test)) and accuracy > 0.9
    probabilities = out["outputs"]
    np.testing.assert_array_equal(probabilities.argmax(axis=1), predicted.ravel())
    assert loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(24), y_test.ravel()])),
                                 rel=1e-4)
    # the exported model, plain Keras in a Python without this repository:
    # its predictions of each view, averaged as the test averages them, are
    # predict's outputs (with seed 3 on an AVX512-BF16 EPYC the augmented
    # network wins: each picture with its mirror image and shifted copies;
    # one view where an unaugmented one does)
    views = out["views"]
    assert len(views) in (1, 6) and views[:, 2].sum() == pytest.approx(1.0)
    fresh = predict_many_in_fresh_python(
        {k: (tmp_path / "exported.keras", v) for (k, v) in enumerate(views_of(x_test, views))},
        tmp_path)
    assert all(packages == ["keras"] for (_, packages) in fresh.values())
    averaged = sum(weight * fresh[k][0] for (k, (_, _, weight)) in enumerate(views))
    np.testing.assert_allclose(averaged, probabilities, atol=2e-3)
    assert "[INFO] trials (* = exported):" in result.stdout
    assert 'Model: "search_airbench"' in result.stdout


def test_a_regressor_predicts_in_the_targets_units(tmp_path):
    # grey pictures without a channel axis, whose target is their brightness
    rng = np.random.default_rng(0)
    levels = rng.uniform(20, 230, 40)
    x = np.clip(levels[:, None, None] + rng.normal(0, 5, (40, 16, 16)), 0, 255).astype("uint8")
    y = levels / 10
    reg = ImageRegressor(max_trials=1, directory=tmp_path, seed=0, block_type="vanilla",
                         batch_size=8)
    # floats from 0 to 255 are pictures too; the caller's arrays stay as they were
    (pixels, before) = (x.astype("float64"), x.astype("float64"))
    reg.fit(pixels[:30], y[:30], epochs=2, verbose=0)
    np.testing.assert_array_equal(pixels, before)
    predicted = reg.predict(x[30:])
    np.testing.assert_allclose(reg.predict(pixels[30:]), predicted, rtol=1e-5)
    assert predicted.shape == (10, 1)
    (loss, mae) = reg.evaluate(x[30:], y[30:])
    assert mae == pytest.approx(np.mean(np.abs(predicted.ravel() - y[30:])))
    assert loss == pytest.approx(np.mean((predicted.ravel() - y[30:]) ** 2))
    # thirty pictures: four copies retrained, the exported model their mean
    assert reg.copies == 4
    model = reg.export_model()
    assert model.input_shape == (None, 16, 16, 1)
    np.testing.assert_allclose(model.predict(x[30:, :, :, None] / 255.0, verbose=0), predicted,
                               rtol=1e-5)


def test_the_automodel_form_maps_onto_the_same_classes():
    # AutoModel(inputs=ImageInput(), outputs=ClassificationHead()(ImageBlock(...)(input)))
    node = ImageInput()
    auto = AutoModel(inputs=node, outputs=ClassificationHead()(
        ImageBlock(block_type="efficient", augment=False)(node)), max_trials=3)
    assert isinstance(auto.head, ClassificationHead)
    assert (auto.block.block_type, auto.block.augment) == ("efficient", False)
    assert auto.options["max_trials"] == 3
    # a head alone: the default block
    auto = AutoModel(inputs=[ImageInput()], outputs=[RegressionHead()])
    assert isinstance(auto.head, RegressionHead) and auto.block.block_type is None


@pytest.mark.parametrize("make, message", [
    (lambda: ImageClassifier(max_trials=0), "max_trials must be a whole number from 1"),
    (lambda: ImageClassifier(max_trials=2.5), "max_trials"),
    (lambda: ImageClassifier(time_limit=-1), "time_limit must be a positive number"),
    (lambda: ImageClassifier(block_type="mobilenet"), "block_type must be one of"),
    (lambda: ImageClassifier(augment="yes"), "augment must be True, False or None"),
    (lambda: ImageClassifier(num_classes=1), "num_classes"),
    (lambda: ImageClassifier(precision="float16"), "precision must be one of"),
    (lambda: ImageClassifier(schedule="plateau"), "schedule must be one of"),
    (lambda: ImageRegressor(loss="mae"), "loss must be one of"),
    (lambda: AutoModel(inputs="pictures", outputs=ClassificationHead()), "one ImageInput"),
])
def test_a_wrong_setting_is_named(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize("call, message", [
    (lambda c, x, y: c.fit(x[:, :, :, :2], y), r"x must be pictures.*shaped \(n, height"),
    (lambda c, x, y: c.fit(x.astype(object), y), "x must be pictures"),
    (lambda c, x, y: c.fit(x * 2.0, y), "x holds values from 0 to 510"),
    (lambda c, x, y: c.fit(x, y[:-1]), "y has 59 targets for 60 pictures"),
    (lambda c, x, y: c.fit(x, y + 0.5), "y holds fractions"),
    (lambda c, x, y: c.fit(x, y, validation_split=1.5), "validation_split must be a fraction"),
    (lambda c, x, y: c.fit(x, y, epochs=0), "epochs must be a whole number"),
    (lambda c, x, y: c.fit(x, y, validation_data=(x[:5, :8], y[:5])), "validation_data must"),
    (lambda c, x, y: c.fit(x, y, validation_data=(x[:5], y[:5] + 7)), "holds 7, which is not one of the training labels"),
    (lambda c, x, y: c.fit(x, y, test_pictures=-1), "test_pictures must be a whole number"),
    (lambda c, x, y: c.fit(x, y, test_pictures=2.5), "test_pictures must be a whole number"),
    (lambda c, x, y: c.predict(x), "call fit first"),
])
def test_a_callers_mistake_is_named_before_training(tmp_path, call, message):
    (x, y) = coloured_pictures(60, 0)
    (before_x, before_y) = (x.copy(), y.copy())
    clf = ImageClassifier(directory=tmp_path)
    with pytest.raises((ValueError, TypeError), match=message):
        call(clf, x, y)
    # nothing was trained or written, and the caller's arrays are as they were
    assert not (tmp_path / "image_classifier").exists()
    np.testing.assert_array_equal(x, before_x)
    np.testing.assert_array_equal(y, before_y)


def test_a_time_limit_too_short_for_the_test_is_named_before_training(tmp_path):
    from pyimagesearch.errors import UserError

    (x, y) = coloured_pictures(60, 0)
    clf = ImageClassifier(time_limit=0.5, directory=tmp_path)
    # a million test pictures would take longer than the 30 seconds
    with pytest.raises(ValueError, match="too little once .* are kept to predict the "
                                         "1000000 test_pictures") as raised:
        clf.fit(x, y, test_pictures=10 ** 6)
    assert isinstance(raised.value, UserError)   # a script's one line, exit 2
    assert not (tmp_path / "image_classifier").exists()


def test_a_timed_search_sizes_its_first_network_by_the_top_rungs_time(tmp_path, monkeypatch):
    from pyimagesearch.search import distributed, project
    from pyimagesearch.search.hypermodel import ImageHyperModel

    class Sized(Exception):
        pass

    class Searched(Exception):
        pass

    def sized(self, seconds, x, y, samples):
        raise Sized(seconds, len(x), samples)

    def searched(*args, **kwargs):
        raise Searched

    monkeypatch.setattr(ImageHyperModel, "size_first_network", sized)
    monkeypatch.setattr(distributed, "make_tuner", searched)
    (x, y) = coloured_pictures(40, 0, side=12)
    # before the search: the top rung's share of the time (all of it for
    # one candidate), the split training the trials, every picture at the top
    for (trials, share) in ((2, 0.85), (1, 1.0)):
        with pytest.raises(Sized) as found:
            ImageClassifier(max_trials=trials, time_limit=1, directory=tmp_path,
                            overwrite=True).fit(x, y)
        assert found.value.args[0] == pytest.approx(share * 60, abs=5)
        assert found.value.args[1:] == (32, 40)
    # the time kept for the caller's test is not the top rung's to size by
    monkeypatch.setattr(ImageHyperModel, "kept_for_test", lambda self: 20.0)
    with pytest.raises(Sized) as found:
        ImageClassifier(max_trials=1, time_limit=1, directory=tmp_path,
                        overwrite=True).fit(x, y, test_pictures=100)
    assert found.value.args[0] == pytest.approx(60 - 20, abs=5)
    # no time limit, or a resumed search, even one stopped in its first
    # trial (KerasTuner reruns it with the values it recorded): not sized
    with pytest.raises(Searched):
        ImageClassifier(directory=tmp_path, overwrite=True).fit(x, y)
    monkeypatch.setattr(project, "check_project", lambda *args: 0)
    (tmp_path / "image_classifier" / project.TRIALS / "trial_0000").mkdir(parents=True)
    with pytest.raises(Searched):
        ImageClassifier(time_limit=1, directory=tmp_path).fit(x, y)


@pytest.mark.eager_steps
def test_a_promoted_network_goes_on_from_its_parents(tmp_path, monkeypatch):
    from pyimagesearch.search.hypermodel import ImageHyperModel

    import keras

    # what each training began from: its weights and the epochs asked for
    (began, fit) = ([], ImageHyperModel.fit)

    def spied(self, hp, model, x, y, validation_data=None, epochs=1.0, **kwargs):
        began.append(([w.copy() for w in model.get_weights()], epochs))
        return fit(self, hp, model, x, y, validation_data, epochs=epochs, **kwargs)

    monkeypatch.setattr(ImageHyperModel, "fit", spied)
    (x, y) = coloured_pictures(40, 0, side=8)
    clf = ImageClassifier(max_trials=2, directory=tmp_path, seed=0, block_type="vanilla",
                          batch_size=8)
    clf.fit(x, y, epochs=3, verbose=0)
    # two candidates for a third of the epochs, then the better one goes on
    # from its network (not from a new random start) to all three
    rows = clf.trials()
    assert [r["rung"] for r in rows] == [1, 1, 2] and len(began) == 4
    parent = int(clf.best.hyperparameters.values["tuner/parent"])
    saved = keras.models.load_model(
        tmp_path / "image_classifier" / "trials" / f"trial_{parent:04d}" / "model.keras")
    (weights, epochs) = began[2]
    assert len(weights) == len(saved.get_weights())
    for (mine, theirs) in zip(weights, saved.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    # (the table gives the network's epochs, its parent's included)
    assert epochs == pytest.approx(2.0) and rows[2]["epochs"] == pytest.approx(3.0)
    assert not all(np.array_equal(a, b) for (a, b) in zip(began[0][0], weights))
    # the export retrains from scratch for the three epochs its network saw
    assert clf.retrained and clf.epochs == pytest.approx(3.0) and began[3][1] == pytest.approx(3.0)
