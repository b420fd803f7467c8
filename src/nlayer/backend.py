"""Where the core's arrays come from, and the checks on arrays that enter it.

NumPy is the default backend and keeps its fast path: buffers reused through
``out=`` and in-place updates. Any other array library of the array API
standard (PyTorch, CuPy, array-api-strict) is reached through
``array_api_compat``, imported only when such arrays appear: :func:`namespace`
gives the module that owns some arrays, :func:`to_numpy` brings them to the
host, :func:`get_namespace` names a backend.
"""

from __future__ import annotations

import mmap
from typing import Any

import numpy as np

FLOAT_DTYPES = ("float32", "float64")

#: an array of the backend's namespace: a NumPy ndarray today (the one alias
#: every module annotates its arrays with)
Array = Any


#: the backends by name: "numpy", and array-API libraries through array_api_compat
BACKENDS = ("numpy", "torch", "cupy", "array_api_strict")


def namespace(*arrays: Any) -> Any:
    """The array module that owns ``arrays``: NumPy itself for NumPy arrays, for
    what NumPy reads (lists, numbers, DataFrames, sparse matrices) and for none,
    else the array API namespace of the library that made them."""
    if all(isinstance(a, np.ndarray) or library_of(a) == "numpy" for a in arrays):
        return np
    try:
        import array_api_compat
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "arrays from another library need array_api_compat: "
            "pip install array-api-compat"
        ) from None
    return array_api_compat.array_namespace(*arrays)


#: what NumPy computes on although it is no array of a library: its scalars,
#: Python numbers and lists
_HOST = (np.generic, int, float, list, tuple)


def xp_of(*arrays: Any) -> Any:
    """The namespace the maths on ``arrays`` computes in: NumPy when every
    argument is a NumPy array (the common case, decided with one type check
    each), else :func:`namespace` of the arguments that are arrays: NumPy
    scalars, Python numbers and lists go with any library."""
    for a in arrays:
        if type(a) is not np.ndarray and not isinstance(a, (np.ndarray, *_HOST)):
            return namespace(*(b for b in arrays if not isinstance(b, _HOST)))
    return np


def all_numpy(*arrays: Any) -> bool:
    """Whether all ``arrays`` are NumPy arrays: the in-place fast path applies."""
    return all(isinstance(a, np.ndarray) for a in arrays)


def is_numpy(xp: Any) -> bool:
    """Whether ``xp`` is NumPy (its fast path: ``out=`` and in-place ufuncs)."""
    return xp is np


def get_namespace(name: str) -> Any:
    """The array namespace of a backend named in :data:`BACKENDS`."""
    if name == "numpy":
        return np
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; known: {', '.join(BACKENDS)}")
    try:
        if name == "array_api_strict":
            import array_api_strict

            return array_api_strict
        import importlib

        importlib.import_module(name)  # the library itself, with its message
        import array_api_compat

        return array_api_compat.array_namespace(_empty(name))
    except ImportError as e:
        package = {"cupy": "cupy-cuda12x", "array_api_strict": "array-api-strict"}
        raise ImportError(
            f"backend {name!r} is not installed ({e}); pip install "
            f"{'array-api-compat ' if 'array_api_compat' in str(e) else ''}"
            f"{package.get(name, name)}"
        ) from None


def check_device(name: str, device: Any) -> None:
    """A ValueError in one line when ``device`` names a GPU that backend
    ``name`` cannot reach here (PyTorch built without CUDA, or no GPU)."""
    if name == "torch" and str(device).startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                f"torch cannot compute on {str(device)!r}: no CUDA GPU is available "
                "to PyTorch here (torch.cuda.is_available() is False)"
            )


def _empty(name: str) -> Any:
    if name == "torch":
        import torch

        return torch.empty(0)
    import cupy

    return cupy.empty(0)


def device_of(A: Any) -> Any:
    """The device ``A`` lives on ("cpu" for NumPy arrays)."""
    if isinstance(A, np.ndarray):
        return "cpu"
    import array_api_compat

    return array_api_compat.device(A)


