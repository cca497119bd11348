"""Reuters-21578's SGML made into the single-label set
(pyimagesearch/reuters21578.py), on a file the tests write and, when
../shared has it, on the real distribution."""

import tarfile
from pathlib import Path

import pytest

from pyimagesearch import reuters21578, sample_data
from pyimagesearch.errors import UserError

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "datasets"


def test_reuters_sgml_single_label_set(tmp_path):
    sample_data.write_reuters_sgml(str(tmp_path), count=120)
    with open(tmp_path / "reut2-000.sgm", encoding="latin-1") as f:
        docs = reuters21578.parse_reuters_sgml(f.read())
    assert len(docs) == 120
    (topics, title, body) = docs[1]
    assert topics == ["crude", "trade"] and title == "CRUDE NEWS 1"
    assert "<ABC> & co" in body and "\x03" not in body  # entities decoded, controls gone
    (texts, labels, names) = reuters21578.reuters_single_label(docs, min_count=10)
    # topicless newswires (every 10th) and the one 'rare' newswire are dropped;
    # each is labelled by its first topic ('trade' is always second)
    assert names == ["acq", "crude", "grain"]
    assert len(texts) == 120 - 12 - 1
    assert texts[0].startswith("CRUDE NEWS 1\n")
    assert labels[0] == names.index("crude")


@pytest.mark.skipif(not (SHARED / "reuters21578.tar.gz").exists(), reason="no ../shared")
def test_real_reuters_counts(tmp_path):
    with tarfile.open(SHARED / "reuters21578.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    docs = []
    for path in sorted(tmp_path.rglob("reut2-*.sgm")):
        docs.extend(reuters21578.parse_reuters_sgml(path.read_text(encoding="latin-1")))
    (texts, labels, names) = reuters21578.reuters_single_label(docs)
    assert len(docs) == 21578
    assert (len(texts), len(names)) == (11267, 49)


def test_a_file_cut_off_mid_newswire_is_refused(tmp_path):
    sample_data.write_reuters_sgml(str(tmp_path), count=30)
    path = tmp_path / "reut2-000.sgm"
    text = path.read_text(encoding="latin-1")
    # a disk that filled up: the file ends inside its last newswire
    path.write_text(text[:text.rindex("</REUTERS>") - 20], encoding="latin-1")
    with pytest.raises(UserError, match=r"reut2-000.sgm is damaged: 30 <REUTERS> element\(s\) "
                                        r"opened, 29 closed"):
        reuters21578.load_single_label(str(tmp_path), min_count=1)


def test_a_folder_named_like_an_sgm_file_is_not_read(tmp_path):
    (tmp_path / "reut2-000.sgm").mkdir()
    with pytest.raises(UserError, match="holds no Reuters-21578 .sgm file"):
        reuters21578.load_single_label(str(tmp_path))
    sample_data.write_reuters_sgml(str(tmp_path / "more"), count=120)
    (tmp_path / "more" / "reut2-001.sgm").mkdir()
    (texts, _, _) = reuters21578.load_single_label(str(tmp_path / "more"))
    assert len(texts) == 120 - 12 - 1
