"""What a training run carries from one epoch to the next: the TrainingState
(the object a checkpoint saves and restores) and the Monitor of its best epoch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .backend import Array, copy_of
from .history import History

#: how a Monitor decides that a value improved (see Monitor)
RULES = ("nlayer", "scikit-learn")


@dataclass
class Monitor:
    """The best value of one monitored quantity, and the epochs since it improved.

    ``mode``: "min" (a loss) or "max" (a score). ``rule`` says what counts:

    - "nlayer" (Keras's too): a value improves when it beats ``best`` by more
      than ``min_delta``; ``best`` is the value of the last improvement.
    - "scikit-learn" (its MLP's ``tol``): a value improves unless it is worse
      than ``best`` − ``min_delta`` (a loss; + for a score); ``best`` is the
      best value seen, whether or not it improved by ``min_delta``.

    A value that is not a number (NaN) never improves. ``best_epoch`` is the
    epoch of ``best``; ``best_params`` a copy of the weights then, when the
    owner keeps them.
    """

    mode: str = "min"
    min_delta: float = 0.0
    rule: str = "nlayer"
    best: float = math.nan  # ±inf until the first value (set in __post_init__)
    waited: int = 0
    best_epoch: int | None = None
    best_params: Array | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max") or self.rule not in RULES:
            raise ValueError(
                f"a Monitor's mode is 'min' or 'max' and its rule one of {RULES}"
            )
        if math.isnan(self.best):
            self.best = math.inf if self.mode == "min" else -math.inf

    def update(self, value: float, epoch: int, params: Array | None = None) -> bool:
        """Count one epoch's ``value``; True when it improved. A new best
        copies ``params`` (when given) into ``best_params``."""
        if self.mode == "min":
            v, best = value, self.best
        else:  # a score: negated, lower is better
            v, best = -value, -self.best
        if self.rule == "nlayer":
            new_best = improved = v < best - self.min_delta
        else:
            improved = v <= best - self.min_delta
            new_best = v < best
        self.waited = 0 if improved else self.waited + 1
        if new_best:
            self.best, self.best_epoch = float(value), epoch
            if params is not None:
                self.best_params = copy_of(params)
        return improved


@dataclass
class TrainingState:
    """Where a training run is: the counts, the history, the monitor of the
    best epoch, and the random generator's state before the validation split
    (so that a resumed run draws the same split). ``stop``: set during an
    epoch (by early stopping or a callback) to end training after it."""

    epochs: int  # the planned number of epochs
    history: History
    monitor: Monitor = field(default_factory=Monitor)
    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    rng_start: Any = None  # a bit generator's state (a dict)
    stop: bool = False

    @property
    def last_epoch(self) -> bool:
        """Whether the epoch just completed is the final one of the run."""
        return self.stop or self.epoch >= self.epochs
