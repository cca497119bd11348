"""Folders of your own .txt files (pyimagesearch/textfolders.py): classes,
unusable files, mistakes."""

import pytest

from pyimagesearch import sample_data, textfolders
from pyimagesearch.errors import UserError


def test_unlabelled_unsup_folder_is_not_a_class(tmp_path, capsys):
    # the original IMDB release keeps unlabelled reviews in train/unsup
    sample_data.write_text_folder(str(tmp_path), classes=("neg", "pos", "unsup"), per_class=2)
    (texts, labels, names) = textfolders.load_text_folder(str(tmp_path))
    assert names == ["neg", "pos"] and len(texts) == 4
    assert "unsup: unlabelled texts, not a class" in capsys.readouterr().err


def test_text_folder_skips_unusable_files_with_a_warning(tmp_path, capsys):
    sample_data.write_text_folder(str(tmp_path), classes=("a", "b"), per_class=3)
    (tmp_path / "a" / "empty.txt").write_bytes(b"  \n")
    (tmp_path / "b" / "binary.txt").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "b" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (texts, labels, names) = textfolders.load_text_folder(str(tmp_path))
    assert names == ["a", "b"] and len(texts) == 6 and labels.tolist() == [0] * 3 + [1] * 3
    err = capsys.readouterr().err
    assert "empty.txt: empty" in err and "binary.txt: binary" in err
    assert "latin1.txt: not UTF-8" in err


@pytest.mark.parametrize("layout", ["empty", "one_class", "only_bad_files"])
def test_text_folder_errors(tmp_path, layout, capsys):
    if layout == "one_class":
        sample_data.write_text_folder(str(tmp_path), classes=("a",), per_class=3)
    elif layout == "only_bad_files":
        for name in ("a", "b"):
            (tmp_path / name).mkdir()
            (tmp_path / name / "x.txt").write_bytes(b"")
    with pytest.raises(UserError) as error:
        textfolders.load_text_folder(str(tmp_path))
    assert "\n" not in str(error.value)
    if layout == "only_bad_files":
        # the one line names what is wrong (not "no sub-folder": there are
        # two), and no warning comes before it
        assert "none of the 2 .txt file(s) in its 2 class folder(s) is usable text" \
            in str(error.value)
        assert capsys.readouterr().err == ""
