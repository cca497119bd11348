"""The chapter 3 scripts on tiny generated data: flags (checked by their
effect on what is trained), outputs, the K folds in one model against the
chapter's one-fold-at-a-time loop, the text model's label file, and the
text model loading in a Python that has never seen this repository."""

import json
import math
import os
import pickle
import re
import subprocess
import sys
import textwrap
import zipfile
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from conftest import load_script, run_in_process, run_script, same_weights

from pyimagesearch import sample_data
from pyimagesearch.chapter3_datasets import load_boston_npz, load_imdb_npz
from pyimagesearch.errors import UserError


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("chapter3")
    sample_data.write_imdb_folder(str(root / "aclImdb"), per_class=30)
    sample_data.write_imdb_npz(str(root / "npz" / "imdb.npz"), count=120)
    sample_data.write_reuters_sgml(str(root / "reuters"), count=150)
    sample_data.write_boston_npz(str(root / "boston.npz"), count=100)
    sample_data.write_text_folder(str(root / "folder"), per_class=24)
    return root


def last_info(capsys):
    out = capsys.readouterr().out
    return [line for line in out.splitlines() if line.startswith("[INFO]")]


# --------------------------------------------------------------------------
# flags and inputs: one line, exit code 2, before any training


@pytest.mark.parametrize("script,args,error", [
    ("imdb_reviews.py", ["--hidden-layers", "4"], SystemExit),
    ("imdb_reviews.py", ["--activation", "sigmoid"], SystemExit),
    ("imdb_reviews.py", ["--dataset", "/no/such/aclImdb"], UserError),
    ("reuters_newswires.py", ["--labels", "binary"], SystemExit),
    ("reuters_newswires.py", ["--units", "0"], SystemExit),
    # a vocabulary of marks only (Keras' max_tokens traceback before)
    ("imdb_reviews.py", ["--num-words", "1"], SystemExit),
    ("reuters_newswires.py", ["--num-words", "3"], SystemExit),
    ("train_text.py", ["--dataset", ".", "--model", "m", "--plot", "p.png", "--num-words", "1"],
     SystemExit),
    ("boston_housing.py", ["--folds", "1"], UserError),
    ("boston_housing.py", ["--dataset", "/no/such.npz"], UserError),
    ("train_text.py", ["--dataset", "/no/such", "--model", "m", "--plot", "p.png"], UserError),
    ("predict_text.py", ["--model", "m.keras"], UserError),
])
def test_bad_flags_stop_before_training(script, args, error):
    with pytest.raises(error) as raised:
        load_script(script).main(args)
    if error is SystemExit:
        assert raised.value.code == 2


def test_foreign_npz_is_one_line(data, tmp_path):
    with pytest.raises(UserError, match="no array 'x_train'"):
        load_script("imdb_reviews.py").main(["--dataset", str(data / "boston.npz"),
                                            "--output", str(tmp_path)])
    with pytest.raises(UserError, match="only one class"):
        one = tmp_path / "one"
        sample_data.write_text_folder(str(one), classes=("a",), per_class=3)
        load_script("train_text.py").main(["--dataset", str(one), "--model",
                                           str(tmp_path / "m"), "--plot",
                                           str(tmp_path / "p.png")])


