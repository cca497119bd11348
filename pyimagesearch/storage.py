"""Writing outputs safely and reading them back safely.

* Outputs (models, label files, plots, CSVs) are written to a temporary file
  beside the destination and moved into place in one step, so a crash or a
  Ctrl-C never leaves a half-written file where the user had a good one.
* Label files are pickled LabelBinarizers, as in the posts, but they are
  read with an unpickler that rebuilds nothing else (``RestrictedUnpickler``,
  which also reads Keras' pickled ``.npz`` arrays): a pickle can run
  arbitrary code, and these files get passed around.
* Models load with Keras' safe mode, which refuses serialized Python code.
"""

import io
import json
import os
import pickle
import stat
import tempfile
import zipfile
from contextlib import contextmanager

import numpy as np

from .errors import UserError

MODEL_SUFFIX = ".keras"


@contextmanager
def atomic_output(path):
    """Yield a temporary path next to ``path``; move it into place on success.

    The temporary file keeps the destination's extension, because some
    writers (Keras, matplotlib) choose the format from it.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".partial-",
                               suffix=os.path.splitext(path)[1])
    os.close(fd)
    try:
        yield tmp
        # mkstemp's file is private (0600); the output gets the mode the
        # file it replaces had, or a new file's under the umask
        os.chmod(tmp, output_mode(path))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def output_mode(path):
    """The permission bits for an output written to ``path``: those of the
    file already there, else what ``open(path, "w")`` would give (0666 less
    the umask)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    return 0o666 & ~current_umask()


def current_umask():
    """The process's umask: from /proc on Linux (reading it changes
    nothing); elsewhere by setting it and setting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ensure_writable_folder(folder, flag):
    """Create ``folder`` if needed and check that files can be written there.

    Called before training starts, so a typo in an output path costs a
    second, not an hour of training.
    """
    folder = folder or "."
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except FileExistsError:
        raise UserError(f"{flag} {folder!r} is a file, expected a folder") from None
    except OSError as error:
        raise UserError(f"{flag} {folder!r} is not writable: {error.strerror}") from None
    return folder


# --------------------------------------------------------------------------
# Models


def model_file(path):
    """Where a model given as ``path`` is stored: Keras 3 needs ``.keras``.

    The posts name their models ``output/simple_nn.model``; that becomes
    ``output/simple_nn.model.keras``, and predict.py accepts either name.
    """
    return path if path.endswith(MODEL_SUFFIX) else path + MODEL_SUFFIX


def save_model(model, path):
    """``model.save`` to a ``.keras`` file, atomically; return the file.

    The scripts build their models from Keras' own classes (the fused
    kernels of ``fast.py`` change no class), so ``keras.models.load_model``
    opens the file in any Python, without this repository.
    """
    target = model_file(path)
    with atomic_output(target) as tmp:
        model.save(tmp)
    return target


def find_model(path, flag="--model"):
    """The model file ``path`` names (``path`` or ``path.keras``), checked
    without TensorFlow: a ``.keras`` file is a zip archive holding
    ``config.json`` and the weights. A missing, cut-short or foreign file
    is one line."""
    candidates = [path] if path.endswith(MODEL_SUFFIX) else [path, model_file(path)]
    found = next((p for p in candidates if os.path.isfile(p)), None)
    if found is None:
        raise UserError(f"{flag} {path!r} not found")
    try:
        with zipfile.ZipFile(found) as archive:
            names = set(archive.namelist())
            config = json.loads(archive.read("config.json")) if "config.json" in names else None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise UserError(f"{flag} {found!r} is not a Keras model file: a .keras file is a "
                        f"zip archive, and this one is damaged or cut short, or is no "
                        f"archive at all") from None
    if not isinstance(config, dict) or "model.weights.h5" not in names:
        raise UserError(f"{flag} {found!r} is not a Keras model file (a zip archive "
                        f"without a model's config.json and weights)")
    return found, config


def model_inputs(config):
    """``[(batch_shape, dtype), ...]`` of a saved model's inputs, read from its
    ``config.json`` (``find_model``); None where the layout is not Keras 3's."""
    try:
        inner = config["config"]
        layers = inner["layers"]
        if config.get("class_name") == "Sequential":
            first = layers[0]
            chosen = [first] if first.get("class_name") == "InputLayer" else []
        else:
            wanted = inner["input_layers"]
            wanted = [wanted] if isinstance(wanted[0], str) else wanted
            by_name = {layer["config"]["name"]: layer for layer in layers}
            chosen = [by_name[w[0]] for w in wanted]
        inputs = [(list(layer["config"]["batch_shape"]), layer["config"]["dtype"])
                  for layer in chosen]
    except (KeyError, IndexError, TypeError):
        return None
    return inputs or None


def load_model(path, flag="--model"):
    """Load a model saved by these scripts; a clear error if it is not one."""
    (found, _) = find_model(path, flag)
    import keras

    try:
        return keras.models.load_model(found, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a bad file
        reason = " ".join(str(error).split()) or type(error).__name__
        if len(reason) > 160:
            reason = reason[:160].rsplit(" ", 1)[0] + " ..."
        raise UserError(f"{flag} {found!r} is not a Keras model file ({reason})") from None


# --------------------------------------------------------------------------
# Label files


def save_labels(lb, path):
    """Pickle the label encoder, atomically, as the posts do."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(pickle.dumps(lb))


# What a pickle of NumPy arrays may rebuild: arrays, their dtypes and scalars.
NUMPY_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})
# ... and a label file, a scikit-learn LabelBinarizer of class names
LABEL_GLOBALS = NUMPY_GLOBALS | {("sklearn.preprocessing._label", "LabelBinarizer")}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds only the classes in ``allowed`` (pairs of
    module and name): a pickle can run any code, and label files and
    Keras' ``.npz`` copies get passed around."""

    def __init__(self, file, allowed, **kwargs):
        super().__init__(file, **kwargs)
        self.allowed = allowed

    def find_class(self, module, name):
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def load_labels(path, flag="--label-bin"):
    """Return the class names stored in a label file, never running its code."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise UserError(f"{flag} {path!r} not found") from None
    except OSError as error:
        raise UserError(f"{flag} {path!r} cannot be read: {error.strerror}") from None
    try:
        obj = RestrictedUnpickler(io.BytesIO(data), LABEL_GLOBALS).load()
    except Exception as error:
        raise UserError(f"{flag} {path!r} is not a label file written by these scripts "
                        f"({error})") from None

    # the scripts write a LabelBinarizer; train_text.py once wrote the list
    # of class names, which still reads
    classes = getattr(obj, "classes_", obj)
    if isinstance(classes, np.ndarray):
        classes = classes.tolist()
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(c, (str, int)) for c in classes)):
        raise UserError(f"{flag} {path!r} holds no LabelBinarizer of class names")
    return [str(c) for c in classes]


def beside(path, suffix):
    """A file beside ``path``: ``out/vgg.model`` -> ``out/vgg`` + suffix.

    The confusion matrix goes beside the plot (``out/vgg_confusion.png``),
    the results and a text model's label file beside the model
    (``out/vgg_results.json``, ``out/text_labels.pickle``).
    """
    return os.path.splitext(path)[0] + suffix


def save_results(path, results):
    """Write a run's figures as JSON (``results.json``), atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return path
