"""Command-line plumbing shared by every script.

A user mistake (a wrong path, a malformed file) is not a bug in the program,
so it must not end in a traceback: the scripts raise ``UserError`` and
``run_main`` turns it into one line on stderr and exit code 2, the same code
argparse uses for bad flags. Ctrl-C ends with the conventional 130.
"""

import argparse
import gc
import logging
import os
import sys
import warnings

from .errors import UserError
from .storage import ensure_writable_folder

EXIT_USAGE = 2
# the largest number the networks (float32) compute with: a larger input is refused
FLOAT32_MAX = 3.4028234663852886e38
EXIT_INTERRUPTED = 130


def warn(message):
    """Print a warning that does not stop the run."""
    print(f"[WARNING] {message}", file=sys.stderr, flush=True)


def run_main(main, argv=None):
    """Call ``main(argv)`` and map user errors and Ctrl-C to exit codes."""
    from .tflog import StartupLogFilter

    prog = os.path.basename(sys.argv[0]) or "script"
    # TensorFlow's start-up log would come before an error line (tflog.py)
    quiet = StartupLogFilter().start()
    # Keras 3.15 warns on every fit given a tf.data pipeline, since fit's
    # shuffle defaults to True (keras-team/keras#22777); the scripts'
    # pipelines shuffle themselves (training.batches), so the warning
    # would only be noise on every run
    warnings.filterwarnings("ignore", category=UserWarning,
                            message="`shuffle=True` was passed, but will be ignored since the "
                                    "data `x` was provided as a tf.data.Dataset")
    # compare_house_models.py trains and predicts a new model per fold: from
    # the fifth on TensorFlow warns that "tf.function retracing" is
    # expensive, which is only what a new model costs
    logging.getLogger("tensorflow").addFilter(NEW_MODELS_RETRACE)
    try:
        status = main(argv) or 0
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        status = EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; outputs that existed before the run are untouched",
              file=sys.stderr)
        status = EXIT_INTERRUPTED
    finally:
        # (a traceback, printed after this, goes straight to the terminal)
        quiet.stop()
    # Every output is written and closed by now. Python's shutdown would
    # still walk TensorFlow's millions of objects in a last garbage
    # collection (about a second of CPU, measured: bench/README.md); frozen,
    # they are left to the operating system. The exit is otherwise the usual
    # one: atexit handlers run, streams are flushed, the status is returned.
    gc.freeze()
    sys.exit(status)


class _NewModelsRetrace(logging.Filter):
    """Drops TensorFlow's warning that a function was traced again."""

    def filter(self, record):
        return "triggered tf.function retracing" not in record.getMessage()


NEW_MODELS_RETRACE = _NewModelsRetrace()


def fit_verbosity():
    """``verbose=`` for ``model.fit``: Keras' progress bar on a terminal, one
    line per epoch otherwise (a log file, CI, a notebook cell), where the
    bar's redraws would fill the log with one line per step."""
    return 1 if sys.stdout.isatty() else 2


def existing_folder(path, what="--dataset"):
    """Return ``path`` if it is a readable folder, else raise ``UserError``."""
    if not os.path.exists(path):
        raise UserError(f"{what} {path!r} does not exist")
    if not os.path.isdir(path):
        raise UserError(f"{what} {path!r} is not a folder")
    return path


def positive_int(text):
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


# the first word indices are marks (padding, a text's start, unknown words)
MIN_WORDS = 4


def word_count(text):
    """argparse type: a vocabulary size, at least ``MIN_WORDS``."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < MIN_WORDS:
        raise argparse.ArgumentTypeError(
            f"expected a vocabulary of at least {MIN_WORDS} words (the first indices mark "
            f"padding and unknown words), got {text!r}")
    return value


def fraction(text):
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


def add_training_flags(ap, epochs, batch_size, whose="as in the post"):
    """The flags of the posts' training: ``epochs`` and ``batch_size`` (the
    post's, or a recipe's: ``whose`` says) are the defaults of --epochs and
    --batch-size; ``epochs`` None leaves it to the script's --network."""
    ap.add_argument("--epochs", type=positive_int, default=epochs,
                    help="training epochs (default: "
                         + (f"{epochs}, {whose})" if epochs else "as --network sets it)"))
    ap.add_argument("--batch-size", type=positive_int, default=batch_size,
                    help=f"batch size (default: {batch_size}, {whose})")
    ap.add_argument("--val-split", type=fraction, default=None, metavar="F",
                    help="hold out this fraction of the training data as validation "
                         "data, and keep the weights of the epoch with the lowest "
                         "validation loss (the test split is then never looked at "
                         "during training)")
    ap.add_argument("--patience", type=positive_int, default=None, metavar="N",
                    help="with --val-split: stop after N epochs without a better "
                         "validation loss (default: train all epochs)")
    add_seed_flag(ap)
    ap.add_argument("--mixed-precision", action="store_true",
                    help="compute in bfloat16 with float32 weights: faster on CPUs "
                         "with AVX512-BF16/AMX, results differ within run-to-run noise")


