"""The classification scripts and predict.py, end to end on drawn shapes."""

import csv
import pickle

import cv2
import pytest

from conftest import info_lines, run_script

TRAINERS = {"train_simple_nn.py": (32, 32, 1), "train_vgg.py": (64, 64, -1)}


def train(script, dataset, out, epochs=2):
    paths = {"model": out / "model.model", "lb": out / "lb.pickle", "plot": out / "plot.png"}
    result = run_script(script, "--dataset", dataset, "--model", paths["model"],
                        "--label-bin", paths["lb"], "--plot", paths["plot"],
                        "--epochs", epochs)
    assert result.returncode == 0, result.stderr
    return result, paths


@pytest.fixture(scope="module")
def trained(shapes3, tmp_path_factory):
    """Both networks trained briefly on the 3-class shapes."""
    models = {}
    for script in TRAINERS:
        out = tmp_path_factory.mktemp(script.split(".")[0])
        models[script] = train(script, shapes3, out)
    return models


@pytest.mark.parametrize("script", TRAINERS)
def test_training_writes_model_labels_and_plot(script, trained):
    result, paths = trained[script]
    lines = info_lines(result)
    assert lines[0] == "[INFO] loading images..."
    assert "[INFO] serializing network and label binarizer..." in lines
    for name in ("circle", "square", "triangle"):
        assert name in result.stdout  # classification report by class name
    # Keras needs .keras: the file goes beside the name the user typed
    assert not paths["model"].exists()
    assert (paths["model"].parent / "model.model.keras").exists()
    assert pickle.loads(paths["lb"].read_bytes()).classes_.tolist() == \
        ["circle", "square", "triangle"]
    assert paths["plot"].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("script", TRAINERS)
def test_predict_with_and_without_sizes(script, trained, shapes3, tmp_path):
    _, paths = trained[script]
    image = shapes3 / "triangle" / "triangle_00001.jpg"
    width, height, flatten = TRAINERS[script]
    plain = run_script("predict.py", "--image", image, "--model", paths["model"],
                       "--label-bin", paths["lb"], "--output", tmp_path / "a.png")
    explicit = run_script("predict.py", "--image", image, "--model", paths["model"],
                          "--label-bin", paths["lb"], "--width", width,
                          "--height", height, "--flatten", flatten)
    assert plain.returncode == 0, plain.stderr
    assert explicit.returncode == 0, explicit.stderr
    verdict = info_lines(plain)[-2]
    assert verdict.split(":")[0] in ("[INFO] circle", "[INFO] square", "[INFO] triangle")
    assert verdict in info_lines(explicit)  # same preprocessing either way
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    # the 64-pixel square picture is enlarged, keeping its shape, until the
    # label (the text printed after [INFO]) fits with 10 pixels each side
    (textWidth, _), _ = cv2.getTextSize(verdict[len("[INFO] "):], cv2.FONT_HERSHEY_SIMPLEX,
                                        0.7, 2)
    assert cv2.imread(str(tmp_path / "a.png")).shape == (textWidth + 20, textWidth + 20, 3)
    assert "no display" in explicit.stdout  # no window, no crash


def test_predict_rejects_contradicting_sizes(trained, shapes3):
    _, paths = trained["train_vgg.py"]
    result = run_script("predict.py", "-i", shapes3 / "circle" / "circle_00002.jpg",
                        "-m", paths["model"], "-l", paths["lb"], "-w", 32, "-e", 32)
    assert result.returncode == 2
    assert "contradicts the model" in result.stderr
    _, paths = trained["train_simple_nn.py"]
    result = run_script("predict.py", "-i", shapes3 / "circle" / "circle_00002.jpg",
                        "-m", paths["model"], "-l", paths["lb"], "--flatten", -1)
    assert result.returncode == 2
    assert "contradicts the model" in result.stderr


def test_predict_on_a_folder_writes_csv(trained, shapes3, tmp_path):
    _, paths = trained["train_vgg.py"]
    result = run_script("predict.py", "--image", shapes3 / "square", "--model",
                        paths["model"], "--label-bin", paths["lb"],
                        "--output", tmp_path / "p.csv")
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24
    assert all(r["label"] in ("circle", "square", "triangle") for r in rows)
    assert all(0 < float(r["probability"]) <= 100 for r in rows)


def test_two_classes_train_save_and_predict(shapes2, tmp_path):
    # LabelBinarizer gives one column for two classes; the model must still
    # get one softmax unit per class and predict.py the right names
    result, paths = train("train_simple_nn.py", shapes2, tmp_path, epochs=100)
    assert "circle" in result.stdout and "square" in result.stdout
    import keras

    model = keras.models.load_model(tmp_path / "model.model.keras")
    assert model.outputs[0].shape[-1] == 2
    correct = total = 0
    for name in ("circle", "square"):
        out = run_script("predict.py", "-i", shapes2 / name, "-m", paths["model"],
                         "-l", paths["lb"])
        assert out.returncode == 0, out.stderr
        verdicts = [line.split(": ")[1] for line in info_lines(out)[1:]]
        assert len(verdicts) == 40 and set(verdicts) <= {"circle", "square"}
        correct += verdicts.count(name)
        total += len(verdicts)
    # it learned the shapes (chance is 50%); a swapped label order would
    # push this far below chance instead
    assert correct / total > 0.7
