"""What a search does (``SearchSettings``), from what its caller gave and the
block's defaults (``resolve``). Nothing here imports TensorFlow."""

from dataclasses import dataclass
from typing import Optional

from ..reports import native_bfloat16
from .blocks import sgd_recipe

# how a trial's learning rate moves: "onecycle", Nesterov SGD (Muon for an
# airbench network's filters) up to a peak and down (the airbench family's
# classifiers'); "cosine", Adam, a warm-up, then a cosine to zero (the rest)
SCHEDULES = ("onecycle", "cosine")
PRECISIONS = ("auto", "float32", "mixed_bfloat16")
# the longest trial's epochs, the batch size and the schedule: the airbench
# family's classifiers learn CIFAR-10 in a few dozen epochs of large batches;
# the rest (its regressors too) anneal over 100 epochs of 32 pictures
TRAINING_DEFAULTS = {"airbench": {"max_epochs": 40, "batch_size": 512, "schedule": "onecycle"},
                     "other": {"max_epochs": 100, "batch_size": 32, "schedule": "cosine"}}


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


def resolve(block, side, samples, task="classification", augment=None, epochs=None,
            max_epochs=None, batch_size=None, schedule=None, val_split=None, seed=42,
            max_trials=2, time_limit=None, precision="auto"):
    """The settings of a ``task`` search of ``block`` (an ``ImageBlock``) over
    ``samples`` training pictures of ``side`` pixels: what is left as None
    takes the family's defaults."""
    family = block.resolved(side, task)
    sgd = sgd_recipe(family, task)
    defaults = TRAINING_DEFAULTS["airbench" if sgd else "other"]
    if batch_size is None:
        batch_size = defaults["batch_size"]
        # a few hundred pictures in batches of 512 would be one step an
        # epoch: halve the batch until an epoch has eight steps (16 at least)
        while sgd and batch_size > 16 and samples / batch_size < 8:
            batch_size //= 2
    return SearchSettings(block=family, augment=augment, epochs=epochs,
                          max_epochs=max_epochs or defaults["max_epochs"], batch_size=batch_size,
                          schedule=schedule or defaults["schedule"],
                          val_split=val_split or (0.1 if samples >= 10000 else 0.2), seed=seed,
                          max_trials=max_trials, time_limit=time_limit,
                          precision=resolve_precision(precision, family))


def resolve_precision(precision, family):
    """``precision``, with "auto" made mixed bfloat16 for the airbench
    ``family`` where the processor computes bfloat16 natively (it trains
    1.75x faster, bench/README.md; the other families gained nothing),
    float32 elsewhere."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if native_bfloat16() and family == "airbench" else "float32"
