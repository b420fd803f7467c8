"""The compiled loops of :mod:`nlayer.kernels` (numba; reached only through it).

Each is the NumPy code in its comment, element by element, in the same order
and the same dtype: scalars come in already cast to the arrays' dtype (a
``one`` or ``zero`` argument where the NumPy line has a literal), because a
Python number here would widen float32 arithmetic to float64. numba compiles
one version per dtype and array layout on first use and caches it beside this
file (or in its user-wide cache where this folder is read-only).
"""

# mypy: ignore-errors
import math

import numba
import numpy as np

_jit = numba.njit(cache=True, error_model="numpy", nogil=True)
_inline = numba.njit(cache=True, error_model="numpy", nogil=True, inline="always")


# Each loop first checks that its arrays do not partly overlap, and returns
# False without touching them if they do: NumPy buffers such operands, a loop
# would read what it has already written. The very same array twice is fine
# for a layer's loops (each reads an entry, or a row, before writing it), not
# for an update's. True: done.


@_inline
def _extent(a):
    # the first and one-past-the-last byte a's entries occupy
    lo = a.ctypes.data
    hi = lo
    for d in range(a.ndim):
        span = (a.shape[d] - 1) * a.strides[d]
        if span < 0:
            lo += span
        else:
            hi += span
    return lo, hi + a.itemsize


@_inline
def _overlap(a, b):
    alo, ahi = _extent(a)
    blo, bhi = _extent(b)
    return alo < bhi and blo < ahi


@_inline
def _apart(a, b):
    # disjoint, or the very same entries
    if not _overlap(a, b):
        return True
    return a.ctypes.data == b.ctypes.data and a.strides == b.strides


# -- optimisers: the flat buffers, one pass -----------------------------------
# g is scratch (Optimizer.step): the NumPy lines write into it, these need not.
# decay: whether the Python weight decay is non-zero, as Optimizer._l2 tests it.


@_jit
def adam(p, g, M, V, n_weights, decay, wd, b1, b2, eps_c, s):
    # Optimizer._l2 (when wd), then Adam._adam:
    # M *= b1; M += g; V *= b2; V += g*g; p -= M / (sqrt(V) + eps_c) * s
    if _overlap(p, g) or _overlap(p, M) or _overlap(p, V) or _overlap(g, M):
        return False
    if _overlap(g, V) or _overlap(M, V):
        return False
    for i in range(p.size):
        gi = g[i]
        if decay and i < n_weights:
            gi = gi + p[i] * wd
        m = M[i] * b1 + gi
        v = V[i] * b2 + gi * gi
        M[i] = m
        V[i] = v
        p[i] -= m / (math.sqrt(v) + eps_c) * s
    return True


@_jit
def rmsprop(p, g, V, n_weights, decay, wd, rho, eps_c, s):
    # Optimizer._l2, then V *= rho; V += g*g; p -= g / (sqrt(V) + eps_c) * s
    if _overlap(p, g) or _overlap(p, V) or _overlap(g, V):
        return False
    for i in range(p.size):
        gi = g[i]
        if decay and i < n_weights:
            gi = gi + p[i] * wd
        v = V[i] * rho + gi * gi
        V[i] = v
        p[i] -= gi / (math.sqrt(v) + eps_c) * s
    return True


@_jit
def sgd(p, g, v, n_weights, decay, wd, momentum, mu, lr, nesterov):
    # Optimizer._l2, then SGD._update: with momentum v *= mu; v += g and
    # g = v*lr (Nesterov: g = (g + mu*v)*lr), else g *= lr; p -= g.
    # decay and momentum: whether the Python values are non-zero, as the NumPy
    # lines test them (a value can round to 0 in float32); without momentum v
    # is not read.
    if _overlap(p, g) or (momentum and (_overlap(p, v) or _overlap(g, v))):
        return False
    for i in range(p.size):
        gi = g[i]
        if decay and i < n_weights:
            gi = gi + p[i] * wd
        if momentum:
            vi = v[i] * mu + gi
            v[i] = vi
            gi = (gi + vi * mu) * lr if nesterov else vi * lr
        else:
            gi = gi * lr
        p[i] -= gi
    return True