def add_seed_flag(ap, what="Python, NumPy and TensorFlow"):
    """``--seed`` (42): the same seed prints the same numbers."""
    ap.add_argument("--seed", type=int, default=42,
                    help=f"seed for {what}; the same seed prints the same numbers "
                         "(default: 42)")


def check_training_args(ap, args):
    """What argparse cannot check alone about ``add_training_flags``' flags."""
    if args.patience is not None and args.val_split is None:
        ap.error("--patience needs --val-split: early stopping never looks at the test split")
    return args


# --------------------------------------------------------------------------
# The flags of the house-price scripts (parts 1-3) and the image
# classifiers (part 4): the posts' own, plus the training flags


def parse_house_args(description, argv, epochs, batch_size):
    """The house-price scripts' flags; ``epochs``/``batch_size`` are the post's."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", type=str, required=True,
                    help="path to the Houses dataset folder (holds HousesInfo.txt)")
    add_training_flags(ap, epochs, batch_size)
    ap.add_argument("--output", type=str, default=None, metavar="DIR",
                    help="folder for the trained model (.keras), the loss plot and "
                         "the test-set predictions (CSV)")
    args = check_training_args(ap, ap.parse_args(argv))

    existing_folder(args.dataset)
    if args.output is not None:
        ensure_writable_folder(args.output, "--output")
    return args


def classifier_parser(description, epochs, batch_size, whose="as in the post"):
    """The post's four required flags, plus the training flags;
    ``epochs``/``batch_size`` are the post's unless ``whose`` says otherwise."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("-d", "--dataset", required=True,
                    help="path to input dataset of images (one sub-folder per class)")
    ap.add_argument("-m", "--model", required=True,
                    help="path to output trained model (saved as .keras)")
    ap.add_argument("-l", "--label-bin", required=True,
                    help="path to output label binarizer")
    ap.add_argument("-p", "--plot", required=True,
                    help="path to output accuracy/loss plot")
    add_training_flags(ap, epochs, batch_size, whose)
    return ap


def parse_classifier_args(description, argv, epochs, batch_size):
    """The posts' classifiers' flags (``classifier_parser``), checked."""
    ap = classifier_parser(description, epochs, batch_size)
    return check_classifier_args(ap, ap.parse_args(argv))


def check_classifier_args(ap, args):
    """Check ``classifier_parser``'s flags, every path before any work, so a
    typo costs a second, not a run."""
    check_training_args(ap, args)
    existing_folder(args.dataset)
    for flag, path in (("--model", args.model), ("--label-bin", args.label_bin),
                       ("--plot", args.plot)):
        if os.path.isdir(path):
            raise UserError(f"{flag} {path!r} is a folder, expected a file name")
        ensure_writable_folder(os.path.dirname(path), f"folder of {flag}")
    return args


# --------------------------------------------------------------------------
# The flags of the chapter-3 scripts (Deep Learning with Python): the
# chapter's two runs of imdb_reviews.py and reuters_newswires.py, and the
# output checks they share with boston_housing.py


def add_chapter_flags(ap, items, validation_size, epochs, output):
    """The flags imdb_reviews.py and reuters_newswires.py share: the
    chapter's two runs (one watched on held-out ``items``, then a fresh
    model on all of them), the vocabulary, seed and outputs."""
    ap.add_argument("--num-words", type=word_count, default=10000,
                    help="keep the N most frequent training words (default: 10000)")
    ap.add_argument("--validation-size", type=positive_int, default=validation_size,
                    help=f"training {items} held out in the first run "
                         f"(default: {validation_size})")
    ap.add_argument("--validation-epochs", type=positive_int, default=20,
                    help=f"epochs of the first run, watched on the held-out {items} "
                         "(default: 20)")
    ap.add_argument("--epochs", type=positive_int, default=epochs,
                    help=f"epochs of the final model on all training {items} "
                         f"(default: {epochs})")
    ap.add_argument("--batch-size", type=positive_int, default=512,
                    help="batch size (default: 512)")
    add_seed_flag(ap)
    ap.add_argument("--output", default=output,
                    help=f"folder for the curves and results.json (default: {output})")
    ap.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="write TensorBoard logs under DIR (holdout/ and final/)")


