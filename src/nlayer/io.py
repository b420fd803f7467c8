"""Safe model files: safetensors with a versioned JSON description.

A model file holds each layer's ``W1, b1, …, WL, bL`` as tensors and, in the
safetensors metadata under ``"nlayer"``, a JSON description: layer sizes,
activations and loss by registered name with their parameters, dtype, and the
preprocessing a command-line model applies. Nothing in a file names code to
import or run: activations and losses are looked up in nlayer's registries,
and a name that is not registered is refused.

Writes are atomic (a temporary file in the same directory, then a rename), so
a crash never leaves a half-written model where a good one was. Loading checks
everything before building the network — format version, names, every shape
against the layer sizes, dtypes, finite values — and any problem raises
:class:`ModelFileError`, a ``ValueError`` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .activations import ACTIVATIONS, Activation, get_activation
from .data import TASKS, Preprocessing
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .safefile import ModelFileError, finite_number, read_file, write_file

FORMAT = "nlayer.model"
FORMAT_VERSION = 1
#: bounds that keep a hostile description from costing memory or time
MAX_LAYERS = 1024
MAX_UNITS = 1 << 24
_DTYPES = {"float32": "F32", "float64": "F64"}


# -- writing -------------------------------------------------------------------


def _entry(
    obj: Activation | Loss,
    registry: Mapping[str, Callable[..., Any]],
    kind: str,
    where: str,
) -> dict[str, Any]:
    """{"name", "params"} for an activation or loss that the registry rebuilds."""
    name, params = obj.name, obj.params()
    register = f"nlayer.register_{kind}({name!r}, ...)"
    if name not in registry:
        raise ValueError(
            f"{where}: {kind} {name!r} is not registered, so a model file cannot "
            f"name it; register it first with {register}"
        )
    try:
        rebuilt = registry[name](**params)
    except (TypeError, ValueError) as e:
        raise ValueError(
            f"{where}: the registered {kind} {name!r} cannot be rebuilt with "
            f"parameters {params} ({e})"
        ) from None
    # a file must mean the same function when it is read back
    if isinstance(obj, Activation):
        z = np.linspace(-3.0, 3.0, 12).reshape(4, 3)
        same = np.array_equal(get_activation(rebuilt).forward(z), obj.forward(z))
    else:
        Y_hat, Y = np.linspace(0.1, 0.9, 12).reshape(4, 3), np.full((4, 3), 0.5)
        same = get_loss(rebuilt).value(Y_hat, Y) == obj.value(Y_hat, Y)
    if not same:
        raise ValueError(
            f"{where}: {kind} {name!r} rebuilt from the registry with {params} "
            "computes something else; give the object a params() method returning "
            f"its parameters, or register its class under its own name"
        )
    return {"name": name, "params": params}


def describe(net: Network, preprocessing: Preprocessing | None = None) -> dict:
    """The JSON description of ``net`` (and its preprocessing) for a file."""
    description: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "nlayer_version": __version__,
        "layer_sizes": list(net.layer_sizes),
        "activations": [
            _entry(a, ACTIVATIONS, "activation", f"layer {l}")
            for l, a in enumerate(net.activations, start=1)
        ],
        "loss": _entry(net.loss_function, LOSSES, "loss", "loss"),
        "dtype": net.dtype.name,
        "preprocessing": None,
    }
    if preprocessing is not None:
        p = preprocessing
        description["preprocessing"] = {
            "features": list(p.features),
            "task": p.task,
            "target": p.target,
            "classes": None if p.classes is None else list(p.classes),
        }
    return description


def model_tensors(
    net: Network, preprocessing: Preprocessing | None = None
) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for l in range(net.n_layers):
        tensors[f"W{l + 1}"] = net.weights[l]
        tensors[f"b{l + 1}"] = net.biases[l]
    if preprocessing is not None:
        tensors["x_mean"] = np.asarray(preprocessing.x_mean, np.float64)
        tensors["x_scale"] = np.asarray(preprocessing.x_scale, np.float64)
        if preprocessing.y_mean is not None and preprocessing.y_scale is not None:
            tensors["y_mean"] = np.asarray(preprocessing.y_mean, np.float64)
            tensors["y_scale"] = np.asarray(preprocessing.y_scale, np.float64)
    return tensors


def save(
    net: Network,
    path: str | os.PathLike[str],
    *,
    preprocessing: Preprocessing | None = None,
) -> Path:
    """Write ``net`` (and the preprocessing a CLI model applies) to ``path``.

    The file is safetensors; see the module docstring. Raises ``ValueError``
    for a network that a file cannot describe (an unregistered activation).
    """
    if not isinstance(net, Network):
        raise TypeError(f"save() takes an nlayer.Network, got {type(net).__name__}")
    description = describe(net, preprocessing)
    return write_file(path, model_tensors(net, preprocessing), description)


# -- reading -------------------------------------------------------------------


def _int_list(value: Any, what: str, lo: int, hi: int, max_len: int) -> list[int]:
    if not isinstance(value, list) or not 0 < len(value) <= max_len:
        raise ValueError(f"{what} must be a list of at most {max_len} integers")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"{what} must hold integers in [{lo}, {hi}], found {v!r}")
    return value


def _named(
    value: Any, registry: Mapping[str, Callable[..., Any]], kind: str, where: str
) -> Any:
    """Rebuild a registered activation or loss from {"name", "params"}."""
    if not (
        isinstance(value, dict)
        and set(value) == {"name", "params"}
        and isinstance(value["name"], str)
        and isinstance(value["params"], dict)
    ):
        raise ValueError(
            f"{where}: the {kind} must be {{'name': ..., 'params': {{...}}}}"
        )
    name, params = value["name"], value["params"]
    if name not in registry:
        raise ValueError(
            f"{where} uses {kind} {name!r}, which is not registered; register it "
            f"before loading: nlayer.register_{kind}({name!r}, factory)"
        )
    for k, v in params.items():
        if not finite_number(v):
            raise ValueError(f"{where}: {kind} parameter {k!r} must be a number")
    try:
        return registry[name](**params)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where}: {kind} {name!r} with {params}: {e}") from None


REQUIRED = (
    "format",
    "format_version",
    "nlayer_version",
    "layer_sizes",
    "activations",
    "loss",
    "dtype",
    "preprocessing",
)


def _model_tensors_expected(d: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Validate a model description; the tensors it implies."""
    if d.get("format") != FORMAT:
        raise ValueError(f"not an nlayer model (format {d.get('format')!r})")
    version = d.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"unknown format version {version!r}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"written by a newer nlayer (format version {version}); this nlayer "
            f"reads version {FORMAT_VERSION}: upgrade nlayer"
        )
    missing = [k for k in REQUIRED if k not in d]
    if missing:
        raise ValueError(f"the description lacks {', '.join(missing)}")
    sizes = _int_list(d["layer_sizes"], "layer_sizes", 1, MAX_UNITS, MAX_LAYERS + 1)
    if len(sizes) < 2:
        raise ValueError("layer_sizes needs at least two entries")
    acts = d.get("activations")
    if not isinstance(acts, list) or len(acts) != len(sizes) - 1:
        raise ValueError(f"expected {len(sizes) - 1} activations, one per layer")
    if not isinstance(d["dtype"], str) or d["dtype"] not in _DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {d.get('dtype')!r}")
    dt = _DTYPES[d["dtype"]]
    wanted: dict[str, tuple[str, tuple[int, ...]]] = {}
    for l in range(1, len(sizes)):
        wanted[f"W{l}"] = (dt, (sizes[l - 1], sizes[l]))
        wanted[f"b{l}"] = (dt, (sizes[l],))
    p = d.get("preprocessing")
    if p is not None:
        if not isinstance(p, dict) or set(p) != {
            "features",
            "task",
            "target",
            "classes",
        }:
            raise ValueError("preprocessing must hold features, task, target, classes")
        features, classes = p["features"], p["classes"]
        if not (
            isinstance(features, list)
            and len(features) == sizes[0]
            and all(isinstance(f, str) for f in features)
        ):
            raise ValueError(f"preprocessing needs {sizes[0]} feature names")
        if p["task"] not in TASKS or not isinstance(p["target"], str):
            raise ValueError("preprocessing has an unknown task or target")
        wanted["x_mean"] = wanted["x_scale"] = ("F64", (sizes[0],))
        if p["task"] == "regression":
            if classes is not None:
                raise ValueError("a regression model has no classes")
            wanted["y_mean"] = wanted["y_scale"] = ("F64", (sizes[-1],))
        else:
            n = 2 if sizes[-1] == 1 else sizes[-1]
            if not (
                isinstance(classes, list)
                and len(classes) == n
                and all(isinstance(c, str) for c in classes)
            ):
                raise ValueError(
                    f"a classifier with {sizes[-1]} outputs needs {n} classes"
                )
    return wanted


