"""Optimisers and learning-rate schedules, working in place on flat buffers.

An optimiser's ``step(params, grads, n_weights, lr=None)`` updates the 1-D parameter
buffer ``params`` in place from the gradient buffer ``grads`` (same layout). The
first ``n_weights`` entries are the layers' weights, the rest their biases:
weight decay applies to the weights only, as L2 regularisation usually means.
``grads`` may be used as scratch space. State (moments, velocities, the step
count ``t``) lives in the open in ``optimizer.state`` and ``optimizer.t``.

Plain SGD without momentum or weight decay is the seeds' update,
θ ← θ − α·∂L/∂θ, done once over the whole buffer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from . import kernels
from .backend import (
    Array,
    divide_into,
    multiply_into,
    namespace,
    sqrt_into,
)
from .checks import check_number, positive_int
from .registry import lookup


@dataclass
class Optimizer:
    """Base class: ``step`` updates ``params`` in place."""

    lr: float = 0.01
    weight_decay: float = 0.0
    t: int = field(default=0, init=False)
    state: dict[str, Array] = field(default_factory=dict, init=False, repr=False)
    #: one scratch array like params, reused by every step (not state)
    _scratch: Array = field(default=None, init=False, repr=False, compare=False)
    name: ClassVar[str] = "optimizer"
    #: the names of the arrays ``state`` may hold (a checkpoint is checked against it)
    state_keys: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        check_number(f"{self.name}: lr", self.lr, 0, lo_open=True)
        check_number(f"{self.name}: weight_decay", self.weight_decay, 0)

    def _buffer(self, key: str, like: Array) -> Array:
        if key not in self.state:
            self.state[key] = namespace(like).zeros_like(like)
        return self.state[key]

    def _tmp(self, like: Array) -> Array:
        if (
            self._scratch is None
            or self._scratch.shape != like.shape
            or (self._scratch.dtype != like.dtype)
        ):
            self._scratch = namespace(like).empty_like(like)
        return self._scratch

    def _l2(self, params: Array, grads: Array, n_weights: int) -> Array:
        """Math: g = ∂L/∂θ + λ·W  (L2 on the weights, not the biases)."""
        if self.weight_decay:
            tmp = self._tmp(params)[:n_weights]
            multiply_into(params[:n_weights], self.weight_decay, tmp)
            grads[:n_weights] += tmp
        return grads

    def step(
        self, params: Array, grads: Array, n_weights: int, lr: float | None = None
    ) -> None:
        """One update of ``params`` in place; ``lr`` overrides ``self.lr`` for this
        step only (the training loop's schedule passes it, leaving ``self.lr``).
        ``grads`` is scratch: the update may write into it."""
        self.t += 1
        self._update(params, grads, n_weights, self.lr if lr is None else lr)

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        raise NotImplementedError


@dataclass
class SGD(Optimizer):
    """Math: v ← μv + g;  θ ← θ − α·v  (Nesterov: θ ← θ − α·(g + μv));
    with μ = 0 this is the seeds' θ ← θ − α·g."""

    lr: float = 0.01
    momentum: float = 0.0
    nesterov: bool = False
    name: ClassVar[str] = "sgd"
    state_keys: ClassVar[tuple[str, ...]] = ("velocity",)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(f"{self.name}: momentum", self.momentum, 0, 1, hi_open=True)
        if self.nesterov and not self.momentum:
            raise ValueError("sgd: nesterov=True needs a momentum > 0")

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        # without momentum the loop does not read v: grads stands in for it
        momentum, decay = bool(self.momentum), bool(self.weight_decay)
        v = self._buffer("velocity", params) if momentum else grads
        k = kernels.usable(1, params, grads, v)
        if k is not None:  # the lines below, fused into one pass (bit-identical)
            dt = params.dtype.type
            wd, mu, a = dt(self.weight_decay), dt(self.momentum), dt(lr)
            args = (n_weights, decay, wd, momentum, mu, a, self.nesterov)
            if k.sgd(params, grads, v, *args):
                return
        g = self._l2(params, grads, n_weights)  # grads is scratch: no new arrays
        if momentum:  # v is the velocity buffer
            v *= self.momentum
            v += g
            if self.nesterov:
                g += self.momentum * v
                g *= lr
            else:
                multiply_into(v, lr, g)
        else:
            g *= lr
        params -= g


@dataclass
class Adam(Optimizer):
    """Math: m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
    θ ← θ − α·m̂ / (√v̂ + ε) with m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)  (Kingma & Ba)."""

    lr: float = 0.001
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    name: ClassVar[str] = "adam"
    state_keys: ClassVar[tuple[str, ...]] = ("M", "V")

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(f"{self.name}: beta1", self.beta1, 0, 1, hi_open=True)
        check_number(f"{self.name}: beta2", self.beta2, 0, 1, hi_open=True)
        check_number(f"{self.name}: eps", self.eps, 0, lo_open=True)

    def _adam(
        self, params: Array, g: Array, n_weights: int, wd: float, lr: float
    ) -> None:
        """The update, with L2 of strength ``wd`` on the first n_weights entries."""
        # The moments are kept as M = m/(1−β₁) and V = v/(1−β₂): M ← β₁M + g and
        # V ← β₂V + g² save a pass each, and the constants fold into two scalars:
        # α·m̂/(√v̂ + ε) = s·M/(√V + ε/c), c = √((1−β₂)/(1−β₂ᵗ)),
        # s = α(1−β₁)/((1−β₁ᵗ)·c). Ten passes over the buffer, no new arrays.
        b1, b2 = self.beta1, self.beta2
        M, V = self._buffer("M", params), self._buffer("V", params)
        c = math.sqrt((1 - b2) / (1 - b2**self.t))
        s = lr * (1 - b1) / ((1 - b1**self.t) * c)
        k = kernels.usable(1, params, g, M, V)
        if k is not None:  # the lines below, fused into one pass (bit-identical)
            dt, decay = params.dtype.type, bool(wd)
            consts = dt(wd), dt(b1), dt(b2), dt(self.eps / c), dt(s)
            if k.adam(params, g, M, V, n_weights, decay, *consts):
                return
        g = self._l2(params, g, n_weights) if wd else g
        tmp = self._tmp(params)
        M *= b1
        M += g
        multiply_into(g, g, tmp)
        V *= b2
        V += tmp
        sqrt_into(V, tmp)
        tmp += self.eps / c
        divide_into(M, tmp, tmp)
        tmp *= s
        params -= tmp

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        self._adam(params, grads, n_weights, self.weight_decay, lr)


@dataclass
class AdamW(Adam):
    """Math: W ← W − α·λ·W (decoupled weight decay), then the Adam step on ∂L/∂θ
    (Loshchilov & Hutter)."""

    weight_decay: float = 0.01
    name: ClassVar[str] = "adamw"

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        if self.weight_decay:
            params[:n_weights] *= 1 - lr * self.weight_decay
        self._adam(params, grads, n_weights, 0.0, lr)  # no L2: decay is decoupled


@dataclass
class RMSprop(Optimizer):
    """Math: v ← ρv + (1−ρ)g²;  θ ← θ − α·g / (√v + ε)  (Tieleman & Hinton)."""

    lr: float = 0.001
    rho: float = 0.99
    eps: float = 1e-8
    name: ClassVar[str] = "rmsprop"
    state_keys: ClassVar[tuple[str, ...]] = ("V",)

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(f"{self.name}: rho", self.rho, 0, 1, hi_open=True)
        check_number(f"{self.name}: eps", self.eps, 0, lo_open=True)

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        # kept as V = v/(1−ρ), as Adam's: √v = c√V with c = √(1−ρ)
        V, c = self._buffer("V", params), math.sqrt(1 - self.rho)
        k = kernels.usable(1, params, grads, V)
        if k is not None:  # the lines below, fused into one pass (bit-identical)
            dt, decay = params.dtype.type, bool(self.weight_decay)
            wd, rho, eps_c = dt(self.weight_decay), dt(self.rho), dt(self.eps / c)
            if k.rmsprop(
                params, grads, V, n_weights, decay, wd, rho, eps_c, dt(lr / c)
            ):
                return
        g, tmp = self._l2(params, grads, n_weights), self._tmp(params)
        V *= self.rho
        multiply_into(g, g, tmp)
        V += tmp
        sqrt_into(V, tmp)
        tmp += self.eps / c
        divide_into(g, tmp, tmp)
        tmp *= lr / c
        params -= tmp


@dataclass
class LBFGS(Optimizer):
    """SciPy's L-BFGS-B over the whole training set, one iteration an epoch:
    the quasi-Newton method that suits small data sets (scikit-learn's
    ``solver="lbfgs"``), driving the flat parameter buffer directly.

    ``tol``: stop when the largest gradient entry is below it (SciPy's gtol);
    ``max_fun``: the most loss evaluations; ``weight_decay``: L2 on the
    weights, λ/2·‖W‖² added to the loss. It chooses its own steps: ``lr`` is
    unused. ``result`` holds SciPy's result after a fit.
    """

    lr: float = 1.0
    tol: float = 1e-5
    max_fun: int = 15000
    result: Any = field(default=None, init=False, repr=False, compare=False)
    name: ClassVar[str] = "lbfgs"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number(f"{self.name}: tol", self.tol, 0)
        positive_int("lbfgs: max_fun", self.max_fun)

    def _update(self, params: Array, grads: Array, n_weights: int, lr: float) -> None:
        raise TypeError(
            "L-BFGS takes no single steps: it works on the whole training set, "
            "through fit(..., optimizer='lbfgs')"
        )


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "adam": Adam,
    "adamw": AdamW,
    "rmsprop": RMSprop,
    "lbfgs": LBFGS,
}