def check_chapter_paths(dataset, output, tensorboard):
    """Before anything loads: ``dataset`` (None: Keras' download) must
    exist, and the ``output`` and ``tensorboard`` folders (None: no logs)
    must be writable."""
    if dataset is not None and not os.path.exists(dataset):
        raise UserError(f"--dataset {dataset!r} does not exist")
    ensure_writable_folder(output, "--output")
    if tensorboard:
        ensure_writable_folder(tensorboard, "--tensorboard")

# --------------------------------------------------------------------------
# The search scripts' flags (part 5): the searcher's settings, the project
# folder, the outputs, and the whole command's time

# what the end of a search script needs besides the test predictions: the
# figures and the saving (2% of the limit, at least this)
END_SECONDS = 15.0


def minutes(text):
    """argparse type: a positive number of minutes."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of minutes, got {text!r}")
    return value


def add_search_flags(ap, name):
    """The searcher's flags; ``name`` names the outputs under ``output/``."""
    from .search.blocks import AIRBENCH_MIN_SIDE, FAMILIES, SMALL_IMAGE
    from .search.settings import PRECISIONS, SCHEDULES

    ap.add_argument("--max-trials", type=positive_int, default=2,
                    help="candidate networks to try (default: 2, the chapter's); rerun with "
                         "more to continue a search")
    ap.add_argument("--time-limit", type=minutes, default=None, metavar="MINUTES",
                    help="finish the whole command (search, test, saving) "
                         "within this many minutes")
    ap.add_argument("--block", choices=FAMILIES + ("any",), default=None,
                    help="the network family (ImageBlock's block_type); 'any' searches it too "
                         f"(default: airbench for pictures of {AIRBENCH_MIN_SIDE} to "
                         f"{SMALL_IMAGE['classification']} px, a regressor's to "
                         f"{SMALL_IMAGE['regression']} px; vanilla otherwise)")
    ap.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                    help="augment the training pictures (default: always for the "
                         "airbench family, searched for the others)")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help="epochs of the longest trial (default: --max-epochs, or what "
                         "--time-limit pays for)")
    ap.add_argument("--max-epochs", type=positive_int, default=None,
                    help="the longest trial's epochs when --epochs is left out (default: 40 "
                         "for an airbench classifier, 100 otherwise)")
    ap.add_argument("--schedule", choices=SCHEDULES, default=None,
                    help="onecycle (Nesterov SGD, Muon for an airbench network's filters, "
                         "up then down) or cosine (Adam, warm-up, "
                         "then to zero) (default: onecycle for an airbench classifier, "
                         "else cosine)")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help="default: 512 for an airbench classifier (less for small "
                         "datasets), else 32")
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


def check_block_side(block, side):
    """``--block airbench`` on pictures too small for its three halvings."""
    from .search.blocks import AIRBENCH_MIN_SIDE

    if block == "airbench" and side < AIRBENCH_MIN_SIDE:
        raise UserError(f"--block airbench needs pictures of {AIRBENCH_MIN_SIDE} pixels or "
                        f"more; --image-size is {side}")


def search_options(args):
    """The searcher's keyword arguments from the parsed flags."""
    return {"max_trials": args.max_trials, "block_type": args.block, "augment": args.augment,
            "directory": os.path.dirname(os.path.abspath(args.project_dir)),
            "project_name": os.path.basename(os.path.abspath(args.project_dir)),
            "overwrite": args.overwrite, "seed": args.seed, "batch_size": args.batch_size,
            "max_epochs": args.max_epochs, "schedule": args.schedule,
            "precision": args.precision}


def search_minutes(limit, started):
    """What ``--time-limit`` (``limit`` minutes since ``started``, a monotonic
    time) leaves the search, less loading and the figures' and saving's
    margin (the test's time the search keeps itself: ``fit(test_pictures=)``)."""
    import time

    if limit is None:
        return None
    from .reports import format_seconds

    print(f"[INFO] time limit: {format_seconds(limit * 60)} for the whole command")
    end = max(END_SECONDS, 0.02 * limit * 60)
    left = limit * 60 - (time.monotonic() - started) - end
    if left < 10:
        raise UserError(f"--time-limit {limit:g}: loading took {time.monotonic() - started:.0f}s, "
                        "which leaves no time to search; give it more")
    return left / 60


def check_output_flags(args):
    """Fill what --model implies; check every output folder before the search."""
    from .storage import beside, model_file

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
