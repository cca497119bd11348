"""The three house-price scripts: one end-to-end run of each (the CNN as a
user runs it, a subprocess with stdout a log file; the MLP and the mixed
model in-process), and in-process runs for what the numbers must do. Their
training flags are test_posts_flags.py's."""

import csv
import json
import re
import shutil

import numpy as np
import pytest

from conftest import ROOT, info_lines, run_in_process, run_script

LAST_LINE = re.compile(r"^\[INFO\] mean: (\d+\.\d\d)%, std: \d+\.\d\d%$")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def mlp_run(houses, tmp_path_factory):
    out = tmp_path_factory.mktemp("mlp_out")
    result = run_in_process("mlp_regression.py", "--dataset", houses, "--epochs", 3,
                            "--output", out)
    assert result.returncode == 0, result.stderr
    # a run that went well warns of nothing (in this process: the script's
    # own warnings; the CNN's subprocess below checks the rest)
    assert result.stderr == ""
    return result, out


def test_mlp_end_to_end_prints_the_posts_lines_and_writes_outputs(mlp_run):
    result, out = mlp_run
    lines = info_lines(result)
    assert lines[0] == "[INFO] loading house attributes..."
    assert "[INFO] training model..." in lines
    assert re.match(r"^\[INFO\] avg\. house price: \$\d{3},\d{3}\.\d\d, std house price: "
                    r"\$\d{2,3},\d{3}\.\d\d$", lines[-2])
    printed = LAST_LINE.match(result.stdout.strip().splitlines()[-1])
    assert printed
    # the CSV has one row per test house (25% of the 100 houses)
    with open(out / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 25 and all(float(r["true_price"]) > 0 for r in rows)
    results = json.loads((out / "results.json").read_text())
    assert (results["script"], results["recipe"], results["seed"]) == \
        ("mlp_regression.py", "posts", 42)
    assert f"{results['value']:.2f}" == printed.group(1)
    # the same figure from the CSV: mean absolute percentage error
    errors = [abs(float(r["predicted_price"]) - float(r["true_price"])) / float(r["true_price"])
              for r in rows]
    assert 100 * np.mean(errors) == pytest.approx(results["value"], abs=0.01)
    for picture in ("loss.png", "predictions.png"):
        assert (out / picture).read_bytes()[:8] == PNG


@pytest.fixture
def damaged_houses(houses, tmp_path):
    """The sample houses with four damaged pictures (houses 2, 3, 5, 7)."""
    folder = tmp_path / "houses"
    shutil.copytree(houses, folder)
    (folder / "3_kitchen.jpg").unlink()
    (folder / "5_frontal.jpg").write_bytes(b"")
    data = (folder / "7_bedroom.jpg").read_bytes()
    (folder / "7_bedroom.jpg").write_bytes(data[: len(data) // 2])
    shutil.copy(ROOT / "README.md", folder / "2_bathroom.jpg")
    return folder


@pytest.mark.parametrize("script", ["cnn_regression.py", "mixed_regression.py"])
def test_picture_scripts_end_to_end_skip_damaged_houses(script, damaged_houses, tmp_path):
    run = run_script if script == "cnn_regression.py" else run_in_process
    result = run(script, "--dataset", damaged_houses, "--epochs", 2, "--output", tmp_path)
    assert result.returncode == 0, result.stderr
    for number, problem in ((2, "not an image file"), (3, "missing"), (5, "empty file"),
                            (7, "truncated JPEG")):
        assert f"skipping house {number}: " in result.stderr
        assert problem in result.stderr
    assert "[INFO] skipped 4 house(s) with missing or damaged pictures" in info_lines(result)
    assert LAST_LINE.match(result.stdout.strip().splitlines()[-1])
    with open(tmp_path / "predictions.csv") as f:
        houses = {int(r["house"]) for r in csv.DictReader(f)}
    assert len(houses) == 24 and not houses & {2, 3, 5, 7}  # 25% of 96 houses
    if run is run_script:
        # stdout a log file: one line per epoch, no progress bar
        stdout = result.stdout
        assert "\r" not in stdout and "\x08" not in stdout
        assert "━" not in stdout
        epochs = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
        assert epochs == ["Epoch 1/2", "Epoch 2/2"]
        lossLines = [line for line in stdout.splitlines() if "loss:" in line]
        assert len(lossLines) == 2 and all("val_loss:" in line for line in lossLines)
        # nothing but the four skipped houses on stderr
        assert len(result.stderr.strip().splitlines()) == 4, result.stderr


def test_same_seed_prints_same_numbers(houses):
    last = [run_in_process("mlp_regression.py", "-d", houses, "--epochs", 1, "--seed", seed)
            .stdout.strip().splitlines()[-1] for seed in (7, 7, 8)]
    assert LAST_LINE.match(last[0])
    assert last[0] == last[1]
    assert last[0] != last[2]


def test_mlp_learns_the_sample_prices(houses):
    # the sample prices follow the attributes: the post's recipe gets well
    # below the 100% error of predicting zero within a few dozen epochs
    result = run_in_process("mlp_regression.py", "-d", houses, "--epochs", 40)
    mean = float(LAST_LINE.match(result.stdout.strip().splitlines()[-1]).group(1))
    assert mean < 40
