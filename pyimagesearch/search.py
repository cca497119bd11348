"""Automated model search for images (part 5, the AutoKeras chapter) on KerasTuner.

The chapter hands a folder of images to AutoKeras' ``ImageClassifier`` /
``ImageRegressor``, which tries ``max_trials`` candidate networks, trains
each until its validation loss stops improving, keeps the best, retrains it
and exports it as a Keras model. AutoKeras is a layer of search spaces over
KerasTuner; this module is that layer, written for these scripts:

* ``ImageHyperModel``: the search space. ``vanilla`` blocks are conv stacks
  of the SmallVGGNet family (searched depth, width, convolutions per block,
  batch normalization, dropout, head width, learning rate);
  ``resnet`` / ``xception`` / ``efficient`` are Keras' own ResNet50V2,
  Xception and EfficientNetB0 with ``weights=None``, fed images enlarged to
  the smallest size each accepts. Augmentation, on or off, is random affine
  transforms of the training batches in the input pipeline (the post's
  ranges for a classifier). Batch normalization and Adam train on
  TensorFlow's fused kernels (``fast.py``, as the posts' scripts do);
  ``storage.save_model`` exports Keras' own classes, so the model loads
  with plain ``keras.models.load_model``.
* ``SearchOracle``: KerasTuner's random search whose first trial is the
  space's defaults (a SmallVGGNet-like network, as AutoKeras starts from
  known-good settings), which stops starting trials when ``--time-limit``
  would be passed, and prints one progress line per finished trial. It lives
  in the process that holds the search (a single process, or the chief of a
  distributed search), so its lines appear there.
* The project folder: ``search.json`` names what is being searched, so
  rerunning the same command resumes and a different search is refused
  (``check_project``); the trials table and the grid of test pictures.

Distributed search is KerasTuner's own: every process runs the same command;
``KERASTUNER_TUNER_ID=chief`` holds the oracle (a gRPC server at
``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT``), any other id is a worker
that asks it for trials and trains them.

Nothing here imports TensorFlow, Keras or KerasTuner at module level: the
scripts check their flags first. ``make_tuner`` and the builders import
them when called.
"""

import argparse
import json
import os
import time

import numpy as np

from .cli import UserError, add_seed_flag

BLOCKS = ("vanilla", "resnet", "xception", "efficient")
PROJECT_NAME = "trials"          # KerasTuner's folder inside --project-dir
IDENTITY_FILE = "search.json"    # what this --project-dir searches

# The smallest input each of Keras' applications accepts (include_top=False);
# smaller images are enlarged to it inside the model.
MIN_SIDE = {"resnet": 32, "xception": 71, "efficient": 32}

# Trials are judged on the validation loss averaged over this many epochs
# (``MeanValidationLoss``), logged under this name.
MEAN_EPOCHS = 5
MEAN_VAL_LOSS = "val_loss_mean"

# The classifier's loss takes one-hot labels smoothed by this much (the
# improved SmallVGGNet recipe's figure).
LABEL_SMOOTHING = 0.1

# How trials are trained and scored, recorded in search.json: a project
# folder whose trials were scored another way (an earlier version of these
# scripts) is not resumed, since its scores would not compare.
SCORING = f"mean of {MEAN_EPOCHS} epochs, label smoothing {LABEL_SMOOTHING}, v3"


# --------------------------------------------------------------------------
# Flags both scripts share


