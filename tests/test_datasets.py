"""The dataset helpers: parsing, the zip-code filter, scaling, montages and
the folder-per-class loader."""

import os

import cv2
import numpy as np
import pandas as pd
import pytest

from pyimagesearch import datasets
from pyimagesearch.errors import UserError

from conftest import REAL_HOUSES


def write_info(folder, rows):
    path = folder / "HousesInfo.txt"
    path.write_text("".join(" ".join(str(v) for v in row) + "\n" for row in rows))
    return path


def test_zipcode_filter_drops_rare_zipcodes_and_keeps_line_numbers(tmp_path):
    # 3 houses of a rare zip code at lines 0, 10 and 29; 27 of a common one
    rows = [(3, 2, 2000, 11111 if i in (0, 10, 29) else 22222, 100000 + i)
            for i in range(30)]
    df = datasets.load_house_attributes(write_info(tmp_path, rows))
    assert list(df.columns) == ["bedrooms", "bathrooms", "area", "zipcode", "price"]
    assert set(df["zipcode"]) == {22222}
    expected = [i for i in range(30) if i not in (0, 10, 29)]
    assert list(df.index) == expected
    # the index is the line number: the price encodes it here
    assert (df["price"] == 100000 + df.index).all()


def test_windows_line_endings_and_trailing_blank_lines(tmp_path):
    text = "".join(f"3 2.5 2000 22222 {100000 + i}\r\n" for i in range(25)) + "\r\n\r\n"
    path = tmp_path / "HousesInfo.txt"
    path.write_bytes(text.encode())
    df = datasets.load_house_attributes(path)
    assert len(df) == 25
    assert df["bathrooms"].iloc[0] == 2.5


@pytest.mark.parametrize("line, message", [
    ("3 2 2000 22222", "line 26: expected 5 numbers"),
    ("3 two 2000 22222 5", "line 26: bathrooms 'two' is not a number"),
    ("3 2 2000 22222 0", "line 26: price must be positive"),
])
def test_malformed_line_names_its_number(tmp_path, line, message):
    rows = [(3, 2, 2000, 22222, 100000)] * 25
    path = write_info(tmp_path, rows)
    path.write_text(path.read_text() + line + "\n")
    with pytest.raises(UserError, match=message):
        datasets.load_house_attributes(path)


def test_process_attributes_scales_on_train_only_and_one_hot_width(tmp_path):
    df = pd.DataFrame({
        "bedrooms": [1, 2, 3, 10], "bathrooms": [1, 1, 2, 4],
        "area": [1000, 2000, 3000, 9000],
        "zipcode": [1, 2, 3, 2], "price": [1, 2, 3, 4],
    })
    train, test = df.iloc[:3], df.iloc[3:]
    trainX, testX = datasets.process_house_attributes(df, train, test)
    # 3 zip codes one-hot, then 3 scaled columns
    assert trainX.shape == (3, 6) and testX.shape == (1, 6)
    np.testing.assert_array_equal(trainX[:, :3], np.eye(3))
    # min-max fit on the training rows: train spans exactly [0, 1] ...
    np.testing.assert_allclose(trainX[:, 3:].min(axis=0), 0)
    np.testing.assert_allclose(trainX[:, 3:].max(axis=0), 1)
    # ... and the unseen test house lies beyond it, not squashed into it
    np.testing.assert_allclose(testX[0, 3:], [4.5, 3.0, 4.0])
    np.testing.assert_array_equal(testX[0, :3], [0, 1, 0])