def test_without_dataset_or_network_says_so_in_one_line(tmp_path, monkeypatch):
    # no cached copy: Keras looks in an empty home (run_script passes os.environ on)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / ".keras"))
    result = run_script("boston_housing.py", "--kfold-epochs", "1", "--epochs", "1",
                        "--output", tmp_path / "out")
    if result.returncode == 0:
        pytest.skip("this machine can download Keras' datasets")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.fullmatch(r"boston_housing\.py: error: no --dataset given and Keras could not "
                        r"download boston_housing\.npz .*", result.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize("script, name", [("boston_housing.py", "boston_housing"),
                                          ("imdb_reviews.py", "imdb"),
                                          ("reuters_newswires.py", "reuters")])
def test_a_failed_download_is_one_line(script, name, tmp_path, monkeypatch):
    # the sibling of the test above that runs on any machine: the download
    # fails as it does offline, whatever this machine's network
    import keras

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/: None -- "
                        "[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(getattr(keras.datasets, name), "load_data", offline)
    with pytest.raises(UserError, match=f"no --dataset given and Keras could not download "
                                        f"{name}.npz .*name resolution.*--dataset") as info:
        load_script(script).main(["--epochs", "1", "--output", str(tmp_path / "out")])
    assert "\n" not in str(info.value) and not list((tmp_path / "out").glob("*"))


# --------------------------------------------------------------------------
# Boston: the chapter's K-fold loop, and the K folds in one model computing
# what it computes


def test_folds_in_one_model_train_like_separate_models():
    import keras

    boston = load_script("boston_housing.py")
    rng = np.random.default_rng(0)
    (x, y) = (rng.normal(size=(24, 13)).astype("float32"), rng.normal(20, 5, 24).astype("float32"))
    folds = list(boston.kfold_splits(x, y, 3))
    assert [len(f[0]) for f in folds] == [16, 16, 16] and [len(f[2]) for f in folds] == [8] * 3
    # fold 2 validates on the second block, standardised (as what it
    # trains on) with the mean and deviation of the other two blocks
    others = np.concatenate([x[:8], x[16:]])
    np.testing.assert_allclose(folds[1][2], (x[8:16] - others.mean(0)) / others.std(0),
                               rtol=1e-5, atol=1e-6)

    keras.utils.set_random_seed(1)
    (model, names) = boston.folds_in_one_model(keras, 3, 13, stepsPerExecution=16)
    # the chapter's model for fold 2, starting from fold 2's initial weights
    single = boston.build_model(keras)
    single.build((None, 13))
    single.set_weights(_fold_weights(model, 2))
    model.fit([f[0] for f in folds], [f[1] for f in folds], epochs=3, batch_size=1,
              shuffle=False, verbose=0)
    single.fit(folds[1][0], folds[1][1], epochs=3, batch_size=1, shuffle=False, verbose=0)
    for (a, b) in zip(_fold_weights(model, 2), single.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # and the folds never mixed: fold 1 moved differently
    assert not np.allclose(_fold_weights(model, 1)[0], single.get_weights()[0])


def _fold_weights(model, k):
    """Weights of fold k's network, in the order of the chapter's model."""
    return model.get_layer(f"fold{k}").get_weights()


class _RecordingModel:
    """Stands in for a Keras model: records what it is trained and
    evaluated on."""

    def __init__(self, fits):
        self.fits = fits

    def compile(self, **kwargs):
        pass

    def fit(self, x, y, validation_data, epochs, batch_size, verbose, callbacks):
        self.fits.append(SimpleNamespace(model=self, x=x, y=y, val=validation_data,
                                         epochs=epochs, batch_size=batch_size,
                                         callbacks=callbacks))
        return SimpleNamespace(history={"val_mae": [float(len(x))] * epochs})

    def evaluate(self, x, y, verbose):
        return (0.0, float(np.mean(y)))


def _recording_keras(fits):
    """Just enough of ``keras`` for ``kfold_chapter_loop``."""
    return SimpleNamespace(Sequential=lambda layers, name=None: _RecordingModel(fits),
                           layers=SimpleNamespace(Dense=lambda *args, **kwargs: None),
                           callbacks=SimpleNamespace(TensorBoard=lambda path: path))


def test_chapter_loop_folds_are_the_chapters_consecutive_blocks():
    boston = load_script("boston_housing.py")
    (x, y) = (np.arange(26 * 2, dtype="float32").reshape(26, 2), np.arange(26, dtype="float32"))
    fits = []
    (scores, histories) = boston.kfold_chapter_loop(_recording_keras(fits), x, y, 4, 7, 1,
                                                    logDir="tb")
    n = 26 // 4  # 6 houses per fold; the last 2 never validate, as in the chapter
    assert len(fits) == 4 and len({id(f.model) for f in fits}) == 4  # a fresh model per fold
    for (i, fit) in enumerate(fits):
        # the blocks as loaded, standardised with the training blocks' statistics
        train = np.concatenate([x[:i * n], x[(i + 1) * n:]])
        (mean, std) = (train.mean(axis=0), train.std(axis=0))
        np.testing.assert_allclose(fit.val[0], (x[i * n:(i + 1) * n] - mean) / std, rtol=1e-6)
        np.testing.assert_array_equal(fit.val[1], y[i * n:(i + 1) * n])
        np.testing.assert_allclose(fit.x, (train - mean) / std, rtol=1e-6)
        np.testing.assert_array_equal(fit.y, np.concatenate([y[:i * n], y[(i + 1) * n:]]))
        assert (fit.epochs, fit.batch_size) == (7, 1)
        assert fit.callbacks == [os.path.join("tb", f"fold{i + 1}")]
    # each fold's MAE is its model evaluated on its block; its history is kept whole
    assert scores == [float(np.mean(y[i * n:(i + 1) * n])) for i in range(4)]
    assert histories == [[26.0 - n] * 7] * 4


def test_both_kfold_loops_report_the_same_figures(data, tmp_path, capsys):
    boston = load_script("boston_housing.py")
    (reports, printed) = ({}, {})
    for loop in ("chapter", "one-model"):
        out = tmp_path / loop
        boston.main(["--dataset", str(data / "boston.npz"), "--folds", "3", "--kfold-epochs",
                     "12", "--kfold-batch-size", "4", "--epochs", "2", "--kfold-loop", loop,
                     "--output", str(out)])
        reports[loop] = json.loads((out / "results.json").read_text())
        # the lines of the report, with the numbers taken out
        printed[loop] = [re.sub(r"[\d.,$]+", "#", line) for line in last_info(capsys)
                         if "processing fold" not in line]
        assert (out / "kfold_mae.png").stat().st_size > 0
    (chapter, oneModel) = (reports["chapter"], reports["one-model"])
    assert (chapter["kfold_loop"], oneModel["kfold_loop"]) == ("chapter", "one-model")
    assert chapter.keys() == oneModel.keys() and printed["chapter"] == printed["one-model"]
    for report in (chapter, oneModel):
        assert len(report["fold_val_mae"]) == 3 and len(report["val_mae_per_epoch"]) == 12
        assert len(report["smoothed_val_mae"]) == 2
        assert report["kfold_val_mae"] == pytest.approx(np.mean(report["fold_val_mae"]))
        # each fold's MAE is its curve's last point, and the curve goes down
        assert report["val_mae_per_epoch"][-1] == pytest.approx(
            np.mean(report["fold_val_mae"]), rel=1e-4)
        assert report["val_mae_per_epoch"][-1] < report["val_mae_per_epoch"][0]


def test_boston_end_to_end(data, tmp_path, capsys, fits):
    out = tmp_path / "boston"
    load_script("boston_housing.py").main([
        "--dataset", str(data / "boston.npz"), "--folds", "3", "--kfold-epochs", "14",
        "--epochs", "40", "--output", str(out), "--tensorboard", str(tmp_path / "tb")])
    lines = last_info(capsys)
    results = json.loads((out / "results.json").read_text())
    assert len(results["val_mae_per_epoch"]) == 14 and len(results["fold_val_mae"]) == 3
    assert results["kfold_val_mae"] == pytest.approx(np.mean(results["fold_val_mae"]))
    assert len(results["smoothed_val_mae"]) == 4  # 14 epochs, the first 10 dropped
    assert f"[INFO] K-fold validation MAE: {results['kfold_val_mae']:.2f}" in lines
    assert lines[-1] == f"[INFO] test MAE: {results['test_mae']:.2f}"
    assert (out / "kfold_mae.png").stat().st_size > 0
    # the test MAE, recomputed: the final model on the last 20% of the
    # file's houses in Keras' order (shuffled with seed 113), standardised
    # with the first 80%'s means and deviations...
    with np.load(data / "boston.npz") as f:
        order = np.arange(len(f["y"]))
        np.random.RandomState(113).shuffle(order)
        (x, y) = (f["x"][order].astype("float32"), f["y"][order].astype("float32"))
    split = int(len(x) * 0.8)
    (trainX, trainY, testX, testY) = (x[:split], y[:split], x[split:], y[split:])
    testX = (testX - trainX.mean(axis=0)) / trainX.std(axis=0)
    preds = fits.calls[-1].model.predict(testX.astype("float32"), verbose=0)[:, 0]
    assert results["test_mae"] == pytest.approx(np.mean(np.abs(preds - testY)), rel=1e-4)
    # ...which beats always guessing the training houses' mean price
    assert results["test_mae"] < np.mean(np.abs(testY - trainY.mean()))
    assert os.listdir(tmp_path / "tb" / "kfold") and os.listdir(tmp_path / "tb" / "final")


# --------------------------------------------------------------------------
# IMDB and Reuters


@pytest.mark.parametrize("epochs", [6, 14])
def test_kfold_picture_is_drawn_without_warnings(epochs, tmp_path):
    import warnings

    from pyimagesearch import plots

    mae = np.linspace(5.0, 2.0, epochs)
    smoothed = mae[10:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Matplotlib's empty-legend warning included
        plots.plot_kfold_curve(mae, smoothed, 12, 4, str(tmp_path / "k.png"))
    assert (tmp_path / "k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_imdb_architecture_flags():
    import keras

    imdb = load_script("imdb_reviews.py")
    args = imdb.parse_args(["--hidden-layers", "3", "--units", "32", "--activation", "tanh",
                            "--num-words", "500", "--output", "/tmp"])
    model = imdb.build_model(keras, args)
    hidden = [(layer.units, layer.activation.__name__) for layer in model.layers]
    assert hidden == [(32, "tanh")] * 3 + [(1, "sigmoid")]


@pytest.mark.parametrize("source", ["aclImdb", "npz/imdb.npz"])
def test_imdb_end_to_end(data, tmp_path, capsys, source):
    load_script("imdb_reviews.py").main([
        "--dataset", str(data / source), "--validation-size", "20",
        "--validation-epochs", "3", "--epochs", "2", "--batch-size", "16",
        "--loss", "mse", "--output", str(tmp_path)])
    lines = last_info(capsys)
    results = json.loads((tmp_path / "results.json").read_text())
    assert len(results["history"]["val_loss"]) == 3
    best = int(np.argmin(results["history"]["val_loss"])) + 1
    assert results["lowest_val_loss_epoch"] == best
    assert any(line.startswith(f"[INFO] lowest validation loss at epoch {best}:")
               for line in lines)
    assert any(line.startswith("[INFO] first review, decoded: ?") for line in lines)
    assert lines[-1] == f"[INFO] test accuracy: {results['test_accuracy']:.4f}"
    assert (tmp_path / "imdb_loss.png").exists() and (tmp_path / "imdb_accuracy.png").exists()


@pytest.mark.parametrize("source", ["npz/imdb.npz", "aclImdb"])
def test_imdb_accuracy_is_the_models_on_the_test_labels(data, tmp_path, fits, source):
    from pyimagesearch.chapter3_datasets import load_imdb_folder, load_imdb_npz, multi_hot

    load_script("imdb_reviews.py").main([
        "--dataset", str(data / source), "--validation-size", "20",
        "--validation-epochs", "1", "--epochs", "8", "--batch-size", "16",
        "--output", str(tmp_path)])
    results = json.loads((tmp_path / "results.json").read_text())
    # the final model's accuracy on the test reviews and labels of the file
    # or of the folder's test/neg and test/pos
    test = (load_imdb_npz if source.endswith(".npz") else load_imdb_folder)(str(data / source))
    probs = fits.calls[-1].model.predict(multi_hot(test.test_seqs), verbose=0)[:, 0]
    accuracy = float(np.mean((probs > 0.5) == (test.test_labels == 1)))
    assert results["test_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    # the reviews' class shows in a few words: a working model is well
    # above chance (scored on flipped labels it would be as far below, on
    # labels out of step with their reviews near chance)
    assert accuracy > 0.65


@pytest.mark.parametrize("script, argv, pictures", [
    ("imdb_reviews.py", ["--dataset", "npz/imdb.npz", "--validation-size", "20"],
     ["imdb_loss.png", "imdb_accuracy.png"]),
    ("reuters_newswires.py", ["--dataset", "reuters", "--validation-size", "20"],
     ["reuters_loss.png", "reuters_accuracy.png"]),
    ("boston_housing.py", ["--dataset", "boston.npz", "--folds", "2", "--kfold-epochs", "2"],
     ["kfold_mae.png"]),
])
def test_ctrl_c_in_the_final_fit_leaves_the_last_runs_pictures(data, tmp_path, monkeypatch,
                                                                script, argv, pictures):
    import keras

    # the last run's outputs, then a run stopped by Ctrl-C in its final fit
    # (the fit after the hold-out or K-fold run): nothing of them is replaced
    for name in pictures + ["results.json"]:
        (tmp_path / name).write_bytes(b"the last run's " + name.encode())
    fit = keras.Model.fit

    def interrupted_final_fit(model, x=None, y=None, **kwargs):
        if kwargs.get("validation_data") is None and "validation_split" not in kwargs:
            raise KeyboardInterrupt
        return fit(model, x, y, **kwargs)

    monkeypatch.setattr(keras.Model, "fit", interrupted_final_fit)
    argv = [str(data / a) if a.endswith((".npz", "reuters")) else a for a in argv]
    with pytest.raises(KeyboardInterrupt):
        load_script(script).main([*argv, "--validation-epochs", "1", "--epochs", "1",
                                  "--output", str(tmp_path)] if script != "boston_housing.py"
                                 else [*argv, "--epochs", "1", "--output", str(tmp_path)])
    for name in pictures + ["results.json"]:
        assert (tmp_path / name).read_bytes() == b"the last run's " + name.encode(), name


def logged_scalars(folder):
    """``{tag: [values]}`` of the TensorBoard event files under ``folder``."""
    import tensorflow as tf

    scalars = {}
    for path in sorted(folder.rglob("events.out.tfevents.*")):
        kind = path.parent.name          # train / validation
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "scalars":
                    continue   # the model's config, the graph
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") \
                    else value.simple_value
                scalars.setdefault(f"{kind}/{value.tag}", []).append(number)
    return scalars


@pytest.mark.parametrize("script, dataset", [("imdb_reviews.py", "npz/imdb.npz"),
                                             ("reuters_newswires.py", "reuters")])
def test_tensorboard_logs_both_runs_metrics(data, tmp_path, script, dataset):
    load_script(script).main([
        "--dataset", str(data / dataset), "--validation-size", "20",
        "--validation-epochs", "3", "--epochs", "2", "--batch-size", "16",
        "--output", str(tmp_path / "out"), "--tensorboard", str(tmp_path / "tb")])
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    holdout = logged_scalars(tmp_path / "tb" / "holdout")
    final = logged_scalars(tmp_path / "tb" / "final")
    # the hold-out run: each epoch's training and validation loss, the
    # values the script's own history recorded
    np.testing.assert_allclose(holdout["validation/epoch_loss"],
                               results["history"]["val_loss"], rtol=1e-5)
    np.testing.assert_allclose(holdout["train/epoch_loss"], results["history"]["loss"],
                               rtol=1e-5)
    assert len(holdout["train/epoch_accuracy"]) == 3
    # the final run: its two epochs, no validation
    assert len(final["train/epoch_loss"]) == 2 and "validation/epoch_loss" not in final


@pytest.mark.parametrize("labels", ["onehot", "sparse"])
def test_reuters_end_to_end(data, tmp_path, capsys, labels):
    load_script("reuters_newswires.py").main([
        "--dataset", str(data / "reuters"), "--validation-size", "20",
        "--validation-epochs", "2", "--epochs", "8", "--batch-size", "16",
        "--labels", labels, "--units", "4", "--output", str(tmp_path)])
    lines = last_info(capsys)
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["topics"] == ["acq", "crude", "grain"]
    assert results["train_newswires"] + results["test_newswires"] == 150 - 15 - 1
    assert lines[-1] == f"[INFO] test accuracy: {results['test_accuracy']:.4f}"
    # three topics with separate cue words are learnt well beyond chance
    assert results["test_accuracy"] > results["random_classifier_accuracy"] + 0.2


# --------------------------------------------------------------------------
# your own text: train, predict, and the saved model in a fresh Python


_FRESH_TEXT = textwrap.dedent("""
    import json, sys
    import numpy as np
    try:
        import pyimagesearch
        sys.exit("pyimagesearch is importable: the check would prove nothing")
    except ImportError:
        pass
    import keras
    model = keras.models.load_model(sys.argv[1])
    texts = json.loads(open(sys.argv[2]).read())
    preds = model.predict(np.array(texts, dtype=object), verbose=0)
    print(json.dumps([preds.tolist(), sorted({type(layer).__module__.split(".")[0]
                                              for layer in model._flatten_layers()})]))
""")


def predict_texts_in_fresh_python(modelPath, texts, tmp_path):
    """conftest's predict_in_fresh_python, for a model that takes raw
    strings (NumPy's own string arrays are not a type Keras accepts)."""
    inputs = tmp_path / "texts.json"
    inputs.write_text(json.dumps(texts))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    result = subprocess.run([sys.executable, "-I", "-c", _FRESH_TEXT, str(modelPath),
                             str(inputs)], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    (preds, packages) = json.loads(result.stdout.strip().splitlines()[-1])
    return np.array(preds), packages


def test_train_text_then_predict_text(data, tmp_path, capsys):
    model = tmp_path / "out" / "text"
    load_script("train_text.py").main([
        "--dataset", str(data / "folder"), "--model", str(model), "--plot",
        str(tmp_path / "out" / "curves.png"), "--epochs", "25", "--batch-size", "16"])
    lines = last_info(capsys)
    assert lines[-1].startswith("[INFO] test accuracy: ")
    assert float(lines[-1].split()[-1]) >= 0.8  # cue words per class: easy to learn
    for name in ("text.keras", "text_labels.pickle", "curves.png", "curves_confusion.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    assert_label_file_is_a_label_binarizer(tmp_path / "out" / "text_labels.pickle",
                                           ("cats", "dogs", "fish"))

    texts = ["the fish fish2 swim", "a dogs1 dogs barks dogs4", "cats cats0 purr"]
    review = tmp_path / "review.txt"
    review.write_text(texts[0])
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00binary")
    load_script("predict_text.py").main([
        "--model", str(model), "--text", texts[1], "--text", texts[2],
        "--file", str(review), "--file", str(tmp_path / "bad.txt"),
        "--evaluate", str(data / "folder")])
    captured = capsys.readouterr()
    assert "skipped" in captured.err and "bad.txt" in captured.err
    printed = [line for line in captured.out.splitlines()
               if re.match(r"\[INFO\] \w+: \d+\.\d\d%  \(", line)]
    assert [p.split(":")[0] for p in printed] == ["[INFO] dogs", "[INFO] cats", "[INFO] fish"]
    accuracy = float(captured.out.strip().splitlines()[-1].split()[-1])
    assert accuracy >= 0.8

    # plain Keras, no repository: the same probabilities
    (preds, packages) = predict_texts_in_fresh_python(f"{model}.keras",
                                                      [texts[1], texts[2], texts[0]], tmp_path)
    assert packages == ["keras"]
    for (line, row) in zip(printed, preds):
        assert f"{row.max() * 100:.2f}%" in line


def test_two_classes_train_a_sigmoid_and_predict_a_folder(tmp_path, capsys):
    import keras

    # the README's IMDB use: two classes, one sigmoid output
    sample_data.write_text_folder(str(tmp_path / "reviews"), classes=("neg", "pos"),
                                  per_class=24)
    model = tmp_path / "out" / "reviews"
    load_script("train_text.py").main([
        "--dataset", str(tmp_path / "reviews"), "--model", str(model), "--plot",
        str(tmp_path / "out" / "curves.png"), "--epochs", "25", "--batch-size", "16"])
    saved = keras.models.load_model(f"{model}.keras")
    assert saved.output_shape == (None, 1)
    # the label file's class 1 is the sigmoid's 1 (the folder's texts below)
    assert_label_file_is_a_label_binarizer(tmp_path / "out" / "reviews_labels.pickle",
                                           ("pos", "neg"))
    # --folder: every .txt file in it, each labelled by the cue words it holds
    folder = tmp_path / "new"
    folder.mkdir()
    cues = {"a.txt": "pos pos1 pos2 pos3", "b.txt": "neg neg0 neg4 neg", "c.txt": "pos5 pos"}
    for (name, text) in cues.items():
        (folder / name).write_text(text)
    capsys.readouterr()
    load_script("predict_text.py").main(["--model", str(model), "--folder", str(folder)])
    printed = re.findall(r"^\[INFO\] (\w+): (\d+\.\d\d)%  \((.*)\)$", capsys.readouterr().out,
                         re.M)
    assert [(label, os.path.basename(source)) for (label, _, source) in printed] == \
        [("pos", "a.txt"), ("neg", "b.txt"), ("pos", "c.txt")]
    # the probability shown is the chosen class's: above a half, and the
    # sigmoid's own for "pos"
    probs = saved.predict(np.array(list(cues.values()), dtype=object), verbose=0)[:, 0]
    for ((label, percent, _), p) in zip(printed, probs):
        assert float(percent) == pytest.approx(100 * (p if label == "pos" else 1 - p), abs=0.01)


def test_predict_text_refuses_foreign_classes(data, tmp_path):
    from sklearn.preprocessing import LabelBinarizer

    from pyimagesearch.storage import beside, save_labels

    model = tmp_path / "m.keras"
    model.write_bytes(b"not a model")
    save_labels(LabelBinarizer().fit(["neg", "pos"]), beside(str(model), "_labels.pickle"))
    with pytest.raises(UserError, match="'cats' is not one of the model's classes"):
        load_script("predict_text.py").main(["--model", str(model), "--evaluate",
                                             str(data / "folder")])
    with pytest.raises(UserError, match="not a Keras model file"):
        load_script("predict_text.py").main(["--model", str(model), "--text", "hello"])
    # an image model (a Sequential of 32x32x3 pictures), refused from its config
    with zipfile.ZipFile(model, "w") as z:
        z.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {
            "layers": [{"class_name": "InputLayer", "config": {
                "name": "i", "batch_shape": [None, 32, 32, 3], "dtype": "float32"}}]}}))
        z.writestr("model.weights.h5", b"")
    with pytest.raises(UserError, match=r"takes \(32, 32, 3\) float32 inputs, not text"):
        load_script("predict_text.py").main(["--model", str(model), "--text", "hello"])


def assert_label_file_is_a_label_binarizer(labelsPath, classes):
    """train_text.py's label file: a LabelBinarizer of the class names in
    sorted order, the model's column order (checked by the callers: a text
    of each class's cue words comes out as that class)."""
    from sklearn.preprocessing import LabelBinarizer

    from pyimagesearch.storage import load_labels

    with open(labelsPath, "rb") as f:
        lb = pickle.load(f)  # our own file: the plain unpickler may read it
    assert isinstance(lb, LabelBinarizer)
    assert load_labels(str(labelsPath)) == lb.classes_.tolist() == sorted(classes)


# --------------------------------------------------------------------------
# The chapter's flags, checked by their effect on what is trained (the
# fits watched by conftest's ``fits``; ``stop`` ends a run at that fit)


def dense_layers(model):
    return [(layer.units, layer.activation.__name__) for layer in model.layers
            if isinstance(layer, keras.layers.Dense)]


@pytest.mark.eager_steps  # runs of an epoch or two (conftest.eager_steps)
def test_imdb_flags_shape_the_model_and_both_runs(data, tmp_path, fits):
    run_in_process("imdb_reviews.py", "--dataset", data / "npz" / "imdb.npz", "--num-words", 50,
                   "--hidden-layers", 1, "--units", 8, "--activation", "tanh", "--loss", "mse",
                   "--validation-size", 20, "--validation-epochs", 2, "--epochs", 1,
                   "--batch-size", 7, "--output", tmp_path, fits=fits)
    trainCount = len(load_imdb_npz(str(data / "npz" / "imdb.npz"), num_words=50).train_seqs)
    (holdout, final) = fits.calls
    for call in (holdout, final):
        assert call.model.inputs[0].shape[-1] == 50                      # --num-words
        assert dense_layers(call.model) == [(8, "tanh"), (1, "sigmoid")]  # the others
        assert call.model.loss == "mse"
    # the first run: --validation-size reviews held out, --validation-epochs
    (x, y) = holdout.args
    assert x.shape == (trainCount - 20, 50) and len(y) == trainCount - 20
    assert len(holdout.kwargs["validation_data"][0]) == 20
    assert len(holdout.history.history["val_loss"]) == 2
    assert int(holdout.model.optimizer.iterations.numpy()) == 2 * math.ceil((trainCount - 20) / 7)
    # the final run: all reviews, --epochs at --batch-size
    assert len(final.args[0]) == trainCount
    assert len(final.history.history["loss"]) == 1
    assert int(final.model.optimizer.iterations.numpy()) == math.ceil(trainCount / 7)


@pytest.mark.eager_steps  # runs of an epoch or two (conftest.eager_steps)
@pytest.mark.parametrize("labels", ["onehot", "sparse"])
def test_reuters_flags_shape_the_model_and_labels(labels, data, tmp_path, fits):
    run_in_process("reuters_newswires.py", "--dataset", data / "reuters", "--num-words", 60,
                   "--units", 4, "--labels", labels, "--validation-size", 15,
                   "--validation-epochs", 1, "--epochs", 2, "--batch-size", 9,
                   "--output", tmp_path, fits=fits)
    (holdout, final) = fits.calls
    topics = 3
    for call in (holdout, final):
        assert call.model.inputs[0].shape[-1] == 60
        assert dense_layers(call.model) == [(64, "relu"), (4, "relu"), (topics, "softmax")]
    (x, y) = final.args
    trainCount = len(x)
    assert len(holdout.args[0]) == trainCount - 15
    assert len(holdout.kwargs["validation_data"][0]) == 15
    if labels == "sparse":
        assert final.model.loss == "sparse_categorical_crossentropy" and y.ndim == 1
    else:
        assert final.model.loss == "categorical_crossentropy" and y.shape == (trainCount, topics)
    assert int(holdout.model.optimizer.iterations.numpy()) == math.ceil((trainCount - 15) / 9)
    assert int(final.model.optimizer.iterations.numpy()) == 2 * math.ceil(trainCount / 9)


@pytest.mark.eager_steps  # runs of an epoch or two (conftest.eager_steps)
def test_boston_kfold_and_final_flags(data, tmp_path, fits):
    ((trainX, _), _) = load_boston_npz(str(data / "boston.npz"))
    n = len(trainX)
    # in one model (stopped at its fit): one model of --folds networks, each
    # fed batches of --kfold-batch-size for --kfold-epochs
    run_in_process("boston_housing.py", "--dataset", data / "boston.npz", "--folds", 3,
                   "--kfold-epochs", 2, "--kfold-batch-size", 4, "--output", tmp_path / "a",
                   stop=1, fits=fits)
    [kfold] = fits.calls
    assert len(kfold.model.inputs) == 3 and kfold.kwargs["epochs"] == 2
    perFold = n - n // 3
    sizes = [[len(a) for a in x] for (x, _) in kfold.args[0]]
    assert sizes == [[4] * 3] * (perFold // 4) + ([[perFold % 4] * 3] if perFold % 4 else [])

    # --kfold-loop chapter: a fresh model per fold, then the final one,
    # trained --epochs at --batch-size on every training house
    fits.calls.clear()
    run_in_process("boston_housing.py", "--dataset", data / "boston.npz", "--folds", 2,
                   "--kfold-epochs", 1, "--kfold-batch-size", 8, "--epochs", 3, "--batch-size", 9,
                   "--kfold-loop", "chapter", "--output", tmp_path / "b", fits=fits)
    assert len(fits.calls) == 3
    assert len({id(c.model) for c in fits.calls}) == 3
    for call in fits.calls[:2]:
        assert len(call.model.inputs) == 1 and len(call.args[0]) == n - n // 2
        assert len(call.history.history["loss"]) == 1
        assert int(call.model.optimizer.iterations.numpy()) == math.ceil((n - n // 2) / 8)
    final = fits.calls[2]
    assert len(final.args[0]) == n and len(final.history.history["loss"]) == 3
    assert int(final.model.optimizer.iterations.numpy()) == 3 * math.ceil(n / 9)


@pytest.mark.eager_steps  # runs of an epoch or two (conftest.eager_steps)
def test_train_text_flags_shape_the_model_split_and_training(data, tmp_path, fits):
    run_in_process("train_text.py", "--dataset", data / "folder", "--model", tmp_path / "m",
                   "--plot", tmp_path / "p.png", "--num-words", 12, "--units", 5,
                   "--test-size", 0.5, "--epochs", 2, "--batch-size", 7, fits=fits)
    [call] = fits.calls
    assert call.model.inputs[0].shape[-1] == 12  # the vocabulary has more words
    assert dense_layers(call.model) == [(5, "relu"), (5, "relu"), (3, "softmax")]
    (x, _) = call.args
    assert len(x) == 36 and len(call.kwargs["validation_data"][0]) == 36  # half of 72
    assert len(call.history.history["loss"]) == 2
    assert int(call.model.optimizer.iterations.numpy()) == 2 * math.ceil(36 / 7)


# --seed of the chapter-3 scripts: script -> (flags, whether it splits)
CHAPTER3_SEEDED = {
    "imdb_reviews.py": (["--dataset", "npz/imdb.npz", "--validation-size", 20], False),
    "reuters_newswires.py": (["--dataset", "reuters", "--validation-size", 20], False),
    "boston_housing.py": (["--dataset", "boston.npz", "--folds", 2], False),
    "train_text.py": (["--dataset", "folder", "--model", "OUT/m", "--plot", "OUT/p.png"],
                      True),
}


@pytest.mark.eager_steps  # runs of an epoch or two (conftest.eager_steps)
@pytest.mark.parametrize("script", CHAPTER3_SEEDED)
def test_chapter3_seed_sets_the_start_and_split(script, data, tmp_path, fits):
    (flags, splits) = CHAPTER3_SEEDED[script]
    argv = [str(tmp_path / a[4:]) if str(a).startswith("OUT/")
            else data / a if a in ("npz/imdb.npz", "reuters", "boston.npz", "folder") else a
            for a in flags]
    if script != "train_text.py":
        argv += ["--output", tmp_path / "out"]
    found = []
    for seed in (3, 3, 4):
        fits.calls.clear()
        run_in_process(script, *argv, "--seed", seed, stop=1, fits=fits)
        [call] = fits.calls
        found.append((call.weights,
                      np.asarray(call.kwargs["validation_data"][0]) if splits else None))
    [(w1, v1), (w1b, v1b), (w2, v2)] = found
    assert w1 and same_weights(w1, w1b) and not same_weights(w1, w2)
    if splits:
        np.testing.assert_array_equal(v1, v1b)
        assert not np.array_equal(v1, v2)
