"""Losses L(Ŷ, Y): each is a sum over outputs and a mean over the m samples.

``samples(Y_hat, Y)`` returns each sample's loss ℓᵢ (summed over outputs), and
``value(Y_hat, Y)`` returns L = mean ℓᵢ; sample weights give Σ wᵢℓᵢ / Σ wᵢ.
``sample_gradient(Y_hat, Y)`` returns each sample's derivative ∂ℓᵢ/∂ŷᵢ, shape
(m, n_L), which is m·∂L/∂Ŷ: the seeds write ∂L/∂Ŷ = Ŷ − Y for MSE and apply
the 1/m when forming dW and db, and nlayer does the same. (``gradient`` is
its older name, still accepted from a custom loss.)

``task`` says what a loss's targets are ("classification": labels or
probabilities; "regression": values) and ``output`` the output activation it
goes with: the registry holds these facts for the command line, the
estimators and ``fit``'s default metric.

Cross-entropy with a softmax output and binary cross-entropy with a sigmoid
output are *fused*: the network skips σ′ and takes the output delta
dZ = Ŷ − Y directly (``fused_delta``), and computes the loss from the logits Z so that
it stays finite when a probability rounds to 0 (``value_from_logits``).

The losses compute on the arrays of any library of the array API standard
(NumPy, PyTorch, CuPy, array-api-strict): in the namespace, on the device and in
the dtype of Ŷ and Y, which must come from the same library. Values come back
as Python floats. ``fused_delta``'s ``out=`` is NumPy's fast path, ignored for
other arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from . import kernels
from .backend import Array, xp_of
from .checks import non_negative
from .registry import as_object, lookup, register


class Loss:
    """Base class: subclasses give ``samples`` (or ``value``) and ``gradient``."""

    name: ClassVar[str] = "loss"
    #: the output activation this loss fuses with (dZ_L = Ŷ − Y), or None
    fused_with: ClassVar[str | None] = None
    #: "classification" (targets are labels or probabilities) or "regression"
    task: ClassVar[str] = "regression"

    @property
    def output(self) -> str:
        """The output activation this loss goes with: the fused one, else linear."""
        return self.fused_with or "linear"

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        """ℓᵢ, each sample's loss summed over outputs, shape (m,)."""
        raise TypeError(
            f"loss {self.name!r} gives no per-sample values (samples(Y_hat, Y)), "
            "so it cannot weight samples"
        )

    def value(self, Y_hat: Array, Y: Array) -> float:
        """L = mean ℓᵢ, a float (Y_hat, Y: (m, n_L))."""
        S = self.samples(Y_hat, Y)
        return float(xp_of(S).mean(S))

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        """∂ℓᵢ/∂ŷᵢ for every sample, shape (m, n_L): m·∂L/∂Ŷ."""
        if type(self).gradient is not Loss.gradient:  # a loss written before
            return self.gradient(Y_hat, Y)
        raise NotImplementedError

    def gradient(self, Y_hat: Array, Y: Array) -> Array:
        """The older name of :meth:`sample_gradient`."""
        return self.sample_gradient(Y_hat, Y)

    def check_targets(self, Y: Array) -> None:
        """Raise ValueError when ``Y`` is not a valid target for this loss."""

    def example_targets(
        self, rng: np.random.Generator, shape: tuple[int, int]
    ) -> Array:
        """Random targets of ``shape`` (m, n_L) this loss accepts (what a
        gradient check on random data uses): standard normal values here."""
        return rng.standard_normal(shape)

    def fused_delta(self, Y_hat: Array, Y: Array, out: Array | None = None) -> Array:
        """Fused losses only: m·∂L/∂Z_L, skipping the output activation's σ′
        (written into ``out`` when given)."""
        raise TypeError(f"{self.name} is not fused with an output activation")

    def samples_from_logits(self, Z: Array, Y: Array) -> Array:
        """Fused losses only: ℓᵢ computed from the output layer's Z, shape (m,)."""
        raise TypeError(f"{self.name} is not fused with an output activation")

    def value_from_logits(self, Z: Array, Y: Array) -> float:
        """Fused losses only: L computed from the output layer's Z."""
        S = self.samples_from_logits(Z, Y)
        return float(xp_of(S).mean(S))

    def params(self) -> dict[str, float]:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"


@dataclass(frozen=True, repr=False)
class MSE(Loss):
    """Math: L = (1/2m)·Σᵢ ‖ŷᵢ − yᵢ‖²,  m·∂L/∂Ŷ = Ŷ − Y."""

    name: ClassVar[str] = "mse"

    def value(self, Y_hat: Array, Y: Array) -> float:
        R = Y_hat - Y
        if isinstance(R, np.ndarray):
            return float(0.5 * np.vdot(R, R) / len(R))
        return float(0.5 * xp_of(R).sum(R * R) / R.shape[0])

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        R = Y_hat - Y
        xp = xp_of(R)
        return 0.5 * xp.sum(R * R, axis=1)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        return Y_hat - Y


