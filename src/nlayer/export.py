"""A network as PyTorch weights: a state dict for an ``nn.Sequential`` of
``Linear`` layers, each followed by its activation module.

The layout: module 2(l − 1) is ``nn.Linear(n_{l−1}, n_l)``, module 2l − 1 is
σₗ (``nn.Identity`` for a linear layer), for l = 1 … L. torch's ``Linear``
computes H Wᵀ + b with W of shape (out, in), so its weight is the transpose of
nlayer's W⁽ˡ⁾ (n_{l−1}, n_l); the bias is b⁽ˡ⁾ as it is. ``to_torch`` builds
that ``nn.Sequential`` and loads the weights; ``to_torch_state_dict`` gives
the weights alone, for a module built elsewhere with the same layout.

Needs PyTorch (``pip install torch``); only the network is exported — a
loaded model's column preprocessing is not (see :mod:`nlayer.onnx` for that).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from .model import Model
from .network import Network

#: torch's softplus turns linear above ``threshold``; at 40, log1p(e⁻⁴⁰) is
#: below float64's resolution of z, so nothing changes, and eᶻ cannot overflow
SOFTPLUS_THRESHOLD = 40.0


def _torch() -> Any:
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError(
            "exporting to PyTorch needs torch: pip install torch"
        ) from None
    return torch


def _network_and_output(
    obj: Any,
) -> tuple[Network, np.ndarray | None, np.ndarray | None]:
    """The network to export and the (scale, mean) to fold into its last layer."""
    if isinstance(obj, Network):
        return obj, None, None
    if isinstance(obj, Model):
        if obj.preprocessing is not None:
            raise TypeError(
                "a torch state dict holds the network only, not this model's column "
                "encodings and scaling: export model.network and apply "
                "model.preprocessing.transform to the inputs (or use nlayer.onnx, "
                "which includes them)"
            )
        return obj.network, None, None
    net = getattr(obj, "network_", None)
    if not isinstance(net, Network):
        raise TypeError(
            f"expected an nlayer Network, a Model or a fitted estimator, not "
            f"{type(obj).__name__}"
        )
    scale = getattr(obj, "target_scale_", None)  # a regressor's
    mean = getattr(obj, "target_mean_", None)
    if scale is not None and not (np.all(scale == 1) and np.all(mean == 0)):
        if net.activations[-1].name != "linear":
            raise ValueError(
                "the regressor's target scaling sits after a non-linear output "
                "layer and cannot be folded into its weights"
            )
        return net, np.asarray(scale), np.asarray(mean)
    return net, None, None


def to_torch_state_dict(obj: Any) -> OrderedDict[str, Any]:
    """``{"0.weight": W⁽¹⁾ᵀ, "0.bias": b⁽¹⁾, "2.weight": W⁽²⁾ᵀ, …}`` as torch
    tensors in the network's dtype (see the module doc for the layout).

    ``obj``: a Network, a Model without preprocessing, or a fitted
    NLayerClassifier / NLayerRegressor. A regressor's target standardisation
    is folded into the last layer (W·diag(scale), b·scale + mean), so the
    module predicts in the target's units; a binary classifier's one sigmoid
    output is the probability of ``classes_[1]``.
    """
    torch = _torch()
    net, scale, mean = _network_and_output(obj)
    state: OrderedDict[str, Any] = OrderedDict()
    L = net.n_layers
    for l, (W, b) in enumerate(zip(net.weights, net.biases, strict=True)):
        W, b = np.array(W), np.array(b)
        if l == L - 1 and scale is not None and mean is not None:
            # Ŷ·scale + mean = H (W·diag(scale)) + (b·scale + mean)
            W, b = (W * scale).astype(net.dtype), (b * scale + mean).astype(net.dtype)
        state[f"{2 * l}.weight"] = torch.from_numpy(np.ascontiguousarray(W.T))
        state[f"{2 * l}.bias"] = torch.from_numpy(b)
    return state


def _module(act: Any) -> Any:
    nn = _torch().nn
    name = act.name
    simple = {
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "relu": nn.ReLU,
        "linear": nn.Identity,
        "silu": nn.SiLU,
    }
    if name in simple and not act.params():
        return simple[name]()
    if name == "leaky_relu":
        return nn.LeakyReLU(negative_slope=act.alpha)
    if name == "elu":
        return nn.ELU(alpha=act.alpha)
    if name == "softmax":
        return nn.Softmax(dim=1)
    if name == "gelu":
        return nn.GELU(approximate="tanh")
    if name == "softplus":
        return nn.Softplus(threshold=SOFTPLUS_THRESHOLD)
    if name == "exp":
        return _exp_module()
    raise ValueError(f"activation {name!r} has no PyTorch module here")


def _exp_module() -> Any:
    nn = _torch().nn

    class Exp(nn.Module):  # type: ignore[name-defined]  # torch is imported lazily
        """H = exp(Z): nlayer's exp output layer (torch has no module for it)."""

        def forward(self, z: Any) -> Any:
            return z.exp()

    return Exp()


def to_torch(obj: Any) -> Any:
    """A ``torch.nn.Sequential`` that computes what ``obj`` computes (its
    prediction for an estimator), with :func:`to_torch_state_dict` loaded."""
    torch = _torch()
    net, _, _ = _network_and_output(obj)
    modules: list[Any] = []
    for l, act in enumerate(net.activations):
        n_in, n_out = net.layer_sizes[l], net.layer_sizes[l + 1]
        modules += [torch.nn.Linear(n_in, n_out, dtype=_torch_dtype(net)), _module(act)]
    seq = torch.nn.Sequential(*modules)
    seq.load_state_dict(to_torch_state_dict(obj))
    return seq


def _torch_dtype(net: Network) -> Any:
    torch = _torch()
    return torch.float64 if net.dtype == np.float64 else torch.float32
