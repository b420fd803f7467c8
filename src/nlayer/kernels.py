"""Fused loops for a training step's element-wise work: optional, with numba.

NumPy makes one pass over memory, and one Python call, per operation: Adam's
update is ten of each, a ReLU layer's bias, σ and σ′ three, and a softmax's
row max and row sum are reductions over a few columns, slow in NumPy. Where
numba is installed (``pip install "nlayer[fast]"``), loops do them in one
pass each: the SGD, Adam and RMSprop updates (with L2), Z += b (with ReLU in
the same pass; NumPy's broadcast add alone is 3× slower), the ReLU, tanh and
sigmoid σ′ products, and the row max and sums of the
softmax and the cross-entropy. ``exp``, ``log``, ``tanh`` and the matrix
products stay NumPy's and BLAS's: their bits could not be reproduced.

Every kernel computes exactly what the NumPy lines beside its caller compute:
the same operations, in the same order, rounded to the same dtype (scalars
are cast to the arrays' dtype first, as NumPy casts a Python float), with no
fast-math and no fused multiply-add. Results are therefore bit-identical with
and without numba — the tests compare the two paths with ``array_equal`` —
so installing the extra changes a run's speed and nothing else.

``error_model="numpy"`` lets a division by zero give inf as NumPy's does,
instead of numba's Python-style check, which also keeps the loops vectorised.

numba is imported the first time a loop is asked for (the first training
step, or a loss or an update computed directly), never by ``import nlayer``:
about half a second and 40–60 MB of the process's own memory, once; the loops
are compiled on their first use, about a second a dtype, and cached on disk.
``NLAYER_KERNELS=0`` in the environment, or :func:`use` (False), keeps the
NumPy path.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

_kernels: Any = None  # the compiled kernels module; False: numba is missing
_enabled = os.environ.get("NLAYER_KERNELS", "1").strip().lower() not in {
    "0",
    "false",
    "no",
    "off",
}


def get() -> Any:
    """The compiled kernels, or None where numba is missing or they are off."""
    global _kernels
    if not _enabled:
        return None
    if _kernels is None:
        _kernels = _compile() or False
    return _kernels or None


def available() -> bool:
    """Whether training uses the fused kernels (numba installed, not turned off)."""
    return get() is not None


@contextlib.contextmanager
def use(enabled: bool) -> Iterator[None]:
    """Turn the kernels on or off inside a ``with`` block (tests, benchmarks):
    for the whole process, every thread included."""
    global _enabled
    before, _enabled = _enabled, enabled
    try:
        yield
    finally:
        _enabled = before


def usable(ndim: int, *arrays: Any, bias: Any = None, rows: bool = False) -> Any:
    """The kernels when ``arrays`` are writeable NumPy arrays of one shape with
    ``ndim`` dimensions and one dtype, float32 or float64 (and ``bias``, if
    given, a vector of it as long as their rows), else None: NumPy then runs
    the same lines, and raises its own errors for what it cannot take.

    Strided arrays are fine (numba compiles a loop for their layout), except
    for loops that sum along rows (``rows``): NumPy's order of a row's sum
    depends on the layout, so those take C-ordered arrays only. Each loop
    checks itself that its arrays do not partly overlap, and returns False,
    having done nothing, if they do: the caller then runs the NumPy lines."""
    k = get()
    A0 = arrays[0]
    if k is None or type(A0) is not np.ndarray:  # no kernels, or another library
        return None
    dt, shape = A0.dtype, A0.shape
    if dt.char not in "fd" or len(shape) != ndim or not A0.size:
        return None
    for A in arrays:  # `is`: NumPy's float dtypes are singletons
        if not (type(A) is np.ndarray and A.dtype is dt and A.shape == shape):
            return None
        if not A.flags.writeable or (rows and not A.flags.c_contiguous):
            return None
    if bias is not None and not (
        type(bias) is np.ndarray and bias.dtype is dt and bias.shape == shape[-1:]
    ):
        return None
    return k


def _compile() -> Any:
    try:
        from . import kernels_numba
    except ImportError:  # numba is not installed
        return None
    return kernels_numba