@dataclass(frozen=True, repr=False)
class MAE(Loss):
    """Math: L = (1/m)·Σᵢ Σⱼ |ŷᵢⱼ − yᵢⱼ|,  m·∂L/∂Ŷ = sign(Ŷ − Y)."""

    name: ClassVar[str] = "mae"

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return xp.sum(xp.abs(Y_hat - Y), axis=1)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return xp.sign(Y_hat - Y)


@dataclass(frozen=True, repr=False)
class Huber(Loss):
    """Math: L = (1/m)·Σ ℓ(r), r = ŷ − y, ℓ = r²/2 if |r| ≤ δ else δ(|r| − δ/2);
    m·∂L/∂Ŷ = clip(r, −δ, δ)  (δ = 1)."""

    delta: float = 1.0
    name: ClassVar[str] = "huber"

    def __post_init__(self) -> None:
        non_negative("huber: delta", self.delta, positive=True)

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        a = xp.abs(Y_hat - Y)
        d = self.delta
        return xp.sum(xp.where(a <= d, 0.5 * a**2, d * (a - 0.5 * d)), axis=1)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return xp.clip(Y_hat - Y, -self.delta, self.delta)

    def params(self) -> dict[str, float]:
        return {"delta": self.delta}


def _tiny(xp: Any, A: Array) -> Any:
    """The smallest normal number of A's dtype (NumPy's finfo ``tiny``)."""
    return xp.finfo(A.dtype).smallest_normal


def _log(xp: Any, P: Array) -> Array:
    return xp.log(xp.maximum(P, _tiny(xp, P)))  # log 0 → a finite floor


def _check_probabilities(loss: Loss, xp: Any, Y: Array) -> None:
    low, high = float(xp.min(Y)), float(xp.max(Y))
    if low < 0 or high > 1:
        raise ValueError(
            f"{loss.name} targets must be probabilities in [0, 1]; Y holds values "
            f"from {low:.6g} to {high:.6g} (encode class labels as one-hot rows)"
        )


@dataclass(frozen=True, repr=False)
class CrossEntropy(Loss):
    """Math: L = −(1/m)·Σᵢ Σⱼ yᵢⱼ log ŷᵢⱼ with Ŷ = softmax(Z); fused dZ = Ŷ − Y."""

    name: ClassVar[str] = "cross_entropy"
    fused_with: ClassVar[str | None] = "softmax"
    task: ClassVar[str] = "classification"

    def example_targets(
        self, rng: np.random.Generator, shape: tuple[int, int]
    ) -> Array:
        m, n = shape  # one-hot rows
        return np.eye(n)[rng.integers(0, n, m)]

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return -xp.sum(Y * _log(xp, Y_hat), axis=1)

    def samples_from_logits(self, Z: Array, Y: Array) -> Array:
        """ℓᵢ from the output layer's Z, via log-softmax: finite for any Z."""
        xp = xp_of(Z, Y)
        S = Z - xp.max(Z, axis=1, keepdims=True)
        log_softmax = S - xp.log(xp.sum(xp.exp(S), axis=1, keepdims=True))
        return -xp.sum(Y * log_softmax, axis=1)

    def value_from_logits(self, Z: Array, Y: Array) -> float:
        """L = (1/m)·Σᵢ (lseᵢ·Σⱼ yᵢⱼ − Σⱼ yᵢⱼ Sᵢⱼ), S = Z − max Z, lse = log Σⱼ e^S:
        −Σⱼ yᵢⱼ log ŷᵢⱼ expanded, so that NumPy needs eight calls and no
        (m, n_L) log-softmax (a tenth of a small network's step, measured)."""
        if not isinstance(Z, np.ndarray):
            return super().value_from_logits(Z, Y)
        # the three lines below, bit-identical, the row max and sums as loops
        k = kernels.usable(2, Z, Y, rows=True)
        if k is not None and Z.shape[1] <= k.MAX_ROW:
            S, zero = np.empty_like(Z), Z.dtype.type(0)
            k.shift_rows(Z, S)  # S is new: never overlaps Z
            lse, y = np.empty(len(Z), Z.dtype), np.empty(len(Z), Z.dtype)
            k.row_sums(np.exp(S), lse, zero)
            k.row_sums(Y, y, zero)
            return float((np.dot(np.log(lse, out=lse), y) - np.vdot(Y, S)) / len(Z))
        S = Z - Z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(S).sum(axis=1))
        return float((np.dot(lse, Y.sum(axis=1)) - np.vdot(Y, S)) / len(Z))

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return -Y / xp.maximum(Y_hat, _tiny(xp, Y_hat))

    def fused_delta(self, Y_hat: Array, Y: Array, out: Array | None = None) -> Array:
        """Math: m·∂L/∂Z_L = Ŷ − Y (softmax and cross-entropy together)."""
        return _subtract(Y_hat, Y, out)

    def check_targets(self, Y: Array) -> None:
        xp = xp_of(Y)
        _check_probabilities(self, xp, Y)
        sums = xp.sum(Y, axis=1)
        # the fused dZ = Ŷ − Y is the gradient only when each row sums to 1:
        # allow rounding, nothing more
        tol = 16 * Y.shape[1] * xp.finfo(Y.dtype).eps
        bad = xp.nonzero(xp.abs(sums - 1) > tol)[0]
        if bad.shape[0]:
            row = int(bad[0])
            raise ValueError(
                f"cross_entropy targets must be probability rows that sum to 1 "
                f"(one-hot class labels); row {row} sums to {float(sums[row]):.10g} "
                "(normalise soft labels with Y / Y.sum(axis=1, keepdims=True))"
            )


