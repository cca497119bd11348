"""Safe outputs and safe label files."""

import os
import pickle

import numpy as np
import pytest
from sklearn.preprocessing import LabelBinarizer

from pyimagesearch.errors import UserError
from pyimagesearch.storage import atomic_output, load_labels, model_file, save_labels


def test_atomic_output_keeps_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "model.keras"
    target.write_bytes(b"good model")
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"half a mod")
            raise RuntimeError("power cut")
    assert target.read_bytes() == b"good model"
    assert os.listdir(tmp_path) == ["model.keras"]  # no temporary left behind


def test_atomic_output_replaces_on_success_and_keeps_extension(tmp_path):
    target = tmp_path / "sub" / "plot.png"
    with atomic_output(target) as tmp:
        assert tmp.endswith(".png") and os.path.dirname(tmp) == str(target.parent)
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert target.read_bytes() == b"new"


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_outputs_get_the_mode_open_would_give(tmp_path, umask, mode):
    # a new output follows the umask, as open(path, "w") does (mkstemp's
    # temporary file is 0600 whatever the umask)
    old = os.umask(umask)
    try:
        with atomic_output(tmp_path / "model.keras") as tmp:
            with open(tmp, "wb") as f:
                f.write(b"new")
        with open(tmp_path / "plain.txt", "w"):
            pass
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "model.keras").st_mode & 0o777 == mode
    assert os.stat(tmp_path / "plain.txt").st_mode & 0o777 == mode


def test_a_replaced_output_keeps_its_mode(tmp_path):
    target = tmp_path / "lb.pickle"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    with atomic_output(target) as tmp:
        with open(tmp, "wb") as f:
            f.write(b"new")
    assert target.read_bytes() == b"new" and os.stat(target).st_mode & 0o777 == 0o640


def test_label_binarizer_round_trip(tmp_path):
    lb = LabelBinarizer().fit(["dogs", "cats", "panda", "cats"])
    save_labels(lb, tmp_path / "lb.pickle")
    assert load_labels(tmp_path / "lb.pickle") == ["cats", "dogs", "panda"]


def test_plain_list_of_names_is_accepted(tmp_path):
    # what train_text.py wrote before it wrote a LabelBinarizer, as the others do
    (tmp_path / "names.pickle").write_bytes(pickle.dumps(["a", "b"]))
    assert load_labels(tmp_path / "names.pickle") == ["a", "b"]


class Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > should_not_exist",))


def test_pickle_with_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "evil.pickle").write_bytes(pickle.dumps(Exploit()))
    with pytest.raises(UserError, match="not a label file"):
        load_labels(tmp_path / "evil.pickle")
    assert not (tmp_path / "should_not_exist").exists()


def test_other_objects_are_refused(tmp_path):
    (tmp_path / "arr.pickle").write_bytes(pickle.dumps({"classes": ["a"]}))
    with pytest.raises(UserError):
        load_labels(tmp_path / "arr.pickle")
    (tmp_path / "junk.pickle").write_bytes(np.arange(5).tobytes())
    with pytest.raises(UserError):
        load_labels(tmp_path / "junk.pickle")


def test_model_file_adds_keras_suffix_only_when_needed():
    assert model_file("output/simple_nn.model") == "output/simple_nn.model.keras"
    assert model_file("output/vgg.keras") == "output/vgg.keras"