def to_numpy(A: Any) -> np.ndarray:
    """``A`` as a NumPy array on the host (a copy off a GPU; NumPy as it is)."""
    if isinstance(A, np.ndarray):
        return A
    module = type(A).__module__.split(".")[0]
    if module == "torch":
        return A.detach().cpu().numpy()
    if module == "cupy":
        return A.get()
    if hasattr(A, "__dlpack__"):
        return np.from_dlpack(A)  # array-api-strict and others on the CPU
    return np.asarray(A)  # lists and the like


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
    """The rows ``rows`` (positions on the host) of A: into ``out`` for a NumPy
    array (no new array), as a new CSR matrix for a sparse one, as a new array
    of its library on its device otherwise."""
    if is_sparse(A):
        return A[rows]
    if isinstance(A, np.ndarray) and out is not None:
        # callers with an out= buffer pass positions they drew themselves (an
        # epoch's permutation): mode="clip" skips the bounds-checked copy
        # through a temporary that the default mode makes, 2-3x faster
        return A.take(rows, axis=0, out=out, mode="clip")
    if isinstance(A, np.ndarray):
        return A.take(rows, axis=0)
    if isinstance(rows, slice):
        return A[rows]
    xp = namespace(A)
    return xp.take(A, xp.asarray(np.asarray(rows), device=device_of(A)), axis=0)


def copy_of(A: Any) -> Any:
    """A copy of ``A`` in its own library and device."""
    if isinstance(A, np.ndarray):
        return A.copy()
    return namespace(A).asarray(A, copy=True)


def total(A: Any) -> float:
    """Σ A as a Python float (the sum of sample weights)."""
    if isinstance(A, np.ndarray):
        return float(A.sum())
    return float(namespace(A).sum(A))


def all_finite(A: Any) -> bool:
    """Whether every entry of ``A`` is finite."""
    return bool(namespace(A).all(namespace(A).isfinite(A)))


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


# NumPy writes into ``out`` with its ufuncs; the array API has no ``out=``:
# these three write the result into ``out``'s memory on either.


def multiply_into(a: Any, b: Any, out: Any) -> Any:
    """out ← a·b (element-wise)."""
    if isinstance(out, np.ndarray):
        return np.multiply(a, b, out=out)
    out[...] = a * b
    return out


def divide_into(a: Any, b: Any, out: Any) -> Any:
    """out ← a / b (element-wise)."""
    if isinstance(out, np.ndarray):
        return np.divide(a, b, out=out)
    out[...] = a / b
    return out


def sqrt_into(a: Any, out: Any) -> Any:
    """out ← √a (element-wise)."""
    if isinstance(out, np.ndarray):
        return np.sqrt(a, out=out)
    out[...] = namespace(a).sqrt(a)
    return out


def library_of(A: Any) -> str:
    """The backend an input belongs to: "numpy" for NumPy arrays and for what
    NumPy reads (lists, DataFrames, sparse matrices), else the array library's
    name ("torch", "cupy", "array_api_strict")."""
    if isinstance(A, np.ndarray):
        return "numpy"
    module = type(A).__module__.split(".")[0]
    return module if module in BACKENDS else "numpy"


def same_place(A: Any, name: str, backend: str, device: Any) -> None:
    """A ValueError naming both places when ``A`` lives elsewhere than a
    network's parameters: nlayer never copies across libraries or devices
    silently."""
    lib = library_of(A)
    where = device_of(A) if lib != "numpy" else "cpu"
    if lib != backend or (lib != "numpy" and where != device):
        raise ValueError(
            f"{name} is a {lib} array on {where}, but the network's parameters "
            f"are {backend} arrays on {device}: move one of them (net.to("
            f"{lib!r}, device=...) or {name} to {backend} on {device})"
        )


def as_matrix_xp(A: Any, name: str, dtype: np.dtype) -> Any:
    """``A`` (an array of another library) as a finite 2-D array of ``dtype``,
    checked as :func:`as_matrix` checks NumPy arrays."""
    xp = namespace(A)
    if A.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array (samples, columns), got a {A.ndim}-D "
            f"array of shape {tuple(A.shape)}"
        )
    want = getattr(xp, dtype.name)
    if A.dtype != want:
        if xp.isdtype(A.dtype, "real floating"):
            raise ValueError(
                f"{name} is {A.dtype} but the network computes in {dtype}; convert "
                f"it, or build the network with the other dtype"
            )
        A = xp.astype(A, want)
    if not bool(xp.all(xp.isfinite(A))):
        _check_finite(to_numpy(A), name)
    return A


def as_weights_xp(sample_weight: Any, m: int, dtype: np.dtype) -> Any:
    """Sample weights of another library, checked as :func:`as_weights`."""
    if sample_weight is None:
        return None
    xp = namespace(sample_weight)
    w = xp.astype(sample_weight, getattr(xp, dtype.name))
    if tuple(w.shape) != (m,):
        raise ValueError(
            f"sample_weight must be {m} numbers, one per sample; got shape "
            f"{tuple(w.shape)}"
        )
    as_weights(to_numpy(w), m, dtype)  # the same refusals, read on the host
    return w


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