def get_optimizer(spec: str | Optimizer, **kwargs: Any) -> Optimizer:
    """The optimiser named ``spec`` built with ``kwargs``, or ``spec`` itself."""
    if isinstance(spec, Optimizer):
        if kwargs:
            raise ValueError(
                f"{', '.join(kwargs)} given both as fit() keywords and through the "
                f"optimizer object {spec!r}; set them on the object only"
            )
        return spec
    cls = lookup(OPTIMIZERS, spec, "optimizer")
    allowed = {f.name for f in fields(cls)} - {"t", "state", "_scratch", "result"}
    unknown = [k for k in kwargs if k not in allowed]
    if unknown:
        raise ValueError(
            f"optimizer {spec!r} takes no {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(allowed))}"
        )
    return cls(**kwargs)


def clip_by_global_norm(grads: Array, max_norm: float) -> float:
    """Scale ``grads`` in place so that ‖g‖₂ ≤ max_norm; returns the norm before."""
    check_number("clip_by_global_norm: max_norm", max_norm, 0, lo_open=True)
    if isinstance(grads, np.ndarray):
        norm = float(np.sqrt(np.vdot(grads, grads)))
    else:
        xp = namespace(grads)
        norm = float(xp.sqrt(xp.sum(grads * grads)))
    if norm > max_norm:
        grads *= max_norm / norm
    return norm


