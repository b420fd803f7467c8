"""Where the core's arrays come from, and the checks on arrays that enter it.

NumPy is the only backend so far. The core creates its arrays through the module
that :func:`namespace` returns, so a GPU array library with NumPy's interface
(CuPy) can be added here later without touching the maths.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

FLOAT_DTYPES = ("float32", "float64")


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


def as_matrix(A: Any, name: str, dtype: np.dtype) -> np.ndarray:
    """``A`` as a finite 2-D array of ``dtype``, or a ValueError saying what is wrong.

    Integer and boolean data are converted to ``dtype`` (exact for the values
    data sets hold). Floating data of the other precision is refused rather
    than silently up- or down-cast: float32 work stays float32.
    """
    if A is None:
        raise ValueError(f"{name} is missing (got None)")
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
    finite = xp.isfinite(A)
    if not finite.all():
        row, col = (int(i[0]) for i in xp.nonzero(~finite))
        what = "NaN" if xp.isnan(A[row, col]) else "infinity"
        raise ValueError(
            f"{name} contains {what} (first at row {row}, column {col}); "
            "remove or impute non-finite values before training"
        )
    return A
