"""The searcher's flags, shared by both scripts, and the settings they make.

``add_search_flags`` adds the flags; ``settings_from`` turns the parsed
flags into one ``SearchSettings``, filling what was left out from the
training defaults of the block and the data (``TRAINING_DEFAULTS``).
Nothing here imports TensorFlow: a typo costs a second.
"""

import argparse
import os
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ..cli import add_seed_flag, fraction, positive_int
from ..errors import UserError

# the network families a search can explore (--block)
BLOCKS = ("airbench", "vanilla", "resnet", "xception", "efficient")

# How the learning rate moves while a trial trains (--schedule):
# ``onecycle``: Nesterov SGD, up to a peak over the first 23% of the steps,
#   then down to 7% of it (the fast CIFAR-10 recipes; airbench.py);
# ``cosine``: Adam, a warm-up of ``WARMUP_EPOCHS``, then a cosine to zero
#   (the improved SmallVGGNet recipe);
# ``plateau``: Adam, constant, halved whenever the averaged validation
#   loss stalls, the trial stopped when it stops improving.
SCHEDULES = ("onecycle", "cosine", "plateau")
WARMUP_EPOCHS = 5
PRECISIONS = ("auto", "float32", "mixed_bfloat16")

# Pictures this small or smaller get the airbench family by default.
SMALL_IMAGE = 32

# A trial's epochs (the longest a candidate trains: the top of the
# successive halving), patience, batch size and schedule, for the block
# and the data. The airbench family learns CIFAR-10 in a few dozen epochs
# of large batches; SmallVGGNet-like stacks anneal over 100 epochs of 32
# pictures (halving on a noisy plateau reached their last points too late:
# the animals, 76-77% against 82%); the houses keep the post's 200 epochs
# and batch of 8, with the plateau rule (55 validation houses wander for
# ten epochs and more while the network still improves: patience 20).
TRAINING_DEFAULTS = {
    "airbench": {"max_epochs": 40, "patience": 20, "batch_size": 512, "schedule": "onecycle"},
    "images": {"max_epochs": 100, "patience": 20, "batch_size": 32, "schedule": "cosine"},
    "houses": {"max_epochs": 200, "patience": 20, "batch_size": 8, "schedule": "plateau"},
}


@dataclass(frozen=True)
class SearchSettings:
    """What a search does, from the flags (``settings_from``)."""
    block: str = "vanilla"             # one of BLOCKS, or "any" (searched)
    augment: Optional[bool] = None     # None: searched
    epochs: Optional[int] = None       # a trial's epochs; None: max_epochs, adaptive with plateau
    max_epochs: int = 100
    patience: int = 20
    batch_size: int = 32
    schedule: str = "cosine"
    val_split: float = 0.2
    seed: int = 42
    max_trials: int = 2                # candidate networks
    time_limit: Optional[float] = None  # minutes, for the whole command
    precision: str = "float32"         # resolved: float32 or mixed_bfloat16
    grayscale: bool = False

    def full_epochs(self):
        """The epochs of a trial at the top of the halving."""
        return self.epochs or self.max_epochs

    def adaptive(self):
        """Whether a trial finds its own epochs: the plateau schedule's early
        stopping, when --epochs does not fix them."""
        return self.schedule == "plateau" and self.epochs is None

    def as_dict(self):
        return asdict(self)


