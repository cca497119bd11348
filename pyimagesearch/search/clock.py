"""The whole command's time (``--time-limit``), as the search shares it out
(``engine.HalvingOracle.budget``) and the export checks it
(``export.export_plan``)."""

import time


class Clock:
    """The command's time: ``limitMinutes`` from ``start`` (a
    ``time.monotonic()``, taken when the script started), less a reserve
    kept for the end: 2% of the limit (at least 15 s) for the summary, the
    figures and the saving, ``testSeconds`` for the test predictions, and
    for a distributed chief (``role``) 25 s, as KerasTuner's chief waits up
    to 20 s for its workers to leave."""

    def __init__(self, limitMinutes, start, testSeconds=0.0, role="single"):
        self.start = start
        self.limit = None if limitMinutes is None else float(limitMinutes) * 60.0
        self.reserve = 0.0
        if self.limit is not None:
            self.reserve = (max(15.0, 0.02 * self.limit) + testSeconds
                            + (25.0 if role == "chief" else 0.0))

    def elapsed(self):
        return time.monotonic() - self.start

    def left(self):
        """Seconds left for training, or None without a limit."""
        if self.limit is None:
            return None
        return self.limit - self.reserve - self.elapsed()

    def deadline(self):
        """The ``time.monotonic()`` by which training must end, or None."""
        return None if self.limit is None else self.start + self.limit - self.reserve