@dataclass(frozen=True, repr=False)
class BinaryCrossEntropy(Loss):
    """Math: L = −(1/m)·Σᵢ Σⱼ [y log ŷ + (1 − y) log(1 − ŷ)] with Ŷ = sigmoid(Z);
    fused dZ = Ŷ − Y."""

    name: ClassVar[str] = "binary_cross_entropy"
    fused_with: ClassVar[str | None] = "sigmoid"
    task: ClassVar[str] = "classification"

    def example_targets(
        self, rng: np.random.Generator, shape: tuple[int, int]
    ) -> Array:
        return rng.integers(0, 2, shape).astype(float)  # 0/1 labels

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return -xp.sum(Y * _log(xp, Y_hat) + (1 - Y) * _log(xp, 1 - Y_hat), axis=1)

    def samples_from_logits(self, Z: Array, Y: Array) -> Array:
        """ℓᵢ from Z: Σⱼ max(z, 0) − zy + log(1 + e^(−|z|)), finite for any Z."""
        xp = xp_of(Z, Y)
        return xp.sum(xp.maximum(Z, 0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z))), axis=1)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        tiny = _tiny(xp, Y_hat)
        return (Y_hat - Y) / xp.maximum(Y_hat * (1 - Y_hat), tiny)

    def fused_delta(self, Y_hat: Array, Y: Array, out: Array | None = None) -> Array:
        """Math: m·∂L/∂Z_L = Ŷ − Y (sigmoid and binary cross-entropy together)."""
        return _subtract(Y_hat, Y, out)

    def check_targets(self, Y: Array) -> None:
        _check_probabilities(self, xp_of(Y), Y)


@dataclass(frozen=True, repr=False)
class Poisson(Loss):
    """Half the Poisson deviance, for counts, with Ŷ = exp(Z):
    L = (1/m)·Σᵢ Σⱼ [y log(y/ŷ) − y + ŷ]; fused dZ = Ŷ − Y."""

    name: ClassVar[str] = "poisson"
    fused_with: ClassVar[str | None] = "exp"

    def example_targets(
        self, rng: np.random.Generator, shape: tuple[int, int]
    ) -> Array:
        return rng.poisson(2.0, shape).astype(float)  # counts

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return xp.sum(_xlogy(xp, Y, Y) - Y * _log(xp, Y_hat) - Y + Y_hat, axis=1)

    def samples_from_logits(self, Z: Array, Y: Array) -> Array:
        """ℓᵢ from Z, log ŷ = z exactly: no log of a rounded-to-zero ŷ."""
        xp = xp_of(Z, Y)
        return xp.sum(_xlogy(xp, Y, Y) - Y * Z - Y + xp.exp(Z), axis=1)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        xp = xp_of(Y_hat, Y)
        return 1 - Y / xp.maximum(Y_hat, _tiny(xp, Y_hat))

    def fused_delta(self, Y_hat: Array, Y: Array, out: Array | None = None) -> Array:
        """Math: m·∂L/∂Z_L = Ŷ − Y (exp and the Poisson deviance together)."""
        return _subtract(Y_hat, Y, out)

    def check_targets(self, Y: Array) -> None:
        xp = xp_of(Y)
        low = float(xp.min(Y))
        if low < 0:
            raise ValueError(
                f"poisson targets are counts, never negative; Y holds {low:.6g}"
            )


def _xlogy(xp: Any, x: Array, y: Array) -> Array:
    """x·log y, 0 where x = 0 (the limit)."""
    return xp.where(x > 0, x * _log(xp, xp.where(x > 0, y, 1)), 0)


