"""TensorFlow's C++ start-up log, kept off the terminal.

TensorFlow 2.21 writes its C++ log through Abseil before Abseil's logging
is set up, so ``TF_CPP_MIN_LOG_LEVEL`` no longer silences it: importing
TensorFlow and running its first operation print four lines (Abseil's
"All log messages before absl::InitializeLog() ..." notice twice, oneDNN's
"custom operations are on" twice, sometimes the CPU-instructions note). A
script's one-line error then arrives as the fifth line.

``StartupLogFilter`` does what the variable promises: the process's file
descriptor 2 becomes a pipe, and a thread copies what comes through it to
the real stderr, leaving out C++ log lines below the level
``TF_CPP_MIN_LOG_LEVEL`` names (default 1: information hidden, warnings
and errors shown) and the notices that belong to them. Everything else,
Python's tracebacks and warnings included, passes unchanged and in order.
``TF_CPP_MIN_LOG_LEVEL=0`` turns the filter off.
"""

import os
import re
import select
import sys
import threading

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


class StartupLogFilter:
    """File descriptor 2 through a filtering thread (``start``/``stop``)."""

    def __init__(self, level=None):
        self.level = min_level() if level is None else level
        self.thread = None

    def start(self):
        if self.level <= 0 or self.thread is not None:
            return self
        try:
            sys.stderr.flush()
            self.real = os.dup(2)
            (self.read, write) = os.pipe()
            os.dup2(write, 2)
            os.close(write)
        except OSError:
            return self
        self.thread = threading.Thread(target=self._copy, name="stderr-filter", daemon=True)
        self.thread.start()
        return self

    def stop(self):
        """Put the real stderr back after everything written has reached it."""
        if self.thread is None:
            return
        try:
            sys.stderr.flush()
        except (OSError, ValueError):
            pass
        # fd 2 was the pipe's only writer: the thread reads to the end
        os.dup2(self.real, 2)
        self.thread.join(timeout=5.0)
        os.close(self.real)
        self.thread = None

    def _copy(self):
        pending = b""
        while True:
            # a line without its end yet (a prompt, a progress bar) is
            # shown after a tenth of a second rather than held back
            (ready, _, _) = select.select([self.read], [], [], 0.1)
            if not ready:
                if pending and shown(pending, self.level):
                    self._write(pending)
                pending = b""
                continue
            chunk = os.read(self.read, 65536)
            if not chunk:
                break
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            self._write(b"".join(line + b"\n" for line in lines if shown(line, self.level)))
        if pending and shown(pending, self.level):
            self._write(pending)
        os.close(self.read)

    def _write(self, data):
        while data:
            try:
                data = data[os.write(self.real, data):]
            except OSError:
                return
