"""Command-line plumbing shared by every script.

A user mistake (a wrong path, a malformed file) is not a bug in the program,
so it must not end in a traceback: the scripts raise ``UserError`` and
``run_main`` turns it into one line on stderr and exit code 2, the same code
argparse uses for bad flags. Ctrl-C ends with the conventional 130.
"""

import argparse
import gc
import os
import sys
import time

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """A problem with the user's input, reported as one line, exit code 2."""


def warn(message):
    """Print a warning that does not stop the run."""
    print(f"[WARNING] {message}", file=sys.stderr, flush=True)


def run_main(main, argv=None):
    """Call ``main(argv)`` and map user errors and Ctrl-C to exit codes."""
    prog = os.path.basename(sys.argv[0]) or "script"
    try:
        status = main(argv) or 0
    except UserError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        status = EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\n{prog}: interrupted; outputs that existed before the run are untouched",
              file=sys.stderr)
        status = EXIT_INTERRUPTED
    # Every output is written and closed by now. Python's shutdown would
    # still walk TensorFlow's millions of objects in a last garbage
    # collection (about a second of CPU, measured: bench/README.md); frozen,
    # they are left to the operating system. The exit is otherwise the usual
    # one: atexit handlers run, streams are flushed, the status is returned.
    gc.freeze()
    sys.exit(status)


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


def fraction(text):
    """argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


# "posts" is the recipe of the posts, line by line; "improved" is the opt-in
# better recipe of each script (recipes.py, README "Results")
RECIPES = ("posts", "improved")

# epochs and batch size of each script, per recipe (the flags' defaults)
DEFAULTS = {
    "mlp": {"posts": {"epochs": 200, "batch_size": 8},
            "improved": {"epochs": 200, "batch_size": 16}},
    # the CNN learns from pictures alone, where a bigger batch costs far
    # less per house on a CPU than four small ones
    "cnn": {"posts": {"epochs": 200, "batch_size": 8},
            "improved": {"epochs": 200, "batch_size": 32}},
    "mixed": {"posts": {"epochs": 200, "batch_size": 8},
              "improved": {"epochs": 200, "batch_size": 16}},
    "simple_nn": {"posts": {"epochs": 80, "batch_size": 32},
                  "improved": {"epochs": 80, "batch_size": 32}},
    "smallvggnet": {"posts": {"epochs": 75, "batch_size": 32},
                    "improved": {"epochs": 150, "batch_size": 32}},
}


def add_training_flags(ap, defaults):
    """Flags every training script has.

    ``defaults`` maps each recipe to its ``epochs`` and ``batch_size``; the
    flags left out on the command line take the chosen recipe's values
    (``apply_recipe_defaults``).
    """
    posts, improved = defaults["posts"], defaults["improved"]
    ap.add_argument("--recipe", choices=RECIPES, default="posts",
                    help="'posts' trains exactly as the post (default); 'improved' "
                         "uses this repository's better recipe (see the README)")
    ap.add_argument("--epochs", type=positive_int, default=None,
                    help=f"training epochs (default: {posts['epochs']}, as in the post; "
                         f"{improved['epochs']} with --recipe improved)")
    ap.add_argument("--batch-size", type=positive_int, default=None,
                    help=f"batch size (default: {posts['batch_size']}, as in the post; "
                         f"{improved['batch_size']} with --recipe improved)")
    ap.add_argument("--val-split", type=fraction, default=None, metavar="F",
                    help="hold out this fraction of the training data as validation "
                         "data, and keep the weights of the epoch with the lowest "
                         "validation loss (the test split is then never looked at "
                         "during training)")
    ap.add_argument("--patience", type=positive_int, default=None, metavar="N",
                    help="with --val-split: stop after N epochs without a better "
                         "validation loss (default: train all epochs)")
    add_seed_flag(ap)
    ap.add_argument("--resume-dir", default=None, metavar="DIR",
                    help="keep per-epoch training state in DIR; rerunning the same "
                         "command after an interruption resumes at the last epoch")
    ap.add_argument("--mixed-precision", action="store_true",
                    help="compute in bfloat16 with float32 weights: faster on CPUs "
                         "with AVX512-BF16/AMX, results differ within run-to-run noise")


def add_seed_flag(ap, what="Python, NumPy and TensorFlow"):
    """``--seed`` (42): the same seed prints the same numbers."""
    ap.add_argument("--seed", type=int, default=42,
                    help=f"seed for {what}; the same seed prints the same numbers "
                         "(default: 42)")


def apply_recipe_defaults(ap, args, defaults):
    """Fill the training flags left out with the chosen recipe's defaults."""
    args.start_time = time.perf_counter()
    for name, value in defaults[args.recipe].items():
        if getattr(args, name, None) is None:
            setattr(args, name, value)
    if args.patience is not None and args.val_split is None:
        ap.error("--patience needs --val-split: early stopping never looks at the test split")
    return args