def _subtract(Y_hat: Array, Y: Array, out: Array | None) -> Array:
    """Ŷ − Y: into ``out`` for NumPy arrays when it is given (no new array), else
    a new array of Ŷ's library."""
    if isinstance(out, np.ndarray) and xp_of(Y_hat, Y) is np:
        return np.subtract(Y_hat, Y, out=out)
    return Y_hat - Y


LOSSES: dict[str, Callable[[], Loss]] = {
    "mse": MSE,
    "mae": MAE,
    "huber": Huber,
    "cross_entropy": CrossEntropy,
    "binary_cross_entropy": BinaryCrossEntropy,
    "poisson": Poisson,
}


def register_loss(
    name: str, factory: Callable[..., Any], *, overwrite: bool = False
) -> None:
    """Make ``factory()`` available by ``name`` (also what saved models refer to)."""
    register(LOSSES, name, factory, "loss", get_loss, overwrite)


class _Custom(Loss):
    """Adapts a user object with ``value(Y_hat, Y)`` and ``sample_gradient(Y_hat,
    Y)`` (or its older name ``gradient``)."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.name = getattr(fn, "name", type(fn).__name__)  # type: ignore[misc]

    def value(self, Y_hat: Array, Y: Array) -> float:
        return float(self.fn.value(Y_hat, Y))

    def samples(self, Y_hat: Array, Y: Array) -> Array:
        if callable(getattr(self.fn, "samples", None)):
            return self.fn.samples(Y_hat, Y)
        return super().samples(Y_hat, Y)

    def sample_gradient(self, Y_hat: Array, Y: Array) -> Array:
        fn = self.fn
        named = getattr(fn, "sample_gradient", None)
        return named(Y_hat, Y) if callable(named) else fn.gradient(Y_hat, Y)

    def check_targets(self, Y: Array) -> None:
        check = getattr(self.fn, "check_targets", None)
        if callable(check):
            check(Y)

    def params(self) -> dict[str, float]:
        params = getattr(self.fn, "params", None)
        return dict(params()) if callable(params) else {}

    def __repr__(self) -> str:
        return repr(self.fn)


def get_loss(spec: str | Any) -> Loss:
    """The loss named ``spec``, or ``spec`` itself as a :class:`Loss`."""
    if isinstance(spec, str):
        hint = " (or pass an object with value(Y_hat, Y) and sample_gradient(Y_hat, Y))"
        spec = lookup(LOSSES, spec, "loss", hint)()
    named = callable(getattr(spec, "sample_gradient", None))
    methods = ("value", "sample_gradient" if named else "gradient")
    return as_object(spec, Loss, methods, _Custom)


_BUILTIN = frozenset(LOSSES.values())


def is_builtin(loss: Loss) -> bool:
    """True for nlayer's own loss classes (the test suite proves them)."""
    return type(loss) in _BUILTIN


def check_loss(
    loss: str | Any,
    Y_hat: Array | None = None,
    Y: Array | None = None,
    *,
    eps: float = 1e-6,
    rtol: float = 1e-4,
    atol: float = 1e-6,
) -> float:
    """Compare ``sample_gradient`` with central differences of ``value`` (float64).

    ``sample_gradient`` must be the per-sample derivative m·∂L/∂Ŷ (see the
    module docstring). Default inputs: 8×3 fixed values in (0.1, 0.9). Returns the
    largest absolute difference; raises ``ValueError`` when they disagree.
    """
    fn = get_loss(loss)
    rng = np.random.default_rng(0)
    Y_hat = rng.uniform(0.1, 0.9, (8, 3)) if Y_hat is None else np.array(Y_hat, float)
    Y = rng.uniform(0.1, 0.9, Y_hat.shape) if Y is None else np.asarray(Y, float)
    m = len(Y_hat)
    g = np.asarray(fn.sample_gradient(Y_hat, Y), dtype=np.float64)
    if g.shape != Y_hat.shape:
        raise ValueError(
            f"loss {fn.name!r}: sample_gradient has shape {g.shape}, expected "
            f"{Y_hat.shape}"
        )
    numeric = np.empty_like(Y_hat)
    for i in np.ndindex(Y_hat.shape):
        saved = Y_hat[i]
        Y_hat[i] = saved + eps
        up = fn.value(Y_hat, Y)
        Y_hat[i] = saved - eps
        down = fn.value(Y_hat, Y)
        Y_hat[i] = saved
        numeric[i] = m * (up - down) / (2 * eps)
    err = np.abs(g - numeric)
    bad = ~(err <= atol + rtol * np.abs(numeric))
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(bad, err, -1))), err.shape)
        raise ValueError(
            f"loss {fn.name!r}: sample_gradient disagrees with finite differences "
            f"of value at sample {i[0]}, output {i[1]}: it gives {g[i]:.6g}, "
            f"finite differences give {numeric[i]:.6g} (it must be m·∂L/∂Ŷ, "
            "the per-sample derivative)"
        )
    return float(err.max())
