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

from .network import Network


def numeric_gradient(net: Network, X: Any, Y: Any, eps: float = 1e-5) -> np.ndarray:
    """∂L/∂θ by central differences, a flat array laid out like ``net.params``."""
    X, Y = net.check_XY(X, Y)
    theta = net.params
    grad = np.empty_like(theta)
    for i in range(theta.size):
        saved = theta[i]
        theta[i] = saved + eps
        Z, H = net._forward_pass(X)
        up = net._loss_value(Z[-1], H[-1], Y)
        theta[i] = saved - eps
        Z, H = net._forward_pass(X)
        down = net._loss_value(Z[-1], H[-1], Y)
        theta[i] = saved
        grad[i] = (up - down) / (2 * eps)
    return grad


def _relative_error(a: np.ndarray, n: np.ndarray, floor: float) -> float:
    denom = max(float(np.linalg.norm(a) + np.linalg.norm(n)), floor)
    return float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0


def gradcheck_layers(
    net: Network, X: Any, Y: Any, eps: float = 1e-5
) -> list[dict[str, float]]:
    """Per layer: ``{"layer": l, "W": error, "b": error}`` (layers counted from 1)."""
    net64 = net.copy(dtype="float64")
    X = np.asarray(X)
    Y = np.asarray(Y)
    if X.dtype.kind == "f":
        X = X.astype(np.float64)
    if Y.dtype.kind == "f":
        Y = Y.astype(np.float64)
    dW, db = net64.gradients(X, Y)
    nW, nb = net64.split(numeric_gradient(net64, X, Y, eps))
    floor = 1e-4 * abs(net64.loss(X, Y))
    return [
        {
            "layer": l + 1,
            "W": _relative_error(dW[l], nW[l], floor),
            "b": _relative_error(db[l], nb[l], floor),
        }
        for l in range(net.n_layers)
    ]


def gradcheck(net: Network, X: Any, Y: Any, eps: float = 1e-5) -> float:
    """The largest relative error over all layers' W and b (see the module doc)."""
    return max(max(r["W"], r["b"]) for r in gradcheck_layers(net, X, Y, eps))
