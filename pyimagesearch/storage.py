"""Writing outputs safely and reading them back safely.

* Outputs (models, label files, plots, CSVs) are written to a temporary file
  beside the destination and moved into place in one step, so a crash or a
  Ctrl-C never leaves a half-written file where the user had a good one.
* Label files are pickles, as in the posts, but they are read with an
  unpickler that only rebuilds a scikit-learn LabelBinarizer or a plain list
  of class names: a pickle can run arbitrary code, and these files get
  passed around.
* Models load with Keras' safe mode, which refuses serialized Python code.
"""

import io
import json
import os
import pickle
import tempfile
from contextlib import contextmanager

import numpy as np

from .cli import UserError

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
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
    """Save ``model`` as a ``.keras`` file that plain Keras can open; return the file.

    Training may use this package's faster classes (``fast.py``: batch
    normalization and optimizer steps on TensorFlow's fused kernels). They
    compute what Keras' own classes compute, so the file written here is the
    same architecture built from Keras' own classes, with the trained
    weights: ``keras.models.load_model(path)`` opens it in any Python,
    without this repository. The file is written atomically.
    """
    target = model_file(path)
    with atomic_output(target) as tmp:
        stock_model(model).save(tmp)
    return target


def stock_model(model):
    """``model`` as Keras' own classes: itself if it already is, else a copy.

    In the copy, layers of the package's own subclasses become their Keras
    base class with the same configuration and weights; a compiled model
    gets Keras' own optimizer with the same settings and running state
    (moments, step count) and the same loss and metrics, so the copy can be
    evaluated or trained further.
    """
    import keras

    if _is_stock_model(model):
        return model

    def stock_layer(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=stock_layer)
        cls = _stock_class(type(layer))
        return cls.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=stock_layer)
    copy.set_weights(model.get_weights())
    if getattr(model, "compiled", False) and _is_stock(model.loss):
        config = model.get_compile_config()
        optimizer = _stock_class(type(model.optimizer)).from_config(
            model.optimizer.get_config())
        config["optimizer"] = keras.saving.serialize_keras_object(optimizer)
        copy.compile_from_config(config)
        if model.optimizer.built:
            copy.optimizer.build(copy.trainable_variables)
            for new, old in zip(copy.optimizer.variables, model.optimizer.variables):
                new.assign(old)
    return copy


def _is_stock_model(model):
    """Whether every layer, the optimizer and the loss are Keras' own."""
    classes = [type(layer) for layer in model._flatten_layers()]
    if getattr(model, "compiled", False):
        classes.append(type(model.optimizer))
        if not _is_stock(model.loss):
            return False
    return all(_stock_class(cls) is cls for cls in classes)


def _stock_class(cls):
    """``cls`` itself if Keras defines it, else its nearest Keras ancestor."""
    for ancestor in cls.__mro__:
        if ancestor.__module__.startswith("keras."):
            return ancestor
    raise TypeError(f"{cls.__name__} has no Keras base class")


def _is_stock(loss):
    """Whether Keras can rebuild ``loss`` without this repository."""
    if isinstance(loss, str):
        return True
    return type(loss).__module__.startswith("keras.")


def load_model(path):
    """Load a model saved by these scripts; a clear error if it is not one."""
    import keras

    candidates = [path] if path.endswith(MODEL_SUFFIX) else [path, model_file(path)]
    found = next((p for p in candidates if os.path.isfile(p)), None)
    if found is None:
        raise UserError(f"--model {path!r} not found")
    try:
        return keras.models.load_model(found, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for a bad file
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UserError(f"--model {found!r} is not a Keras model file ({reason[:160]})") from None


# --------------------------------------------------------------------------
# Label files


def save_labels(lb, path):
    """Pickle the label encoder, atomically, as the posts do."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(pickle.dumps(lb))


# The only globals a LabelBinarizer pickle (or a list of names) refers to.
_ALLOWED_GLOBALS = {
    ("sklearn.preprocessing._label", "LabelBinarizer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
}


class _LabelUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
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
        obj = _LabelUnpickler(io.BytesIO(data)).load()
    except Exception as error:
        raise UserError(f"{flag} {path!r} is not a label file written by these scripts "
                        f"({error})") from None

    classes = getattr(obj, "classes_", obj)
    if isinstance(classes, np.ndarray):
        classes = classes.tolist()
    if (not isinstance(classes, list) or not classes
            or not all(isinstance(c, (str, int)) for c in classes)):
        raise UserError(f"{flag} {path!r} holds no list of class names")
    return [str(c) for c in classes]


def save_results(path, results):
    """Write a run's figures as JSON (``results.json``), atomically."""
    with atomic_output(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(results, f, indent=2)
            f.write("\n")
    return path