def minutes(text):
    """argparse type: a positive number of minutes."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, got {text!r}")
    return value


# How the learning rate moves while a trial trains (--schedule):
# ``cosine``: a warm-up of ``WARMUP_EPOCHS``, then a cosine down to zero over
# the trial's epochs (the improved SmallVGGNet recipe's schedule);
# ``plateau``: constant, halved whenever the averaged validation loss stalls.
SCHEDULES = ("cosine", "plateau")
WARMUP_EPOCHS = 5

# A trial's epochs, patience and schedule, and the batch size, for what is
# searched. Images anneal over 100 epochs, all of which a trial trains: a
# network of this size gains its last points of accuracy only at small
# learning rates, which halving on a noisy plateau reaches too late or not
# at all (the animals: 76-77% against 82%). The houses get the post's 200
# epochs and batch of 8, and the plateau rule their search was measured
# with; the averaged validation loss of 55 houses wanders for ten epochs
# and more while the network still improves, hence a patience of 20.
TRAINING_DEFAULTS = {
    "images": {"max_epochs": 100, "patience": 20, "batch_size": 32, "schedule": "cosine"},
    "houses": {"max_epochs": 200, "patience": 20, "batch_size": 8, "schedule": "plateau"},
}


def add_search_flags(ap, name, maxTrials=2):
    """The flags of the chapter's searcher, shared by both scripts.

    ``name`` (``search_classifier`` / ``search_regressor``) names the default
    output files under ``output/``. ``--max-epochs``, ``--patience``,
    ``--batch-size`` and ``--schedule`` left out take ``TRAINING_DEFAULTS``
    (``fill_training_defaults``).
    """
    from .cli import fraction, positive_int

    images, houses = TRAINING_DEFAULTS["images"], TRAINING_DEFAULTS["houses"]
    forHouses = name == "search_regressor"

    def default(flag):
        text = f"default: {images[flag]}"
        if forHouses and houses[flag] != images[flag]:
            text += f"; {houses[flag]} for the houses"
        return text

    ap.add_argument("--max-trials", type=positive_int, default=maxTrials,
                    help=f"candidate networks to try (default: {maxTrials}); rerun with "
                         "a larger number to continue a search")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help="epochs per trial (default: --max-epochs with --schedule cosine; "
                         "with plateau, adaptive: until the validation loss, averaged "
                         "over 5 epochs, stops improving for --patience epochs)")
    ap.add_argument("--max-epochs", type=positive_int, default=None,
                    help="a trial's epochs when --epochs is left out: the cosine's "
                         f"length, the plateau's cap ({default('max_epochs')})")
    ap.add_argument("--patience", type=positive_int, default=None,
                    help="with --schedule plateau and no --epochs, stop a trial after "
                         "this many epochs without a lower averaged validation loss, "
                         "and halve the learning rate after half as many "
                         f"({default('patience')})")
    ap.add_argument("--schedule", choices=SCHEDULES, default=None,
                    help=f"the learning rate in a trial: cosine, a {WARMUP_EPOCHS}-epoch "
                         "warm-up and then down to zero over all the trial's epochs; "
                         "plateau, halved when the averaged validation loss stalls "
                         f"({default('schedule')})")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help=f"batch size ({default('batch_size')}, as in the post)"
                    if forHouses else f"batch size ({default('batch_size')})")
    ap.add_argument("--block", choices=BLOCKS + ("any",), default="vanilla",
                    help="vanilla: conv stacks of the SmallVGGNet family; resnet, "
                         "xception, efficient: Keras' ResNet50V2, Xception, "
                         "EfficientNetB0, untrained; any: search the block too "
                         "(default: vanilla)")
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction,
                    default=None,
                    help="random flips, rotations, shifts and zooms while training "
                         "(default: searched)")
    ap.add_argument("--val-split", type=fraction, default=0.2, metavar="F",
                    help="fraction of the training split held out to score the trials "
                         "(default: 0.2; the test split is looked at once, at the end)")
    ap.add_argument("--time-limit", type=minutes, default=None, metavar="MINUTES",
                    help="start no trial that would end after this many minutes (a "
                         "trial still running then stops after its epoch, before its "
                         "schedule ends); retraining the best comes after")
    add_seed_flag(ap, "the validation split, the weights and the search")
    ap.add_argument("--project-dir", default=f"output/{name}_project",
                    help="where the trials are kept; rerunning the same command there "
                         f"continues the search (default: output/{name}_project)")
    ap.add_argument("--overwrite", action="store_true",
                    help="start afresh in --project-dir, deleting the search kept there")
    ap.add_argument("--model", default=f"output/{name}.keras",
                    help=f"the exported best model (default: output/{name}.keras)")
    ap.add_argument("--plot", default=f"output/{name}_predictions.png",
                    help="grid of test images titled with predicted and real values "
                         f"(default: output/{name}_predictions.png)")
    ap.add_argument("--results", default=None,
                    help="figures as JSON (default: beside --model, *_results.json)")


def fill_training_defaults(args, kind="images"):
    """``--max-epochs``, ``--patience``, ``--batch-size`` and ``--schedule``
    left out take ``TRAINING_DEFAULTS[kind]``."""
    for flag, value in TRAINING_DEFAULTS[kind].items():
        if getattr(args, flag) is None:
            setattr(args, flag, value)
    return args


def check_output_flags(args):
    """Fill defaults derived from --model and check every output folder now,
    before an hour of search."""
    from .storage import beside, ensure_writable_folder, model_file

    args.model = model_file(args.model)
    if args.results is None:
        args.results = beside(args.model, "_results.json")
    if not args.plot.lower().endswith((".png", ".jpg", ".jpeg", ".pdf", ".svg")):
        raise UserError(f"--plot {args.plot!r} must end in .png, .jpg, .pdf or .svg")
    for flag in ("model", "plot", "results", "label_bin"):
        path = getattr(args, flag, None)
        if path is None:
            continue
        if os.path.isdir(path):
            raise UserError(f"--{flag.replace('_', '-')} {path!r} is a folder, expected a file")
        ensure_writable_folder(os.path.dirname(path), f"--{flag.replace('_', '-')}")
    return args


def identity_of(args, script, **extra):
    """What defines a search, for ``search.json``: the same values resume it."""
    identity = {"script": script, "dataset": os.path.abspath(args.dataset),
                "block": args.block, "augment": args.augment, "epochs": args.epochs,
                "max_epochs": args.max_epochs, "patience": args.patience,
                "batch_size": args.batch_size, "schedule": args.schedule,
                "val_split": args.val_split,
                "seed": args.seed, "scoring": SCORING}
    identity.update(extra)
    return identity


def seconds(timeLimit):
    """--time-limit (minutes) in seconds, or None."""
    return None if timeLimit is None else timeLimit * 60.0


def deadline(timeLimit):
    """The ``time.monotonic()`` at which trials stop training, or None."""
    return None if timeLimit is None else time.monotonic() + timeLimit * 60.0


def announce(args, role, recorded, identity):
    """Record the search in --project-dir (chief or single process) and say
    what this process does: a new search, a resumed one, or a worker."""
    if role != "worker":
        write_identity(args.project_dir, identity)
    if role == "chief":
        print(f"[INFO] chief: serving the search at {os.environ['KERASTUNER_ORACLE_IP']}:"
              f"{os.environ['KERASTUNER_ORACLE_PORT']}; the workers train the trials")
    elif role == "worker":
        print(f"[INFO] worker {os.environ['KERASTUNER_TUNER_ID']}: training the trials "
              f"the chief at {os.environ['KERASTUNER_ORACLE_IP']}:"
              f"{os.environ['KERASTUNER_ORACLE_PORT']} hands out")
    if role != "worker":
        if recorded:
            print(f"[INFO] resuming the search in {args.project_dir}: {recorded} finished "
                  f"trial(s) kept, up to {args.max_trials} in all")
        else:
            print(f"[INFO] searching {args.max_trials} trial(s), kept in {args.project_dir}")
    if args.time_limit is not None:
        print(f"[INFO] time limit: {format_seconds(args.time_limit * 60)} for the search")


# --------------------------------------------------------------------------
# Distributed roles (KerasTuner's environment variables)


def distributed_role():
    """``"single"``, ``"chief"`` or ``"worker"``, from KerasTuner's variables.

    The variables are checked here, with a clear message, because KerasTuner
    itself raises a RuntimeError deep inside the tuner for a missing one.
    """
    ip = os.environ.get("KERASTUNER_ORACLE_IP")
    if ip is None:
        return "single"
    port = os.environ.get("KERASTUNER_ORACLE_PORT")
    tunerId = os.environ.get("KERASTUNER_TUNER_ID")
    if not port:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_ORACLE_PORT is not; "
                        "set both (and KERASTUNER_TUNER_ID) for a distributed search")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"KERASTUNER_ORACLE_PORT {port!r} is not a port number")
    if not tunerId:
        raise UserError("KERASTUNER_ORACLE_IP is set but KERASTUNER_TUNER_ID is not: "
                        "use 'chief' for the process that holds the search and "
                        "'tuner0', 'tuner1', ... for the workers")
    return "chief" if "chief" in tunerId else "worker"


# --------------------------------------------------------------------------
# The project folder: resume the same search, refuse another one


def check_project(projectDir, identity, overwrite, role):
    """Check that ``projectDir`` holds this search (or nothing).

    ``identity`` is a dict of what defines the search (script, data, block,
    image size...); ``max_trials`` and ``--time-limit`` are left out of it,
    so a search can be continued with more trials or more time. Returns the
    number of trials already finished there (0 for a new search). Workers
    only read: the chief (or a single process) owns the folder.
    """
    if os.path.exists(projectDir) and not os.path.isdir(projectDir):
        raise UserError(f"--project-dir {projectDir!r} is a file, expected a folder")
    identityPath = os.path.join(projectDir, IDENTITY_FILE)
    trialsDir = os.path.join(projectDir, PROJECT_NAME)
    if role == "worker":
        return 0
    if os.path.isfile(identityPath):
        try:
            with open(identityPath, encoding="utf-8") as f:
                recorded = json.load(f)
        except (OSError, ValueError) as error:
            raise UserError(f"--project-dir {projectDir!r}: {IDENTITY_FILE} cannot be read "
                            f"({error}); pass --overwrite to start a new search there") from None
        if recorded != identity and not overwrite:
            changed = sorted(k for k in set(recorded) | set(identity)
                             if recorded.get(k) != identity.get(k))
            details = ", ".join(f"{k}: {recorded.get(k)!r} there, {identity.get(k)!r} now"
                                for k in changed[:3])
            raise UserError(f"--project-dir {projectDir!r} holds another search ({details}); "
                            "pass --overwrite to replace it, or choose another --project-dir")
    elif os.path.isdir(projectDir) and os.listdir(projectDir) and not overwrite:
        raise UserError(f"--project-dir {projectDir!r} is not empty and holds no search "
                        f"of these scripts; pass --overwrite to use it anyway, or choose "
                        "another folder")
    if overwrite:
        return 0
    return count_trials(trialsDir)


def count_trials(trialsDir):
    """How many trials of a KerasTuner project folder have finished."""
    if not os.path.isdir(trialsDir):
        return 0
    finished = 0
    for name in os.listdir(trialsDir):
        path = os.path.join(trialsDir, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as f:
                    status = json.load(f).get("status")
            except (OSError, ValueError):
                continue
            finished += status in ("COMPLETED", "FAILED", "INVALID")
    return finished


def write_identity(projectDir, identity):
    from .storage import atomic_output

    os.makedirs(projectDir, exist_ok=True)
    with atomic_output(os.path.join(projectDir, IDENTITY_FILE)) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(identity, f, indent=2, sort_keys=True)
            f.write("\n")


# --------------------------------------------------------------------------
# The search space


def search_augmentation(task="classification"):
    """The random flips, rotations, shifts and zooms of the training batches,
    a function of a batch and a seed (``augmentation.random_affine``: one
    resampling pass, mapped in the input pipeline).

    A classifier gets the post's ``ImageDataGenerator`` ranges (train_vgg.py):
    rotations up to 30 degrees, shifts of 10%, a shear of 0.2 degrees, zooms
    of 20%, edges filled with the nearest pixel. A regressor's pictures,
    whose target may depend on their framing, get milder zooms and mirrored
    edges. Augmenting in the pipeline rather than with Keras' random layers
    in the model blurs each picture once instead of three times (a network
    trained on blurred pictures and tested on sharp ones loses accuracy)
    and leaves the exported model holding only the network.
    """
    from functools import partial

    from .augmentation import image_data_generator, random_affine

    if task == "classification":
        return image_data_generator(rotation_range=30, width_shift_range=0.1,
                                    height_shift_range=0.1, shear_range=0.2,
                                    zoom_range=0.2, horizontal_flip=True,
                                    fill_mode="nearest")
    return partial(random_affine, rotation=28.8, width_shift=0.1, height_shift=0.1,
                   zoom=0.1, horizontal_flip=True, fill_mode="REFLECT")


# The first trial of a search is the space's defaults: for a classifier,
# close to SmallVGGNet; for a regressor, close to the house CNN of
# cnn_regression.py (16-32-64 filters, one convolution each, a narrow head
# with the post's dropout of 0.5), small networks being what a few hundred
# images can train.
VANILLA_DEFAULTS = {
    "classification": {"blocks": 3, "filters": 32, "convs": 1, "dropout": 0.25,
                       "units": 256, "head_dropout": 0.5},
    "regression": {"blocks": 3, "filters": 16, "convs": 1, "dropout": 0.0,
                   "units": 16, "head_dropout": 0.5},
}


def vanilla_features(keras, hp, x, task="classification"):
    """Conv blocks of the SmallVGGNet family: (CONV => BN => RELU) * k => POOL
    => DROPOUT, the width doubling from block to block, then FC => BN =>
    RELU => DROPOUT. Depth, width, convolutions per block, batch
    normalization, dropout and head width are searched; the defaults are
    ``VANILLA_DEFAULTS[task]``. Batch normalization trains on TensorFlow's
    fused kernel (``fast.use_fused_kernels``)."""
    layers = keras.layers
    d = VANILLA_DEFAULTS[task]
    blocks = hp.Int("vanilla_blocks", 2, 4, default=d["blocks"])
    filters = hp.Choice("vanilla_filters", [16, 32, 64], default=d["filters"])
    convs = hp.Int("vanilla_convs_per_block", 1, 2, default=d["convs"])
    batchNorm = hp.Boolean("vanilla_batch_norm", default=True)
    dropout = hp.Choice("vanilla_dropout", [0.0, 0.25, 0.4], default=d["dropout"])
    pooling = hp.Choice("vanilla_pooling", ["flatten", "global_avg"], default="flatten")
    units = hp.Choice("vanilla_dense_units", [16, 64, 128, 256, 512], default=d["units"])
    lastDropout = hp.Choice("vanilla_head_dropout", [0.0, 0.25, 0.5],
                            default=d["head_dropout"])

    for b in range(blocks):
        # stop pooling once the map is 2x2: very small images, deep stacks
        for _ in range(convs):
            x = layers.Conv2D(filters * 2 ** b, (3, 3), padding="same",
                              use_bias=not batchNorm)(x)
            if batchNorm:
                x = layers.BatchNormalization(momentum=0.9)(x)
            x = layers.Activation("relu")(x)
        if x.shape[1] >= 4 and x.shape[2] >= 4:
            x = layers.MaxPooling2D(pool_size=(2, 2))(x)
        if dropout > 0:
            x = layers.Dropout(dropout)(x)

    x = layers.Flatten()(x) if pooling == "flatten" else layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(units, use_bias=not batchNorm)(x)
    if batchNorm:
        x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.Activation("relu")(x)
    return layers.Dropout(lastDropout)(x) if lastDropout > 0 else x


def application_features(keras, hp, block, x):
    """Keras' ResNet50V2, Xception or EfficientNetB0, untrained (weights=None),
    on the images enlarged to the smallest size the architecture accepts."""
    layers = keras.layers
    side = max(MIN_SIDE[block], int(x.shape[1]), int(x.shape[2]))
    if (int(x.shape[1]), int(x.shape[2])) != (side, side):
        x = layers.Resizing(side, side, name=f"{block}_resize")(x)
    shape = (side, side, 3)
    if block == "resnet":
        base = keras.applications.ResNet50V2(include_top=False, weights=None,
                                             input_shape=shape, pooling="avg")
    elif block == "xception":
        base = keras.applications.Xception(include_top=False, weights=None,
                                           input_shape=shape, pooling="avg")
    else:
        # EfficientNet rescales [0, 255] pixels itself; ours are in [0, 1]
        x = layers.Rescaling(255.0, name="to_0_255")(x)
        base = keras.applications.EfficientNetB0(include_top=False, weights=None,
                                                 input_shape=shape, pooling="avg")
    x = base(x)
    dropout = hp.Choice(f"{block}_dropout", [0.0, 0.25, 0.5], default=0.25)
    return layers.Dropout(dropout)(x) if dropout > 0 else x


def make_hypermodel(inputShape, head, block="vanilla", augment=None, seed=42,
                    epochs=None, maxEpochs=TRAINING_DEFAULTS["images"]["max_epochs"],
                    patience=TRAINING_DEFAULTS["images"]["patience"],
                    batchSize=TRAINING_DEFAULTS["images"]["batch_size"],
                    schedule="plateau", samples=None, verbose=2, deadline=None):
    """The search space and how one trial trains, as a KerasTuner HyperModel.

    ``head``: ``{"kind": "classification", "classes": n}`` or
    ``{"kind": "regression", "loss": ..., "mean": m, "std": s, "start": z}``
    (the model predicts ``mean + std * output``, so the exported model gives
    targets in their own units; ``output`` starts at ``z``). ``block``: one
    of ``BLOCKS`` or ``"any"`` (searched). ``augment``: True, False or None
    (searched). ``schedule`` (one of ``SCHEDULES``; default ``"plateau"``):
    ``"cosine"`` warms the learning rate up (``WARMUP_EPOCHS``, at most half
    the run) and anneals it to zero over ``epochs`` (or ``maxEpochs``), all
    of which a trial trains; it needs ``samples``, the number of images a
    trial trains on. ``"plateau"`` keeps the rate constant for ``epochs``,
    or, with ``epochs`` None (adaptive), trains up to ``maxEpochs``, halves
    it after ``patience // 2`` epochs without a better averaged validation
    loss (``MeanValidationLoss``) and stops after ``patience``.
    ``deadline``: a ``time.monotonic()`` after which training stops at the
    end of the current epoch (``--time-limit``).
    """
    import keras
    import keras_tuner

    from .fast import use_fused_kernels
    from .recipes import warmup_cosine
    from .training import steps_per_epoch

    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, not {schedule!r}")
    if schedule == "cosine" and not samples:
        raise ValueError("the cosine schedule needs samples, the images a trial trains on")

    def learning_rate(peak, runEpochs, runSamples, retraining):
        """The optimizer's learning rate: a number, or a schedule over the
        steps of ``runEpochs`` epochs of ``runSamples`` images (every
        picture once an epoch, in batches of ``batchSize``: ``batches``)."""
        steps = steps_per_epoch(runSamples, batchSize) if runSamples else 0
        if schedule == "cosine":
            return warmup_cosine(peak, steps * runEpochs, steps * WARMUP_EPOCHS)
        if retraining:
            # the plateau rule needs a validation loss; the retraining has
            # none, and anneals to zero so that the exported weights are
            # those of a settled network, not of whichever step came last
            return keras.optimizers.schedules.CosineDecay(peak, decay_steps=steps * runEpochs)
        return peak

    class ImageHyperModel(keras_tuner.HyperModel):
        # set by ``build_for_retraining``: (epochs, images) it trains for
        retraining = None

        def augments(self, hp):
            """Whether the network of ``hp`` trains on augmented pictures."""
            return hp.get("augment") if augment is None else augment

        def batches(self, hp, x, y):
            """The training batches of ``hp``'s network: ``batchSize``
            pictures, reshuffled every epoch, augmented if ``hp`` says so
            (``search_augmentation``), prepared on the CPU while it trains.
            They come shuffled: ``fit`` takes them with ``shuffle=False``."""
            from .training import batches

            task = head["kind"]
            return batches(x, y, batchSize, shuffle=True, seed=seed,
                           augment=search_augmentation(task) if self.augments(hp) else None)

        def build_for_retraining(self, hp, epochs, samples):
            """The network of ``hp`` for the final retraining on ``samples``
            images for ``epochs`` epochs, with the learning rate annealed to
            zero over them (cosine)."""
            self.retraining = (epochs, samples)
            try:
                return self.build(hp)
            finally:
                self.retraining = None

        def build(self, hp):
            chosen = hp.Choice("block", list(BLOCKS), default="vanilla") if block == "any" \
                else block
            if augment is None:
                # searched; the batches are augmented in the pipeline (``batches``)
                hp.Boolean("augment", default=head["kind"] == "classification")
            inputs = keras.Input(shape=inputShape, name="image")
            x = inputs
            if chosen == "vanilla":
                x = vanilla_features(keras, hp, x, head["kind"])
            else:
                x = application_features(keras, hp, chosen, x)

            learningRate = hp.Choice("learning_rate", [1e-3, 3e-4, 1e-4], default=1e-3)
            if head["kind"] == "classification":
                outputs = keras.layers.Dense(head["classes"], activation="softmax",
                                             name="classes")(x)
                # one-hot labels, smoothed: a network kept from certainty has a
                # validation loss that follows its accuracy rather than
                # rising with the confidence of a few mistakes, so trials are
                # not stopped while they still improve
                loss = keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)
                metrics = ["accuracy"]
            else:
                # the output starts at the typical scaled target (zero weights,
                # bias ``start``) rather than at a random value many times too
                # large, which a percentage error punishes hard
                x = keras.layers.Dense(1, kernel_initializer="zeros",
                                       bias_initializer=keras.initializers.Constant(
                                           head.get("start", 0.0)),
                                       name="regression")(x)
                # scaled outputs back to the target's units, a stock layer
                outputs = keras.layers.Rescaling(head["std"], offset=head["mean"],
                                                 name="target_units")(x)
                loss, metrics = head["loss"], ["mae"]
            model = keras.Model(inputs, outputs, name=f"search_{chosen}")
            (runEpochs, runSamples) = self.retraining or (epochs or maxEpochs, samples)
            rate = learning_rate(learningRate, runEpochs, runSamples, bool(self.retraining))
            model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate), loss=loss,
                          metrics=metrics)
            # batch norm and Adam's steps on TensorFlow's fused kernels (fast.py)
            return use_fused_kernels(model)

        def fit(self, hp, model, x, y, validation_data=None, callbacks=None, **kwargs):
            """Train one candidate; report its best validation loss, the epoch
            it was reached at, the epochs run and the seconds taken."""
            # first, so that the callbacks after it see the averaged loss
            callbacks = [MeanValidationLoss()] + list(callbacks or [])
            if schedule == "cosine" and len(y) != samples:
                raise ValueError(f"the cosine schedule was sized for {samples} images, "
                                 f"not the {len(y)} given")
            if epochs is None and schedule == "plateau":
                # adaptive: halve the learning rate when the averaged
                # validation loss stalls for half of --patience epochs, stop
                # when it has not improved for --patience. (A cosine trial
                # runs its whole schedule: its loss stalls halfway down and
                # falls again as the rate gets small.)
                callbacks.append(keras.callbacks.ReduceLROnPlateau(
                    monitor=MEAN_VAL_LOSS, mode="min", factor=0.5,
                    patience=max(2, patience // 2), min_lr=1e-6, verbose=0))
                callbacks.append(keras.callbacks.EarlyStopping(
                    monitor=MEAN_VAL_LOSS, mode="min", patience=patience))
            if deadline is not None:
                callbacks.append(StopAtDeadline(deadline))
            start = time.perf_counter()
            history = model.fit(self.batches(hp, x, y), validation_data=validation_data,
                                epochs=epochs or maxEpochs, shuffle=False,
                                callbacks=callbacks, verbose=verbose)
            return trial_metrics(history.history, time.perf_counter() - start)

    class MeanValidationLoss(keras.callbacks.Callback):
        """Adds ``val_loss_mean``, the validation loss averaged over the last
        ``MEAN_EPOCHS`` epochs, to each epoch's logs: on a few dozen
        validation images (and batch statistics from batches of 8) one
        epoch's loss jumps by a third from the next, and a lucky low epoch
        would end a trial early and set the retraining's length."""

        def on_train_begin(self, logs=None):
            self.losses = []

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None and "val_loss" in logs:
                self.losses.append(float(logs["val_loss"]))
                logs[MEAN_VAL_LOSS] = float(trailing_mean(self.losses)[-1])

    class StopAtDeadline(keras.callbacks.Callback):
        def __init__(self, when):
            super().__init__()
            self.when = when

        def on_epoch_end(self, epoch, logs=None):
            if time.monotonic() >= self.when:
                self.model.stop_training = True

    return ImageHyperModel(name="image_search")


