"""The networks searched, AutoKeras' ``ImageBlock``: ``block_type`` airbench
(``pyimagesearch/airbench.py``), vanilla (conv stacks of the SmallVGGNet
family, by default close to SmallVGGNet for a classifier, to the house CNN
for a regressor), or Keras' untrained ResNet50V2, Xception, EfficientNetB0.
Augmentation is done in the input pipeline: the model holds only the
network. Keras is imported where used, so scripts check flags first."""

from .. import airbench

FAMILIES = ("airbench", "vanilla", "resnet", "xception", "efficient")
# the airbench family by default from AIRBENCH_MIN_SIDE to CIFAR-10's size, a
# regressor's to 128 px, where it learns faces' ages better (bench/README.md)
SMALL_IMAGE = {"classification": 32, "regression": 128}


def sgd_recipe(family, task):
    """Whether airbench's SGD recipe trains it: its rates suit a cross-entropy."""
    return family == "airbench" and task == "classification"

MIN_SIDE = {"resnet": 32, "xception": 71, "efficient": 32}
# the airbench family's 2x2 stem and three halvings leave nothing of fewer
AIRBENCH_MIN_SIDE = 9
# a vanilla search's first trial, by task: small networks for few pictures
VANILLA_DEFAULTS = {
    "classification": {"blocks": 3, "filters": 32, "convs": 1, "dropout": 0.25,
                       "units": 256, "head_dropout": 0.5},
    "regression": {"blocks": 3, "filters": 16, "convs": 1, "dropout": 0.0,
                   "units": 16, "head_dropout": 0.5},
}


class ImageBlock:
    """``block_type``: one of ``FAMILIES``, ``"any"`` (searched) or None
    (airbench from ``AIRBENCH_MIN_SIDE`` to the task's ``SMALL_IMAGE``
    pixels, else vanilla); ``augment``: True, False or None (searched; on
    for the airbench family)."""

    def __init__(self, block_type=None, augment=None):
        if block_type not in FAMILIES + ("any", None):
            raise ValueError(f"block_type must be one of {', '.join(FAMILIES)}, 'any' or "
                             f"None, got {block_type!r}")
        if augment not in (True, False, None):
            raise TypeError(f"augment must be True, False or None (searched), got {augment!r}")
        (self.block_type, self.augment) = (block_type, augment)

    def __call__(self, node):
        return node.joined(block=self)

    def resolved(self, side, task):
        if self.block_type == "airbench" and side < AIRBENCH_MIN_SIDE:
            raise ValueError(f"block_type 'airbench' needs pictures of {AIRBENCH_MIN_SIDE} "
                             f"pixels or more; these have {side}")
        small = AIRBENCH_MIN_SIDE <= side <= SMALL_IMAGE[task]
        return self.block_type or ("airbench" if small else "vanilla")

    def family(self, hp, side, task):
        chosen = self.resolved(side, task)
        if chosen != "any":
            return chosen
        families = [f for f in FAMILIES if f != "airbench" or side >= AIRBENCH_MIN_SIDE]
        return hp.Choice("block", families, default=families[0])

    def augments(self, hp, task, family):
        """Searched: first on for a classifier, off for a vanilla regressor
        (the houses). Always on for the airbench family, as in its recipe
        (its flips keep a face's age): a first rung of an epoch or two
        would pick a network without it, which a long top rung then
        overfits (bench/README.md)."""
        if self.augment is None:
            if family == "airbench":
                return True
            return hp.Boolean("augment", default=task == "classification")
        return self.augment

    def augmentation(self, hp, family, task):
        """A function of a batch of pictures in [0, 1] and a seed, or None."""
        if not self.augments(hp, task, family):
            return None
        if family == "airbench":
            translate = hp.Choice("airbench_translate", [2, 4], default=2)
            return lambda images, seed: airbench.flip_and_translate(images, seed, translate)
        return affine_augmentation(task)


