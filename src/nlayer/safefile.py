"""Files of nlayer's own: safetensors tensors plus a JSON description.

The container that model files (:mod:`nlayer.io`) and training checkpoints
(:mod:`nlayer.checkpoints`) share: tensors by name, and under the safetensors
metadata key ``"nlayer"`` a JSON object. Writes are atomic (a temporary file in
the same directory, then a rename). Reading checks the container and the
description before any tensor is read, and every failure is a
:class:`ModelFileError` naming the file: nothing in a file is ever executed.

safetensors is imported when a file is read or written, so the core that
imports this module stays NumPy-only until it checkpoints.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import secrets
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

#: bounds that keep a hostile description from costing memory or time
MAX_DESCRIPTION = 1 << 25  # characters of JSON: a model of 10⁵ columns fits


class WrongFileError(ValueError):
    """An intact nlayer file that does not fit the use (a checkpoint of another
    network): not damage, so no fallback to an older file."""


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and why."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: a temporary file in the same
    directory, renamed over ``path`` when the block ends without an error, so
    that ``path`` is always either the old file or the whole new one. A failed
    write (a full disk, say) raises ``OSError`` naming ``path`` and the reason,
    and leaves no temporary file behind."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(path.parent))
    # same directory: os.replace is then a rename on one file system
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 less the umask: the permissions any new file gets (mkstemp: 0o600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the name
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        if e.filename == str(path):
            raise
        raise OSError(e.errno, f"cannot write it ({e.strerror})", str(path)) from None
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def write_file(
    path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray], description: dict
) -> Path:
    """Atomically write ``tensors`` and the JSON ``description`` as safetensors."""
    from safetensors.numpy import save as to_safetensors

    text = json.dumps(description, allow_nan=False, separators=(",", ":"))
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    # CRC-32 of the description and of every tensor's bytes: a flipped bit in
    # the data would otherwise still read as numbers, just wrong ones
    crc = {
        "description": zlib.crc32(text.encode()),
        "tensors": {k: zlib.crc32(v.tobytes()) for k, v in contiguous.items()},
    }
    metadata = {"nlayer": text, "nlayer_crc32": json.dumps(crc)}
    return atomic_write(path, to_safetensors(contiguous, metadata=metadata))


def _checksums(path: Any, raw: str | None, required: bool) -> dict | None:
    if raw is None:
        if required:
            raise ModelFileError(path, "the file carries no checksums")
        return None  # an older or hand-made file: the other checks still apply
    try:
        crc = json.loads(raw)
        ok = (
            isinstance(crc, dict)
            and isinstance(crc.get("description"), int)
            and (isinstance(crc.get("tensors"), dict))
        )
    except (ValueError, RecursionError):
        ok = False
    if not ok:
        raise ModelFileError(path, "the checksums are unreadable")
    return crc


def read_file(
    path: str | os.PathLike[str],
    expected: Callable[[dict], dict[str, tuple[str, tuple[int, ...]]]],
    require_checksums: bool = False,
) -> tuple[dict, dict[str, np.ndarray]]:
    """The description and tensors of an nlayer file, checked.

    ``expected(description)`` validates the description and returns the tensors
    it implies, name -> (safetensors dtype, shape); the file must hold exactly
    those. Tensors are read only once their shapes have been checked, and their
    checksums are verified when the file has them (always, with
    ``require_checksums``).
    """
    from safetensors import safe_open

    if not Path(path).is_file():
        raise ModelFileError(
            path, "no such file" if not Path(path).exists() else "not a file"
        )
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
            text = metadata.get("nlayer")
            if text is None:
                raise ModelFileError(
                    path,
                    "a safetensors file, but not one written "
                    "by nlayer (no 'nlayer' description)",
                )
            if len(text) > MAX_DESCRIPTION:
                raise ModelFileError(path, "the description is implausibly large")
            crc = _checksums(path, metadata.get("nlayer_crc32"), require_checksums)
            if crc is not None and zlib.crc32(text.encode()) != crc["description"]:
                raise ModelFileError(path, "the description fails its checksum")
            try:
                description = json.loads(text)
            except (ValueError, RecursionError):
                raise ModelFileError(
                    path, "the description is not valid JSON"
                ) from None
            if not isinstance(description, dict):
                raise ModelFileError(path, "the description is not a JSON object")
            try:
                wanted = expected(description)
            except WrongFileError:
                raise
            except (ValueError, TypeError) as e:
                raise ModelFileError(path, str(e)) from None
            found = set(f.keys())
            if found != set(wanted):
                missing, extra = (
                    sorted(set(wanted) - found),
                    sorted(found - set(wanted)),
                )
                raise ModelFileError(
                    path,
                    "the tensors do not match the description"
                    + (f"; missing {', '.join(missing)}" if missing else "")
                    + (f"; unexpected {', '.join(extra)}" if extra else ""),
                )
            tensors = {}
            for name, (dtype, shape) in wanted.items():
                s = f.get_slice(name)
                if s.get_dtype() != dtype or tuple(s.get_shape()) != shape:
                    raise ModelFileError(
                        path,
                        f"tensor {name} is {s.get_dtype()} {tuple(s.get_shape())}, "
                        f"but the description implies {dtype} {shape}",
                    )
                tensors[name] = f.get_tensor(name)
                if crc is not None and zlib.crc32(tensors[name].tobytes()) != crc[
                    "tensors"
                ].get(name):
                    raise ModelFileError(path, f"tensor {name} fails its checksum")
                if not np.isfinite(tensors[name]).all():
                    raise ModelFileError(path, f"tensor {name} holds NaN or infinity")
    except (ModelFileError, WrongFileError):
        raise
    except Exception as e:  # the trust boundary: any other failure is a bad file
        raise ModelFileError(path, f"not a readable nlayer model file ({e})") from None
    return description, tensors


def finite_number(v: Any) -> bool:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # a JSON integer beyond float range
        return False