def trailing_mean(values, window=None):
    """Each epoch's value averaged with those of the epochs just before it,
    ``window`` (``MEAN_EPOCHS``) epochs in all, fewer at the start; a
    non-finite value (a diverged epoch) counts as infinitely bad."""
    window = window or MEAN_EPOCHS
    values = np.asarray(values, dtype="float64")
    values = np.where(np.isfinite(values), values, np.inf)
    return np.array([values[max(0, i + 1 - window):i + 1].mean()
                     for i in range(len(values))])


def trial_metrics(history, seconds):
    """What a trial reports to the oracle (floats, so they pass over gRPC):
    the validation loss and accuracy or MAE averaged over ``MEAN_EPOCHS``
    epochs, at the epoch (from the ``MEAN_EPOCHS``-th on) where that averaged
    loss is lowest."""
    valLoss = trailing_mean(history["val_loss"])
    # an epoch is a candidate once a whole window lies behind it (when the
    # trial ran that long): a lucky first epoch, averaged with nothing, does
    # not win
    start = MEAN_EPOCHS - 1 if len(valLoss) >= MEAN_EPOCHS else 0
    best = start + int(np.argmin(valLoss[start:]))
    metrics = {"val_loss": float(valLoss[best]), "best_epoch": float(best + 1),
               "epochs": float(len(valLoss)), "seconds": float(seconds)}
    for key in ("val_accuracy", "val_mae"):
        if key in history:
            metrics[key] = float(trailing_mean(history[key])[best])
    return metrics


