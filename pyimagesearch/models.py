"""Model builders for the house-price posts (parts 1-3)."""

from keras import Input, Model
from keras.layers import (Activation, BatchNormalization, Conv2D, Dense, Dropout,
                          Flatten, MaxPooling2D)


def create_mlp(dim, regress=False):
    """A small multi-layer perceptron: dim -> 8 -> 4 (-> 1 when regressing).

    Without the regression head it ends in 4 units, so it can be one branch
    of the mixed-data model. The post builds it as a ``Sequential``; it is
    written with Keras' functional API here because the mixed model takes
    the branch's ``.input`` and ``.output``, which a Keras 3 ``Sequential``
    no longer has (the same layers, the same weights).
    """
    inputs = Input(shape=(dim,))
    x = Dense(8, activation="relu")(inputs)
    x = Dense(4, activation="relu")(x)

    # a single linear unit predicts the (scaled) price
    if regress:
        x = Dense(1, activation="linear")(x)
    return Model(inputs, x, name="mlp")


def create_cnn(width, height, depth, filters=(16, 32, 64), regress=False):
    """CONV => RELU => BN => POOL per filter size, then FC 16 => FC 4.

    Channels last (TensorFlow's layout). Like the MLP it ends in 4 units so
    the two branches can be concatenated for the mixed-data model.
    """
    inputShape = (height, width, depth)
    chanDim = -1

    inputs = Input(shape=inputShape)
    x = inputs
    for f in filters:
        x = Conv2D(f, (3, 3), padding="same")(x)
        x = Activation("relu")(x)
        x = BatchNormalization(axis=chanDim)(x)
        x = MaxPooling2D(pool_size=(2, 2))(x)

    # flatten the volume, then FC => RELU => BN => DROPOUT
    x = Flatten()(x)
    x = Dense(16)(x)
    x = Activation("relu")(x)
    x = BatchNormalization(axis=chanDim)(x)
    x = Dropout(0.5)(x)

    # another FC layer, 4 units to match the number of MLP outputs
    x = Dense(4)(x)
    x = Activation("relu")(x)

    if regress:
        x = Dense(1, activation="linear")(x)
    return Model(inputs, x, name="cnn")


def side_by_side(copies, name, dtype=None):
    """Copies of one network (each with its own fresh weights) joined into
    one model with one output column per copy, and the model that predicts
    their mean: ``(joined, mean)``. Trained on targets shaped ``(n, 1)``, a
    Keras loss (which averages over the last axis) gives each copy the
    gradient it would have alone, divided by the number of copies: with
    Adam, whose steps do not scale with the gradient, each copy trains as
    if alone, all in the same steps. The mean is what the copies agree on.
    ``dtype``: of the joining layers (float32 under a mixed policy)."""
    from keras.layers import Average, Concatenate

    template = copies[0]
    inputs = [Input(shape=t.shape[1:], name=f"input_{i + 1}")
              for i, t in enumerate(template.inputs)]
    feed = inputs if len(inputs) > 1 else inputs[0]
    # unique names for the copies (their layers may keep theirs)
    copies = [Model(m.inputs if len(m.inputs) > 1 else m.inputs[0], m.outputs[0],
                    name=f"{template.name}_{i + 1}") for i, m in enumerate(copies)]
    outputs = [m(feed) for m in copies]
    joined = Model(feed, Concatenate(name="members", dtype=dtype)(outputs),
                   name=f"{name}_ensemble")
    return joined, Model(feed, Average(name="mean_price", dtype=dtype)(outputs), name=name)

