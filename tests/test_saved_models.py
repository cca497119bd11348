"""Every kind of model the training scripts save (the CNN's in bfloat16;
its float32 network is the mixed model's image branch) opens with plain
``keras.models.load_model`` in a Python that cannot import this repository,
and predicts there what the script predicted (issue 15).

Each kind is trained briefly, in this process, on the generated data; then
one fresh Python loads them all and predicts the test split, rebuilt here
the way the script builds it.
"""

import csv
import json
import zipfile
from contextlib import nullcontext

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import train_test_split

from conftest import eager_steps, predict_many_in_fresh_python, run_in_process, script_argv
from pyimagesearch import datasets

# kind -> (script, extra flags); the CNN's float32 network is the mixed
# model's image branch, cnn_regression.py's own file the bfloat16 one
HOUSE_KINDS = {
    "mlp": ("mlp_regression.py", []),
    "mixed": ("mixed_regression.py", []),
    "cnn-mixed-precision": ("cnn_regression.py", ["--mixed-precision"]),
}
CLASSIFIER_KINDS = {
    "simple_nn": ("train_simple_nn.py", []),
    "simple_nn-improved": ("train_improved_classifier.py", ["--network", "simple_nn"]),
    "smallvggnet": ("train_vgg.py", []),
    "smallvggnet-improved": ("train_improved_classifier.py", ["--network", "smallvggnet"]),
}
KINDS = list(HOUSE_KINDS) + list(CLASSIFIER_KINDS)


@pytest.fixture(scope="module")
def trained(houses, shapes3, tmp_path_factory):
    """kind -> (model file, folder of the run's other outputs). One epoch
    each, its steps run eagerly (conftest.eager_steps: the files saved are
    what this test is about), except the bfloat16 model's: its predictions
    are compared with a graph's in the fresh Python."""
    found = {}
    for kind, (script, flags) in HOUSE_KINDS.items():
        out = tmp_path_factory.mktemp(kind)
        with eager_steps() if "--mixed-precision" not in flags else nullcontext():
            run_in_process(script, *script_argv(script, houses, out), "--epochs", 1, *flags)
        found[kind] = (out / "model.keras", out)
    with eager_steps():
        for kind, (script, flags) in CLASSIFIER_KINDS.items():
            out = tmp_path_factory.mktemp(kind)
            run_in_process(script, *script_argv(script, shapes3, out), "--epochs", 1, *flags)
            found[kind] = (out / "net.model.keras", out)
    return found


def house_test_split(dataset, images):
    """The test inputs and the training split's largest price, as the
    house scripts make them (the post's split, min-max scaled attributes,
    montages scaled to [0, 1])."""
    df = datasets.load_house_attributes(dataset / "HousesInfo.txt")
    if images:
        df = datasets.drop_houses_with_bad_images(df, dataset)
        pictures = datasets.load_house_images(df, dataset) / 255.0
    (train, test) = train_test_split(df, test_size=0.25, random_state=42)
    testRows = [df.index.get_loc(i) for i in test.index]
    (_, attributes) = datasets.process_house_attributes(df, train, test)
    inputs = {"attributes": attributes, "images": pictures[testRows] if images else None}
    return inputs, train["price"].max(), (test.index.to_numpy() + 1).tolist()


def classifier_test_split(dataset, size, flatten):
    """The test images and their true class numbers, as the classifiers make them."""
    (data, labels) = datasets.load_image_dataset(dataset, size, size, flatten=flatten, seed=42)
    (_, testX, _, testY) = train_test_split(data, labels, test_size=0.25, random_state=42)
    lb = datasets.fit_label_binarizer(labels)
    return testX, datasets.one_hot(lb, testY).argmax(axis=1), len(lb.classes_)


