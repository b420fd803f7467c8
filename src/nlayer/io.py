"""Safe model files: safetensors with a versioned JSON description.

A model file holds each layer's ``W1, b1, …, WL, bL`` as tensors and, in the
safetensors metadata under ``"nlayer"``, a JSON description: layer sizes,
activations and loss by registered name with their parameters, dtype, and the
preprocessing that takes a raw table to the network's inputs (each column's
encoding and fill value; the scaling as tensors ``x_mean``, ``x_scale``,
``y_mean``, ``y_scale``). ``load`` returns a :class:`~nlayer.model.Model`.

Format 2 describes each column; format 1 (nlayer 0.1, numeric columns only)
is still read. Nothing in a file names code to
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

from .activations import ACTIVATIONS, Activation, get_activation
from .backend import to_numpy
from .checks import is_number
from .data import ENCODINGS, IMPUTE, TASKS, Encoding, Preprocessing
from .losses import LOSSES, Loss, get_loss
from .model import Model
from .network import Network
from .safefile import ModelFileError, read_file, write_file
from .version import __version__

FORMAT = "nlayer.model"
FORMAT_VERSION = 2
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
    if any(net.dropout):  # training-only, but part of the model a fit resumes
        description["dropout"] = list(net.dropout)
    if preprocessing is not None:
        p = preprocessing
        description["preprocessing"] = {
            "columns": [_column_entry(c) for c in p.columns],
            "impute": p.impute,
            "task": p.task,
            "target": p.target,
            "classes": None if p.classes is None else list(p.classes),
        }
    return description


def _column_entry(c: Encoding) -> dict[str, Any]:
    """A column's encoding, with the defaults (a number, no fill) left out:
    a model of 10⁵ numeric columns keeps a small description."""
    entry: dict[str, Any] = {"name": c.name}
    if c.kind != "numeric":
        entry["kind"], entry["categories"] = c.kind, list(c.categories or [])
    if c.fill is not None:
        entry["fill"] = c.fill
    return entry


def model_tensors(
    net: Network, preprocessing: Preprocessing | None = None
) -> dict[str, np.ndarray]:
    tensors: dict[str, np.ndarray] = {}
    for l in range(net.n_layers):
        tensors[f"W{l + 1}"] = to_numpy(net.weights[l])  # a file is the host's
        tensors[f"b{l + 1}"] = to_numpy(net.biases[l])
    if preprocessing is not None:
        tensors["x_mean"] = np.asarray(preprocessing.x_mean, np.float64)
        tensors["x_scale"] = np.asarray(preprocessing.x_scale, np.float64)
        if preprocessing.y_mean is not None and preprocessing.y_scale is not None:
            tensors["y_mean"] = np.asarray(preprocessing.y_mean, np.float64)
            tensors["y_scale"] = np.asarray(preprocessing.y_scale, np.float64)
    return tensors


def save(
    model: Network | Model,
    path: str | os.PathLike[str],
    *,
    preprocessing: Preprocessing | None = None,
) -> Path:
    """Write a :class:`~nlayer.network.Network` or a
    :class:`~nlayer.model.Model` (with its preprocessing) to ``path``.

    The file is safetensors; see the module docstring. Raises ``ValueError``
    for a network that a file cannot describe (an unregistered activation).
    """
    if isinstance(model, Model):
        if preprocessing is not None:
            raise ValueError(
                "a Model carries its own preprocessing; pass one or the other"
            )
        net, preprocessing = model.network, model.preprocessing
    elif isinstance(model, Network):
        net = model
    else:
        raise TypeError(
            "save() takes an nlayer.Network or nlayer.Model, got "
            f"{type(model).__name__}"
        )
    if preprocessing is not None:
        Model(net, preprocessing)  # checks that they fit together
    description = describe(net, preprocessing)
    return write_file(path, model_tensors(net, preprocessing), description)


# -- reading -------------------------------------------------------------------


def _int_list(value: Any, what: str, lo: int, hi: int, max_len: int) -> list[int]:
    if not isinstance(value, list) or not 0 < len(value) <= max_len:
        raise ValueError(f"{what} must be a list of at most {max_len} integers")
    for v in value:
        if not is_number(v, lo, hi, integer=True):
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
        if not is_number(v):
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


def _texts(value: Any, at_least: int = 1) -> bool:
    """A list of distinct strings, at least ``at_least`` of them."""
    return (
        isinstance(value, list)
        and len(value) >= at_least
        and all(isinstance(v, str) for v in value)
        and len(set(value)) == len(value)
    )


_PREPROCESSING_KEYS = {
    1: {"features", "task", "target", "classes"},
    2: {"columns", "impute", "task", "target", "classes"},
}


def _columns(p: Any, version: int) -> list[Encoding]:
    """The column encodings of a description's preprocessing, checked."""
    if not isinstance(p, dict) or set(p) != _PREPROCESSING_KEYS[version]:
        raise ValueError(
            f"preprocessing must hold {', '.join(sorted(_PREPROCESSING_KEYS[version]))}"
        )
    if version == 1:  # nlayer 0.1: numeric columns, no imputation
        if not _texts(p["features"]):
            raise ValueError("preprocessing needs distinct feature names (text)")
        return [Encoding(f) for f in p["features"]]
    if p["impute"] is not None and p["impute"] not in IMPUTE:
        raise ValueError(f"unknown imputation {p['impute']!r}")
    entries = p["columns"]
    if not isinstance(entries, list) or not 0 < len(entries) <= MAX_UNITS:
        raise ValueError("preprocessing columns must be a non-empty list")
    out = [_encoding(e) for e in entries]
    if len({c.name for c in out}) != len(out):
        raise ValueError("preprocessing names a column twice")
    return out


