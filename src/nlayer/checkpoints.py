"""Training checkpoints: what ``fit`` needs to go on exactly where it stopped.

A checkpoint is one safe file (:mod:`nlayer.safefile`, with checksums) named
``checkpoint-<epoch>.safetensors``. Tensors: ``params`` (the flat parameter
buffer), ``optimizer.<key>`` (the optimiser's state arrays) and ``best_params``
(early stopping's best weights, when there are some). Description: the
network's spec, the number of completed epochs, the optimiser (name,
hyper-parameters, step count), the random generator's state now and at the
start of ``fit`` (it drew the validation split), the history so far, early
stopping's state, and a fingerprint of the data and options.

With the same data, options and seed, a run resumed from a checkpoint ends
with weights bit for bit equal to a run never interrupted.
"""

from __future__ import annotations

import contextlib
import math
import re
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import Array, to_numpy
from .checks import is_number
from .history import History
from .optimizers import OPTIMIZERS, Optimizer
from .safefile import (
    ModelFileError,
    WrongFileError,
    read_file,
    write_file,
)
from .state import Monitor, TrainingState
from .version import __version__

if TYPE_CHECKING:
    from .network import Network

FORMAT = "nlayer.checkpoint"
FORMAT_VERSION = 1
NAME = re.compile(r"checkpoint-(\d{6,})\.safetensors")
#: checkpoints kept in a directory: the newest, and older ones to fall back on
KEEP = 3
_DTYPES = {"float32": "F32", "float64": "F64"}


@dataclass
class Checkpoint:
    """A checkpoint read back and checked: the weights, the optimiser, the
    training state and the fingerprint of the data and options."""

    path: Path
    params: Array
    optimizer: dict  # name and settings
    optimizer_t: int
    optimizer_state: dict[str, Array]
    rng: dict  # the generator's state after the last completed epoch
    state: TrainingState
    fingerprint: dict

    @property
    def epoch(self) -> int:
        """The number of completed epochs."""
        return self.state.epoch


def fingerprint(X: Array, Y: Array, w: Array | None, options: dict) -> dict:
    """What must not change between a run and its resumption: the data (shape,
    dtype and CRC-32 of the bytes) and the options that shape the batches."""

    def of(A: Array | None) -> list | None:
        if A is None:
            return None
        data: Any = np.ascontiguousarray(to_numpy(A))  # NumPy's: read in place
        return [list(data.shape), data.dtype.name, zlib.crc32(data)]

    return {"X": of(X), "Y": of(Y), "sample_weight": of(w), **options}


#: an optimiser's fields that are state, not settings
NOT_SETTINGS = {"t", "state", "_scratch", "result"}


def optimizer_settings(opt: Optimizer) -> dict[str, Any]:
    names = [f.name for f in fields(opt) if f.name not in NOT_SETTINGS]
    return {name: getattr(opt, name) for name in names}


def path_for(directory: Path, epoch: int) -> Path:
    return directory / f"checkpoint-{epoch:06d}.safetensors"


def save_checkpoint(
    directory: Path, net: Network, opt: Optimizer, state: TrainingState, data: dict
) -> Path:
    """Write the checkpoint after ``state.epoch`` completed epochs (atomically),
    then delete all but the newest :data:`KEEP`. ``data``: the fingerprint."""
    monitor = state.monitor
    # on the host, whatever device trained: a checkpoint resumes anywhere
    tensors = {"params": to_numpy(net.params)}
    tensors.update({f"optimizer.{k}": to_numpy(v) for k, v in opt.state.items()})
    if monitor.best_params is not None:
        tensors["best_params"] = to_numpy(monitor.best_params)
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nlayer_version": __version__,
        "network": net.spec(),
        "epoch": state.epoch,
        "optimizer": {
            "name": opt.name,
            "settings": optimizer_settings(opt),
            "t": opt.t,
            "state": sorted(opt.state),
        },
        "rng": net.rng.bit_generator.state,
        "rng_start": state.rng_start,
        "history": state.history.as_dict(),
        "early_stopping": {
            "best": monitor.best if math.isfinite(monitor.best) else None,
            "waited": monitor.waited,
        },
        "data": data,
        "has_best_params": monitor.best_params is not None,
    }
    path = write_file(path_for(directory, state.epoch), tensors, description)
    for old in checkpoints(directory)[KEEP:]:
        old.unlink(missing_ok=True)
    return path


def checkpoints(directory: Path) -> list[Path]:
    """The checkpoint files in ``directory``, newest (most epochs) first."""
    found = [
        (int(m[1]), p) for p in directory.iterdir() if (m := NAME.fullmatch(p.name))
    ]
    return [p for _, p in sorted(found, reverse=True)]


