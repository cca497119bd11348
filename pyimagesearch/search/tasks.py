"""The chapter's searchers, as AutoKeras calls them::

    clf = ImageClassifier(max_trials=2)
    clf.fit(x_train, y_train)
    print(clf.evaluate(x_test, y_test))    # [loss, accuracy]
    model = clf.export_model()             # a plain Keras model

``ImageRegressor`` likewise for numbers, and ``AutoModel(inputs=ImageInput(),
outputs=ClassificationHead()(ImageBlock(block_type=..., augment=...)(...)))``
for the functional form. Each is a thin layer over KerasTuner: a hypermodel
(``hypermodel.py``), the successive-halving oracle (``oracle.py``) and the
tuner (``tuner.py``, ``distributed.py``).
"""

import hashlib
import os

import numpy as np

from ..cli import UserError, fit_verbosity
from . import flags, project, reporting
from .blocks import ImageBlock
from .heads import ClassificationHead, RegressionHead

COPIES = 4            # of a regressor's winner, retrained and averaged...
SMALL_SPLIT = 2000    # ...when it has at most this many training pictures
CHIEF_SECONDS = 25.0  # KerasTuner's chief waits up to 20 s for its workers to leave


def pictures(x, name="x"):
    """``x`` as ``(n, height, width, channels)`` pictures, uint8 or floats in
    [0, 1] (floats up to 255 are scaled); the caller's array is not changed."""
    if not hasattr(x, "shape") and not isinstance(x, (list, tuple)):
        raise TypeError(f"{name} must be a NumPy array of pictures, got {type(x).__name__}")
    x = np.asarray(x)
    if x.dtype.kind not in "uif":
        raise TypeError(f"{name} must hold pixel values (uint8 or floats), got {x.dtype}")
    if x.ndim == 3:
        x = x[..., None]   # grey pictures without a channel axis
    if x.ndim != 4 or x.shape[-1] not in (1, 3) or min(x.shape[1:3]) < 8:
        raise ValueError(f"{name} must be pictures shaped (n, height, width, 1 or 3) of 8 "
                         f"pixels or more, got shape {np.shape(x)}")
    if x.dtype == np.uint8:
        return x
    (low, high) = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not (np.isfinite(low) and np.isfinite(high)) or low < 0 or high > 255:
        raise ValueError(f"{name} holds values from {low:g} to {high:g}; pixel values go from "
                         "0 to 1 (floats) or 0 to 255")
    if x.dtype.kind in "ui":
        return x.astype("uint8")
    return (x / 255.0 if high > 1.0 else x).astype("float32", copy=False)


