"""The classification scripts and predict.py: one end-to-end run of each
trainer (train_simple_nn.py as a user runs it, a subprocess; train_vgg.py
in-process, the same checks), predict.py in-process on the models they
saved."""

import csv
import json
import pickle
import re

import cv2
import numpy as np
import pytest

from conftest import info_lines, predict, run_in_process, run_script, script_argv

TRAINERS = {"train_simple_nn.py": (32, 32, 1), "train_vgg.py": (64, 64, -1)}
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def trained(shapes3, tmp_path_factory):
    """Both networks trained briefly on the 3-class shapes: the first as a
    user runs it (its stderr: nothing from TensorFlow or the libraries
    either), the second in this process (conftest.run_in_process)."""
    runs = {}
    for (script, run) in zip(TRAINERS, (run_script, run_in_process)):
        out = tmp_path_factory.mktemp(script.split(".")[0])
        result = run(script, *script_argv(script, shapes3, out), "--epochs", 1)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""  # nothing to warn about in a run that went well
        runs[script] = (result, out)
    return runs


@pytest.mark.parametrize("script", TRAINERS)
def test_training_writes_model_labels_plots_and_results(script, trained):
    result, out = trained[script]
    lines = info_lines(result)
    assert lines[0] == "[INFO] loading images..."
    assert "[INFO] serializing network and label binarizer..." in lines
    # scikit-learn's report by class name, over the 18 test shapes (25% of 72)
    for name in ("circle", "square", "triangle"):
        assert re.search(rf"^\s*{name}\s+[\d.]+", result.stdout, re.M)
    printed = float(re.search(r"^\s*accuracy\s+([\d.]+)\s+18$", result.stdout, re.M).group(1))
    # Keras needs .keras: the file goes beside the name the user typed
    assert not (out / "net.model").exists()
    assert (out / "net.model.keras").exists()
    assert pickle.loads((out / "lb.pickle").read_bytes()).classes_.tolist() == \
        ["circle", "square", "triangle"]
    for picture in ("plot.png", "plot_confusion.png"):
        assert (out / picture).read_bytes()[:8] == PNG
    results = json.loads((out / "net_results.json").read_text())
    assert (results["script"], results["recipe"], results["epochs"]) == (script, "posts", 1)
    assert results["classes"] == ["circle", "square", "triangle"]
    matrix = np.array(results["confusion_matrix"])
    assert matrix.shape == (3, 3) and matrix.sum() == 18
    assert results["value"] == pytest.approx(np.trace(matrix) / 18, abs=1e-4)
    assert printed == pytest.approx(results["value"], abs=0.006)
    assert "\r" not in result.stdout and "━" not in result.stdout  # one line per epoch


def test_predict_writes_the_annotated_picture(trained, shapes3, tmp_path):
    _, out = trained["train_vgg.py"]
    image = shapes3 / "triangle" / "triangle_00001.jpg"
    lines = info_lines(predict(out, "--image", image, "--output", tmp_path / "a.png"))
    (verdict, wrote) = lines[-2:]
    assert re.match(r"^\[INFO\] (circle|square|triangle): \d+\.\d\d%$", verdict)
    assert wrote == f"[INFO] wrote {tmp_path / 'a.png'}"
    # the 64-pixel square picture is enlarged, keeping its shape, until the
    # label (the text printed after [INFO]) fits with 10 pixels each side
    (textWidth, _), _ = cv2.getTextSize(verdict[len("[INFO] "):], cv2.FONT_HERSHEY_SIMPLEX,
                                        0.7, 2)
    assert cv2.imread(str(tmp_path / "a.png")).shape == (textWidth + 20, textWidth + 20, 3)


@pytest.mark.parametrize("script", TRAINERS)
def test_predict_sizes_default_to_the_models(script, trained, shapes3, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    _, out = trained[script]
    image = shapes3 / "square" / "square_00002.jpg"
    width, height, flatten = TRAINERS[script]
    plain = info_lines(predict(out, "--image", image))
    explicit = info_lines(predict(out, "--image", image, "--width", width, "--height", height,
                                  "--flatten", flatten))
    assert plain[1] == explicit[1]  # same preprocessing either way
    assert plain[-1].startswith("[INFO] no display found")  # no window, no crash


def test_predict_on_a_folder_writes_csv(trained, shapes3, tmp_path):
    _, out = trained["train_vgg.py"]
    lines = info_lines(predict(out, "--image", shapes3 / "square", "--output",
                               tmp_path / "p.csv"))
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and len(lines) == 1 + 24 + 1
    assert all(r["label"] in ("circle", "square", "triangle") for r in rows)
    assert all(0 < float(r["probability"]) <= 100 for r in rows)


def test_two_classes_train_save_and_predict(shapes2, tmp_path):
    # LabelBinarizer gives one column for two classes; the model must still
    # get one softmax unit per class and predict.py the right names
    run_in_process("train_simple_nn.py", *script_argv("train_simple_nn.py", shapes2, tmp_path),
                   "--epochs", 60)
    correct = total = 0
    for name in ("circle", "square"):
        verdicts = [line.split(": ")[1] for line in
                    info_lines(predict(tmp_path, "--image", shapes2 / name))[1:]]
        assert len(verdicts) == 40 and set(verdicts) <= {"circle", "square"}
        correct += verdicts.count(name)
        total += len(verdicts)
    # it learned the shapes (chance is 50%); a swapped label order would
    # push this far below chance instead
    assert correct / total > 0.7