def minutes(text):
    """argparse type: a positive number of minutes."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, got {text!r}")
    return value


def add_search_flags(ap, name, maxTrials=2):
    """The flags of the chapter's searcher. ``name`` (``search_classifier``
    / ``search_regressor``) names the default output files under
    ``output/``. Flags left out take ``TRAINING_DEFAULTS`` for the block
    and the data (``settings_from``)."""
    ap.add_argument("--max-trials", type=positive_int, default=maxTrials,
                    help=f"candidate networks to try (default: {maxTrials}); they are "
                         "trained briefly, the best longer (successive halving); rerun "
                         "with a larger number to continue a search")
    ap.add_argument("--block", choices=BLOCKS + ("any",), default=None,
                    help="airbench: the fast CIFAR-10 family (whitened stem, three wide "
                         "conv groups); vanilla: conv stacks of the SmallVGGNet family; "
                         "resnet, xception, efficient: Keras' ResNet50V2, Xception, "
                         "EfficientNetB0, untrained; any: search the block too "
                         f"(default: airbench for pictures of {SMALL_IMAGE} px or less, "
                         "vanilla otherwise)")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help="epochs of the longest trial (default: --max-epochs, or what "
                         "--time-limit leaves; with --schedule plateau, adaptive)")
    ap.add_argument("--max-epochs", type=positive_int, default=None,
                    help="the longest trial's epochs when --epochs is left out (default: "
                         "40 for airbench, 100 for other images, 200 for the houses)")
    ap.add_argument("--patience", type=positive_int, default=None,
                    help="with --schedule plateau, stop a trial after this many epochs "
                         "without a lower averaged validation loss (default: 20)")
    ap.add_argument("--schedule", choices=SCHEDULES, default=None,
                    help="the learning rate in a trial: onecycle (Nesterov SGD, up then "
                         f"down), cosine (Adam, a {WARMUP_EPOCHS}-epoch warm-up, then to "
                         "zero) or plateau (Adam, halved when the validation loss stalls) "
                         "(default: onecycle for airbench, cosine for other images, "
                         "plateau for the houses)")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help="batch size (default: 512 for airbench, halved for small "
                         "datasets down to 8 steps an epoch; 32 for other images; 8 for "
                         "the houses, as in the post)")
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                    help="augment the training pictures (default: searched)")
    ap.add_argument("--val-split", type=fraction, default=None, metavar="F",
                    help="fraction of the training pictures held out to score the trials "
                         "(default: 0.1 for 10,000 pictures or more, else 0.2; the test "
                         "pictures are looked at once, at the end)")
    ap.add_argument("--time-limit", type=minutes, default=None, metavar="MINUTES",
                    help="finish the whole command (search, final training, test, "
                         "saving) within this many minutes")
    ap.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="auto: mixed bfloat16 for the airbench block where the processor "
                         "computes bfloat16 natively (AVX512-BF16, AMX), float32 elsewhere "
                         "(default: auto)")
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


def cpu_name():
    """The processor's model name as Linux reports it, or ''."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            line = next((line for line in f if line.startswith("model name")), "")
    except OSError:
        return ""
    return line.split(":", 1)[-1].strip()


def describe_precision(settings, asked):
    """Why the search trains in ``settings.precision``, for the first line."""
    cpu = cpu_name() or "this processor"
    if asked != "auto":
        return "as asked"
    if settings.precision == "mixed_bfloat16":
        return f"{cpu} computes bfloat16 natively: {native_bfloat16()}"
    if not native_bfloat16():
        return f"{cpu} has no native bfloat16"
    return f"bfloat16 pays on {cpu} only for the airbench block, not {settings.block}"


def native_bfloat16():
    """The processor's bfloat16 instructions this Linux reports, or ''."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = set(next((line for line in f if line.startswith("flags")), "").split())
    except OSError:
        return ""
    return next((flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags), "")


def settings_from(args, imageSide, data="images", samples=None):
    """The ``SearchSettings`` of parsed flags: the block (airbench for
    pictures of ``imageSide`` up to ``SMALL_IMAGE``), then the training
    defaults of the block (``data`` "houses" for the Houses dataset), the
    hold-out fraction for ``samples`` training pictures, and the precision."""
    block = args.block or ("airbench" if imageSide <= SMALL_IMAGE and data != "houses"
                           else "vanilla")
    defaults = TRAINING_DEFAULTS["houses" if data == "houses" else
                                 "airbench" if block == "airbench" else "images"]
    chosen = {flag: getattr(args, flag) if getattr(args, flag) is not None else value
              for flag, value in defaults.items()}
    if block == "airbench" and args.batch_size is None and samples:
        # a few hundred pictures in batches of 512 would be one step an
        # epoch: halve the batch until an epoch has eight steps (16 at least)
        while chosen["batch_size"] > 16 and samples / chosen["batch_size"] < 8:
            chosen["batch_size"] //= 2
    valSplit = args.val_split or (0.1 if (samples or 0) >= 10000 else 0.2)
    precision = args.precision
    if precision == "auto":
        # the airbench family trains 1.75x faster in mixed bfloat16 on AVX512-BF16
        # (315 against 180 pictures/s, bench/README); the narrow networks of the
        # other blocks gained nothing measurable, and the house prices keep float32
        precision = ("mixed_bfloat16" if native_bfloat16() and block == "airbench"
                     else "float32")
    return SearchSettings(block=block, augment=args.augment, epochs=args.epochs,
                          val_split=valSplit, seed=args.seed, max_trials=args.max_trials,
                          time_limit=args.time_limit, precision=precision,
                          grayscale=bool(getattr(args, "grayscale", False)), **chosen)


def check_output_flags(args):
    """Fill defaults derived from --model and check every output folder now,
    before an hour of search."""
    from ..storage import beside, ensure_writable_folder, model_file

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
