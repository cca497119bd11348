"""Bad input: every user mistake ends with exit code 2 and one line naming
what is wrong, before training; damaged items are skipped with a warning;
files the user had are never damaged by a failed or interrupted run.

Each case runs the real script as a subprocess, as a user would.
"""

import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, info_lines, run_script


def assert_user_error(result, *fragments):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines()
              if line.strip() and not line.startswith("[WARNING]")]
    assert len(errors) == 1, result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]


@pytest.fixture
def house_copy(houses, tmp_path):
    """A private copy of the sample houses that a test may damage."""
    folder = tmp_path / "houses"
    shutil.copytree(houses, folder)
    return folder


def write_lines(folder, lines, newline="\n"):
    (folder / "HousesInfo.txt").write_bytes(newline.join(lines).encode() + newline.encode())


# --------------------------------------------------------------------------
# House data


def test_dataset_missing():
    assert_user_error(run_script("mlp_regression.py", "-d", "no/such/dir"),
                      "--dataset", "does not exist")


def test_dataset_not_a_folder():
    assert_user_error(run_script("mlp_regression.py", "-d", "README.md"),
                      "--dataset", "is not a folder")


def test_dataset_empty_folder(tmp_path):
    assert_user_error(run_script("cnn_regression.py", "-d", tmp_path),
                      "HousesInfo.txt not found")


def test_houses_info_missing(house_copy):
    (house_copy / "HousesInfo.txt").unlink()
    assert_user_error(run_script("mixed_regression.py", "-d", house_copy),
                      "HousesInfo.txt not found")


def test_houses_info_empty(house_copy):
    (house_copy / "HousesInfo.txt").write_text("")
    assert_user_error(run_script("mlp_regression.py", "-d", house_copy), "is empty")


def test_houses_info_wrong_column_count(house_copy):
    lines = (house_copy / "HousesInfo.txt").read_text().splitlines()
    lines[2] = "3 2 1800 10001"
    write_lines(house_copy, lines)
    assert_user_error(run_script("mlp_regression.py", "-d", house_copy),
                      "line 3", "expected 5 numbers", "found 4")


def test_houses_info_not_a_number(house_copy):
    lines = (house_copy / "HousesInfo.txt").read_text().splitlines()
    lines[1] = "3 2 big 10001 250000"
    write_lines(house_copy, lines)
    assert_user_error(run_script("mlp_regression.py", "-d", house_copy),
                      "line 2", "area 'big' is not a number")


