"""The chapter's searchers as AutoKeras names them (``ImageClassifier``,
``ImageRegressor``, ``AutoModel``): a thin layer over KerasTuner's
hypermodel (``hypermodel.py``), oracle (``oracle.py``) and tuner (``tuner.py``).
"""

import hashlib
import os

import numpy as np

from .. import reports
from ..errors import SettingError, UserError
from . import project
from .blocks import ImageBlock
from .heads import ClassificationHead, RegressionHead
from .settings import PRECISIONS, SCHEDULES, resolve

COPIES = 4            # of a regressor's winner, retrained and averaged...
SMALL_SPLIT = 2000    # ...when it has at most this many training pictures
CHIEF_SECONDS = 25.0  # KerasTuner's chief waits up to 20 s for its workers to leave


def pictures(x, name="x"):
    """``x`` as ``(n, height, width, channels)`` pictures, uint8 or floats in
    [0, 1] (floats up to 255 are scaled); the caller's array is left as it was."""
    if not hasattr(x, "shape") and not isinstance(x, (list, tuple)):
        raise TypeError(f"{name} must be a NumPy array of pictures, got {type(x).__name__}")
    x = np.asarray(x)
    x = x[..., None] if x.ndim == 3 else x   # grey pictures without a channel axis
    if x.dtype.kind not in "uif" or x.ndim != 4 or x.shape[-1] not in (1, 3) \
            or min(x.shape[1:3]) < 8:
        raise ValueError(f"{name} must be pictures, numbers shaped (n, height, width, 1 or 3) "
                         f"of 8 pixels or more; got {x.dtype} shaped {np.shape(x)}")
    if x.dtype == np.uint8:
        return x
    (low, high) = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if not 0 <= low <= high <= 255:
        raise ValueError(f"{name} holds values from {low:g} to {high:g}; pixels go from 0 to "
                         "1 (floats) or 0 to 255")
    if x.dtype.kind in "ui":
        return x.astype("uint8")
    return (x / 255.0 if high > 1.0 else x).astype("float32", copy=False)


def whole(value, name, least=1):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))
                              or value < least):
        raise ValueError(f"{name} must be a whole number from {least}, or None; got {value!r}")
    return None if value is None else int(value)


def one_of(value, name, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def digest(x):
    return hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]


class Node:
    """A step of ``AutoModel``'s functional form."""

    def __init__(self, block=None, head=None):
        (self.block, self.head) = (block, head)

    def joined(self, block=None, head=None):
        return Node(block or self.block, head or self.head)


class ImageInput(Node):
    """The pictures, as AutoKeras' ``ImageInput``."""


