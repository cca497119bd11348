"""The filter that keeps TensorFlow's C++ start-up log off the terminal
(pyimagesearch/tflog.py); the scripts' stderr end to end is in
test_bad_input.py."""

import os
import subprocess
import sys

from conftest import ROOT

from pyimagesearch.tflog import shown

NOTICE = b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
ONEDNN = (b"I0000 00:00:1796183799.957229   30390 port.cc:153] oneDNN custom operations are "
          b"on. You may see slightly different numerical results")
GUARD_2 = (b"To enable the following instructions: AVX2 AVX512F FMA, in other operations, "
           b"rebuild TensorFlow with the appropriate compiler flags.")
WARNING = b"W0000 00:00:1796183799.957229   30390 loader.cc:12] something to know"
ERROR = b"E0000 00:00:1796183799.957229   30390 loader.cc:12] something wrong"


def test_the_levels_of_tf_cpp_min_log_level():
    for line in (NOTICE, ONEDNN, GUARD_2):
        assert not shown(line, 1)
    assert shown(WARNING, 1) and shown(ERROR, 1)
    assert not shown(WARNING, 2) and shown(ERROR, 2) and not shown(ERROR, 3)
    # everything else passes: the scripts' own lines, Python's tracebacks
    for line in (b"mlp_regression.py: error: no such folder", b"Traceback (most recent call",
                 b"[WARNING] skipping a.jpg", b"I like this line"):
        assert shown(line, 3)


def test_the_filter_keeps_order_and_partial_lines():
    # a child process writes TensorFlow's lines, its own, and a line
    # without its end (a prompt), through the filter
    code = (
        "import os, sys, time\n"
        "from pyimagesearch.tflog import StartupLogFilter\n"
        "f = StartupLogFilter(level=1).start()\n"
        f"os.write(2, {NOTICE!r} + b'\\n' + {ONEDNN!r} + b'\\n')\n"
        "print('first', file=sys.stderr, flush=True)\n"
        f"os.write(2, {WARNING!r} + b'\\n')\n"
        "os.write(2, b'no end yet')\n"
        "time.sleep(0.5)\n"
        "os.write(2, b', now the end\\n')\n"
        "f.stop()\n"
        "print('after stop', file=sys.stderr, flush=True)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.stderr.decode().splitlines() == [
        "first", WARNING.decode(), "no end yet, now the end", "after stop"]


def test_a_crash_still_reaches_the_terminal():
    # the filter outlives the script: a fatal error written just before an
    # abort (TensorFlow's CHECK failures end so) is not lost in the pipe
    code = (
        "import os\n"
        "from pyimagesearch.tflog import StartupLogFilter\n"
        "StartupLogFilter(level=1).start()\n"
        f"os.write(2, {ONEDNN!r} + b'\\n')\n"
        "os.write(2, b'F0000 00:00:1.0   1 op.cc:1] Check failed: the end\\n')\n"
        "os.abort()\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode != 0
    assert result.stderr.decode().splitlines() == ["F0000 00:00:1.0   1 op.cc:1] Check failed: "
                                                   "the end"]
