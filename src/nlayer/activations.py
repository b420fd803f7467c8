"""Activation functions σ and their derivatives σ′, one small class each.

Names follow the seeds: ``Z`` is a layer's pre-activation, ``H = σ(Z)`` its
output. ``derivative(z, h)`` returns σ′(z) element-wise and may use ``h`` where
that is cheaper (sigmoid: h(1 − h), tanh: 1 − h²), as the seeds note.
``backward(dH, Z, H)`` is the seeds' step 2, ``dZ = dH ⊙ σ′(Z)``; only softmax,
whose Jacobian is not diagonal, overrides it.

A custom activation is any object with ``forward(z)`` and ``derivative(z, h)``;
:func:`check_activation` compares its derivative with finite differences of its
forward, and the network runs that check when it is built.

``forward``, ``derivative`` and ``backward`` work on the arrays of any library of
the array API standard (NumPy, PyTorch, CuPy, array-api-strict): they compute
in the namespace, on the device and in the dtype of their input. The in-place
``forward_into`` and ``backward_into`` are NumPy's fast path; given other arrays
they fall back to ``forward`` and ``backward`` and return new arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar

import numpy as np

from . import kernels
from .backend import Array, xp_of
from .checks import non_negative
from .registry import as_object, lookup, register


class Activation:
    """Base class: subclasses give ``forward`` and ``derivative`` (shapes kept)."""

    name: ClassVar[str] = "activation"
    #: the initialiser the seeds' rule picks for a layer with this activation
    init: ClassVar[str] = "xavier_normal"
    #: False where σ mixes the units of a sample (softmax): output layer only
    elementwise: ClassVar[bool] = True

    def forward(self, z: Array) -> Array:
        """H = σ(Z), same shape as ``z``."""
        raise NotImplementedError

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        """σ′(Z) element-wise, same shape as ``z``; ``h = σ(z)`` when known."""
        raise NotImplementedError

    def backward(self, dH: Array, Z: Array, H: Array) -> Array:
        """Math: dZ = dH ⊙ σ′(Z)  (dH, Z, H, dZ: (m, n_l))."""
        return dH * self.derivative(Z, H)

    # The training loop calls these two: an activation that can compute in place
    # overrides them to save an allocation per layer and step; by default they
    # are forward and backward.

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # a subclass that redefines σ or σ′ must not inherit an in-place shortcut
        # written from its parent's formulas
        if "forward" in cls.__dict__ and "forward_into" not in cls.__dict__:
            cls.forward_into = Activation.forward_into  # type: ignore[method-assign]
        new_forward = "forward" in cls.__dict__ or "forward_into" in cls.__dict__
        if new_forward and "bias_forward_into" not in cls.__dict__:
            cls.bias_forward_into = Activation.bias_forward_into  # type: ignore[method-assign]
        redefined = "derivative" in cls.__dict__ or "backward" in cls.__dict__
        if redefined and "backward_into" not in cls.__dict__:
            cls.backward_into = Activation.backward_into  # type: ignore[method-assign]

    def forward_into(self, z: Array, out: Array) -> Array:
        """σ(z), written into ``out`` where the activation can; returns it."""
        return self.forward(z)

    def bias_forward_into(self, z: Array, b: Array, out: Array) -> Array:
        """Z += b (z: (m, n), b: (n,)), then :meth:`forward_into`; returns H.
        The training step's forward, in one pass where a kernel fuses both."""
        k = kernels.usable(2, z, bias=b)
        if k is None or not k.bias(z, b):  # the loop: z += b, bit-identical
            z += b
        return self.forward_into(z, out)

    def backward_into(self, dH: Array, Z: Array, H: Array) -> Array:
        """dZ = dH ⊙ σ′(Z), written over ``dH`` where it can; returns dZ."""
        return self.backward(dH, Z, H)

    def params(self) -> dict[str, float]:
        """The activation's parameters (e.g. ``{"alpha": 0.01}``), for saving."""
        if not is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


def _sigmoid(z: Array) -> Array:
    # exp of a non-positive number never overflows; both branches are exact forms
    xp = xp_of(z)
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


