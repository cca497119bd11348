"""What the searched networks predict: a class (``ClassificationHead``) or a
number (``RegressionHead``), as AutoKeras' heads of the same names.

A head learns its targets from the training labels (``adapt``), turns them
into what the network trains on (``encode``) and back (``decode``), builds
the network's last layers, and scores predictions: ``scores`` with the loss
the trials are compared by, ``evaluate`` with what the chapter prints.
"""

import numpy as np


def _labels_array(y, name):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must hold one target per picture, shape (n,) or (n, 1); "
                         f"got shape {np.shape(y)}")
    return y


class ClassificationHead:
    """One of ``num_classes`` classes (None: as many as the labels have),
    labels given as class numbers or names, in any order."""

    task = "classification"
    metric = "accuracy"

    def __init__(self, num_classes=None):
        if num_classes is not None and (not isinstance(num_classes, (int, np.integer))
                                        or isinstance(num_classes, bool) or num_classes < 2):
            raise ValueError(f"num_classes must be a whole number of at least 2 or None, "
                             f"got {num_classes!r}")
        self.num_classes = num_classes
        self.classes = None
        self.column = False

    def __call__(self, node):
        """``ClassificationHead()(block_output)``: the AutoModel form."""
        return node.joined(head=self)

    def adapt(self, y, name="y"):
        y = np.asarray(y)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
            raise ValueError(f"{name} holds labels that are not finite numbers")
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError(f"{name} holds fractions; a classifier takes class numbers or "
                             f"names (use ImageRegressor for numbers to predict)")
        self.classes = np.unique(_labels_array(y, name))
        self.column = y.ndim == 2
        if len(self.classes) < 2:
            raise ValueError(f"{name} holds {len(self.classes)} class; a classifier needs "
                             f"two or more")
        if self.num_classes is not None and len(self.classes) != self.num_classes:
            raise ValueError(f"{name} holds {len(self.classes)} classes, but num_classes is "
                             f"{self.num_classes}")
        return self

    def numbers(self, y, name="y"):
        """Class numbers, 0 to C-1, of labels ``y``."""
        y = _labels_array(y, name)
        found = np.searchsorted(self.classes, y).clip(0, len(self.classes) - 1)
        unknown = self.classes[found] != y
        if np.any(unknown):
            raise ValueError(f"{name} holds {y[unknown][0]!r}, a class the training labels "
                             f"do not have ({', '.join(map(str, self.classes[:10]))})")
        return found

    def encode(self, y, name="y"):
        return np.eye(len(self.classes), dtype="float32")[self.numbers(y, name)]

    def decode(self, probabilities):
        labels = self.classes[np.asarray(probabilities).argmax(axis=1)]
        return labels[:, None] if self.column else labels

    def layers(self, keras, x, block):
        if block == "airbench":
            from . import airbench

            return airbench.classifier_head(keras, x, len(self.classes))
        return keras.layers.Dense(len(self.classes), activation="softmax", dtype="float32",
                                  name="classes")(x)

    def loss(self, keras, smoothing):
        # smoothed one-hot labels: a network kept from certainty has a
        # validation loss that follows its accuracy
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)

    @staticmethod
    def scores(probabilities, onehot, smoothing=0.0):
        """Cross-entropy against ``onehot`` smoothed by ``smoothing`` (the
        training loss) and accuracy."""
        probabilities = np.asarray(probabilities, dtype="float64")
        onehot = np.asarray(onehot, dtype="float64")
        target = onehot * (1.0 - smoothing) + smoothing / onehot.shape[1]
        loss = -np.mean(np.sum(target * np.log(np.clip(probabilities, 1e-7, 1.0)), axis=1))
        accuracy = np.mean(probabilities.argmax(axis=1) == onehot.argmax(axis=1))
        return {"val_loss": float(loss) if np.isfinite(loss) else float("nan"),
                "val_accuracy": float(accuracy)}

    def evaluate(self, probabilities, onehot):
        """``[loss, accuracy]``, as Keras' ``evaluate`` prints them."""
        s = self.scores(probabilities, onehot)
        return [s["val_loss"], s["val_accuracy"]]


class RegressionHead:
    """A number per picture, predicted in the targets' own units: the network
    learns them standardised, or (``loss`` the mean absolute percentage
    error: prices) divided by the largest, and its last layer, a stock
    ``Rescaling``, takes its output back."""

    task = "regression"
    metric = "mae"
    LOSSES = ("mean_squared_error", "mean_absolute_percentage_error")

    def __init__(self, loss="mean_squared_error"):
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(self.LOSSES)}, got {loss!r}")
        self.loss_name = loss
        (self.mean, self.std, self.start) = (0.0, 1.0, 0.0)

    def __call__(self, node):
        return node.joined(head=self)

    def adapt(self, y, name="y"):
        y = _labels_array(y, name)
        if y.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold numbers, got {y.dtype} values")
        y = y.astype("float64")
        if not np.all(np.isfinite(y)) or np.any(np.abs(y) > np.finfo("float32").max):
            raise ValueError(f"{name} holds targets that are not finite float32 numbers")
        if self.loss_name == "mean_squared_error":
            (self.mean, self.std, self.start) = (float(y.mean()), float(y.std()) or 1.0, 0.0)
        else:
            if np.any(y <= 0):
                raise ValueError(f"{name}: a percentage error needs targets above zero")
            # the output starts at the typical target, not at a value many
            # times too large, which a percentage error punishes hard
            (self.mean, self.std) = (0.0, float(y.max()))
            self.start = float(np.median(y)) / self.std
        return self

    def encode(self, y, name="y"):
        return _labels_array(y, name).astype("float32").reshape(-1, 1)

    @staticmethod
    def decode(predictions):
        return np.asarray(predictions, dtype="float64").reshape(-1)

    def layers(self, keras, x, block):
        x = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32",
                               bias_initializer=keras.initializers.Constant(self.start),
                               name="regression")(x)
        return keras.layers.Rescaling(self.std, offset=self.mean, dtype="float32",
                                      name="target_units")(x)

    def loss(self, keras, smoothing):
        return self.loss_name

    def scores(self, predictions, targets, smoothing=0.0):
        """The training loss (squared or percentage error) and the MAE."""
        errors = self.decode(predictions) - self.decode(targets)
        if self.loss_name == "mean_squared_error":
            loss = np.mean(errors ** 2)
        else:
            loss = np.mean(np.abs(errors / self.decode(targets))) * 100
        return {"val_loss": float(loss), "val_mae": float(np.mean(np.abs(errors)))}

    def evaluate(self, predictions, targets):
        """``[loss, mae]``: the squared (or percentage) error and the MAE."""
        s = self.scores(predictions, targets)
        return [s["val_loss"], s["val_mae"]]