@pytest.fixture(scope="module")
def expected_inputs(houses, shapes3):
    """kind -> what to feed the saved model, and how to check its answer."""
    (attrs, maxPrice, numbers) = house_test_split(houses, images=False)
    (withImages, maxPrice2, numbers2) = house_test_split(houses, images=True)
    feeds = {"mlp": attrs["attributes"],
             "cnn-mixed-precision": withImages["images"],
             "mixed": [withImages["attributes"], withImages["images"]]}
    found = {}
    for kind, feed in feeds.items():
        (price, houseNumbers) = (maxPrice, numbers) if kind == "mlp" else (maxPrice2, numbers2)
        found[kind] = (feed, (price, houseNumbers))
    for kind in CLASSIFIER_KINDS:
        flat = kind.startswith("simple_nn")
        (testX, trueIdx, classes) = classifier_test_split(shapes3, 32 if flat else 64, flat)
        found[kind] = (testX, (trueIdx, classes))
    return found


@pytest.fixture(scope="module")
def fresh(trained, expected_inputs, tmp_path_factory):
    """kind -> (predictions, packages of its classes) from one fresh Python."""
    jobs = {kind: (trained[kind][0], expected_inputs[kind][0]) for kind in KINDS}
    return predict_many_in_fresh_python(jobs, tmp_path_factory.mktemp("fresh"))


@pytest.mark.parametrize("kind", HOUSE_KINDS)
def test_house_model_loads_anywhere_and_predicts_the_scripts_prices(kind, trained,
                                                                     expected_inputs, fresh):
    (preds, packages) = fresh[kind]
    assert packages == ["keras"]
    (maxPrice, houseNumbers) = expected_inputs[kind][1]
    with open(trained[kind][1] / "predictions.csv") as f:
        written = {int(r["house"]): float(r["predicted_price"]) for r in csv.DictReader(f)}
    assert sorted(written) == sorted(houseNumbers)
    scriptPrices = np.array([written[n] for n in houseNumbers])
    assert preds.shape == (len(houseNumbers), 1)
    # the same numbers (the CSV keeps cents), bfloat16 ones included
    np.testing.assert_allclose(preds[:, 0] * maxPrice, scriptPrices, rtol=1e-6, atol=0.01)


@pytest.mark.parametrize("kind", CLASSIFIER_KINDS)
def test_classifier_loads_anywhere_and_predicts_the_scripts_confusion_matrix(
        kind, trained, expected_inputs, fresh):
    (preds, packages) = fresh[kind]
    assert packages == ["keras"]
    (trueIdx, classes) = expected_inputs[kind][1]
    (modelFile, out) = trained[kind]
    results = json.loads((out / "net_results.json").read_text())
    assert preds.shape == (len(trueIdx), classes)
    np.testing.assert_allclose(preds.sum(axis=1), 1.0, rtol=1e-4)  # softmax rows
    matrix = confusion_matrix(trueIdx, preds.argmax(axis=1), labels=range(classes))
    assert matrix.tolist() == results["confusion_matrix"]
    # the run's record: its recipe, and the accuracy of that matrix
    assert results["recipe"] == ("improved" if kind.endswith("-improved") else "posts")
    assert results["classes"] == ["circle", "square", "triangle"]
    assert results["value"] == pytest.approx(np.trace(matrix) / len(trueIdx), abs=1e-4)


def config_modules(node):
    """Every ``module`` named in a saved Keras config."""
    if isinstance(node, dict):
        found = [node["module"]] if isinstance(node.get("module"), str) else []
        return found + [m for value in node.values() for m in config_modules(value)]
    if isinstance(node, list):
        return [m for value in node for m in config_modules(value)]
    return []


@pytest.mark.parametrize("kind", KINDS)
def test_saved_config_names_only_keras_classes(kind, trained):
    with zipfile.ZipFile(trained[kind][0]) as archive:
        text = archive.read("config.json").decode()
    assert "pyimagesearch" not in text
    modules = config_modules(json.loads(text))
    assert modules and all(m.split(".")[0] == "keras" for m in modules), set(modules)
    if "mixed-precision" in kind:  # the saved model computes as it trained
        assert '"mixed_bfloat16"' in text