def affine_augmentation(task):
    """The post's ``ImageDataGenerator`` ranges for a classifier; milder
    zooms and mirrored edges for a regressor, whose target may depend on
    the framing."""
    from functools import partial

    from ..augmentation import image_data_generator, random_affine

    if task == "classification":
        return image_data_generator(rotation_range=30, width_shift_range=0.1,
                                    height_shift_range=0.1, shear_range=0.2, zoom_range=0.2,
                                    horizontal_flip=True, fill_mode="nearest")
    return partial(random_affine, rotation=28.8, width_shift=0.1, height_shift=0.1, zoom=0.1,
                   horizontal_flip=True, fill_mode="REFLECT")


def airbench_features(hp, x, mean, std, widths=airbench.DEFAULT_WIDTHS):
    """The airbench family's body, ``widths`` (a key of ``airbench.WIDTHS``)
    the first trial's."""
    import keras

    widths = hp.Choice("airbench_widths", list(airbench.WIDTHS), default=widths)
    convs = hp.Int("airbench_convs", 2, 3, default=2)
    activation = hp.Choice("airbench_activation", ["gelu", "relu"], default="gelu")
    residual = hp.Boolean("airbench_residual", default=False)
    return airbench.features(keras, x, mean, std, widths=airbench.WIDTHS[widths], convs=convs,
                             activation=activation, residual=residual)


def vanilla_features(hp, x, task):
    """(CONV => BN => RELU) * k => POOL => DROPOUT blocks, the width doubling
    from block to block, then FC => BN => RELU => DROPOUT."""
    import keras

    layers = keras.layers
    d = VANILLA_DEFAULTS[task]
    blocks = hp.Int("vanilla_blocks", 2, 4, default=d["blocks"])
    filters = hp.Choice("vanilla_filters", [16, 32, 64], default=d["filters"])
    convs = hp.Int("vanilla_convs_per_block", 1, 2, default=d["convs"])
    batch_norm = hp.Boolean("vanilla_batch_norm", default=True)
    dropout = hp.Choice("vanilla_dropout", [0.0, 0.25], default=d["dropout"])
    pooling = hp.Choice("vanilla_pooling", ["flatten", "global_average"], default="flatten")
    units = hp.Choice("vanilla_units", [16, 64, 256, 512], default=d["units"])
    head_dropout = hp.Choice("vanilla_head_dropout", [0.0, 0.25, 0.5],
                             default=d["head_dropout"])
    for b in range(blocks):
        for _ in range(convs):
            x = layers.Conv2D(filters * 2 ** b, (3, 3), padding="same",
                              use_bias=not batch_norm)(x)
            if batch_norm:
                x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
        # no pooling past 2x2: very small pictures, deep stacks
        if x.shape[1] >= 4 and x.shape[2] >= 4:
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        if dropout > 0:
            x = layers.Dropout(dropout)(x)
    x = layers.Flatten()(x) if pooling == "flatten" else layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(units, use_bias=not batch_norm)(x)
    if batch_norm:
        x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    return layers.Dropout(head_dropout)(x) if head_dropout > 0 else x


def application_features(hp, family, x):
    """A Keras application, untrained (grey pictures as three channels)."""
    import keras

    layers = keras.layers
    if x.shape[-1] == 1:
        x = layers.Concatenate(name="grey_to_rgb")([x, x, x])
    side = max(MIN_SIDE[family], int(x.shape[1]), int(x.shape[2]))
    if (int(x.shape[1]), int(x.shape[2])) != (side, side):
        x = layers.Resizing(side, side, name=f"{family}_resize")(x)
    options = {"include_top": False, "weights": None, "input_shape": (side, side, 3),
               "pooling": "avg"}
    if family == "resnet":
        base = keras.applications.ResNet50V2(**options)
    elif family == "xception":
        base = keras.applications.Xception(**options)
    else:
        # EfficientNet rescales [0, 255] pixels itself; ours are in [0, 1]
        x = layers.Rescaling(255.0, name="to_0_255")(x)
        base = keras.applications.EfficientNetB0(**options)
    x = base(x)
    dropout = hp.Choice(f"{family}_dropout", [0.0, 0.25, 0.5], default=0.25)
    return layers.Dropout(dropout)(x) if dropout > 0 else x
