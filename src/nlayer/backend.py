"""Where the core's arrays come from, and the checks on arrays that enter it.

NumPy is the only backend so far. The core creates its arrays through the module
that :func:`namespace` returns, so a GPU array library with NumPy's interface
(CuPy) can be added here later without touching the maths.
"""

from __future__ import annotations

import mmap
from types import ModuleType
from typing import Any

import numpy as np

FLOAT_DTYPES = ("float32", "float64")

#: an array of the backend's namespace: a NumPy ndarray today (the one alias
#: every module annotates its arrays with)
Array = Any


def namespace(*arrays: Any) -> ModuleType:
    """The array module that owns ``arrays``: NumPy, the only backend so far."""
    return np


def as_dtype(dtype: Any) -> np.dtype:
    """``dtype`` as a NumPy float dtype; only float32 and float64 are computed in."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(
            f"dtype must be one of {FLOAT_DTYPES}, got {dtype!r}"
        ) from None
    if dt.name not in FLOAT_DTYPES:
        raise ValueError(f"dtype must be one of {FLOAT_DTYPES}, got {dt.name!r}")
    return dt


def _from_frame(A: Any, name: str) -> Any:
    """A pandas DataFrame or Series as NumPy, column by column: nullable
    columns (Int64, Float64, boolean) without a missing value become their
    NumPy dtype; a missing value (pd.NA) is an error naming the column."""
    frame = A.to_frame() if hasattr(A, "to_frame") and not hasattr(A, "columns") else A
    columns = []
    for label, column in frame.items():
        dtype = column.dtype
        if hasattr(dtype, "numpy_dtype"):  # a pandas extension dtype
            if column.isna().any():
                rows = int(column.isna().sum())
                raise ValueError(
                    f"{name}: column {label!r} holds {rows} missing value(s) (pd.NA); "
                    "fill or drop them first"
                )
            columns.append(column.to_numpy(dtype=dtype.numpy_dtype))
        else:
            columns.append(column.to_numpy())
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def is_sparse(A: Any) -> bool:
    """A SciPy sparse matrix or array (checked without importing SciPy)."""
    return hasattr(A, "tocsr") and hasattr(A, "nnz")


def n_rows(A: Any) -> int:
    """The number of rows of a dense or sparse 2-D array."""
    return int(A.shape[0])


def is_file_backed(A: Any) -> bool:
    """Whether ``A``'s memory is a mapped file (``np.load(path, mmap_mode="r")``),
    whose rows are better read where they lie than copied."""
    while A is not None:
        if isinstance(A, (np.memmap, mmap.mmap)):
            return True
        A = getattr(A, "base", None)
    return False


def take_rows(A: Any, rows: Any, out: Any = None) -> Any:
    """The rows ``rows`` of A: into ``out`` for a dense array (no new array),
    as a new CSR matrix for a sparse one."""
    if is_sparse(A):
        return A[rows]
    return A.take(rows, axis=0, out=out)


def nbytes(A: Any) -> int:
    """The bytes an array holds (a sparse matrix: its data and indices)."""
    if is_sparse(A):
        return int(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes)
    return int(A.nbytes)


def _sparse_matrix(A: Any, name: str, dtype: np.dtype) -> Any:
    """A sparse ``A`` as a finite CSR matrix of ``dtype`` (the float policy of
    :func:`as_matrix`: integers are converted, the other float precision refused)."""
    A = A.tocsr()
    if A.ndim != 2 or 0 in A.shape:
        raise ValueError(f"{name} must be a non-empty 2-D matrix, got shape {A.shape}")
    if A.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {A.dtype}")
    if A.dtype.kind == "f" and A.dtype != dtype:
        raise ValueError(
            f"{name} is {A.dtype} but the network computes in {dtype}; convert it "
            f"with {name}.astype('{dtype}')"
        )
    A = A.astype(dtype, copy=False)
    if not np.isfinite(A.data).all():
        raise ValueError(f"{name} contains NaN or infinity among its stored values")
    return A


def as_matrix(A: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """``A`` as a finite 2-D array of ``dtype``, or a ValueError saying what is wrong.

    Integer and boolean data are converted to ``dtype`` (exact for the values
    data sets hold). Floating data of the other precision is refused rather
    than silently up- or down-cast: float32 work stays float32. A pandas
    DataFrame is read column by column (nullable dtypes included); a masked
    array is refused, since its mask would be ignored.
    """
    if A is None:
        raise ValueError(f"{name} is missing (got None)")
    if is_sparse(A):
        return _sparse_matrix(A, name, dtype)
    if isinstance(A, np.ma.MaskedArray):
        raise ValueError(
            f"{name} is a masked array, whose mask nlayer would ignore; pass "
            f"{name}.filled(...) with the values the masked cells should hold, or "
            "drop those rows"
        )
    if type(A).__module__.split(".")[0] == "pandas" and hasattr(A, "to_numpy"):
        A = _from_frame(A, name)
    xp = namespace(A)
    A = xp.asarray(A)
    if A.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold real numbers, got an array of dtype {A.dtype}"
        )
    if A.ndim != 2:
        hint = (
            f"; use {name}.reshape(-1, 1) for one column "
            f"or {name}.reshape(1, -1) for one sample"
            if A.ndim == 1
            else ""
        )
        raise ValueError(
            f"{name} must be a 2-D array (samples, columns), "
            f"got a {A.ndim}-D array of shape {A.shape}{hint}"
        )
    if A.size == 0:
        raise ValueError(f"{name} is empty (shape {A.shape})")
    if A.dtype.kind == "f" and A.dtype != dtype:
        raise ValueError(
            f"{name} is {A.dtype} but the network computes in {dtype}; convert it "
            f"with {name}.astype('{dtype}') or build the network with "
            f"dtype='{A.dtype}'"
        )
    if A.dtype.kind != "f":
        A = A.astype(dtype)
    _check_finite(A, name)
    return A


def _check_finite(A: Any, name: str) -> None:
    """A ValueError naming the first NaN or infinity. In blocks of about 8 MB:
    a memory-mapped file is checked without a mask of its size in memory."""
    xp = namespace(A)
    step = max(1, (1 << 23) // max(1, A.shape[1] * A.itemsize))
    for start in range(0, len(A), step):
        block = A[start : start + step]
        finite = xp.isfinite(block)
        if not finite.all():
            row, col = (int(i[0]) for i in xp.nonzero(~finite))
            what = "NaN" if xp.isnan(block[row, col]) else "infinity"
            raise ValueError(
                f"{name} contains {what} (first at row {start + row}, column {col}); "
                "remove or impute non-finite values before training"
            )


def as_weights(sample_weight: Any, m: int, dtype: np.dtype) -> Any:
    """Sample weights (m,) of ``dtype``, or a ValueError saying what is wrong;
    None stays None."""
    if sample_weight is None:
        return None
    w = namespace(sample_weight).asarray(sample_weight)
    if w.dtype.kind not in "biuf" or w.shape != (m,):
        raise ValueError(
            f"sample_weight must be {m} numbers, one per sample; got an array "
            f"of dtype {w.dtype} and shape {w.shape}"
        )
    w = w.astype(dtype)
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight must be finite and non-negative")
    with np.errstate(over="ignore"):
        total = w.sum()
    if not np.isfinite(total):
        raise ValueError(
            f"sample_weight sums to more than the largest {np.dtype(dtype).name} "
            "number; divide it by its largest value (the weighted losses do not "
            "change)"
        )
    if not total > 0:
        raise ValueError("sample_weight must not be all zero")
    return w


def available_memory() -> int | None:
    """Bytes of memory this process could still use (Linux: MemAvailable, within
    a cgroup's limit when there is one); None where it cannot be told."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    for path in (
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text.isdigit():
                found.append(int(text))
        except OSError:
            continue
    return min(found) if found else None


def check_memory(needed: float, what: str) -> None:
    """A MemoryError naming ``what``, the bytes it needs and the machine's limit,
    before anything is allocated, when ``needed`` exceeds the memory available."""
    available = available_memory()
    if available is not None and needed > available:
        raise MemoryError(
            f"{what} needs {_size(needed)}, but this machine has {_size(available)} "
            "of memory available"
        )


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