#: the largest step count a checkpoint may hold: float-exact, and far beyond
#: any run (Adam's 1 − β^t needs a float t)
MAX_STEPS = 2**53
DESCRIPTION_KEYS = {
    "format",
    "format_version",
    "nlayer_version",
    "network",
    "epoch",
    "optimizer",
    "rng",
    "rng_start",
    "history",
    "early_stopping",
    "data",
    "has_best_params",
}


def _integer(value: Any, lo: int, hi: int) -> bool:
    return is_number(value, lo, hi, integer=True)


def _spec_difference(found: dict, net: Network) -> str:
    """What differs between the network a checkpoint was written for and ``net``."""
    spec = net.spec()
    labels = {
        "layer_sizes": "layer sizes",
        "activations": "activations",
        "loss": "loss",
        "dtype": "dtype",
    }
    changed = [
        f"{label} {found.get(key)!r} there, {spec[key]!r} here"
        for key, label in labels.items()
        if found.get(key) != spec[key]
    ]
    return "; ".join(changed) or "another network"


def _expected(net: Network, path: Path) -> Any:
    n = net.n_params
    dt = _DTYPES[net.dtype.name]

    def expected(d: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
        if d.get("format") != FORMAT:
            raise ValueError(f"not an nlayer checkpoint (format {d.get('format')!r})")
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown checkpoint version {d.get('format_version')!r}")
        missing = sorted(DESCRIPTION_KEYS - set(d))
        if missing:
            raise ValueError(f"the description lacks {', '.join(missing)}")
        network = d["network"]
        if not isinstance(network, dict):
            raise ValueError("the field 'network' is not an object")
        if network != net.spec():
            raise WrongFileError(
                f"{path} was written for the network of another run "
                f"({_spec_difference(network, net)}); resume with the same "
                "network, or use another checkpoint_dir"
            )
        epoch = d["epoch"]
        if not _integer(epoch, 1, 10**9):
            raise ValueError(
                f"the field 'epoch' must be a whole number ≥ 1, got {epoch!r}"
            )
        state = _check_optimizer(d["optimizer"], epoch)
        _check_early_stopping(d["early_stopping"], epoch)
        for key in ("rng", "rng_start", "history", "data"):
            if not isinstance(d[key], dict):
                raise ValueError(f"the field {key!r} is not an object")
        for key in ("rng", "rng_start"):  # a state numpy accepts, tried on a spare
            try:
                type(net.rng.bit_generator)().state = d[key]
            except Exception:
                raise ValueError(
                    f"the field {key!r} is not a generator state"
                ) from None
        _check_history(d["history"], epoch, net.n_layers)
        if not isinstance(d["has_best_params"], bool):
            raise ValueError("the field 'has_best_params' must be true or false")
        wanted: dict[str, tuple[str, tuple[int, ...]]] = {"params": (dt, (n,))}
        wanted.update({f"optimizer.{k}": (dt, (n,)) for k in state})
        if d["has_best_params"]:  # early stopping had a best epoch
            wanted["best_params"] = (dt, (n,))
        return wanted

    return expected


def _check_optimizer(opt: Any, epoch: int) -> list[str]:
    """The optimiser entry checked field by field; the state arrays it names."""
    if not (isinstance(opt, dict) and set(opt) == {"name", "settings", "t", "state"}):
        raise ValueError("the field 'optimizer' must hold name, settings, t and state")
    name, settings, t, state = opt["name"], opt["settings"], opt["t"], opt["state"]
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise ValueError(f"the field 'optimizer.name' names no optimiser: {name!r:.40}")
    cls = OPTIMIZERS[name]
    known = {f.name for f in fields(cls)} - NOT_SETTINGS
    if not (isinstance(settings, dict) and set(settings) == known):
        raise ValueError(
            f"the field 'optimizer.settings' must hold {', '.join(sorted(known))}"
        )
    for key, value in settings.items():
        if not (isinstance(value, bool) or is_number(value)):
            raise ValueError(f"the field 'optimizer.settings.{key}' is not a number")
    # every epoch takes at least one step, and t counts the steps
    if not _integer(t, epoch, MAX_STEPS):
        raise ValueError(
            f"the field 'optimizer.t' (the step count) must be a whole number in "
            f"[{epoch}, 2**53] after {epoch} epochs, got {t!r:.40}"
        )
    if not (
        isinstance(state, list)
        and all(isinstance(k, str) and k in cls.state_keys for k in state)
        and len(set(state)) == len(state)
    ):
        raise ValueError(
            f"the field 'optimizer.state' must name {name}'s state arrays "
            f"({', '.join(cls.state_keys) or 'none'}), got {state!r:.80}"
        )
    return state


def _check_early_stopping(es: Any, epoch: int) -> None:
    if not (isinstance(es, dict) and set(es) == {"best", "waited"}):
        raise ValueError("the field 'early_stopping' must hold best and waited")
    if not _integer(es["waited"], 0, epoch):
        raise ValueError(
            f"the field 'early_stopping.waited' must be a whole number in "
            f"[0, {epoch}], got {es['waited']!r:.40}"
        )
    if es["best"] is not None and not is_number(es["best"]):
        raise ValueError("the field 'early_stopping.best' must be a finite number")


HISTORY_FIELDS = {
    "loss",
    "val_loss",
    "val_metric",
    "metric",
    "grad_norms",
    "lr",
    "best_epoch",
    "stopped_early",
}


def _numbers(v: Any) -> bool:
    return isinstance(v, list) and all(is_number(x) for x in v)


def _check_history(h: dict, epochs: int, n_layers: int) -> None:
    """The history a checkpoint carries: one entry per completed epoch."""
    if not (isinstance(h, dict) and set(h) == HISTORY_FIELDS):
        raise ValueError(
            f"the field 'history' must hold {', '.join(sorted(HISTORY_FIELDS))}"
        )
    per_epoch = {"loss": True, "lr": True, "val_loss": False, "val_metric": False}
    for key, required in per_epoch.items():
        values = h[key]
        if not (
            _numbers(values) and len(values) in ((epochs,) if required else (0, epochs))
        ):
            raise ValueError(
                f"the field 'history.{key}' must hold {epochs} finite numbers"
                + ("" if required else " (or none)")
            )
    grads = h["grad_norms"]
    if not (
        isinstance(grads, list)
        and len(grads) == epochs
        and all(_numbers(g) and len(g) == n_layers for g in grads)
    ):
        raise ValueError(
            f"the field 'history.grad_norms' must hold {epochs} lists of "
            f"{n_layers} finite numbers"
        )
    if not (h["metric"] is None or isinstance(h["metric"], str)):
        raise ValueError("the field 'history.metric' must be a name or null")
    if not (h["best_epoch"] is None or _integer(h["best_epoch"], 0, epochs - 1)):
        raise ValueError(
            f"the field 'history.best_epoch' must be an epoch in [0, {epochs - 1}]"
        )
    if not isinstance(h["stopped_early"], bool):
        raise ValueError("the field 'history.stopped_early' must be true or false")


def load_checkpoint(path: Path, net: Network) -> Checkpoint:
    """Read a checkpoint for ``net``: :class:`ModelFileError` if it is damaged,
    ``ValueError`` if it was written for another network."""
    d, tensors = read_file(path, _expected(net, path), require_checksums=True)
    opt, es = d["optimizer"], d["early_stopping"]
    history = History(**d["history"])
    monitor = Monitor(
        best=math.inf if es["best"] is None else es["best"],
        waited=es["waited"],
        best_epoch=history.best_epoch,
        best_params=tensors.get("best_params"),
    )
    state = TrainingState(
        epochs=d["epoch"],
        history=history,
        monitor=monitor,
        epoch=d["epoch"],
        step=opt["t"],
        rng_start=d["rng_start"],
    )
    return Checkpoint(
        path=path,
        params=tensors["params"],
        optimizer={"name": opt.get("name"), "settings": opt.get("settings")},
        optimizer_t=opt["t"],
        optimizer_state={k: tensors[f"optimizer.{k}"] for k in opt["state"]},
        rng=d["rng"],
        state=state,
        fingerprint=d["data"],
    )


def latest(directory: Path, net: Network) -> tuple[Checkpoint | None, list[str]]:
    """The newest readable checkpoint in ``directory`` for ``net``, and one
    message for every newer one that was damaged and skipped."""
    skipped: list[str] = []
    for path in checkpoints(directory):
        try:
            return load_checkpoint(path, net), skipped
        except ModelFileError as e:
            skipped.append(str(e))
    return None, skipped


def remove_stale_temporaries(directory: Path) -> None:
    """Temporary files a killed write left behind (never a finished checkpoint)."""
    for p in directory.iterdir():
        if p.name.startswith(".checkpoint-") and p.name.endswith(".tmp"):
            with contextlib.suppress(OSError):
                p.unlink()
