"""A search's settings (``SearchSettings``, ``resolve``) and the search
scripts' flags for them. Nothing here imports TensorFlow: a typo costs a
second.
"""

import argparse
import os
import time
from dataclasses import asdict, dataclass
from typing import Optional

import numpy as np

from ..cli import UserError, add_seed_flag, fraction, positive_int
from .blocks import FAMILIES, SMALL_IMAGE

# how a trial's learning rate moves: "onecycle", Nesterov SGD up to a peak
# and down (the airbench family's); "cosine", Adam, a warm-up, then a
# cosine to zero (the other families')
SCHEDULES = ("onecycle", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# the longest trial's epochs, the batch size and the schedule, by family:
# the airbench family learns CIFAR-10 in a few dozen epochs of large
# batches; SmallVGGNet-like stacks anneal over 100 epochs of 32 pictures
TRAINING_DEFAULTS = {"airbench": {"max_epochs": 40, "batch_size": 512, "schedule": "onecycle"},
                     "other": {"max_epochs": 100, "batch_size": 32, "schedule": "cosine"}}
# what the end of a script needs besides the test predictions: the figures
# and the saving (2% of the limit, at least this)
END_SECONDS = 15.0


@dataclass(frozen=True)
class SearchSettings:
    """What a search does (``resolve``)."""
    block: str = "vanilla"             # one of FAMILIES, or "any" (searched)
    augment: Optional[bool] = None     # None: searched
    epochs: Optional[int] = None       # the longest trial's epochs (None: max_epochs)
    max_epochs: int = 100
    batch_size: int = 32
    schedule: str = "cosine"
    val_split: float = 0.2
    seed: int = 42
    max_trials: int = 2
    time_limit: Optional[float] = None  # minutes
    precision: str = "float32"         # float32 or mixed_bfloat16

    def full_epochs(self):
        return self.epochs or self.max_epochs

    def as_dict(self):
        return asdict(self)


def resolve(block, side, samples, augment=None, epochs=None, max_epochs=None, batch_size=None,
            schedule=None, val_split=None, seed=42, max_trials=2, time_limit=None,
            precision="auto"):
    """The settings of a search of ``block`` (an ``ImageBlock``) over
    ``samples`` training pictures of ``side`` pixels: what is left as None
    takes the family's defaults."""
    family = block.resolved(side)
    defaults = TRAINING_DEFAULTS["airbench" if family == "airbench" else "other"]
    if batch_size is None:
        batch_size = defaults["batch_size"]
        # a few hundred pictures in batches of 512 would be one step an
        # epoch: halve the batch until an epoch has eight steps (16 at least)
        while family == "airbench" and batch_size > 16 and samples / batch_size < 8:
            batch_size //= 2
    if precision == "auto":
        # the airbench family trains 1.75x faster in mixed bfloat16 where the
        # processor has it (bench/README.md); the others gained nothing
        precision = "mixed_bfloat16" if native_bfloat16() and family == "airbench" \
            else "float32"
    return SearchSettings(block=family, augment=augment, epochs=epochs,
                          max_epochs=max_epochs or defaults["max_epochs"], batch_size=batch_size,
                          schedule=schedule or defaults["schedule"],
                          val_split=val_split or (0.1 if samples >= 10000 else 0.2), seed=seed,
                          max_trials=max_trials, time_limit=time_limit, precision=precision)


def native_bfloat16():
    """The processor's bfloat16 instructions this Linux reports, or ''."""
    flags = set(cpu_info("flags").split())
    return next((flag for flag in ("amx_bf16", "avx512_bf16") if flag in flags), "")


def cpu_info(field="model name"):
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            line = next((line for line in f if line.startswith(field)), "")
    except OSError:
        return ""
    return line.split(":", 1)[-1].strip()


def describe_precision(settings, asked):
    """Why the search trains in ``settings.precision``, for its first line."""
    cpu = cpu_info() or "this processor"
    if asked != "auto":
        return "as asked"
    if settings.precision == "mixed_bfloat16":
        return f"{cpu} computes bfloat16 natively: {native_bfloat16()}"
    if not native_bfloat16():
        return f"{cpu} has no native bfloat16"
    return f"bfloat16 pays on {cpu} only for the airbench block, not {settings.block}"


def minutes(text):
    """argparse type: a positive number of minutes."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, got {text!r}")
    return value


def add_search_flags(ap, name):
    """The flags of the chapter's searcher; ``name`` names the default
    output files under ``output/``."""
    ap.add_argument("--max-trials", type=positive_int, default=2,
                    help="candidate networks to try (default: 2, the chapter's); rerun with "
                         "more to continue a search")
    ap.add_argument("--time-limit", type=minutes, default=None, metavar="MINUTES",
                    help="finish the whole command (search, final training, test, saving) "
                         "within this many minutes")
    ap.add_argument("--block", choices=FAMILIES + ("any",), default=None,
                    help="the network family (ImageBlock's block_type); 'any' searches it too "
                         f"(default: airbench for pictures of {SMALL_IMAGE} px or less, "
                         "vanilla otherwise)")
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                    help="augment the training pictures (default: searched)")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help="epochs of the longest trial (default: --max-epochs, or what "
                         "--time-limit pays for)")
    ap.add_argument("--max-epochs", type=positive_int, default=None,
                    help="the longest trial's epochs when --epochs is left out (default: 40 "
                         "for airbench, 100 for the others)")
    ap.add_argument("--schedule", choices=SCHEDULES, default=None,
                    help="onecycle (Nesterov SGD, up then down) or cosine (Adam, warm-up, "
                         "then to zero) (default: onecycle for airbench, else cosine)")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help="default: 512 for airbench (less for small datasets), else 32")
    ap.add_argument("--val-split", type=fraction, default=None, metavar="F",
                    help="the training pictures held out to score the trials (default: 0.1 "
                         "for 10,000 pictures or more, else 0.2)")
    ap.add_argument("--precision", choices=PRECISIONS, default="auto",
                    help="auto: mixed bfloat16 for the airbench block where the processor "
                         "computes bfloat16 natively, float32 elsewhere (default: auto)")
    add_seed_flag(ap, "the validation split, the weights and the search")
    ap.add_argument("--project-dir", default=f"output/{name}_project",
                    help="where the trials are kept; the same command run again there "
                         f"continues the search (default: output/{name}_project)")
    ap.add_argument("--overwrite", action="store_true",
                    help="start afresh in --project-dir, deleting the search kept there")
    ap.add_argument("--model", default=f"output/{name}.keras",
                    help=f"the exported best model (default: output/{name}.keras)")
    ap.add_argument("--plot", default=f"output/{name}_predictions.png",
                    help="grid of test pictures titled with predicted and real values "
                         f"(default: output/{name}_predictions.png)")
    ap.add_argument("--results", default=None,
                    help="figures as JSON (default: beside --model, *_results.json)")


def search_options(args):
    """The searcher's keyword arguments from the parsed flags."""
    return {"max_trials": args.max_trials, "block_type": args.block, "augment": args.augment,
            "directory": os.path.dirname(os.path.abspath(args.project_dir)),
            "project_name": os.path.basename(os.path.abspath(args.project_dir)),
            "overwrite": args.overwrite, "seed": args.seed, "batch_size": args.batch_size,
            "max_epochs": args.max_epochs, "schedule": args.schedule,
            "precision": args.precision}


def fit_minutes(limit, started, test_pictures, views):
    """What ``--time-limit`` (``limit`` minutes since ``started``, a
    ``time.monotonic()``) leaves the search: less the time spent loading,
    the test predictions (``views`` of each picture) and the saving."""
    if limit is None:
        return None
    from ..reports import format_seconds
    from .hypermodel import ImageHyperModel

    print(f"[INFO] time limit: {format_seconds(limit * 60)} for the whole command")
    end = max(END_SECONDS, 0.02 * limit * 60) + \
        ImageHyperModel.scoring_seconds(test_pictures, views)
    left = limit * 60 - (time.monotonic() - started) - end
    if left < 10:
        raise UserError(f"--time-limit {limit:g}: loading took {time.monotonic() - started:.0f}s, "
                        "which leaves no time to search; give it more")
    return left / 60


def check_output_flags(args):
    """Fill what --model implies and check every output folder now, before
    an hour of search."""
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