# -- a layer: (m, n) C-ordered matrices, b (n,) --------------------------------


@_jit
def bias(Z, b):
    # Z += b
    if _overlap(Z, b):
        return False
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            Z[i, j] = Z[i, j] + b[j]
    return True


@_jit
def bias_relu(Z, b, H):
    # Z += b; np.maximum(Z, 0, out=H): NaN kept, max(-0, 0) is +0
    if _overlap(Z, b) or _overlap(H, b) or not _apart(Z, H):
        return False
    m, n = Z.shape
    for i in range(m):
        for j in range(n):
            z = Z[i, j] + b[j]
            Z[i, j] = z
            H[i, j] = z if (z > 0 or z != z) else 0
    return True


@_jit
def relu_backward(dH, Z):
    # dH *= Z > 0
    if not _apart(dH, Z):
        return False
    m, n = dH.shape
    for i in range(m):
        for j in range(n):
            dH[i, j] = dH[i, j] * (1 if Z[i, j] > 0 else 0)
    return True


@_jit
def tanh_backward(dH, H, one):
    # dH *= 1 - H * H
    if not _apart(dH, H):
        return False
    m, n = dH.shape
    for i in range(m):
        for j in range(n):
            h = H[i, j]
            dH[i, j] = dH[i, j] * (one - h * h)
    return True


@_jit
def sigmoid_backward(dH, H, one):
    # dH *= H * (1 - H)
    if not _apart(dH, H):
        return False
    m, n = dH.shape
    for i in range(m):
        for j in range(n):
            h = H[i, j]
            dH[i, j] = dH[i, j] * (h * (one - h))
    return True


# -- rows: softmax and cross-entropy -----------------------------------------


# NumPy sums a row of n entries pairwise: below 8 one by one from 0, up to 128
# in eight running sums, above that the two halves separately. _sum0 is the
# first two cases, so that a row's sum here has the bits of NumPy's
# A.sum(axis=1); longer rows (over 128 classes) stay with NumPy.
MAX_ROW = 128


@_inline  # into row_sums: a call per row would cost more than the sum
def _sum0(a, i, n, zero):
    if n < 8:
        res = zero
        for j in range(n):
            res += a[i, j]
        return res
    r0, r1, r2, r3 = a[i, 0], a[i, 1], a[i, 2], a[i, 3]
    r4, r5, r6, r7 = a[i, 4], a[i, 5], a[i, 6], a[i, 7]
    j = 8
    while j < n - n % 8:
        r0 += a[i, j]
        r1 += a[i, j + 1]
        r2 += a[i, j + 2]
        r3 += a[i, j + 3]
        r4 += a[i, j + 4]
        r5 += a[i, j + 5]
        r6 += a[i, j + 6]
        r7 += a[i, j + 7]
        j += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while j < n:
        res += a[i, j]
        j += 1
    return res


@_jit
def row_sums(A, out, zero):
    # out[:] = A.sum(axis=1)
    m, n = A.shape
    if n < 8:  # a few columns: the same order, but every row at once (no chain)
        for i in range(m):
            out[i] = zero
        for j in range(n):
            for i in range(m):
                out[i] += A[i, j]
        for i in range(m):
            out[i] = zero + out[i]  # NumPy adds the row's sum to its identity
        return
    for i in range(m):
        out[i] = zero + _sum0(A, i, n, zero)


@_jit
def shift_rows(Z, out):
    # out = Z - Z.max(axis=1, keepdims=True)  (a row with NaN: all NaN)
    if not _apart(Z, out):
        return False
    m, n = Z.shape
    for i in range(m):
        top = Z[i, 0]
        for j in range(1, n):
            z = Z[i, j]
            if z > top or z != z:
                top = z
                if z != z:
                    break
        for j in range(n):
            out[i, j] = Z[i, j] - top
    return True


@_jit
def normalise_rows(E, zero):
    # E /= E.sum(axis=1, keepdims=True)
    m, n = E.shape
    sums = np.empty(m, E.dtype)
    row_sums(E, sums, zero)
    for i in range(m):
        for j in range(n):
            E[i, j] = E[i, j] / sums[i]
