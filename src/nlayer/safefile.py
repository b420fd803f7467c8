"""Files of nlayer's own: safetensors tensors plus a JSON description.

The container that model files (:mod:`nlayer.io`) and training checkpoints
(:mod:`nlayer.checkpoints`) share: tensors by name, and under the safetensors
metadata key ``"nlayer"`` a JSON object. Nothing in a file is ever executed,
and every failure to read one is a :class:`ModelFileError` naming the file.

Reading is bounded before anything is allocated: the file's size
(:data:`MAX_FILE_BYTES`), the header's bytes and keys
(:data:`MAX_HEADER_BYTES`, :data:`MAX_HEADER_KEYS`), and every tensor's
declared size against the bytes the file really has. The file is read into
memory, never memory-mapped, so a file truncated while it is read is an error,
not a crash (a map would raise SIGBUS). Then safetensors decodes the checked
bytes.

Writing is atomic (a temporary file in the same directory, then a rename) and
deterministic: the same tensors and description give the same bytes (the
header's keys are sorted), so files can be compared and cached. A character
device or a FIFO is written straight into; a symbolic link has the file it
points to replaced.

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
import stat
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .backend import check_memory
from .checks import is_number

#: bounds that keep a hostile file from costing memory or time
MAX_FILE_BYTES = 1 << 35  # 32 GiB: far above any model that trains in memory
MAX_HEADER_BYTES = 1 << 26  # 64 MiB of header JSON
MAX_HEADER_KEYS = 100_000  # object keys in the header, at every level
MAX_DESCRIPTION = 1 << 25  # characters of nlayer's JSON: a model of 10⁵ columns fits
#: the dtypes nlayer computes in, as safetensors names them
DTYPES: dict[str, np.dtype] = {"F32": np.dtype("<f4"), "F64": np.dtype("<f8")}
#: bytes per element of every safetensors dtype (nlayer writes F32 and F64)
ITEMSIZE = {
    **dict.fromkeys(("BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3"), 1),
    **dict.fromkeys(("I16", "U16", "F16", "BF16"), 2),
    **dict.fromkeys(("I32", "U32", "F32"), 4),
    **dict.fromkeys(("I64", "U64", "F64"), 8),
}
LOCK_NAME = ".nlayer.lock"
BAD = "not a readable nlayer model file"


class WrongFileError(ValueError):
    """An intact nlayer file that does not fit the use (a checkpoint of another
    network): not damage, so no fallback to an older file."""


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and why."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class InUseError(OSError):
    """A folder another live nlayer process is working in (its lock is held)."""

    def __str__(self) -> str:
        return f"{self.filename}: {self.strerror}"


# -- writing -------------------------------------------------------------------


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through.

    A regular file (or a new one) is written atomically: through a temporary
    file in the same directory, renamed over ``path`` when the block ends
    without an error, so that ``path`` is always either the old file or the
    whole new one. A symbolic link keeps pointing where it did: the file it
    points to is replaced so. A character device (/dev/null, a terminal) or a
    FIFO is written straight into: renaming over it would replace the device.
    Anything else (a directory, a socket, a block device) is refused. A failed
    write (a full disk, say) raises ``OSError`` naming the path and the reason,
    and leaves no temporary file behind.
    """
    path = Path(path)
    target = path.resolve() if path.is_symlink() else path
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as e:
        raise OSError(e.errno, f"cannot write it ({e.strerror})", str(path)) from None
    if mode is not None and (stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)):
        with open(target, "wb") as stream:
            yield stream
        return
    if mode is not None and not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise OSError(errno.EEXIST, f"cannot write it: {what}", str(path))
    if not target.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, "no such directory", str(target.parent))
    with _replacing(target, path) as stream:
        yield stream