@dataclass(frozen=True, repr=False)
class Sigmoid(Activation):
    """σ(z) = 1 / (1 + e^(−z)),  σ′ = h(1 − h)."""

    name: ClassVar[str] = "sigmoid"

    def forward(self, z: Array) -> Array:
        return _sigmoid(z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        h = _sigmoid(z) if h is None else h
        return h * (1 - h)

    def backward_into(self, dH: Array, Z: Array, H: Array) -> Array:
        if not (isinstance(dH, np.ndarray) and isinstance(H, np.ndarray)):
            return self.backward(dH, Z, H)
        k = kernels.usable(2, dH, H)
        if k is not None and k.sigmoid_backward(dH, H, H.dtype.type(1)):
            return dH  # the line below in one pass, bit-identical
        dH *= H * (1 - H)
        return dH


@dataclass(frozen=True, repr=False)
class Tanh(Activation):
    """σ(z) = tanh z,  σ′ = 1 − h²."""

    name: ClassVar[str] = "tanh"

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        return xp.tanh(z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        h = xp_of(z).tanh(z) if h is None else h
        return 1 - h**2

    def forward_into(self, z: Array, out: Array) -> Array:
        if not (isinstance(z, np.ndarray) and isinstance(out, np.ndarray)):
            return self.forward(z)
        return np.tanh(z, out=out)

    def backward_into(self, dH: Array, Z: Array, H: Array) -> Array:
        if not (isinstance(dH, np.ndarray) and isinstance(H, np.ndarray)):
            return self.backward(dH, Z, H)
        k = kernels.usable(2, dH, H)
        if k is not None and k.tanh_backward(dH, H, H.dtype.type(1)):
            return dH  # the line below in one pass, bit-identical
        dH *= 1 - H * H
        return dH


@dataclass(frozen=True, repr=False)
class ReLU(Activation):
    """σ(z) = max(0, z),  σ′ = 1 if z > 0 else 0 (so σ′(0) = 0)."""

    name: ClassVar[str] = "relu"
    init: ClassVar[str] = "he_normal"

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        return xp.maximum(z, 0)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        xp = xp_of(z)
        return xp.asarray(z > 0, dtype=z.dtype)  # 1.0 and 0.0 exactly

    def forward_into(self, z: Array, out: Array) -> Array:
        if not (isinstance(z, np.ndarray) and isinstance(out, np.ndarray)):
            return self.forward(z)
        return np.maximum(z, 0, out=out)

    def bias_forward_into(self, z: Array, b: Array, out: Array) -> Array:
        k = kernels.usable(2, z, out, bias=b)
        if k is not None and k.bias_relu(z, b, out):
            return out  # z += b; out = max(z, 0) in one pass: bit-identical
        return super().bias_forward_into(z, b, out)

    def backward_into(self, dH: Array, Z: Array, H: Array) -> Array:
        if not (isinstance(dH, np.ndarray) and isinstance(Z, np.ndarray)):
            return self.backward(dH, Z, H)
        k = kernels.usable(2, dH, Z)
        if k is not None and k.relu_backward(dH, Z):
            return dH  # the line below in one pass, bit-identical
        dH *= Z > 0  # multiplying by the mask: no float copy of σ′ is made
        return dH


def _check_alpha(act: Activation, alpha: float, positive: bool) -> None:
    non_negative(f"{act.name}: alpha", alpha, positive=positive)


@dataclass(frozen=True, repr=False)
class LeakyReLU(Activation):
    """σ(z) = z if z > 0 else αz,  σ′ = 1 if z > 0 else α  (α = 0.01)."""

    alpha: float = 0.01
    name: ClassVar[str] = "leaky_relu"
    init: ClassVar[str] = "he_normal"

    def __post_init__(self) -> None:
        _check_alpha(self, self.alpha, positive=False)

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        return xp.where(z > 0, z, self.alpha * z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        # 1 and α rounded to z's dtype, as NumPy's where(z > 0, 1, α).astype(dtype)
        xp = xp_of(z)
        return xp.where(z > 0, xp.ones_like(z), self.alpha)

    def forward_into(self, z: Array, out: Array) -> Array:
        if not (isinstance(z, np.ndarray) and isinstance(out, np.ndarray)):
            return self.forward(z)
        np.copyto(out, z)
        return np.multiply(z, self.alpha, out=out, where=z <= 0)

    def backward_into(self, dH: Array, Z: Array, H: Array) -> Array:
        if not (isinstance(dH, np.ndarray) and isinstance(Z, np.ndarray)):
            return self.backward(dH, Z, H)
        return np.multiply(dH, self.alpha, out=dH, where=Z <= 0)


@dataclass(frozen=True, repr=False)
class ELU(Activation):
    """σ(z) = z if z > 0 else α(e^z − 1),  σ′ = 1 if z > 0 else h + α  (α = 1)."""

    alpha: float = 1.0
    name: ClassVar[str] = "elu"
    init: ClassVar[str] = "he_normal"

    def __post_init__(self) -> None:
        _check_alpha(self, self.alpha, positive=True)

    def forward(self, z: Array) -> Array:
        # expm1 of min(z, 0): exact near 0 and never overflows for large z
        xp = xp_of(z)
        return xp.where(z > 0, z, self.alpha * xp.expm1(xp.minimum(z, 0)))

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        xp = xp_of(z)
        h = self.forward(z) if h is None else h
        return xp.asarray(xp.where(z > 0, 1.0, h + self.alpha), dtype=z.dtype)


@dataclass(frozen=True, repr=False)
class Linear(Activation):
    """σ(z) = z,  σ′ = 1."""

    name: ClassVar[str] = "linear"

    def forward(self, z: Array) -> Array:
        return z

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        xp = xp_of(z)
        return xp.ones_like(z)

    def backward(self, dH: Array, Z: Array, H: Array) -> Array:
        return dH  # dH ⊙ 1: skip multiplying by a matrix of ones

    def forward_into(self, z: Array, out: Array) -> Array:
        return z  # H is Z itself: no copy


@dataclass(frozen=True, repr=False)
class Softmax(Activation):
    """σ(z)ᵢ = e^(zᵢ) / Σⱼ e^(zⱼ) over each row; output layer only.

    Its Jacobian is not diagonal, so ``backward`` is the full product
    dZ = H ⊙ (dH − Σⱼ dHⱼ Hⱼ). With cross-entropy the network skips it and uses
    the fused dZ = Ŷ − Y, as the seeds do.
    """

    name: ClassVar[str] = "softmax"
    elementwise: ClassVar[bool] = False

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        e = xp.exp(z - xp.max(z, axis=-1, keepdims=True))  # shift: no overflow
        return e / xp.sum(e, axis=-1, keepdims=True)

    def forward_into(self, z: Array, out: Array) -> Array:
        if not (isinstance(z, np.ndarray) and isinstance(out, np.ndarray)):
            return self.forward(z)
        # the three lines below, bit-identical, the row max and sum as loops:
        # NumPy's reductions over a few columns are slow
        k = kernels.usable(2, z, out, rows=True)
        if k is not None and z.shape[1] <= k.MAX_ROW and k.shift_rows(z, out):
            np.exp(out, out=out)
            k.normalise_rows(out, out.dtype.type(0))
            return out
        np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
        np.exp(out, out=out)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        raise TypeError(
            "softmax has no element-wise derivative (its Jacobian is "
            "diag(h) − h hᵀ per sample); use backward(dH, Z, H)"
        )

    def backward(self, dH: Array, Z: Array, H: Array) -> Array:
        xp = xp_of(dH, H)
        return H * (dH - xp.sum(dH * H, axis=-1, keepdims=True))


_GELU_C = float(np.sqrt(2.0 / np.pi))


@dataclass(frozen=True, repr=False)
class GELU(Activation):
    """GELU, tanh approximation: σ(z) = ½ z (1 + tanh(c(z + 0.044715 z³))),
    c = √(2/π)  (Hendrycks & Gimpel, 2016)."""

    name: ClassVar[str] = "gelu"
    init: ClassVar[str] = "he_normal"

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        return 0.5 * z * (1 + xp.tanh(_GELU_C * (z + 0.044715 * z**3)))

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        xp = xp_of(z)
        t = xp.tanh(_GELU_C * (z + 0.044715 * z**3))
        return 0.5 * (1 + t) + 0.5 * z * (1 - t**2) * _GELU_C * (1 + 0.134145 * z**2)


@dataclass(frozen=True, repr=False)
class SiLU(Activation):
    """SiLU / swish: σ(z) = z·s(z) with s the sigmoid,  σ′ = s(1 + z(1 − s))."""

    name: ClassVar[str] = "silu"
    init: ClassVar[str] = "he_normal"

    def forward(self, z: Array) -> Array:
        return z * _sigmoid(z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        s = _sigmoid(z)
        return s * (1 + z * (1 - s))


@dataclass(frozen=True, repr=False)
class Softplus(Activation):
    """σ(z) = log(1 + e^z),  σ′ = sigmoid(z)."""

    name: ClassVar[str] = "softplus"
    init: ClassVar[str] = "he_normal"

    def forward(self, z: Array) -> Array:
        # log(1 + e^z) = max(z, 0) + log1p(e^(−|z|)): no overflow for large |z|
        xp = xp_of(z)
        return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        return _sigmoid(z)


@dataclass(frozen=True, repr=False)
class Exp(Activation):
    """σ(z) = e^z,  σ′ = h: a positive output (counts, with the Poisson loss)."""

    name: ClassVar[str] = "exp"

    def forward(self, z: Array) -> Array:
        xp = xp_of(z)
        return xp.exp(z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        return xp_of(z).exp(z) if h is None else h

    def forward_into(self, z: Array, out: Array) -> Array:
        if not (isinstance(z, np.ndarray) and isinstance(out, np.ndarray)):
            return self.forward(z)
        return np.exp(z, out=out)


ACTIVATIONS: dict[str, Callable[[], Activation]] = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "softmax": Softmax,
    "linear": Linear,
    "gelu": GELU,
    "silu": SiLU,
    "softplus": Softplus,
    "exp": Exp,
}


def register_activation(
    name: str, factory: Callable[..., Any], *, overwrite: bool = False
) -> None:
    """Make ``factory()`` available by ``name`` (also what saved models refer to)."""
    register(ACTIVATIONS, name, factory, "activation", get_activation, overwrite)


class _Custom(Activation):
    """Adapts a user object with ``forward(z)`` and ``derivative(z, h)``."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = getattr(fn, "name", type(fn).__name__)  # type: ignore[misc]
        self.init = getattr(fn, "init", Activation.init)  # type: ignore[misc]

    def forward(self, z: Array) -> Array:
        return self.fn.forward(z)

    def derivative(self, z: Array, h: Array | None = None) -> Array:
        return self.fn.derivative(z, h)

    def params(self) -> dict[str, float]:
        params = getattr(self.fn, "params", None)
        return dict(params()) if callable(params) else {}

    def __repr__(self) -> str:
        return repr(self.fn)


def get_activation(spec: str | Any) -> Activation:
    """The activation named ``spec``, or ``spec`` itself as an :class:`Activation`."""
    if isinstance(spec, str):
        hint = " (or pass an object with forward(z) and derivative(z, h))"
        spec = lookup(ACTIVATIONS, spec, "activation", hint)()
    return as_object(spec, Activation, ("forward", "derivative"), _Custom)


_BUILTIN = frozenset(ACTIVATIONS.values())


def is_builtin(act: Activation) -> bool:
    """True for nlayer's own activation classes (the test suite proves them)."""
    return type(act) in _BUILTIN


def check_activation(
    act: str | Any,
    z: Array | None = None,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    dtype: Any = None,
) -> float:
    """Compare ``derivative`` with central differences of ``forward``.

    Evaluates at ``z`` (default: 201 fixed points in [−4, 4]) in float64 and
    returns the largest absolute difference; raises ``ValueError`` naming the
    worst point when |σ′ − (σ(z+ε) − σ(z−ε)) / 2ε| > atol + rtol·|…| anywhere.
    With ``dtype="float32"``, also checks that float32 input stays float32.
    """
    a = get_activation(act)
    if not a.elementwise:
        raise ValueError(f"{a.name}: only element-wise activations can be checked")
    z = np.linspace(-4.0, 4.0, 201) + 1e-3 if z is None else np.asarray(z, np.float64)
    h = np.asarray(a.forward(z))
    if h.shape != z.shape:
        raise ValueError(
            f"activation {a.name!r}: forward changed the shape {z.shape} to {h.shape}"
        )
    d = np.broadcast_to(np.asarray(a.derivative(z, h), dtype=np.float64), z.shape)
    numeric = (np.asarray(a.forward(z + eps)) - np.asarray(a.forward(z - eps))) / (
        2 * eps
    )
    err = np.abs(d - numeric)
    bad = ~(err <= atol + rtol * np.abs(numeric))  # also catches NaN
    if bad.any():
        i = int(np.argmax(np.where(bad, err, -1)))
        raise ValueError(
            f"activation {a.name!r}: derivative(z, h) disagrees with finite "
            f"differences of forward(z) at z = {z.flat[i]:.6g}: derivative gives "
            f"{d.flat[i]:.6g}, finite differences give {numeric.flat[i]:.6g}"
        )
    if dtype is not None and np.dtype(dtype) == np.float32:
        z32 = z.astype(np.float32)
        h32 = np.asarray(a.forward(z32))
        d32 = np.asarray(a.backward(np.ones_like(z32), z32, h32))
        if h32.dtype != np.float32 or d32.dtype != np.float32:
            raise ValueError(
                f"activation {a.name!r} turns float32 input into "
                f"{h32.dtype if h32.dtype != np.float32 else d32.dtype}; "
                "compute in the input's dtype so float32 training stays float32"
            )
    return float(err.max())
