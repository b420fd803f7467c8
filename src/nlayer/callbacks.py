"""Everything around the training loop, as callbacks: early stopping with the
best weights restored, checkpoints, progress lines, and the user's own.

``fit`` calls each callback's ``on_train_begin`` once, ``on_epoch_end`` after
every epoch (in order: early stopping, the user's callbacks, progress,
checkpoints) and ``on_train_end`` when training ends normally. A callback ends
training after the current epoch by setting ``state.stop`` or raising
:class:`StopTraining`. A plain function ``f(net, epoch, logs)`` is a callback
too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoints import save_checkpoint
from .state import Monitor, TrainingState

if TYPE_CHECKING:
    from .network import Network
    from .optimizers import Optimizer


class StopTraining(Exception):
    """Raise from a callback to end training after the current epoch."""


class Callback:
    """Base class: override the hooks you need; each gets the network and the
    :class:`~nlayer.state.TrainingState`."""

    def on_train_begin(self, net: Network, state: TrainingState) -> None:
        """Before the first epoch (of this run, when it resumes)."""

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        """After each epoch; ``logs``: epoch (from 0), loss, lr, grad_norms,
        and val_loss, val_<metric> with validation data."""

    def on_train_end(self, net: Network, state: TrainingState) -> None:
        """After the last epoch, when training ends without an error."""


class FunctionCallback(Callback):
    """A function ``f(net, epoch, logs)`` called after every epoch."""

    def __init__(self, fn: Callable[[Network, int, dict[str, Any]], Any]) -> None:
        self.fn = fn

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        self.fn(net, logs["epoch"], logs)


def as_callbacks(callbacks: Sequence[Any]) -> list[Callback]:
    """Callback objects as they are; functions wrapped."""
    out: list[Callback] = []
    for c in callbacks:
        if isinstance(c, Callback):
            out.append(c)
        elif callable(c):
            out.append(FunctionCallback(c))
        else:
            raise TypeError(
                f"a callback is a function (net, epoch, logs) or a Callback, got {c!r}"
            )
    return out


def epoch_end(
    callbacks: Sequence[Callback],
    net: Network,
    state: TrainingState,
    logs: dict[str, Any],
) -> None:
    """Call every callback's ``on_epoch_end``; StopTraining from any of them
    stops training after the others have run."""
    for callback in callbacks:
        try:
            callback.on_epoch_end(net, state, logs)
        except StopTraining:
            state.stop = True


class EarlyStopping(Callback):
    """Stop when the monitored value has not improved for ``patience`` epochs.

    ``key``: the logged value to watch (default: ``val_loss`` when there is
    validation data, else ``loss``), or a function of the logs giving it;
    ``mode``, ``min_delta`` and ``rule``: how :class:`~nlayer.state.Monitor`
    decides improvement. ``restore_best``:
    put back the best epoch's weights when training ends; ``keep_best``: keep
    a copy of them in ``monitor.best_params`` (implied by ``restore_best``).
    ``stop=False`` only watches. ``on_plateau``: called instead of stopping;
    when it returns True, training goes on with the count reset (scikit-learn's
    adaptive learning rate). ``monitor``: the Monitor to update (fit passes
    the TrainingState's, which checkpoints carry).
    """

    def __init__(
        self,
        patience: float = 10,
        min_delta: float = 0.0,
        *,
        key: str | Callable[[dict[str, Any]], float] | None = None,
        mode: str = "min",
        rule: str = "nlayer",
        restore_best: bool = True,
        keep_best: bool = False,
        stop: bool = True,
        on_plateau: Callable[[], bool] | None = None,
        monitor: Monitor | None = None,
    ) -> None:
        self.patience, self.key, self.stop = patience, key, stop
        self.restore_best = restore_best
        self.keep_best = keep_best or restore_best
        self.on_plateau = on_plateau
        self.monitor = monitor or Monitor(mode, min_delta, rule)

    def value(self, logs: dict[str, Any]) -> float:
        """The monitored value in one epoch's logs (NaN when it is missing)."""
        key = self.key
        if key is None:
            key = "val_loss" if "val_loss" in logs else "loss"
        elif callable(key):
            return float(key(logs))
        return float(logs.get(key, math.nan))

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        params = net.params if self.keep_best else None
        self.monitor.update(self.value(logs), logs["epoch"], params)
        if self.monitor is state.monitor:  # the run's own: its history says so
            state.history.best_epoch = self.monitor.best_epoch
        if self.monitor.waited < self.patience:
            return
        if self.on_plateau is not None and self.on_plateau():
            self.monitor.waited = 0
        elif self.stop:
            state.stop = state.history.stopped_early = True

    def on_train_end(self, net: Network, state: TrainingState) -> None:
        if self.restore_best and self.monitor.best_params is not None:
            net.params[...] = self.monitor.best_params


class ProgressPrinter(Callback):
    """A line per ``every`` epochs (and the first and last): the losses and the
    validation values."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        epoch, epochs = logs["epoch"], state.epochs
        if not ((epoch + 1) % self.every == 0 or epoch == 0 or state.last_epoch):
            return
        width = len(str(epochs))
        parts = [f"epoch {epoch + 1:>{width}}/{epochs}", f"loss {logs['loss']:.6g}"]
        parts += [f"{k} {v:.6g}" for k, v in logs.items() if k.startswith("val_")]
        print("  ".join(parts), flush=True)


class CheckpointWriter(Callback):
    """A checkpoint in ``directory`` every ``every`` epochs and after the last
    (see :mod:`nlayer.checkpoints`); ``fingerprint``: the data and options a
    resumption must match."""

    def __init__(
        self, directory: Path, every: int, opt: Optimizer, fingerprint: dict
    ) -> None:
        self.directory, self.every = directory, every
        self.opt, self.fingerprint = opt, fingerprint

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        if state.epoch % self.every == 0 or state.last_epoch:
            save_checkpoint(self.directory, net, self.opt, state, self.fingerprint)
