"""What a searched network predicts, AutoKeras' heads: a class or a number;
each adapts to the targets, encodes and decodes them, builds the last layers
and scores predictions (``scores``: the trials' loss; ``evaluate``)."""

import numpy as np


def flat(y, name):
    y = np.asarray(y)
    y = y[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.ndim != 1:
        raise ValueError(f"{name} must hold one target per picture, shape (n,) or (n, 1), "
                         f"got {np.shape(y)}")
    return y


class Head:
    """What the heads share: AutoKeras' call on a block's output, and Keras'
    ``evaluate`` (``[loss, accuracy]`` or ``[loss, mae]``)."""

    def __call__(self, node):
        return node.joined(head=self)

    def evaluate(self, outputs, targets):
        return list(self.scores(outputs, targets).values())


class ClassificationHead(Head):
    """One of ``num_classes`` classes (None: the labels'), given as numbers or names."""

    (task, metric, loss_name) = ("classification", "accuracy", "categorical_crossentropy")

    def __init__(self, num_classes=None):
        if num_classes is not None and (isinstance(num_classes, bool) or not isinstance(
                num_classes, (int, np.integer)) or num_classes < 2):
            raise ValueError(f"num_classes must be a whole number from 2, or None; got "
                             f"{num_classes!r}")
        (self.num_classes, self.classes, self.column) = (num_classes, None, False)

    def adapt(self, y, name="y"):
        y = np.asarray(y)
        if y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y))):
            raise ValueError(f"{name} holds fractions; a classifier takes class numbers or "
                             "names (ImageRegressor predicts numbers)")
        (self.classes, self.column) = (np.unique(flat(y, name)), y.ndim == 2)
        if len(self.classes) < 2 or len(self.classes) != (self.num_classes or len(self.classes)):
            raise ValueError(f"{name} holds {len(self.classes)} classes; expected "
                             f"{self.num_classes or 'two or more'}")
        return self

    def encode(self, y, name="y"):
        """One-hot rows of labels ``y``."""
        y = flat(y, name)
        found = np.searchsorted(self.classes, y).clip(0, len(self.classes) - 1)
        unknown = self.classes[found] != y
        if np.any(unknown):
            raise ValueError(f"{name} holds {y[unknown][0].item()!r}, which is not one of "
                             "the training labels' classes")
        return np.eye(len(self.classes), dtype="float32")[found]

    def decode(self, probabilities):
        labels = self.classes[np.asarray(probabilities).argmax(axis=1)]
        return labels[:, None] if self.column else labels

    def layers(self, keras, x, family):
        if family == "airbench":
            from ..airbench import classifier_head

            return classifier_head(keras, x, len(self.classes))
        return keras.layers.Dense(len(self.classes), activation="softmax", dtype="float32",
                                  name="classes")(x)

    def loss(self, keras, smoothing):
        # smoothed labels: a network kept from certainty has a validation
        # loss that follows its accuracy
        return keras.losses.CategoricalCrossentropy(label_smoothing=smoothing)

    @staticmethod
    def scores(probabilities, onehot, smoothing=0.0):
        """The cross-entropy against labels smoothed by ``smoothing``, and the accuracy."""
        (p, onehot) = (np.asarray(probabilities, "float64"), np.asarray(onehot, "float64"))
        target = onehot * (1.0 - smoothing) + smoothing / onehot.shape[1]
        loss = -np.mean(np.sum(target * np.log(np.clip(p, 1e-7, 1.0)), axis=1))
        return {"val_loss": float(loss) if np.isfinite(loss) else float("nan"),
                "val_accuracy": float(np.mean(p.argmax(axis=1) == onehot.argmax(axis=1)))}


class RegressionHead(Head):
    """A number per picture, in the targets' units: the network learns them
    standardised (or, with the percentage error, over the largest) and its
    last layer, a stock ``Rescaling``, takes its output back."""

    (task, metric) = ("regression", "mae")
    LOSSES = ("mean_squared_error", "mean_absolute_percentage_error")

    def __init__(self, loss="mean_squared_error"):
        if loss not in self.LOSSES:
            raise ValueError(f"loss must be one of {', '.join(self.LOSSES)}, got {loss!r}")
        (self.loss_name, self.mean, self.std, self.start) = (loss, 0.0, 1.0, 0.0)

    def adapt(self, y, name="y"):
        y = flat(y, name)
        if y.dtype.kind not in "iuf":
            raise TypeError(f"{name} must hold numbers, got {y.dtype}")
        y = y.astype("float64")
        if not np.all(np.isfinite(y) & (np.abs(y) <= np.finfo("float32").max)):
            raise ValueError(f"{name} holds targets that are not finite float32 numbers")
        if self.loss_name == "mean_squared_error":
            (self.mean, self.std) = (float(y.mean()), float(y.std()) or 1.0)
        elif np.any(y <= 0):
            raise ValueError(f"{name}: a percentage error needs targets above zero")
        else:
            # the output starts at the typical target, not at one many times
            # too large, which a percentage error punishes hard
            (self.std, self.start) = (float(y.max()), float(np.median(y) / y.max()))
        return self

    def encode(self, y, name="y"):
        return flat(y, name).astype("float32").reshape(-1, 1)

    @staticmethod
    def decode(predictions):
        return np.asarray(predictions, dtype="float64").reshape(-1)

    def layers(self, keras, x, family):
        x = keras.layers.Dense(1, kernel_initializer="zeros", dtype="float32", name="regression",
                               bias_initializer=keras.initializers.Constant(self.start))(x)
        return keras.layers.Rescaling(self.std, offset=self.mean, dtype="float32",
                                      name="target_units")(x)

    def loss(self, keras, smoothing):
        return self.loss_name

    def scores(self, predictions, targets, smoothing=0.0):
        """The training loss (squared or percentage error) and the MAE."""
        (p, t) = (self.decode(predictions), self.decode(targets))
        loss = np.mean((p - t) ** 2) if self.loss_name == "mean_squared_error" \
            else np.mean(np.abs((p - t) / t)) * 100
        return {"val_loss": float(loss), "val_mae": float(np.mean(np.abs(p - t)))}
