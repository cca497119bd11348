"""The sample-data command lines (README, Makefile): each writes a dataset
the loaders take, and every command is tested."""

import re

import numpy as np
import pytest

from pyimagesearch import chapter3_datasets, datasets, sample_data, textfolders


def check_houses(folder):
    df = datasets.load_house_attributes(folder / "HousesInfo.txt")
    assert len(df) == 240  # README: 240 houses, 60 per zip code, none dropped
    assert sorted(df["zipcode"].unique()) == sorted(sample_data.SAMPLE_ZIPCODES)
    assert len(datasets.drop_houses_with_bad_images(df, folder)) == len(df)
    assert datasets.load_house_images(df, folder).shape == (len(df), 64, 64, 3)


def check_shapes(classes, perClass):
    def check(folder):
        (data, labels) = datasets.load_image_dataset(folder, 32, 32, flatten=True, seed=42)
        assert data.shape == (classes * perClass, 3072)
        names = sample_data.SHAPE_CLASSES[:classes]
        assert sorted(labels.tolist()) == sorted(n for n in names for _ in range(perClass))
    return check


def check_imdb(folder):
    data = chapter3_datasets.load_imdb_folder(str(folder), num_words=100)
    assert (len(data.train_seqs), len(data.test_seqs)) == (80, 80)  # 40 per class and split
    assert sorted(np.bincount(data.train_labels).tolist()) == [40, 40]


def check_imdb_npz(path):
    data = chapter3_datasets.load_imdb_npz(str(path), num_words=100)
    assert (len(data.train_seqs), len(data.test_seqs)) == (200, 200)
    assert set(data.train_labels.tolist()) == {0, 1}


def check_reuters(folder):
    data = chapter3_datasets.load_reuters_folder(str(folder), num_words=100)
    # 120 newswires: 12 without a topic, one of a rare topic (dropped)
    assert len(data.train_seqs) + len(data.test_seqs) == 107
    assert len(data.test_seqs) == 107 - int(107 * 0.8)
    assert len(data.class_names) == 3


def check_reuters_npz(path):
    data = chapter3_datasets.load_reuters_npz(str(path), num_words=100)
    assert (len(data.train_seqs), len(data.test_seqs)) == (240, 60)
    assert len(data.class_names) == 5


def check_boston(path):
    ((trainX, trainY), (testX, testY)) = chapter3_datasets.load_boston_npz(str(path))
    assert (trainX.shape, testX.shape) == ((96, 13), (24, 13))
    assert (len(trainY), len(testY)) == (96, 24)


def check_folder(folder):
    (texts, labels, names) = textfolders.load_text_folder(str(folder))
    assert names == ["cats", "dogs", "fish"]
    assert np.bincount(labels).tolist() == [30, 30, 30] and len(texts) == 90


# test id -> (command, flags, what OUT is called, check of what the loaders make of it)
SAMPLE_COMMANDS = {
    "houses": ("houses", [], "houses", check_houses),
    "shapes": ("shapes", ["--per-class", 5], "shapes", check_shapes(3, 5)),
    "shapes-2-classes": ("shapes", ["--classes", 2, "--per-class", 6], "shapes",
                         check_shapes(2, 6)),
    "imdb": ("imdb", [], "aclImdb", check_imdb),
    "imdb-npz": ("imdb-npz", [], "imdb.npz", check_imdb_npz),
    "reuters": ("reuters", [], "reuters21578", check_reuters),
    "reuters-npz": ("reuters-npz", [], "reuters.npz", check_reuters_npz),
    "boston": ("boston", [], "boston_housing.npz", check_boston),
    "folder": ("folder", [], "texts", check_folder),
}


@pytest.mark.parametrize("case", SAMPLE_COMMANDS)
def test_sample_data_command_writes_what_the_loaders_take(case, tmp_path, capsys):
    (command, flags, name, check) = SAMPLE_COMMANDS[case]
    target = tmp_path / name
    sample_data.main([command, str(target), *map(str, flags)])
    assert "[INFO] wrote " in capsys.readouterr().out
    check(target)


def test_every_sample_data_command_is_tested(capsys):
    with pytest.raises(SystemExit):
        sample_data.main(["--help"])
    offered = re.search(r"\{([\w,-]+)\}", capsys.readouterr().out).group(1).split(",")
    assert sorted(offered) == sorted({command for (command, *_) in SAMPLE_COMMANDS.values()})
