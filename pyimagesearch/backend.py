"""Import TensorFlow once, without its start-up chatter.

TensorFlow 2.21 writes several lines to stderr while it loads (oneDNN and
CPU-feature notices) before its own log settings take effect, so
``TF_CPP_MIN_LOG_LEVEL`` cannot hide them. Readers should see the posts'
output and, on a mistake, one error line, so stderr is pointed at the null
device for the duration of the import only. A Python exception raised by
the import still reaches the user. Set ``TF_CPP_MIN_LOG_LEVEL=0`` to see
everything.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_tensorflow_quietly():
    if "tensorflow" in sys.modules or os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":
        import tensorflow  # noqa: F401
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_import_tensorflow_quietly()