class ImageSearch:
    """A search of ``max_trials`` networks of ``block`` ending in ``head``, its
    ``fit`` within ``time_limit`` minutes (None: no limit), kept (and resumed)
    in ``directory/project_name``; ``batch_size``, ``max_epochs``,
    ``schedule`` and ``precision`` left out: the block's (``settings.resolve``)."""

    def __init__(self, head, block=None, max_trials=2, time_limit=None, directory=None,
                 project_name="image_search", overwrite=False, seed=None, batch_size=None,
                 max_epochs=None, schedule=None, precision="auto"):
        if not isinstance(head, (ClassificationHead, RegressionHead)) or not isinstance(
                block or ImageBlock(), ImageBlock):
            raise TypeError(f"expected a head and an ImageBlock, got {head!r} and {block!r}")
        if time_limit is not None and not (isinstance(time_limit, (int, float)) and
                                           0 < time_limit < float("inf")):
            raise ValueError(f"time_limit must be a positive number of minutes, or None; got "
                             f"{time_limit!r}")
        if not isinstance(project_name, str) or not project_name or os.sep in project_name:
            raise ValueError(f"project_name must be a folder's name, got {project_name!r}")
        (self.head, self.block) = (head, block or ImageBlock())
        self.folder = os.path.join(os.fspath(directory or "."), project_name)
        self.overwrite = bool(overwrite)
        self.options = {"max_trials": whole(max_trials, "max_trials") or 2,
                        "time_limit": time_limit,
                        "seed": 42 if seed is None else whole(seed, "seed", 0),
                        "batch_size": whole(batch_size, "batch_size"),
                        "max_epochs": whole(max_epochs, "max_epochs"),
                        "schedule": one_of(schedule, "schedule", SCHEDULES + (None,)),
                        "precision": one_of(precision, "precision", PRECISIONS)}
        (self.tuner, self.model, self.best, self.role, self.memo) = (None,) * 4 + ((None, None),)

    def checked(self, x, y, validation_data, validation_split):
        """The pictures and encoded targets, and the held-out ones if given;
        a mistake is a ValueError or TypeError before anything trains."""
        x = pictures(x, "x")
        if len(y) != len(x):
            raise ValueError(f"y has {len(y)} targets for {len(x)} pictures in x")
        y = self.head.adapt(y, "y").encode(y, "y")
        if validation_data is None:
            if validation_split is not None and not (isinstance(validation_split, float)
                                                     and 0 < validation_split < 1):
                raise ValueError(f"validation_split must be a fraction between 0 and 1; got "
                                 f"{validation_split!r}")
            return x, y, None
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data must be a pair (x, y)")
        held = (pictures(validation_data[0], "validation_data's x"),
                self.head.encode(validation_data[1], "validation_data's y"))
        if held[0].shape[1:] != x.shape[1:] or len(held[0]) != len(held[1]):
            raise ValueError(f"validation_data must hold pictures shaped like x's, "
                             f"{x.shape[1:]}, with a target each")
        return x, y, held

    def fit(self, x, y, epochs=None, validation_split=None, validation_data=None, verbose=2,
            test_pictures=0):
        """Search on pictures ``x`` and targets ``y``, scoring on
        ``validation_data`` or a ``validation_split`` of ``x`` (None: 10% from
        10,000 pictures, else 20%); the best then learns all of them (with a
        ``time_limit``, in the top rung; else retrained). ``epochs``: the
        longest trial's (None: the block's, or what the time pays for);
        ``verbose``: Keras' (2: a line an epoch); ``test_pictures``: how many
        pictures ``evaluate`` or ``predict`` will be given afterwards, within
        ``time_limit``: their time is kept from the start, and the model the
        search ends with gets back what its measured speed does not need (a
        ``time_limit`` that cannot pay for them is a ValueError)."""
        import keras

        from ..fast import stock_steps
        from ..splits import hold_out
        from .distributed import make_tuner
        from .hypermodel import ImageHyperModel
        from .oracle import MIN_TRIAL_SECONDS, Clock, top_rung, top_share

        (x, y, held) = self.checked(x, y, validation_data, validation_split)
        test_pictures = whole(test_pictures, "test_pictures", least=0) or 0
        settings = resolve(self.block, x.shape[1], len(x), self.head.task,
                           epochs=whole(epochs, "epochs"),
                           val_split=validation_split, **self.options)
        self.role = project.distributed_role()
        clock = Clock(settings.time_limit, reserve=CHIEF_SECONDS if self.role == "chief" else 0)
        policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(settings.precision)
        try:
            why = "as asked" if self.options["precision"] != "auto" else \
                f"{reports.cpu_info() or 'this CPU'}: {reports.native_bfloat16() or 'no bfloat16'}"
            print(f"[INFO] precision: {settings.precision} ({why})")
            keras.utils.set_random_seed(settings.seed)
            if held is None:
                (fit_x, fit_y, val_x, val_y) = hold_out(
                    x, y, settings.val_split, settings.seed,
                    stratify=self.head.task == "classification")
                (all_x, all_y) = (x, y)
            else:
                ((fit_x, fit_y), (val_x, val_y)) = ((x, y), held)
                (all_x, all_y) = (np.concatenate([x, val_x]), np.concatenate([y, val_y]))
            print(f"[INFO] {len(fit_x)} pictures train the trials, {len(val_x)} score them")
            self.hypermodel = ImageHyperModel(self.block, self.head, settings, x.shape[1:],
                                              sample=fit_x[:5000], test_pictures=test_pictures)
            kept = clock.kept = self.hypermodel.kept_for_test()
            if kept and clock.limit is not None and clock.left() < MIN_TRIAL_SECONDS:
                raise SettingError(
                    f"time_limit leaves {reports.format_seconds(clock.left() + kept)} for the "
                    f"search, too little once {reports.format_seconds(kept)} are kept to predict "
                    f"the {test_pictures} test_pictures afterwards; give it more time")
            identity = project.identity(settings, task=self.head.task, loss=self.head.loss_name,
                                        image_size=x.shape[1], channels=x.shape[-1],
                                        pictures=len(x),
                                        data=digest(x[::max(1, len(x) // 1000)]) + digest(y))
            finished = project.check_project(self.folder, identity, self.overwrite, self.role)
            if self.role != "worker":
                project.write_identity(self.folder, identity)
            project.announce(settings, self.folder, self.role, finished)
            if kept and clock.limit is not None and self.role != "worker":
                print(f"[INFO] {reports.format_seconds(kept)} of it kept to predict the "
                      f"{test_pictures} test pictures afterwards; the winner gets back what "
                      "its measured speed does not need", flush=True)
            if clock.limit is not None and self.role == "single" and \
                    (self.overwrite or not project.has_trials(self.folder)):
                top = top_share(top_rung(settings.max_trials))
                sized = self.hypermodel.size_first_network(clock.left() * top, fit_x, fit_y,
                                                           len(all_y))
                if sized:
                    print(sized, flush=True)
            self.tuner = make_tuner(self.hypermodel, settings, self.folder, self.overwrite,
                                    clock, self.role, verbose)
            self.tuner.search(fit_x, fit_y, validation_data=(val_x, val_y))
            if self.role == "worker":
                return self
            self.best = self.tuner.oracle.best_trial()
            if self.best is None:
                raise UserError("no trial completed, so there is no model to export; the "
                                "errors are above")
            self.results_summary()
            small = self.head.task == "regression" and len(all_y) <= SMALL_SPLIT
            (model, self.retrained, self.epochs, self.copies) = self.tuner.export(
                self.best, all_x, all_y, clock, COPIES if small else 1)
            # a plain Keras model, whichever way it was made: its training's
            # steps (Muon, fused kernels) no longer bound on its objects
            self.model = stock_steps(model)
        finally:
            keras.mixed_precision.set_global_policy(policy)
        return self

    def results_summary(self):
        """The trials' table, the one kept marked ``*``."""
        reports.print_trial_table(self.trials(), int(self.best.trial_id) + 1)

    def trials(self):
        return reports.trial_rows(self.tuner.oracle)

    def export_model(self):
        """The best network, a plain Keras model (floats in [0, 1], one view)."""
        if self.model is None:
            raise ValueError("there is no model yet: call fit first (a distributed search's "
                             "chief exports it, not its workers)")
        return self.model

    def test_views(self):
        """The views each prediction averages, ``(shift, mirrored, weight)``."""
        self.export_model()
        return self.hypermodel.views(self.best.hyperparameters, test=True)

    def predict_outputs(self, x):
        """Outputs averaged over ``test_views()``, kept for the last ``x``."""
        x = pictures(x, "x")
        if x.shape[1:] != self.export_model().input_shape[1:]:
            raise ValueError(f"x must hold pictures shaped {self.model.input_shape[1:]}, got "
                             f"{x.shape[1:]}")
        if self.memo[0] != (x.shape, digest(x)):
            self.memo = ((x.shape, digest(x)), self.hypermodel.predict(
                self.best.hyperparameters, self.model, x, test=True))
        return self.memo[1]

    def predict(self, x):
        """Classes, as ``y`` gave them, or numbers shaped ``(n, 1)``."""
        outputs = self.predict_outputs(x)
        return self.head.decode(outputs) if self.head.task == "classification" \
            else self.head.decode(outputs).reshape(-1, 1)

    def evaluate(self, x, y):
        """``[loss, accuracy]`` or ``[loss, mae]`` of the averaged outputs."""
        outputs = self.predict_outputs(x)
        if len(y) != len(outputs):
            raise ValueError(f"y has {len(y)} targets for {len(outputs)} pictures in x")
        return self.head.evaluate(outputs, self.head.encode(y, "y"))


class ImageClassifier(ImageSearch):
    """AutoKeras' ``ImageClassifier``."""

    def __init__(self, num_classes=None, block_type=None, augment=None,
                 project_name="image_classifier", **kwargs):
        super().__init__(ClassificationHead(num_classes), ImageBlock(block_type, augment),
                         project_name=project_name, **kwargs)


class ImageRegressor(ImageSearch):
    """AutoKeras' ``ImageRegressor``; on ``SMALL_SPLIT`` pictures or fewer the
    winner is retrained as ``COPIES`` copies, whose mean it predicts."""

    def __init__(self, loss="mean_squared_error", block_type=None, augment=None,
                 project_name="image_regressor", **kwargs):
        super().__init__(RegressionHead(loss), ImageBlock(block_type, augment),
                         project_name=project_name, **kwargs)


class AutoModel(ImageSearch):
    """AutoKeras' ``AutoModel``: a head, or a head called on an ``ImageBlock``."""

    def __init__(self, inputs, outputs, project_name="auto_model", **kwargs):
        (inputs, outputs) = ([v] if isinstance(v, Node) or not isinstance(v, (list, tuple))
                             else list(v) for v in (inputs, outputs))
        if len(inputs) != 1 or len(outputs) != 1 or not isinstance(inputs[0], ImageInput):
            raise ValueError("AutoModel takes one ImageInput() and one head")
        node = outputs[0] if isinstance(outputs[0], Node) else Node(head=outputs[0])
        super().__init__(node.head, node.block, project_name=project_name, **kwargs)
