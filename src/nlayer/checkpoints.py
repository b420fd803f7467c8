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
import re
import zlib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .network import Network
from .optimizers import Optimizer
from .safefile import (
    ModelFileError,
    WrongFileError,
    finite_number,
    read_file,
    write_file,
)

FORMAT = "nlayer.checkpoint"
FORMAT_VERSION = 1
NAME = re.compile(r"checkpoint-(\d{6,})\.safetensors")
#: checkpoints kept in a directory: the newest, and older ones to fall back on
KEEP = 3
_DTYPES = {"float32": "F32", "float64": "F64"}

Array = Any


@dataclass
class Checkpoint:
    """A checkpoint read back and checked."""

    path: Path
    epoch: int  # completed epochs
    params: Array
    optimizer: dict  # name and settings
    optimizer_t: int
    optimizer_state: dict[str, Array]
    rng: dict
    rng_start: dict
    history: dict
    best: float | None
    waited: int
    best_params: Array | None
    fingerprint: dict


def fingerprint(X: Array, Y: Array, w: Array | None, options: dict) -> dict:
    """What must not change between a run and its resumption: the data (shape,
    dtype and CRC-32 of the bytes) and the options that shape the batches."""

    def of(A: Array | None) -> list | None:
        if A is None:
            return None
        data: Any = np.ascontiguousarray(A)  # read through the buffer: no copy
        return [list(A.shape), A.dtype.name, zlib.crc32(data)]

    return {"X": of(X), "Y": of(Y), "sample_weight": of(w), **options}


def optimizer_settings(opt: Optimizer) -> dict[str, Any]:
    skip = {"t", "state", "_scratch"}
    return {f.name: getattr(opt, f.name) for f in fields(opt) if f.name not in skip}


def path_for(directory: Path, epoch: int) -> Path:
    return directory / f"checkpoint-{epoch:06d}.safetensors"


def save_checkpoint(
    directory: Path,
    epoch: int,
    net: Network,
    opt: Optimizer,
    rng_start: Any,
    history: dict,
    best: float,
    waited: int,
    best_params: Array | None,
    data: dict,
) -> Path:
    """Write the checkpoint after ``epoch`` completed epochs (atomically), then
    delete all but the newest :data:`KEEP`."""
    tensors = {"params": net.params}
    tensors.update({f"optimizer.{k}": v for k, v in opt.state.items()})
    if best_params is not None:
        tensors["best_params"] = best_params
    description = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nlayer_version": __version__,
        "network": net.spec(),
        "epoch": epoch,
        "optimizer": {
            "name": opt.name,
            "settings": optimizer_settings(opt),
            "t": opt.t,
            "state": sorted(opt.state),
        },
        "rng": net.rng.bit_generator.state,
        "rng_start": rng_start,
        "history": history,
        "early_stopping": {
            "best": best if np.isfinite(best) else None,
            "waited": waited,
        },
        "data": data,
        "has_best_params": best_params is not None,
    }
    path = write_file(path_for(directory, epoch), tensors, description)
    for old in checkpoints(directory)[KEEP:]:
        old.unlink(missing_ok=True)
    return path


def checkpoints(directory: Path) -> list[Path]:
    """The checkpoint files in ``directory``, newest (most epochs) first."""
    found = [
        (int(m[1]), p) for p in directory.iterdir() if (m := NAME.fullmatch(p.name))
    ]
    return [p for _, p in sorted(found, reverse=True)]


def _expected(net: Network, path: Path) -> Any:
    n = net.n_params
    dt = _DTYPES[net.dtype.name]

    def expected(d: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
        network = d.get("network")
        if isinstance(network, dict) and network != net.spec():
            raise WrongFileError(
                f"{path} was written for the network "
                f"{network.get('layer_sizes')}, not this one; use another "
                "checkpoint_dir"
            )
        if d.get("format") != FORMAT:
            raise ValueError(f"not an nlayer checkpoint (format {d.get('format')!r})")
        if d.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"unknown checkpoint version {d.get('format_version')!r}")
        epoch, opt = d.get("epoch"), d.get("optimizer")
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError("the epoch count is not a non-negative integer")
        if not (
            isinstance(opt, dict)
            and isinstance(opt.get("state"), list)
            and all(isinstance(k, str) for k in opt["state"])
        ):
            raise ValueError("the optimizer entry is malformed")
        es = d.get("early_stopping")
        if not (
            isinstance(es, dict)
            and isinstance(es.get("waited"), int)
            and (es.get("best") is None or finite_number(es["best"]))
        ):
            raise ValueError("the early-stopping entry is malformed")
        for key in ("rng", "rng_start", "history", "data", "network"):
            if not isinstance(d.get(key), dict):
                raise ValueError(f"the {key} entry is missing or malformed")
        for key in ("rng", "rng_start"):  # a state numpy accepts, tried on a spare
            try:
                type(net.rng.bit_generator)().state = d[key]
            except Exception:
                raise ValueError(f"the {key} entry is not a generator state") from None
        _check_history(d["history"], epoch)
        if isinstance(opt.get("t"), bool) or not isinstance(opt.get("t"), int):
            raise ValueError("the optimizer's step count is not an integer")
        wanted: dict[str, tuple[str, tuple[int, ...]]] = {"params": (dt, (n,))}
        wanted.update({f"optimizer.{k}": (dt, (n,)) for k in opt["state"]})
        if d.get("has_best_params") is True:  # early stopping had a best epoch
            wanted["best_params"] = (dt, (n,))
        return wanted

    return expected


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
    return isinstance(v, list) and all(finite_number(x) for x in v)


def _check_history(h: dict, epochs: int) -> None:
    ok = (
        set(h) == HISTORY_FIELDS
        and _numbers(h["loss"])
        and len(h["loss"]) == epochs
        and _numbers(h["val_loss"])
        and _numbers(h["val_metric"])
        and _numbers(h["lr"])
        and isinstance(h["grad_norms"], list)
        and all(_numbers(g) for g in h["grad_norms"])
        and (h["metric"] is None or isinstance(h["metric"], str))
        and (
            h["best_epoch"] is None
            or (
                isinstance(h["best_epoch"], int)
                and not isinstance(h["best_epoch"], bool)
            )
        )
        and isinstance(h["stopped_early"], bool)
    )
    if not ok:
        raise ValueError("the history entry is malformed")


def load_checkpoint(path: Path, net: Network) -> Checkpoint:
    """Read a checkpoint for ``net``: :class:`ModelFileError` if it is damaged,
    ``ValueError`` if it was written for another network."""
    d, tensors = read_file(path, _expected(net, path), require_checksums=True)
    opt, es = d["optimizer"], d["early_stopping"]
    return Checkpoint(
        path=path,
        epoch=d["epoch"],
        params=tensors["params"],
        optimizer={"name": opt.get("name"), "settings": opt.get("settings")},
        optimizer_t=opt["t"],
        optimizer_state={k: tensors[f"optimizer.{k}"] for k in opt["state"]},
        rng=d["rng"],
        rng_start=d["rng_start"],
        history=d["history"],
        best=es["best"],
        waited=es["waited"],
        best_params=tensors.get("best_params"),
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