# --------------------------------------------------------------------------
# The oracle and the tuner


def make_tuner(hypermodel, projectDir, maxTrials, seed, overwrite, timeLimit=None,
               role="single"):
    """KerasTuner's tuner over ``hypermodel``, kept in ``projectDir``.

    ``timeLimit`` (seconds): no trial is started that would be expected to
    end after it. Workers never overwrite: the chief owns the folder.
    """
    import keras_tuner

    class SearchOracle(keras_tuner.oracles.RandomSearchOracle):
        """Random search, first trial the defaults, ``--time-limit``, and one
        progress line per finished trial."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.runStart = time.monotonic()
            self.runTrialSeconds = []
            self.stopMessage = None

        def populate_space(self, trial_id):
            elapsed = time.monotonic() - self.runStart
            if timeLimit is not None and self.runTrialSeconds:
                expected = elapsed + float(np.mean(self.runTrialSeconds))
                if expected > timeLimit:
                    if self.stopMessage is None:
                        self.stopMessage = (
                            f"[INFO] --time-limit: {format_seconds(elapsed)} used of "
                            f"{format_seconds(timeLimit)}; a trial takes about "
                            f"{format_seconds(np.mean(self.runTrialSeconds))}, so no "
                            "further trial is started")
                        print(self.stopMessage, flush=True)
                    return {"status": keras_tuner.engine.trial.TrialStatus.STOPPED,
                            "values": None}
            if not self.trials:
                # the first trial of a search: the space's defaults
                return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING,
                        "values": self.hyperparameters.values}
            return super().populate_space(trial_id)

        def end_trial(self, trial):
            super().end_trial(trial)
            # KerasTuner saves the oracle before it forgets the ended trial as
            # running; in a single process the tuner saves again afterwards,
            # but a chief does not, and a resumed search would redo the last
            # trial. Save the finished state.
            self.save()
            self.runTrialSeconds.append(metric(self.trials[trial.trial_id], "seconds")
                                        or 0.0)
            print(progress_line(self, trial.trial_id, self.runStart), flush=True)

    class SearchTuner(keras_tuner.Tuner):
        """KerasTuner's tuner, naming each trial's hyperparameters as it starts
        (in the process that trains it: a single process or a worker)."""

        def on_trial_begin(self, trial):
            super().on_trial_begin(trial)
            who = "" if role == "single" else f" on {self.tuner_id}"
            print(f"[INFO] trial {int(trial.trial_id) + 1}/{maxTrials} starts{who}: "
                  f"{describe_values(trial.hyperparameters.values)}", flush=True)

    oracle = SearchOracle(objective=keras_tuner.Objective("val_loss", "min"),
                          max_trials=maxTrials, seed=seed)
    tuner = SearchTuner(oracle=oracle, hypermodel=hypermodel,
                        directory=projectDir, project_name=PROJECT_NAME,
                        overwrite=overwrite and role != "worker")
    if role != "worker":
        # the progress lines replace KerasTuner's own per-trial tables
        tuner.oracle.verbose = 0
    return tuner


def metric(trial, name):
    """A metric a trial reported, or None (a trial that failed reports none)."""
    try:
        if trial.metrics.exists(name):
            return float(trial.metrics.get_last_value(name))
    except (KeyError, ValueError, TypeError):
        pass
    return None


def format_seconds(seconds):
    seconds = int(round(float(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def progress_line(oracle, trialId, runStart):
    """``[INFO] trial k/N: val_loss x (best y, trial j) - elapsed, about z left``."""
    trials = oracle.trials
    done = [t for t in trials.values() if t.status in ("COMPLETED", "FAILED", "INVALID")]
    trial = trials[trialId]
    score = metric(trial, "val_loss")
    scoreText = f"val_loss {score:.4f}" if score is not None else f"{trial.status.lower()}"
    best = best_trial(oracle)
    bestText = (f"best {metric(best, 'val_loss'):.4f}, trial {int(best.trial_id) + 1}"
                if best is not None else "no completed trial yet")
    elapsed = time.monotonic() - runStart
    remaining = max(0, (oracle.max_trials or len(trials)) - len(done))
    finishedNow = len(oracle.runTrialSeconds) if hasattr(oracle, "runTrialSeconds") else 1
    left = elapsed / max(1, finishedNow) * remaining
    leftText = f"about {format_seconds(left)} left" if remaining else "search done"
    return (f"[INFO] trial {int(trialId) + 1}/{oracle.max_trials}: {scoreText} "
            f"({bestText}) - {format_seconds(elapsed)} elapsed, {leftText}")


def best_trial(oracle):
    """The completed trial with the lowest validation loss, or None."""
    scored = [t for t in oracle.trials.values()
              if t.status == "COMPLETED" and metric(t, "val_loss") is not None]
    if not scored:
        return None
    return min(scored, key=lambda t: (metric(t, "val_loss"), int(t.trial_id)))


# --------------------------------------------------------------------------
# Reporting


def describe_values(values):
    """Hyperparameter values as ``name=value`` pairs, short names."""
    parts = []
    for name, value in values.items():
        short = name.replace("vanilla_", "").replace("_per_block", "")
        if isinstance(value, float):
            value = f"{value:g}"
        parts.append(f"{short}={value}")
    return " ".join(parts)


def report_trials(oracle):
    """Print the table of trials; return the best trial and the table's rows
    (a ``UserError`` when no trial finished: there is nothing to export)."""
    rows = trial_rows(oracle)
    best = best_trial(oracle)
    if best is None:
        raise UserError("no trial completed, so there is no model to export; "
                        "the errors are above")
    print_trial_table(rows, int(best.trial_id) + 1)
    return best, rows


def trial_rows(oracle):
    """One dict per trial, in trial order: what the table and results.json show."""
    rows = []
    for trialId in sorted(oracle.trials, key=int):
        trial = oracle.trials[trialId]
        rows.append({
            "trial": int(trialId) + 1,
            "status": str(trial.status),
            "hyperparameters": dict(trial.hyperparameters.values),
            "val_loss": metric(trial, "val_loss"),
            "val_accuracy": metric(trial, "val_accuracy"),
            "val_mae": metric(trial, "val_mae"),
            "best_epoch": int(metric(trial, "best_epoch") or 0),
            "epochs": int(metric(trial, "epochs") or 0),
            "seconds": round(metric(trial, "seconds") or 0.0, 1),
        })
    return rows


def print_trial_table(rows, bestTrial):
    """The trials table: number, hyperparameters, validation score, epochs,
    seconds; the best is marked with ``*``."""
    print("[INFO] trials (* = best):")
    extra = "val_acc" if any(r["val_accuracy"] is not None for r in rows) else "val_mae"
    key = "val_accuracy" if extra == "val_acc" else "val_mae"
    print(f"  {'trial':>6} {'val_loss':>9} {extra:>8} {'epochs':>7} {'seconds':>8}  "
          "hyperparameters")
    for r in rows:
        mark = "*" if r["trial"] == bestTrial else " "
        loss = f"{r['val_loss']:.4f}" if r["val_loss"] is not None else r["status"].lower()
        second = "-" if r[key] is None else (f"{r[key]:.4f}" if key == "val_accuracy"
                                             else f"{r[key]:.4g}")
        epochs = f"{r['best_epoch']}/{r['epochs']}"
        print(f"  {mark}{r['trial']:>5} {loss:>9} {second:>8} {epochs:>7} "
              f"{r['seconds']:>8.1f}  {describe_values(r['hyperparameters'])}")


def grid_indices(count, seed, size=16):
    """Which test images the grid shows: up to ``size``, chosen with ``seed``."""
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(count)[:min(size, count)])
