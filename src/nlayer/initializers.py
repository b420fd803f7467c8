"""Initial weights: Xavier/Glorot, He and LeCun, normal and uniform.

Each initialiser maps ``(rng, fan_in, fan_out)`` to a ``(fan_in, fan_out)``
float64 array; the network casts it to its dtype, so a float32 and a float64
network built with the same seed start from the same weights (up to rounding).
Biases start at zero, as in the seeds.

The default follows the seeds: He for the ReLU family, Xavier otherwise (each
activation names its preferred initialiser in its ``init`` attribute).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .registry import lookup

Initializer = Callable[[np.random.Generator, int, int], np.ndarray]


def xavier_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ N(0, 2 / (fan_in + fan_out))  (Glorot & Bengio, 2010)."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / (fan_in + fan_out))


def xavier_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ U(-a, a), a = sqrt(6 / (fan_in + fan_out))."""
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, (fan_in, fan_out))


def he_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ N(0, 2 / fan_in)  (He et al., 2015)."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)


def he_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ U(-a, a), a = sqrt(6 / fan_in)."""
    a = np.sqrt(6.0 / fan_in)
    return rng.uniform(-a, a, (fan_in, fan_out))


def lecun_normal(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ N(0, 1 / fan_in)  (LeCun et al., 1998)."""
    return rng.standard_normal((fan_in, fan_out)) * np.sqrt(1.0 / fan_in)


def lecun_uniform(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    """Math: W ~ U(-a, a), a = sqrt(3 / fan_in)."""
    a = np.sqrt(3.0 / fan_in)
    return rng.uniform(-a, a, (fan_in, fan_out))


INITIALIZERS: dict[str, Initializer] = {
    "xavier_normal": xavier_normal,
    "xavier_uniform": xavier_uniform,
    "glorot_normal": xavier_normal,
    "glorot_uniform": xavier_uniform,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "lecun_normal": lecun_normal,
    "lecun_uniform": lecun_uniform,
}


def get_initializer(spec: str | Initializer) -> Initializer:
    """The initialiser named ``spec``, or ``spec`` itself if it is callable."""
    if isinstance(spec, str):
        return lookup(INITIALIZERS, spec, "initializer")
    if callable(spec):
        return spec
    raise TypeError(
        "an initializer is a name or a callable (rng, fan_in, fan_out) -> array, "
        f"got {type(spec).__name__}"
    )


def initial_weights(
    init: str | Initializer, rng: np.random.Generator, fan_in: int, fan_out: int
) -> Any:
    """W for one layer: ``(fan_in, fan_out)``, checked for shape and finiteness."""
    W = np.asarray(get_initializer(init)(rng, fan_in, fan_out))
    if W.shape != (fan_in, fan_out):
        raise ValueError(
            f"initializer {init!r} returned shape {W.shape}, "
            f"expected ({fan_in}, {fan_out})"
        )
    if not np.isfinite(W).all():
        raise ValueError(f"initializer {init!r} returned non-finite weights")
    return W