def test_windows_line_endings_and_blank_lines_are_fine(house_copy):
    lines = (house_copy / "HousesInfo.txt").read_text().splitlines()
    write_lines(house_copy, lines + ["", ""], newline="\r\n")
    (house_copy / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")  # stray file
    result = run_script("mlp_regression.py", "-d", house_copy, "--epochs", 1)
    assert result.returncode == 0, result.stderr


def test_nothing_left_after_zipcode_filter(tmp_path):
    write_lines(tmp_path, [f"3 2 2000 {10000 + i % 5} 300000" for i in range(40)])
    assert_user_error(run_script("mlp_regression.py", "-d", tmp_path),
                      "no zip code has 25 or more houses")


def test_damaged_house_pictures_skip_the_house(house_copy):
    (house_copy / "3_kitchen.jpg").unlink()
    (house_copy / "5_frontal.jpg").write_bytes(b"")
    data = (house_copy / "7_bedroom.jpg").read_bytes()
    (house_copy / "7_bedroom.jpg").write_bytes(data[: len(data) // 2])
    result = run_script("cnn_regression.py", "-d", house_copy, "--epochs", 1)
    assert result.returncode == 0, result.stderr
    for number, problem in ((3, "missing"), (5, "empty file"), (7, "truncated JPEG")):
        assert f"skipping house {number}: " in result.stderr
        assert problem in result.stderr
    assert "[INFO] skipped 3 house(s) with missing or damaged pictures" in info_lines(result)


def test_too_few_houses_to_split(houses, tmp_path):
    # 25 houses of one zip code pass the filter, but only 3 have pictures
    lines = (houses / "HousesInfo.txt").read_text().splitlines()[:25]
    write_lines(tmp_path, [" ".join(line.split()[:3] + ["10001", line.split()[4]])
                           for line in lines])
    for picture in houses.glob("[123]_*.jpg"):
        shutil.copy(picture, tmp_path / picture.name)
    assert_user_error(run_script("cnn_regression.py", "-d", tmp_path),
                      "only 3 house(s) left", "75/25")


def test_picture_that_is_not_an_image_skips_the_house(house_copy):
    shutil.copy(ROOT / "README.md", house_copy / "2_bathroom.jpg")
    result = run_script("mixed_regression.py", "-d", house_copy, "--epochs", 1)
    assert result.returncode == 0, result.stderr
    assert "skipping house 2: " in result.stderr and "not an image file" in result.stderr


# --------------------------------------------------------------------------
# Image folders


def train_args(dataset, out):
    return ["-d", dataset, "-m", out / "m.model", "-l", out / "lb.pickle",
            "-p", out / "plot.png", "--epochs", 1]


def make_classes(folder, counts):
    import cv2
    import numpy as np

    for name, n in counts.items():
        (folder / name).mkdir(parents=True)
        for i in range(n):
            cv2.imwrite(str(folder / name / f"{i}.jpg"), np.full((24, 24, 3), 9 * i, np.uint8))


def test_folder_without_images(tmp_path):
    (tmp_path / "cats").mkdir()
    (tmp_path / "cats" / "readme.txt").write_text("no pictures here")
    assert_user_error(run_script("train_simple_nn.py", *train_args(tmp_path, tmp_path)),
                      "holds no readable images")


def test_only_one_class(tmp_path):
    make_classes(tmp_path / "data", {"cats": 10})
    assert_user_error(run_script("train_vgg.py", *train_args(tmp_path / "data", tmp_path)),
                      "one class", "'cats'")


def test_class_with_too_few_images(tmp_path):
    make_classes(tmp_path / "data", {"cats": 10, "dogs": 2})
    assert_user_error(run_script("train_simple_nn.py",
                                 *train_args(tmp_path / "data", tmp_path)),
                      "too few images", "dogs (2)")


def test_text_and_empty_files_named_jpg_are_skipped(tmp_path):
    make_classes(tmp_path / "data", {"cats": 8, "dogs": 8})
    (tmp_path / "data" / "cats" / "fake.jpg").write_text("I am text")
    (tmp_path / "data" / "dogs" / "empty.jpg").write_bytes(b"")
    result = run_script("train_simple_nn.py", *train_args(tmp_path / "data", tmp_path))
    assert result.returncode == 0, result.stderr
    assert "fake.jpg" in result.stderr and "empty.jpg" in result.stderr
    assert "[INFO] skipped 2 file(s) that could not be used" in info_lines(result)


def test_nested_folders_belong_to_their_class(tmp_path):
    make_classes(tmp_path / "data", {"cats": 6, "dogs": 4, "dogs/puppies": 4})
    result = run_script("train_simple_nn.py", *train_args(tmp_path / "data", tmp_path))
    assert result.returncode == 0, result.stderr
    assert "[INFO] 14 images in 2 classes (cats: 6, dogs: 8)" in info_lines(result)


# --------------------------------------------------------------------------
# Prediction


@pytest.fixture(scope="module")
def model3(shapes3, tmp_path_factory):
    out = tmp_path_factory.mktemp("model3")
    result = run_script("train_simple_nn.py", *train_args(shapes3, out))
    assert result.returncode == 0, result.stderr
    return out


def predict(model_dir, image, *extra, model=None, labels=None):
    return run_script("predict.py", "-i", image, "-m", model or model_dir / "m.model",
                      "-l", labels or model_dir / "lb.pickle", *extra)


def test_predict_image_missing(model3):
    assert_user_error(predict(model3, "no/such.jpg"), "--image", "does not exist")


def test_predict_image_not_an_image(model3):
    assert_user_error(predict(model3, ROOT / "README.md"), "--image", "not a readable image")


def test_predict_model_missing(model3, shapes3):
    image = shapes3 / "circle" / "circle_00001.jpg"
    assert_user_error(predict(model3, image, model=model3 / "nope.model"),
                      "--model", "not found")


def test_predict_model_not_a_model(model3, shapes3, tmp_path):
    fake = tmp_path / "fake.keras"
    fake.write_text("not a model")
    image = shapes3 / "circle" / "circle_00001.jpg"
    assert_user_error(predict(model3, image, model=fake), "--model", "not a Keras model")


def test_predict_label_count_differs(model3, shapes3, tmp_path):
    labels = tmp_path / "two.pickle"
    labels.write_bytes(pickle.dumps(["cats", "dogs"]))
    image = shapes3 / "circle" / "circle_00001.jpg"
    assert_user_error(predict(model3, image, labels=labels),
                      "names 2 classes", "predicts 3")


@pytest.mark.parametrize("flags", [["--width", 50], ["--flatten", -1],
                                   ["--width", 32, "--height", 16]])
def test_predict_sizes_contradict_model(model3, shapes3, flags):
    image = shapes3 / "circle" / "circle_00001.jpg"
    assert_user_error(predict(model3, image, *flags), "contradict")


def test_predict_untrusted_label_file(model3, shapes3, tmp_path):
    evil = tmp_path / "evil.pickle"
    evil.write_bytes(b"cos\nsystem\n(S'touch " + str(tmp_path / "owned").encode()
                     + b"'\ntR.")
    image = shapes3 / "circle" / "circle_00001.jpg"
    assert_user_error(predict(model3, image, labels=evil), "not a label file")
    assert not (tmp_path / "owned").exists()


# --------------------------------------------------------------------------
# Outputs


def test_missing_output_folders_are_created(shapes3, tmp_path):
    out = tmp_path / "a" / "b"
    result = run_script("train_simple_nn.py", *train_args(shapes3, out))
    assert result.returncode == 0, result.stderr
    assert (out / "m.model.keras").exists() and (out / "plot.png").exists()


def test_unwritable_output_fails_before_training(houses, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    result = run_script("mlp_regression.py", "-d", houses, "--output", blocker / "out")
    assert_user_error(result, "--output", "not writable")
    assert "[INFO] training model..." not in result.stdout


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_read_only_output_folder(houses, tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    try:
        assert_user_error(run_script("mlp_regression.py", "-d", houses, "--output", out),
                          "--output", "not writable")
    finally:
        out.chmod(0o700)


def test_failed_run_leaves_existing_outputs_byte_for_byte(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    before = {name: os.urandom(64) for name in ("model.keras", "loss.png", "predictions.csv")}
    for name, data in before.items():
        (out / name).write_bytes(data)
    write_lines(tmp_path, ["3 2 2000 10001 300000", "oops"])
    result = run_script("mlp_regression.py", "-d", tmp_path, "--output", out)
    assert result.returncode == 2
    assert {name: (out / name).read_bytes() for name in before} == before


def start(script, *args):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, str(ROOT / script), *map(str, args)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def interrupt_after(proc, marker, timeout=120):
    """Send Ctrl-C once ``marker`` shows in the output; return (rc, out, err)."""
    seen = ""
    deadline = time.time() + timeout
    while marker not in seen and time.time() < deadline:
        chunk = proc.stdout.read(1)
        if not chunk:
            break
        seen += chunk
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return proc.returncode, seen + out, err


def test_ctrl_c_exits_130_and_keeps_outputs(houses, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "model.keras").write_bytes(b"the model I had")
    proc = start("mlp_regression.py", "-d", houses, "--epochs", 5000, "--output", out)
    rc, stdout, stderr = interrupt_after(proc, "Epoch 3/")
    assert rc == 130
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert (out / "model.keras").read_bytes() == b"the model I had"
    assert sorted(os.listdir(out)) == ["model.keras"]  # no partial files


def test_resume_continues_at_last_finished_epoch(houses, tmp_path):
    resume = tmp_path / "state"
    args = ["-d", houses, "--epochs", 5000, "--resume-dir", resume]
    rc, _, _ = interrupt_after(start("mlp_regression.py", *args), "Epoch 30/")
    assert rc == 130
    assert any(resume.iterdir())  # per-epoch state was kept

    args[3] = 40  # same run, fewer epochs to finish sooner
    result = run_script("mlp_regression.py", *args)
    assert result.returncode == 0, result.stderr
    epochs = [int(line.split()[1].split("/")[0])
              for line in result.stdout.replace("\r", "\n").splitlines()
              if line.startswith("Epoch ")]
    assert epochs[0] >= 28 and epochs[-1] == 40
    assert not resume.exists() or not any(resume.iterdir())  # removed when done