def load_model(path: str | os.PathLike[str]) -> tuple[Network, Preprocessing | None]:
    """The network in ``path`` and its preprocessing (None if it has none)."""
    d, tensors = read_file(path, _model_tensors_expected)
    try:
        acts = [
            _named(a, ACTIVATIONS, "activation", f"layer {l}")
            for l, a in enumerate(d["activations"], start=1)
        ]
        loss = _named(d.get("loss"), LOSSES, "loss", "the model")
        net = Network(
            d["layer_sizes"], acts, loss, dtype=d["dtype"], init=_zeros
        )  # every weight is overwritten from the file
    except (ValueError, TypeError) as e:
        raise ModelFileError(path, str(e)) from None
    for l in range(net.n_layers):
        net.weights[l] = tensors[f"W{l + 1}"]
        net.biases[l] = tensors[f"b{l + 1}"]
    p = d["preprocessing"]
    if p is None:
        return net, None
    preprocessing = Preprocessing(
        p["features"],
        tensors["x_mean"],
        tensors["x_scale"],
        p["task"],
        p["target"],
        p["classes"],
        tensors.get("y_mean"),
        tensors.get("y_scale"),
    )
    if not (
        np.all(preprocessing.x_scale > 0)
        and (preprocessing.y_scale is None or np.all(preprocessing.y_scale > 0))
    ):
        raise ModelFileError(path, "the preprocessing scales must be positive")
    return net, preprocessing


def load(path: str | os.PathLike[str]) -> Network:
    """The network saved in ``path``; raises :class:`ModelFileError` for a bad file."""
    return load_model(path)[0]


def _zeros(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return np.zeros((fan_in, fan_out))