def fingerprint(x, y):
    """A short digest of the pictures and targets, so that a folder's search
    is resumed only on the same data."""
    digest = hashlib.sha1(np.ascontiguousarray(x[::max(1, len(x) // 1000)]).tobytes())
    digest.update(np.ascontiguousarray(y).tobytes())
    return digest.hexdigest()[:16]


def whole_number(value, name, least=1, none=True):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise ValueError(f"{name} must be at least {least}, got {value}")
    return int(value)


class Node:
    """A step of ``AutoModel``'s functional form: what block and head it has."""

    def __init__(self, block=None, head=None):
        (self.block, self.head) = (block, head)

    def joined(self, block=None, head=None):
        return Node(block or self.block, head or self.head)


class ImageInput(Node):
    """The pictures, as AutoKeras' ``ImageInput``."""


class ImageSearch:
    """A search over the networks of ``block`` (an ``ImageBlock``) ending in
    ``head``: ``max_trials`` candidates; ``time_limit`` minutes (None: no
    limit) for the whole ``fit``, the final training included; kept in
    ``directory/project_name`` (``overwrite``: start afresh there, else the
    same search is resumed); ``seed`` (None: 42); ``batch_size``,
    ``max_epochs``, ``schedule``, ``precision``: None or "auto", the block's
    defaults (``flags.resolve``)."""

    def __init__(self, head, block=None, max_trials=2, time_limit=None, directory=None,
                 project_name="image_search", overwrite=False, seed=None, batch_size=None,
                 max_epochs=None, schedule=None, precision="auto"):
        if not isinstance(head, (ClassificationHead, RegressionHead)):
            raise TypeError(f"head must be a ClassificationHead or a RegressionHead, got {head!r}")
        if block is not None and not isinstance(block, ImageBlock):
            raise TypeError(f"block must be an ImageBlock, got {block!r}")
        if time_limit is not None and (isinstance(time_limit, bool) or not isinstance(
                time_limit, (int, float)) or not 0 < time_limit < float("inf")):
            raise ValueError(f"time_limit must be a positive number of minutes or None, "
                             f"got {time_limit!r}")
        if not isinstance(project_name, str) or not project_name or os.sep in project_name:
            raise ValueError(f"project_name must be a folder name, got {project_name!r}")
        if schedule not in flags.SCHEDULES + (None,):
            raise ValueError(f"schedule must be one of {', '.join(flags.SCHEDULES)} or None, "
                             f"got {schedule!r}")
        if precision not in flags.PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(flags.PRECISIONS)}, "
                             f"got {precision!r}")
        (self.head, self.block) = (head, block or ImageBlock())
        self.folder = os.path.join(os.fspath(directory or "."), project_name)
        self.overwrite = bool(overwrite)
        self.options = {"max_trials": whole_number(max_trials, "max_trials", none=False),
                        "time_limit": time_limit, "seed": 42 if seed is None else
                        whole_number(seed, "seed", least=0),
                        "batch_size": whole_number(batch_size, "batch_size"),
                        "max_epochs": whole_number(max_epochs, "max_epochs"),
                        "schedule": schedule, "precision": precision}
        (self.tuner, self.model, self.best, self.role) = (None, None, None, None)
        self.memo = (None, None)

    # --- the search

    def fit(self, x, y, epochs=None, validation_split=0.2, validation_data=None, verbose=None):
        """Search on pictures ``x`` and targets ``y``, scoring the candidates
        on ``validation_data`` or on a ``validation_split`` share of ``x``
        (None: 10% for 10,000 pictures or more, else 20%), then retrain the
        best on all of them when the time allows; ``epochs``: the longest
        trial's (None: the block's default, or what the time pays for).
        Returns self; on a distributed search's worker, once no trial is left."""
        import keras

        from .distributed import make_tuner
        from .hypermodel import ImageHyperModel
        from .oracle import Clock

        x = pictures(x, "x")
        if len(y) != len(x):
            raise ValueError(f"y has {len(y)} targets for {len(x)} pictures in x")
        self.head.adapt(y, "y")
        y = self.head.encode(y, "y")
        epochs = whole_number(epochs, "epochs")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (x, y)")
            held = (pictures(validation_data[0], "validation_data's x"),
                    self.head.encode(validation_data[1], "validation_data's y"))
            if held[0].shape[1:] != x.shape[1:] or len(held[0]) != len(held[1]):
                raise ValueError(f"validation_data's pictures must be shaped like x's, "
                                 f"{x.shape[1:]}, one target each")
        elif validation_split is not None and not (isinstance(validation_split, float)
                                                   and 0 < validation_split < 1):
            raise ValueError(f"validation_split must be a fraction between 0 and 1, got "
                             f"{validation_split!r}")
        settings = flags.resolve(self.block, x.shape[1], len(x), epochs=epochs,
                                 val_split=validation_split, **self.options)
        self.role = project.distributed_role()
        clock = Clock(settings.time_limit, reserve=CHIEF_SECONDS if self.role == "chief" else 0)
        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(settings.precision)
        try:
            print(f"[INFO] precision: {settings.precision} "
                  f"({flags.describe_precision(settings, self.options['precision'])})")
            keras.utils.set_random_seed(settings.seed)
            if validation_data is None:
                from ..splits import hold_out

                (fit_x, fit_y, val_x, val_y) = hold_out(
                    x, y, settings.val_split, settings.seed,
                    stratify=self.head.task == "classification")
                (all_x, all_y) = (x, y)
            else:
                ((fit_x, fit_y), (val_x, val_y)) = ((x, y), held)
                (all_x, all_y) = (np.concatenate([x, val_x]), np.concatenate([y, val_y]))
            print(f"[INFO] {len(fit_x)} pictures train the trials, {len(val_x)} score them")
            self.hypermodel = ImageHyperModel(self.block, self.head, settings, x.shape[1:],
                                              sample=fit_x[:5000])
            identity = project.identity(settings, task=self.head.task, image_size=x.shape[1],
                                        channels=x.shape[-1], pictures=len(x),
                                        data=fingerprint(x, y))
            finished = project.check_project(self.folder, identity, self.overwrite, self.role)
            if self.role != "worker":
                project.write_identity(self.folder, identity)
            project.announce(settings, self.folder, self.role, finished)
            self.tuner = make_tuner(self.hypermodel, settings, self.folder, self.overwrite,
                                    clock, self.role, fit_verbosity() if verbose is None
                                    else verbose)
            self.tuner.search(fit_x, fit_y, validation_data=(val_x, val_y))
            if self.role == "worker":
                return self
            self.best = self.tuner.oracle.best_trial()
            if self.best is None:
                raise UserError("no trial completed, so there is no model to export; the "
                                "errors are above")
            self.results_summary()
            copies = COPIES if self.head.task == "regression" and len(all_y) <= SMALL_SPLIT \
                else 1
            (self.model, self.retrained, self.epochs, self.copies) = self.tuner.export(
                self.best, all_x, all_y, clock, copies)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        return self

    def results_summary(self):
        """The trials table: rung, validation scores, epochs, seconds and
        hyperparameters of each; the one kept marked ``*``."""
        reporting.print_trial_table(self.trials(), int(self.best.trial_id) + 1)

    def trials(self):
        return reporting.trial_rows(self.tuner.oracle)

    # --- the model found

    def export_model(self):
        """The best network, a plain Keras model: ``model.save`` writes a file
        ``keras.models.load_model`` opens without this repository. It takes
        pictures as floats in [0, 1] and predicts one view of each."""
        if self.model is None:
            raise ValueError("there is no model yet: call fit first (a distributed search's "
                             "chief exports it, not its workers)")
        return self.model

    def test_views(self):
        """The views each picture's prediction averages: ``(shift, mirrored,
        weight)``; one view, ``(0, False, 1.0)``, where none are averaged."""
        self.export_model()
        return self.hypermodel.views(self.best.hyperparameters, test=True)

    def predict_outputs(self, x):
        """The model's outputs for ``x``, averaged over ``test_views()``
        (kept for the last ``x`` asked, which evaluate and predict share)."""
        x = pictures(x, "x")
        if x.shape[1:] != self.export_model().input_shape[1:]:
            raise ValueError(f"x must be pictures shaped {self.model.input_shape[1:]}, got "
                             f"{x.shape[1:]}")
        key = (x.shape, x.dtype.str, hashlib.sha1(np.ascontiguousarray(x).tobytes()).digest())
        if self.memo[0] != key:
            self.memo = (key, self.hypermodel.predict(self.best.hyperparameters, self.model,
                                                      x, test=True))
        return self.memo[1]

    def predict(self, x):
        """Classes (as ``y`` gave them) or numbers (shape ``(n, 1)``) for ``x``."""
        outputs = self.predict_outputs(x)
        return self.head.decode(outputs) if self.head.task == "classification" \
            else np.asarray(outputs, dtype="float64").reshape(-1, 1)

    def evaluate(self, x, y):
        """``[loss, accuracy]`` for a classifier (cross-entropy), ``[loss,
        mae]`` for a regressor (its training loss: squared error unless
        told otherwise), of ``predict``'s averaged outputs."""
        outputs = self.predict_outputs(x)
        if len(y) != len(outputs):
            raise ValueError(f"y has {len(y)} targets for {len(outputs)} pictures in x")
        return self.head.evaluate(outputs, self.head.encode(y, "y"))


class ImageClassifier(ImageSearch):
    """AutoKeras' ``ImageClassifier``: ``num_classes`` (None: the labels'),
    ``block_type`` and ``augment`` (``ImageBlock``'s), and ``ImageSearch``'s
    settings."""

    def __init__(self, num_classes=None, block_type=None, augment=None,
                 project_name="image_classifier", **kwargs):
        super().__init__(ClassificationHead(num_classes), ImageBlock(block_type, augment),
                         project_name=project_name, **kwargs)


class ImageRegressor(ImageSearch):
    """AutoKeras' ``ImageRegressor``: ``loss`` the mean squared error, or the
    mean absolute percentage error (prices); then as ``ImageClassifier``.
    On a few thousand pictures or fewer the winner is retrained as four
    copies whose mean is the prediction."""

    def __init__(self, loss="mean_squared_error", block_type=None, augment=None,
                 project_name="image_regressor", **kwargs):
        super().__init__(RegressionHead(loss), ImageBlock(block_type, augment),
                         project_name=project_name, **kwargs)


class AutoModel(ImageSearch):
    """AutoKeras' ``AutoModel`` for one picture input: ``outputs`` a head, or
    a head called on an ``ImageBlock`` called on ``inputs``."""

    def __init__(self, inputs, outputs, project_name="auto_model", **kwargs):
        (inputs, outputs) = (unlisted(inputs, "inputs"), unlisted(outputs, "outputs"))
        if not isinstance(inputs, ImageInput):
            raise TypeError(f"inputs must be an ImageInput(), got {inputs!r}")
        node = outputs if isinstance(outputs, Node) else Node(head=outputs)
        super().__init__(node.head, node.block, project_name=project_name, **kwargs)


def unlisted(value, name):
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ValueError(f"{name}: one picture input and one head are offered, got "
                             f"{len(value)}")
        return value[0]
    return value