def _encoding(e: Any) -> Encoding:
    if not (
        isinstance(e, dict)
        and "name" in e
        and set(e) <= {"name", "kind", "categories", "fill"}
        and isinstance(e["name"], str)
        and e["name"]
    ):
        raise ValueError(f"a preprocessing column must name itself, got {e!r:.80}")
    kind, categories, fill = (
        e.get("kind", "numeric"),
        e.get("categories"),
        e.get("fill"),
    )
    where = f"column {e['name']!r}"
    if kind not in ENCODINGS:
        raise ValueError(f"{where}: unknown encoding {kind!r}")
    if kind == "numeric":
        if categories is not None:
            raise ValueError(f"{where}: a numeric column has no categories")
        if fill is not None and not is_number(fill):
            raise ValueError(f"{where}: the fill value must be a finite number")
        return Encoding(e["name"], kind, None, None if fill is None else float(fill))
    if not (_texts(categories) and categories is not None) or (
        kind == "boolean" and len(categories) != 2
    ):
        raise ValueError(f"{where}: {kind} needs its categories (distinct text)")
    if fill is not None and fill not in categories:
        raise ValueError(f"{where}: the fill value must be one of its categories")
    return Encoding(e["name"], kind, list(categories), fill)


def _model_tensors_expected(d: dict) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Validate a model description; the tensors it implies."""
    if d.get("format") != FORMAT:
        raise ValueError(f"not an nlayer model (format {d.get('format')!r})")
    version: Any = d.get("format_version")
    if not is_number(version, 1, integer=True):
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
        n_inputs = sum(len(c.inputs) for c in _columns(p, version))
        if n_inputs != sizes[0]:
            raise ValueError(
                f"the preprocessing gives {n_inputs} inputs, the first layer takes "
                f"{sizes[0]}"
            )
        if p["task"] not in TASKS or not isinstance(p["target"], str):
            raise ValueError("preprocessing has an unknown task or target")
        classes = p["classes"]
        wanted["x_mean"] = wanted["x_scale"] = ("F64", (sizes[0],))
        if p["task"] == "regression":
            if classes is not None:
                raise ValueError("a regression model has no classes")
            wanted["y_mean"] = wanted["y_scale"] = ("F64", (sizes[-1],))
        else:
            n = 2 if sizes[-1] == 1 else sizes[-1]
            if not (_texts(classes) and len(classes) == n):
                raise ValueError(
                    f"a classifier with {sizes[-1]} outputs needs {n} distinct "
                    "classes (text)"
                )
    return wanted


def load(
    path: str | os.PathLike[str], backend: str = "numpy", device: Any = None
) -> Model:
    """The model saved in ``path``: ``.predict(table)``, ``.network``, …; its
    network on ``backend`` and ``device`` (see :meth:`~nlayer.Network.to`).

    Raises :class:`ModelFileError` for a file that is not a sound nlayer model.
    """
    d, tensors = read_file(path, _model_tensors_expected)
    try:
        acts = [
            _named(a, ACTIVATIONS, "activation", f"layer {l}")
            for l, a in enumerate(d["activations"], start=1)
        ]
        loss = _named(d.get("loss"), LOSSES, "loss", "the model")
        dropout = d.get("dropout")
        if dropout is not None and not (
            isinstance(dropout, list)
            and all(isinstance(p, float) and not isinstance(p, bool) for p in dropout)
        ):
            raise ValueError("dropout must be a list of rates, one per hidden layer")
        net = Network(
            d["layer_sizes"], acts, loss, dtype=d["dtype"], init=_zeros, dropout=dropout
        )  # every weight is overwritten from the file
    except (ValueError, TypeError) as e:
        raise ModelFileError(path, str(e)) from None
    for l in range(net.n_layers):
        net.weights[l] = tensors[f"W{l + 1}"]
        net.biases[l] = tensors[f"b{l + 1}"]
    if backend != "numpy" or device is not None:
        net.to(backend, device)
    p = d["preprocessing"]
    if p is None:
        return Model(net)
    preprocessing = Preprocessing(
        _columns(p, d["format_version"]),
        tensors["x_mean"],
        tensors["x_scale"],
        p["task"],
        p["target"],
        p["classes"],
        tensors.get("y_mean"),
        tensors.get("y_scale"),
        impute=p.get("impute"),
    )
    if not (
        np.all(preprocessing.x_scale > 0)
        and (preprocessing.y_scale is None or np.all(preprocessing.y_scale > 0))
    ):
        raise ModelFileError(path, "the preprocessing scales must be positive")
    return Model(net, preprocessing)


def _zeros(rng: np.random.Generator, fan_in: int, fan_out: int) -> np.ndarray:
    return np.zeros((fan_in, fan_out))
