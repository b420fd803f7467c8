"""Central-difference checks of the analytic gradients.

For every parameter θᵢ: (L(θ + εeᵢ) − L(θ − εeᵢ)) / 2ε, compared with
``gradients``. The check runs in float64 on a copy of the network (a float32
network is cast), so it measures the maths, not float32 rounding.

The error of one array (a layer's W or b) is

    ‖analytic − numeric‖ / max(‖analytic‖ + ‖numeric‖, 1e-4·|L|)

0 when they agree, 1 when unrelated. The floor 1e-4·|L| sits far above the
differences' rounding noise (about 1e-16·|L|/ε): without it an array whose true
gradient is exactly 0 (an MAE bias whose signs cancel) would score 1 on noise.
ε = 1e-5 balances the truncation error (∝ ε²) against rounding (∝ 1/ε): correct
gradients give about 1e-9 in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import to_numpy
from .network import Network


def numeric_gradient(
    net: Network,
    X: Any,
    Y: Any,
    eps: float = 1e-5,
    indices: Any = None,
    masks: Any = None,
) -> np.ndarray:
    """∂L/∂θ by central differences, a flat array laid out like ``net.params``;
    with ``indices``, only those entries (the others are NaN); with dropout
    ``masks``, of the network they thin out (the same masks every pass)."""
    X, Y = net.check_XY(X, Y)
    theta = net.params
    grad = np.full_like(theta, np.nan)
    for i in range(theta.size) if indices is None else indices:
        saved = theta[i]
        theta[i] = saved + eps
        Z, H = net.forward_pass(X, masks)
        up = net.loss_from(Z, H, Y)
        theta[i] = saved - eps
        Z, H = net.forward_pass(X, masks)
        down = net.loss_from(Z, H, Y)
        theta[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def _relative_error(a: np.ndarray, n: np.ndarray, floor: float) -> float:
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(n)), floor)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def _picked(net: Network, samples: int | None, seed: int) -> list[np.ndarray]:
    """For every W and b, the flat indices into ``params`` to check: all, or
    ``samples`` of them drawn at random."""
    rng = np.random.default_rng(seed)
    starts = np.cumsum([0] + [a.size for a in [*net.weights, *net.biases]])
    picked = []
    for begin, end in zip(starts[:-1], starts[1:], strict=True):
        size = end - begin
        if samples is None or samples >= size:
            picked.append(np.arange(begin, end))
        else:
            picked.append(np.sort(begin + rng.choice(size, samples, replace=False)))
    return picked


def gradcheck_layers(
    net: Network,
    X: Any,
    Y: Any,
    eps: float = 1e-5,
    samples: int | None = None,
    seed: int = 0,
    masks: Any = None,
) -> list[dict[str, Any]]:
    """Per layer: ``{"layer": l, "W": error, "b": error, "W_checked": k,
    "W_size": n, "b_checked", "b_size"}`` (layers counted from 1).

    ``samples``: check at most this many entries of each W and b, drawn at
    random with ``seed`` (two forward passes per entry: a layer of 10⁶ weights
    would otherwise take minutes); the report says how many were checked.
    ``masks``: dropout masks (:meth:`~nlayer.Network.dropout_masks`), held
    fixed, so that a network with dropout is checked too.
    """
    # in float64 on the host, whatever the network computes on
    net64 = net.copy(dtype="float64").to("numpy")
    X = np.asarray(to_numpy(X))
    Y = np.asarray(to_numpy(Y))
    if X.dtype.kind == "f":
        X = X.astype(np.float64)
    if Y.dtype.kind == "f":
        Y = Y.astype(np.float64)
    if masks is not None:
        masks = [None if M is None else np.asarray(M, np.float64) for M in masks]
    dW, db = net64.gradients(X, Y, masks=masks)
    picked = _picked(net64, samples, seed)
    numeric = numeric_gradient(net64, X, Y, eps, np.concatenate(picked), masks)
    analytic = np.concatenate([*(W.ravel() for W in dW), *db])
    floor = 1e-4 * abs(net64.loss(X, Y, masks=masks))
    L = net.n_layers
    errors = [_relative_error(analytic[i], numeric[i], floor) for i in picked]
    return [
        {
            "layer": l + 1,
            "W": errors[l],
            "b": errors[L + l],
            "W_checked": len(picked[l]),
            "W_size": net.weights[l].size,
            "b_checked": len(picked[L + l]),
            "b_size": net.biases[l].size,
        }
        for l in range(L)
    ]


def gradcheck(
    net: Network,
    X: Any,
    Y: Any,
    eps: float = 1e-5,
    samples: int | None = None,
    masks: Any = None,
) -> float:
    """The largest relative error over all layers' W and b (see the module doc)."""
    report = gradcheck_layers(net, X, Y, eps, samples, masks=masks)
    return max(max(r["W"], r["b"]) for r in report)
