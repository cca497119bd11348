"""Bad input: every user mistake is refused with a message naming what is
wrong, before training; files the user had are never damaged by a failed
or interrupted run; Ctrl-C exits with 130.

The checks run in-process through the scripts' ``main(argv)`` (a mistake
in the flags or the data raises ``SystemExit(2)`` from argparse or the
package's ``UserError``); a few subprocess runs check what a user sees:
exit code 2 and one error line, no traceback. Malformed HousesInfo.txt
lines and damaged images in class folders are tested in test_datasets.py,
damaged house pictures in test_house_scripts.py, the mistakes particular to
compare_house_models.py and train_improved_classifier.py in their files.
"""

import json
import os
import pickle
import shutil
import zipfile

import numpy as np
import pytest
from sklearn.preprocessing import LabelBinarizer

from conftest import (ROOT, interrupt_after, predict, run_in_process, run_script,
                      script_argv)
from pyimagesearch.errors import UserError


def assert_one_error_line(result, script, *fragments):
    """What a user sees: exit code 2, one ``script: error:`` line, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith(f"{script}: error: ")
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def house_copy(houses, tmp_path):
    """A private copy of the sample houses that a test may damage."""
    folder = tmp_path / "houses"
    shutil.copytree(houses, folder)
    return folder


def write_lines(folder, lines):
    (folder / "HousesInfo.txt").write_text("\n".join(lines) + "\n")


# --------------------------------------------------------------------------
# What a user sees (subprocesses)


SCRIPTS = sorted(p.name for p in ROOT.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_runs_its_main_through_cli_run_main(script):
    # what a user runs is `python script.py`: cli.run_main turns errors into
    # one line and an exit code, and quiets TensorFlow's log. The tests run
    # some scripts that way; most call main() in-process, so each script's
    # own last lines are checked here, for all of them
    import ast

    tree = ast.parse((ROOT / script).read_text())
    [block] = [node for node in tree.body if isinstance(node, ast.If)
               and ast.unparse(node.test) in ("__name__ == '__main__'",
                                              '__name__ == "__main__"')]
    assert [ast.unparse(line) for line in block.body] in (["cli.run_main(main)"],
                                                         ["run_main(main)"])
    if ast.unparse(block.body[0]) == "run_main(main)":
        assert any(isinstance(node, ast.ImportFrom) and node.module == "pyimagesearch.cli"
                   and "run_main" in [a.name for a in node.names] for node in tree.body)


def test_bad_dataset_is_one_error_line_before_tensorflow_loads():
    result = run_script("cnn_regression.py", "-d", "no/such/dir")
    assert_one_error_line(result, "cnn_regression.py", "--dataset", "does not exist")
    assert result.stderr.strip().count("\n") == 0  # nothing else: TensorFlow never loaded


def test_bad_data_after_tensorflow_loads_is_one_error_line(house_copy):
    lines = (house_copy / "HousesInfo.txt").read_text().splitlines()
    lines[2] = "3 2 1800 10001"
    write_lines(house_copy, lines)
    result = run_script("mlp_regression.py", "-d", house_copy)
    assert_one_error_line(result, "mlp_regression.py", "line 3", "expected 5 numbers")
    assert result.stderr.strip().splitlines()[-1].startswith("mlp_regression.py: error: ")
    assert "[INFO] training model..." not in result.stdout


@pytest.mark.parametrize("script, argv", [
    ("compare_house_models.py", ["-d", "no/such/dir"]),
    ("train_improved_classifier.py", ["--network", "simple_nn", "-d", "no/such/dir", "-m", "m",
                                      "-l", "l", "-p", "p.png"]),
])
def test_the_extras_bad_dataset_is_one_error_line_before_tensorflow_loads(script, argv):
    result = run_script(script, *argv)
    assert_one_error_line(result, script, "--dataset", "does not exist")
    assert result.stderr.strip().count("\n") == 0  # nothing else: TensorFlow never loaded


def test_an_unknown_network_is_argparses_line(shapes3, tmp_path, capsys):
    script = "train_improved_classifier.py"
    with pytest.raises(SystemExit) as exit:
        run_in_process(script, *script_argv(script, shapes3, tmp_path), "--network", "vgg16")
    assert exit.value.code == 2
    assert "argument --network: invalid choice: 'vgg16'" in capsys.readouterr().err


# --------------------------------------------------------------------------
# House data and flags, in-process


@pytest.mark.parametrize("script, argv, message", [
    ("mlp_regression.py", ["-d", "no/such/dir"], "--dataset 'no/such/dir' does not exist"),
    ("mlp_regression.py", ["-d", "README.md"], "is not a folder"),
    ("cnn_regression.py", ["-d", "{tmp}"], "HousesInfo.txt not found"),
    ("mlp_regression.py", ["-d", "{empty_info}"], "is empty"),
    ("mlp_regression.py", ["-d", "{one_zipcode_short}"], "no zip code has 25 or more houses"),
    # a price float32 cannot hold would train on inf and report nan
    ("mlp_regression.py", ["-d", "{huge_price}"], "line 3: price '1e39' is beyond float32"),
])
def test_house_data_mistakes(script, argv, message, tmp_path, monkeypatch):
    (tmp_path / "empty_info").mkdir()
    (tmp_path / "empty_info" / "HousesInfo.txt").write_text("")
    (tmp_path / "short").mkdir()
    write_lines(tmp_path / "short", [f"3 2 2000 {10000 + i % 5} 300000" for i in range(40)])
    (tmp_path / "huge").mkdir()
    write_lines(tmp_path / "huge", [f"3 2 2000 10000 {'1e39' if i == 2 else 300000}"
                                    for i in range(40)])
    folders = {"tmp": tmp_path, "empty_info": tmp_path / "empty_info",
               "one_zipcode_short": tmp_path / "short", "huge_price": tmp_path / "huge"}
    argv = [a.format(**folders) for a in argv]
    monkeypatch.chdir(ROOT)  # relative paths in the cases
    with pytest.raises(UserError, match=message):
        run_in_process(script, *argv)


@pytest.mark.parametrize("flags, message", [
    (["--patience", "5"], "--patience needs --val-split"),
    (["--val-split", "1.5"], "expected a fraction between 0 and 1"),
    (["--batch-size", "-3"], "expected a whole number >= 1"),
    # what the posts' scripts left to compare_house_models.py and
    # train_improved_classifier.py
    (["--folds", "5"], "unrecognized arguments: --folds 5"),
    (["--recipe", "improved"], "unrecognized arguments: --recipe improved"),
])
def test_bad_flags_exit_2_with_argparses_message(houses, flags, message, capsys):
    with pytest.raises(SystemExit) as exit:
        run_in_process("mlp_regression.py", "-d", houses, *flags)
    assert exit.value.code == 2
    assert message in capsys.readouterr().err


def test_too_few_houses_with_pictures_to_split(houses, tmp_path, capsys):
    # 25 houses of one zip code pass the filter, but only 3 have pictures
    lines = (houses / "HousesInfo.txt").read_text().splitlines()[:25]
    write_lines(tmp_path, [" ".join(line.split()[:3] + ["10001", line.split()[4]])
                           for line in lines])
    for picture in houses.glob("[123]_*.jpg"):
        shutil.copy(picture, tmp_path / picture.name)
    with pytest.raises(UserError, match=r"only 3 house\(s\) left.*75/25"):
        run_in_process("cnn_regression.py", "-d", tmp_path)
    assert "[INFO] training model..." not in capsys.readouterr().out


# --------------------------------------------------------------------------
# Image folders, in-process


def make_classes(folder, counts):
    import cv2

    for name, n in counts.items():
        (folder / name).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / name / f"{i}.jpg"), np.full((24, 24, 3), 9 * i, np.uint8))


@pytest.mark.parametrize("script, counts, message", [
    ("train_simple_nn.py", {}, "holds no readable images"),
    ("train_vgg.py", {"cats": 10}, "one class.*'cats'"),
    ("train_simple_nn.py", {"cats": 10, "dogs": 2}, r"too few images.*dogs \(2\)"),
])
def test_class_folder_mistakes(script, counts, message, tmp_path):
    make_classes(tmp_path / "data", counts)
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "notes.txt").write_text("no pictures here")
    with pytest.raises(UserError, match=message):
        run_in_process(script, *script_argv(script, tmp_path / "data", tmp_path), "--epochs", 1)


def test_output_paths_are_checked_before_loading(shapes3, tmp_path, capsys):
    (tmp_path / "plot.png").mkdir()
    with pytest.raises(UserError, match="--plot .* is a folder, expected a file name"):
        run_in_process("train_vgg.py", *script_argv("train_vgg.py", shapes3, tmp_path),
                       "--epochs", 1)
    assert "[INFO] loading images..." not in capsys.readouterr().out


# --------------------------------------------------------------------------
# predict.py, in-process


@pytest.fixture(scope="module")
def model3(shapes3, tmp_path_factory):
    out = tmp_path_factory.mktemp("model3")
    run_in_process("train_simple_nn.py", *script_argv("train_simple_nn.py", shapes3, out),
                   "--epochs", 1)
    return out


@pytest.mark.parametrize("case, message", [
    ("image missing", "--image 'no/such.jpg' does not exist"),
    ("image not an image", "not a readable image"),
    ("model missing", "--model .* not found"),
    ("model not a model", "--model .* is not a Keras model file"),
    # a disk that filled up while saving, a picture given as the model: no
    # "File not found", no reason cut off mid-word
    ("model cut short", "--model .*net.model.keras' is not a Keras model file: a .keras file "
                        "is a zip archive, and this one is damaged or cut short"),
    ("model a picture", "--model .*circle_00001.jpg' is not a Keras model file: .* or is no "
                        "archive at all$"),
    ("model a text model", "classifies text .*; use predict_text.py"),
    ("labels count", "names 2 classes but the model predicts 3"),
    ("labels with code", "not a label file"),
    ("folder without images", "holds no readable images"),
    ("output of the wrong kind", "must end in .png or .jpg"),
])
def test_predict_mistakes(case, message, model3, shapes3, tmp_path, monkeypatch):
    image = shapes3 / "circle" / "circle_00001.jpg"
    (tmp_path / "fake.keras").write_text("not a model")
    (tmp_path / "two.pickle").write_bytes(
        pickle.dumps(LabelBinarizer().fit(["cats", "dogs"])))
    (tmp_path / "evil.pickle").write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "owned")
                                           .encode() + b"'\ntR.")
    (tmp_path / "empty").mkdir()
    cut = tmp_path / "cut"
    cut.mkdir()
    whole = (model3 / "net.model.keras").read_bytes()
    (cut / "net.model.keras").write_bytes(whole[:len(whole) * 2 // 3])
    text = tmp_path / "text.keras"
    with zipfile.ZipFile(text, "w") as z:   # the inputs of train_text.py's model
        z.writestr("config.json", json.dumps({"class_name": "Functional", "config": {
            "layers": [{"class_name": "InputLayer", "config": {
                "name": "t", "batch_shape": [None], "dtype": "string"}}],
            "input_layers": [["t", 0, 0]]}}))
        z.writestr("model.weights.h5", b"")
    args = {"image missing": ("no/such.jpg",),
            "image not an image": (ROOT / "README.md",),
            "model missing": (image,), "model not a model": (image,),
            "model cut short": (image,), "model a picture": (image,),
            "model a text model": (image,),
            "labels count": (image,), "labels with code": (image,),
            "folder without images": (tmp_path / "empty",),
            "output of the wrong kind": (image, "--output", tmp_path / "out.csv")}[case]
    options = {"model missing": {"model": tmp_path / "nope.model"},
               "model not a model": {"model": tmp_path / "fake.keras"},
               "model cut short": {"model": cut / "net.model.keras"},
               "model a picture": {"model": image},
               "model a text model": {"model": text},
               "labels count": {"labels": tmp_path / "two.pickle"},
               "labels with code": {"labels": tmp_path / "evil.pickle"}}.get(case, {})
    monkeypatch.chdir(ROOT)  # relative paths in the cases
    with pytest.raises(UserError, match=message):
        predict(model3, "--image", *args, **options)
    assert not (tmp_path / "owned").exists()  # the pickle's code never ran


@pytest.mark.parametrize("level", [None, "3"])
def test_an_error_after_tensorflow_loads_is_the_only_line(model3, shapes3, tmp_path, level):
    # the label file is checked against the model's outputs, so TensorFlow
    # has loaded and run: its C++ start-up log (which TF_CPP_MIN_LOG_LEVEL
    # no longer silences) must not come before the error
    (tmp_path / "two.pickle").write_bytes(pickle.dumps(LabelBinarizer().fit(["cats", "dogs"])))
    env = {} if level is None else {"TF_CPP_MIN_LOG_LEVEL": level}
    result = run_script("predict.py", "-i", shapes3 / "circle" / "circle_00001.jpg",
                        "-m", model3 / "net.model", "-l", tmp_path / "two.pickle", env=env)
    assert_one_error_line(result, "predict.py", "names 2 classes but the model predicts 3")
    assert result.stderr.strip().count("\n") == 0, result.stderr


@pytest.mark.parametrize("flags", [["--width", 50], ["--flatten", -1],
                                   ["--width", 32, "--height", 16]])
def test_predict_sizes_contradict_the_model(model3, shapes3, flags):
    with pytest.raises(UserError, match="contradict"):
        predict(model3, "--image", shapes3 / "circle" / "circle_00001.jpg", *flags)


# --------------------------------------------------------------------------
# Outputs


def test_missing_output_folders_are_created(houses, tmp_path):
    out = tmp_path / "a" / "b"
    run_in_process("mlp_regression.py", "-d", houses, "--epochs", 1, "--output", out)
    assert sorted(os.listdir(out)) == ["loss.png", "model.keras", "predictions.csv",
                                       "predictions.png", "results.json"]


def test_unwritable_output_fails_before_training(houses, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    with pytest.raises(UserError, match="--output .* is not writable"):
        run_in_process("mlp_regression.py", "-d", houses, "--output", blocker / "out")
    assert "[INFO] training model..." not in capsys.readouterr().out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_read_only_output_folder(houses, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        with pytest.raises(UserError, match="--output .* is not writable"):
            run_in_process("mlp_regression.py", "-d", houses, "--output", out)
    finally:
        out.chmod(0o700)


def test_output_folder_refusing_files_fails_before_training(houses, tmp_path, monkeypatch,
                                                             capsys):
    # the sibling of the test above that runs as root too: the folder's
    # file system refuses the file, as a read-only folder would
    import errno
    import tempfile

    out = tmp_path / "ro"
    out.mkdir()
    make = tempfile.TemporaryFile

    def refused(*args, **kwargs):
        if os.path.abspath(str(kwargs.get("dir", ""))) == str(out):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return make(*args, **kwargs)

    monkeypatch.setattr(tempfile, "TemporaryFile", refused)
    with pytest.raises(UserError, match="--output .* is not writable: Permission denied"):
        run_in_process("mlp_regression.py", "-d", houses, "--output", out)
    assert "[INFO] training model..." not in capsys.readouterr().out and not os.listdir(out)


def test_failed_run_leaves_existing_outputs_byte_for_byte(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = {name: os.urandom(64) for name in ("model.keras", "loss.png", "predictions.csv")}
    for name, data in before.items():
        (out / name).write_bytes(data)
    write_lines(tmp_path, ["3 2 2000 10001 300000", "oops"])
    with pytest.raises(UserError):
        run_in_process("mlp_regression.py", "-d", tmp_path, "--output", out)
    assert {name: (out / name).read_bytes() for name in before} == before


# --------------------------------------------------------------------------
# Ctrl-C (a real signal to a real process); continuing with --resume-dir is
# test_improved_classifier.py's


def test_ctrl_c_exits_130_and_keeps_outputs(houses, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.keras").write_bytes(b"the model I had")
    proc = run_script("mlp_regression.py", "-d", houses, "--epochs", 5000, "--output", out,
                      wait=False)
    rc, _, stderr = interrupt_after(proc, "Epoch 5/")
    assert rc == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert (out / "model.keras").read_bytes() == b"the model I had"
    assert sorted(os.listdir(out)) == ["model.keras"]  # no partial files
