"""TensorFlow's C++ start-up log, kept off the terminal.

TensorFlow 2.21 writes its C++ log through Abseil before Abseil's logging
is set up, so ``TF_CPP_MIN_LOG_LEVEL`` no longer silences it: importing
TensorFlow and running its first operation print four lines (Abseil's
"All log messages before absl::InitializeLog() ..." notice twice, oneDNN's
"custom operations are on" twice, sometimes the CPU-instructions note). A
script's one-line error then arrives as the fifth line.

``StartupLogFilter`` does what the variable promises: the process's file
descriptor 2 becomes a pipe, and a small child process (this module run
as a script) copies what comes through it to the real stderr, leaving out
C++ log lines below the level ``TF_CPP_MIN_LOG_LEVEL`` names (default 1:
information hidden, warnings and errors shown) and the notices that belong
to them. Everything else, Python's tracebacks and warnings included,
passes unchanged and in order. A child, not a thread: it ignores Ctrl-C
and outlives a crash of the script, so a fatal error's last words still
reach the terminal. ``TF_CPP_MIN_LOG_LEVEL=0`` turns the filter off.
"""

import os
import re
import select
import signal
import subprocess
import sys

# Abseil's line prefix: severity letter, MMDD, time, thread id, file:line]
_CPP_LINE = re.compile(rb"^([IWEF])\d{4} [\d:.]+ +\d+ [\w.\-]+:\d+\] ")
_NOTICES = (
    re.compile(rb"^WARNING: All log messages before absl::InitializeLog\(\) is called"),
    # the second line of cpu_feature_guard's information message
    re.compile(rb"^To enable the following instructions: .* rebuild TensorFlow"),
)
_LEVELS = {b"I": 0, b"W": 1, b"E": 2, b"F": 3}


def min_level():
    """The lowest C++ log level shown (0 information, 1 warnings, 2 errors,
    3 fatal only), from ``TF_CPP_MIN_LOG_LEVEL`` (default 1)."""
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "1"))
    except ValueError:
        return 1


def shown(line, level):
    """Whether ``line`` (bytes) reaches the terminal at ``level``."""
    match = _CPP_LINE.match(line)
    if match:
        return _LEVELS[match.group(1)] >= level
    return not any(notice.match(line) for notice in _NOTICES)


def copy_filtered(source, target, level):
    """Copy file descriptor ``source`` to ``target`` until it ends, line by
    line, leaving out what ``shown`` hides. A line without its end yet (a
    prompt, a progress bar) is passed on after a tenth of a second."""
    pending = b""
    while True:
        (ready, _, _) = select.select([source], [], [], 0.1)
        if not ready:
            if pending and shown(pending, level):
                _write(target, pending)
            pending = b""
            continue
        chunk = os.read(source, 65536)
        if not chunk:
            break
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        _write(target, b"".join(line + b"\n" for line in lines if shown(line, level)))
    if pending and shown(pending, level):
        _write(target, pending)


def _write(fd, data):
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:
            return


class StartupLogFilter:
    """File descriptor 2 through a filtering child process (``start`` /
    ``stop``); nothing happens at level 0 or where it cannot be set up."""

    def __init__(self, level=None):
        self.level = min_level() if level is None else level
        self.child = None

    def start(self):
        if self.level <= 0 or self.child is not None:
            return self
        try:
            sys.stderr.flush()
            (read, write) = os.pipe()
            self.child = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__), str(self.level)],
                stdin=read, stdout=subprocess.DEVNULL, stderr=None, close_fds=True)
            os.close(read)
            self.real = os.dup(2)
            os.dup2(write, 2)
            os.close(write)
        except OSError:
            self.child = None
        return self

    def stop(self):
        """Put the real stderr back once everything written has reached it."""
        if self.child is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        # fd 2 held the pipe's last writer here: the child reads to the end
        # (a child process of the script that kept it drains it later)
        os.dup2(self.real, 2)
        os.close(self.real)
        try:
            self.child.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            pass
        self.child = None


if __name__ == "__main__":
    # the filter itself: the script's stderr on stdin, the terminal on stderr
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    copy_filtered(0, 2, int(sys.argv[1]))