@contextlib.contextmanager
def _replacing(target: Path, named: Path) -> Iterator[BinaryIO]:
    """Write a temporary file beside ``target``, then rename it over ``target``."""
    # same directory: os.replace is then a rename on one file system
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 less the umask: the permissions any new file gets (mkstemp: 0o600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                yield f
                f.flush()
                os.fsync(f.fileno())  # the bytes are on disk before the name
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        if e.filename == str(named):
            raise
        raise OSError(e.errno, f"cannot write it ({e.strerror})", str(named)) from None
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_writer`)."""
    with atomic_writer(path) as f:
        f.write(data)
    return Path(path)


def container_bytes(
    tensors: Mapping[str, np.ndarray], metadata: dict[str, str]
) -> bytes:
    """A safetensors file's bytes, the same for the same input: safetensors
    lays the tensors out; its header, whose metadata it keeps in a hash map
    (another order in every process), is written again with sorted keys."""
    from safetensors.numpy import save

    raw = save(dict(tensors), metadata=metadata)
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


def write_file(
    path: str | os.PathLike[str], tensors: Mapping[str, np.ndarray], description: dict
) -> Path:
    """Atomically write ``tensors`` and the JSON ``description`` as safetensors."""
    text = json.dumps(description, allow_nan=False, separators=(",", ":"))
    contiguous = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    # CRC-32 of the description and of every tensor's bytes: a flipped bit in
    # the data would otherwise still read as numbers, just wrong ones
    crc = {
        "description": zlib.crc32(text.encode()),
        "tensors": {k: zlib.crc32(v.tobytes()) for k, v in sorted(contiguous.items())},
    }
    metadata = {"nlayer": text, "nlayer_crc32": json.dumps(crc, sort_keys=True)}
    return atomic_write(path, container_bytes(contiguous, metadata))


# -- locks -----------------------------------------------------------------------


@contextlib.contextmanager
def locked(directory: str | os.PathLike[str], what: str) -> Iterator[None]:
    """Hold an advisory lock on ``directory`` (a run folder, a checkpoint
    folder) while the block runs: a second nlayer process that wants it is
    refused with :class:`InUseError` naming the holder's pid. The lock is the
    kernel's (flock), so it is released when the process ends, however it ends.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no lock to take
        yield
        return
    path = Path(directory) / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise InUseError(
                errno.EBUSY,
                f"in use by another nlayer process (pid {holder}); wait for it to "
                f"finish, or give another {what}",
                str(directory),
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


# -- reading ---------------------------------------------------------------------


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


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError("the header names a key twice")
    return dict(pairs)


def _header_length(path: Any, head: bytes, size: int) -> int:
    """The safetensors header's length, checked against the file's size."""
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            path, f"{size:,} bytes, more than the {MAX_FILE_BYTES:,} nlayer reads"
        )
    if len(head) < 8:
        raise ModelFileError(path, f"{BAD}: it is too short")
    n = int.from_bytes(head[:8], "little")
    if not 2 <= n <= min(MAX_HEADER_BYTES, size - 8):
        raise ModelFileError(
            path,
            f"{BAD}: its header claims {n:,} bytes; the file has {size - 8:,} after "
            f"the length, and nlayer reads at most {MAX_HEADER_BYTES:,}",
        )
    return n


def _parse_header(path: Any, text: bytes) -> dict[str, Any]:
    # a key ends in '":'; one inside a string (nlayer's own JSON) ends in '\\":'
    if text.count(b'":') - text.count(b'\\":') > MAX_HEADER_KEYS:
        raise ModelFileError(
            path, f"{BAD}: its header holds more than {MAX_HEADER_KEYS:,} keys"
        )
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=_pairs)
    except (ValueError, RecursionError) as e:
        raise ModelFileError(path, f"{BAD}: its header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise ModelFileError(path, f"{BAD}: its header is not a JSON object")
    return header


def _layout(path: Any, header: dict[str, Any], data_bytes: int) -> dict[str, tuple]:
    """name -> (dtype, shape, begin, end) of every tensor the header declares,
    each size checked against the bytes the file really has."""
    spans, layout = [], {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, (begin, end) = _entry(path, name, entry)
        declared = math.prod(shape) * ITEMSIZE[dtype]
        if not begin <= end <= data_bytes or end - begin != declared:
            raise ModelFileError(
                path,
                f"tensor {name!r} declares {declared:,} bytes at [{begin:,}, {end:,}) "
                f"but the file holds {data_bytes:,} bytes of data",
            )
        spans.append((begin, end))
        layout[name] = (dtype, shape, begin, end)
    position = 0
    for begin, end in sorted(spans):  # the tensors tile the data, no gap, no overlap
        if begin != position:
            raise ModelFileError(
                path, f"{BAD}: the tensors' bytes overlap or leave gaps"
            )
        position = end
    if position != data_bytes:
        raise ModelFileError(path, f"{BAD}: it holds bytes that no tensor claims")
    return layout


def _entry(path: Any, name: str, entry: Any) -> tuple[str, tuple[int, ...], list[int]]:
    """A tensor's dtype, shape and data offsets from its header entry, checked."""
    if not (
        isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}
    ):
        raise ModelFileError(path, f"{BAD}: tensor {name!r} is described wrongly")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if not isinstance(dtype, str) or dtype not in ITEMSIZE:
        raise ModelFileError(path, f"{BAD}: tensor {name!r} has an unknown dtype")
    if not (
        isinstance(shape, list)
        and len(shape) <= 8
        and all(_count(d) for d in shape)
        and isinstance(offsets, list)
        and len(offsets) == 2
        and all(_count(o) for o in offsets)
    ):
        raise ModelFileError(path, f"{BAD}: tensor {name!r} is described wrongly")
    return dtype, tuple(shape), offsets


def _count(v: Any) -> bool:
    return is_number(v, 0, 2**62, hi_open=True, integer=True)


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
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ModelFileError(path, "no such file") from None
    except OSError as e:
        raise ModelFileError(path, f"cannot read it ({e.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise ModelFileError(path, "not a file")
    try:
        with open(path, "rb") as f:
            n = _header_length(path, f.read(8), st.st_size)
            text = f.read(n)
            if len(text) != n:
                raise ModelFileError(path, "the file ended inside its header")
            header = _parse_header(path, text)
            layout = _layout(path, header, st.st_size - 8 - n)
            description, crc = _description(path, header, require_checksums)
            wanted = _wanted(path, expected, description)
            _match(path, wanted, layout)
            # read, not mapped: a file cut short meanwhile is an error, not SIGBUS
            check_memory(2 * st.st_size, f"loading {path}")
            data = f.read(st.st_size - 8 - n + 1)
    except (ModelFileError, WrongFileError):
        raise
    except OSError as e:
        raise ModelFileError(path, f"cannot read it ({e.strerror or e})") from None
    if len(data) != st.st_size - 8 - n:
        raise ModelFileError(path, "the file changed size while it was read")
    return description, _tensors(path, data, layout, crc)


def _description(path: Any, header: dict, require_checksums: bool) -> tuple[dict, Any]:
    metadata = header.get("__metadata__") or {}
    if not (
        isinstance(metadata, dict)
        and all(isinstance(v, str) for v in metadata.values())
    ):
        raise ModelFileError(path, "the metadata is not text")
    text = metadata.get("nlayer")
    if text is None:
        raise ModelFileError(
            path,
            "a safetensors file, but not one written by nlayer (no 'nlayer' "
            "description)",
        )
    if len(text) > MAX_DESCRIPTION:
        raise ModelFileError(path, "the description is implausibly large")
    crc = _checksums(path, metadata.get("nlayer_crc32"), require_checksums)
    if crc is not None and zlib.crc32(text.encode()) != crc["description"]:
        raise ModelFileError(path, "the description fails its checksum")
    try:
        description = json.loads(text)
    except (ValueError, RecursionError):
        raise ModelFileError(path, "the description is not valid JSON") from None
    if not isinstance(description, dict):
        raise ModelFileError(path, "the description is not a JSON object")
    return description, crc


def _wanted(path: Any, expected: Callable, description: dict) -> dict:
    try:
        return expected(description)
    except WrongFileError:
        raise
    except (ValueError, TypeError, OverflowError) as e:
        raise ModelFileError(path, str(e)) from None


def _match(path: Any, wanted: dict, layout: dict) -> None:
    if set(layout) != set(wanted):
        missing, extra = (
            sorted(set(wanted) - set(layout)),
            sorted(set(layout) - set(wanted)),
        )
        raise ModelFileError(
            path,
            "the tensors do not match the description"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else ""),
        )
    for name, (dtype, shape) in wanted.items():
        if layout[name][:2] != (dtype, shape):
            have = f"{layout[name][0]} {layout[name][1]}"
            raise ModelFileError(
                path,
                f"tensor {name} is {have}, but the description implies {dtype} {shape}",
            )


def _tensors(
    path: Any, data: bytes, layout: dict[str, tuple], crc: dict | None
) -> dict[str, np.ndarray]:
    """The tensors as read-only views of the data read, without a second copy
    (a network copies them into its parameter buffer); checksums and values
    verified."""
    tensors = {}
    for name, (dtype, shape, begin, end) in layout.items():
        if dtype not in DTYPES:
            continue  # refused by the description's check already
        kind = DTYPES[dtype]
        count = (end - begin) // kind.itemsize
        view = np.frombuffer(data, dtype=kind, count=count, offset=begin)
        tensors[name] = view.reshape(shape)
    for name, array in tensors.items():
        if crc is not None and zlib.crc32(array.tobytes()) != crc["tensors"].get(name):
            raise ModelFileError(path, f"tensor {name} fails its checksum")
        if not np.isfinite(array).all():
            raise ModelFileError(path, f"tensor {name} holds NaN or infinity")
    return tensors