def test_montage_places_each_room_in_its_quadrant(tmp_path):
    colours = {"bathroom": (255, 0, 0), "bedroom": (0, 255, 0),
               "frontal": (0, 0, 255), "kitchen": (255, 255, 255)}
    for number in (1, 2):
        for room, colour in colours.items():
            image = np.zeros((48, 80, 3), np.uint8)  # odd size: gets resized
            image[:] = colour
            cv2.imwrite(str(tmp_path / f"{number}_{room}.png"), image)
            os.replace(tmp_path / f"{number}_{room}.png", tmp_path / f"{number}_{room}.jpg")
    df = pd.DataFrame({"price": [1.0]}, index=[1])  # line 1 is house number 2
    montages = datasets.load_house_images(df, tmp_path)
    assert montages.shape == (1, 64, 64, 3) and montages.dtype == np.uint8
    m = montages[0].astype(int)
    quadrants = {"bathroom": m[0:32, 0:32], "bedroom": m[0:32, 32:64],
                 "frontal": m[32:64, 32:64], "kitchen": m[32:64, 0:32]}
    for room, pixels in quadrants.items():
        np.testing.assert_allclose(pixels.mean(axis=(0, 1)), colours[room], atol=2)


def test_loader_labels_skips_broken_ignores_text_and_converts_grayscale(tmp_path, capsys):
    for cls in ("cats", "dogs"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            cv2.imwrite(str(tmp_path / cls / f"{i}.jpg"), np.full((20, 30, 3), 40 * i, np.uint8))
    cv2.imwrite(str(tmp_path / "dogs" / "gray.png"), np.full((50, 40), 200, np.uint8))
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[..., 2] = 255
    rgba[..., 3] = 255
    cv2.imwrite(str(tmp_path / "cats" / "alpha.png"), rgba)
    (tmp_path / "cats" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (tmp_path / "cats" / "empty.jpg").write_bytes(b"")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "dogs" / "nested").mkdir()
    cv2.imwrite(str(tmp_path / "dogs" / "nested" / "deep.jpg"), np.zeros((8, 8, 3), np.uint8))

    data, labels, kept = datasets.load_image_folder(tmp_path, 32, 32, flatten=False, seed=1)
    assert data.shape == (9, 32, 32, 3) and data.dtype == np.float32
    assert 0.0 <= data.min() and data.max() <= 1.0
    assert sorted(labels.tolist()) == ["cats"] * 4 + ["dogs"] * 5
    names = [os.path.basename(p) for p in kept]
    assert "broken.jpg" not in names and "empty.jpg" not in names and "notes.txt" not in names
    gray = data[names.index("gray.png")]
    np.testing.assert_allclose(gray, 200 / 255, atol=1e-6)  # 3 equal channels
    np.testing.assert_allclose(data[names.index("alpha.png")][0, 0], [0, 0, 1])  # BGR red
    err = capsys.readouterr()
    assert "broken.jpg" in err.err and "empty.jpg" in err.err
    assert "skipped 2 file(s)" in err.out

    flat, _, _ = datasets.load_image_folder(tmp_path, 32, 32, flatten=True, seed=1)
    assert flat.shape == (9, 3072)
    np.testing.assert_array_equal(flat, data.reshape(9, -1))


def test_loader_order_depends_only_on_seed(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(5):
            cv2.imwrite(str(tmp_path / cls / f"{i}.png"), np.full((4, 4, 3), i, np.uint8))
    _, _, first = datasets.load_image_folder(tmp_path, 8, 8, seed=3)
    _, _, again = datasets.load_image_folder(tmp_path, 8, 8, seed=3)
    _, _, other = datasets.load_image_folder(tmp_path, 8, 8, seed=4)
    assert first == again
    assert sorted(first) == sorted(other) and first != other


def test_truncated_jpeg_is_detected(tmp_path):
    path = tmp_path / "x.jpg"
    cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8))
    data = path.read_bytes()
    assert datasets.image_file_problem(path) is None
    path.write_bytes(data[: len(data) // 2])
    assert datasets.image_file_problem(path) == "truncated JPEG"
    assert datasets.read_image(path) is None


@pytest.mark.skipif(not REAL_HOUSES.is_dir(), reason="real Houses dataset not available")
def test_real_houses_match_the_post():
    df = datasets.load_house_attributes(REAL_HOUSES / "HousesInfo.txt")
    assert len(df) == 362
    assert f"{df['price'].mean():,.2f}" == "533,388.27"
    assert f"{df['price'].std():,.2f}" == "493,403.08"