# Learning-rate schedules: lr(epoch) from the initial lr, epoch counted from 0.


class Schedule:
    """The learning rate for an epoch: ``schedule(lr0, epoch, epochs)``."""

    name: ClassVar[str] = "schedule"

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        raise NotImplementedError

    def rate(self, lr0: float, epoch: int, epochs: int, history: Any = None) -> float:
        """What the training loop asks for: the rate of ``epoch``, given the
        history of the epochs before it (most schedules need only the epoch)."""
        return self(lr0, epoch, epochs)


@dataclass(frozen=True)
class Constant(Schedule):
    """Math: α_e = α₀."""

    name: ClassVar[str] = "constant"

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return lr0

    def rate(self, lr0: float, epoch: int, epochs: int, history: Any = None) -> float:
        return lr0  # asked every epoch: one call, not two


@dataclass(frozen=True)
class StepDecay(Schedule):
    """Math: α_e = α₀·γ^⌊e / step_size⌋."""

    step_size: int = 10
    gamma: float = 0.1
    name: ClassVar[str] = "step"

    def __post_init__(self) -> None:
        positive_int("step: step_size", self.step_size)
        check_number(f"{self.name}: gamma", self.gamma, 0, 1, lo_open=True)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return lr0 * self.gamma ** (epoch // self.step_size)


@dataclass(frozen=True)
class ExponentialDecay(Schedule):
    """Math: α_e = α₀·γ^e."""

    gamma: float = 0.95
    name: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        check_number(f"{self.name}: gamma", self.gamma, 0, 1, lo_open=True)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return lr0 * self.gamma**epoch


@dataclass(frozen=True)
class CosineDecay(Schedule):
    """Math: α_e = α_min + (α₀ − α_min)·(1 + cos(π·e / E))/2 over E epochs."""

    lr_min: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        check_number(f"{self.name}: lr_min", self.lr_min, 0)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return (
            self.lr_min
            + (lr0 - self.lr_min) * (1 + math.cos(math.pi * epoch / epochs)) / 2
        )


@dataclass(frozen=True)
class InverseScaling(Schedule):
    """Math: α_e = α₀ / (e + 1)^p  (scikit-learn's "invscaling", per epoch)."""

    power: float = 0.5
    name: ClassVar[str] = "inverse_scaling"

    def __post_init__(self) -> None:
        check_number(f"{self.name}: power", self.power, 0)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return lr0 / (epoch + 1) ** self.power


@dataclass(frozen=True)
class ReduceOnPlateau(Schedule):
    """α times ``factor`` each time the monitored loss (the validation loss if
    there is one, else the training loss) has not improved by ``min_delta``
    for ``patience`` epochs; never below ``min_lr``.

    The rate follows from the history alone, replayed epoch by epoch, so a
    resumed run continues exactly where it stopped.
    """

    factor: float = 0.1
    patience: int = 10
    min_delta: float = 0.0
    min_lr: float = 0.0
    name: ClassVar[str] = "plateau"

    def __post_init__(self) -> None:
        check_number(
            f"{self.name}: factor", self.factor, 0, 1, lo_open=True, hi_open=True
        )
        positive_int("plateau: patience", self.patience)
        check_number(f"{self.name}: min_delta", self.min_delta, 0)
        check_number(f"{self.name}: min_lr", self.min_lr, 0)

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return lr0  # without a history: nothing has plateaued yet

    def rate(self, lr0: float, epoch: int, epochs: int, history: Any = None) -> float:
        monitored = [] if history is None else (history.val_loss or history.loss)
        best, waited, lr = math.inf, 0, lr0
        for value in monitored[:epoch]:
            if value < best - self.min_delta:
                best, waited = value, 0
            else:
                waited += 1
                if waited >= self.patience:
                    lr, waited = lr * self.factor, 0
        return max(lr, self.min_lr)


SCHEDULES: dict[str, Callable[[], Schedule]] = {
    "constant": Constant,
    "step": StepDecay,
    "exponential": ExponentialDecay,
    "cosine": CosineDecay,
    "inverse_scaling": InverseScaling,
    "plateau": ReduceOnPlateau,
}


def get_schedule(spec: str | Schedule | None) -> Schedule:
    """The schedule named ``spec`` (None: constant), or ``spec`` itself."""
    if spec is None:
        return Constant()
    if isinstance(spec, Schedule):
        return spec
    return lookup(SCHEDULES, spec, "schedule")()
