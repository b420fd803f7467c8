"""ONNX export: a network, a loaded model with its preprocessing, or a fitted
estimator as an ONNX graph that any ONNX runtime evaluates.

The graph is the seeds' forward pass written as ONNX operators,
Z⁽ˡ⁾ = H⁽ˡ⁻¹⁾ W⁽ˡ⁾ + b⁽ˡ⁾ (MatMul, Add) and H⁽ˡ⁾ = σₗ(Z⁽ˡ⁾), in the network's
dtype. Importing this module also registers nlayer's estimators with
skl2onnx, so ``skl2onnx.to_onnx(pipeline, X)`` converts a scikit-learn
Pipeline that ends in (or holds) one::

    import nlayer.onnx
    onnx_model = nlayer.onnx.to_onnx(model)           # a loaded Model
    onnx_model = skl2onnx.to_onnx(pipeline, X[:1])    # a Pipeline with an estimator

What each kind of object becomes:

- a :class:`~nlayer.Network` (or a model saved without preprocessing): one
  input ``X`` (N, n_0), one output ``Y_hat`` (N, n_L);
- a :class:`~nlayer.model.Model` with preprocessing: one input per column,
  (N, 1) each — a number column as float64 (a missing value as NaN), a true/
  false or a category column as its text; the stored fill values,
  standardisation and one-hot encodings, then the network; outputs ``label``
  (N,) and ``probabilities`` (N, classes) for classes, ``predictions``
  (N, targets) in the target's units for regression. A runtime cannot raise
  an error as ``predict`` does: a missing cell the model has no fill value for,
  or a true/false text it does not know, gives NaN outputs for that row; a
  category not seen in training is all zeros, as in ``predict``.
- an :class:`~nlayer.NLayerClassifier` or :class:`~nlayer.NLayerRegressor`:
  input ``X`` (N, n_features), outputs as skl2onnx names them (``label`` and
  ``probabilities``, or ``variable``).

Needs ``pip install "nlayer[onnx]"`` (onnx, and skl2onnx for the estimators).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:  # pragma: no cover - depends on the installation
    raise ImportError(
        'nlayer.onnx needs the onnx package: pip install "nlayer[onnx]"'
    ) from None

from .data import Encoding, Preprocessing
from .model import Model
from .network import Network
from .version import __version__

#: the standard operator set the graphs use (ONNX 1.12, onnxruntime ≥ 1.12)
OPSET = 17
#: ai.onnx.ml, for LabelEncoder (text columns to codes)
ML_OPSET = 3

_PROTO = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
}


class _Graph:
    """Emits operators and constants under unique names: into a plain ONNX
    graph, or into skl2onnx's container (the same code writes both)."""

    def __init__(
        self,
        add_node: Callable[[str, list[str], str, str, dict[str, Any]], None],
        add_constant: Callable[[str, np.ndarray], None],
        unique: Callable[[str], str],
    ) -> None:
        self._add_node, self._add_constant, self.unique = add_node, add_constant, unique

    def op(self, op_type: str, *inputs: str, domain: str = "", **attrs: Any) -> str:
        """The output name of one ``op_type`` node on ``inputs``."""
        out = self.unique(op_type.lower())
        self._add_node(op_type, list(inputs), out, domain, attrs)
        return out

    def const(self, value: Any, name: str = "c") -> str:
        name = self.unique(name)
        self._add_constant(name, np.asarray(value))
        return name

    def cast(self, x: str, dtype: Any) -> str:
        return self.op("Cast", x, to=_proto(dtype))


def _proto(dtype: Any) -> int:
    dt = np.dtype(dtype)
    if dt not in _PROTO:
        raise TypeError(f"ONNX export handles float32 and float64, not {dt}")
    return _PROTO[dt]


# -- the network: Z = H W + b, H = σ(Z) ---------------------------------------------


def _gelu(g: _Graph, z: str, dt: np.dtype) -> str:
    # ½ z (1 + tanh(√(2/π)(z + 0.044715 z³))), nlayer's (tanh) GELU
    cube = g.op("Mul", g.op("Mul", z, z), z)
    inner = g.op("Add", z, g.op("Mul", g.const(dt.type(0.044715)), cube))
    t = g.op("Tanh", g.op("Mul", g.const(dt.type(np.sqrt(2 / np.pi))), inner))
    half_z = g.op("Mul", g.const(dt.type(0.5)), z)
    return g.op("Mul", half_z, g.op("Add", g.const(dt.type(1)), t))


def _softplus(g: _Graph, z: str, dt: np.dtype) -> str:
    # max(z, 0) + log1p(exp(−|z|)): nlayer's overflow-free form
    e = g.op("Exp", g.op("Neg", g.op("Abs", z)))
    log1p = g.op("Log", g.op("Add", g.const(dt.type(1)), e))
    return g.op("Add", g.op("Relu", z), log1p)


def _expm1(g: _Graph, z: str, dt: np.dtype) -> str:
    # eᶻ − 1 to the last bits (ONNX has no Expm1): Kahan's (u − 1)·z / log u with
    # u = eᶻ, and z itself where u rounds to 1; below −40 eᶻ − 1 is −1 anyway
    z = g.op("Max", z, g.const(dt.type(-40)))
    u = g.op("Exp", z)
    ratio = g.op(
        "Div", g.op("Mul", g.op("Sub", u, g.const(dt.type(1))), z), g.op("Log", u)
    )
    return g.op("Where", g.op("Equal", u, g.const(dt.type(1))), z, ratio)


def _leaky_relu(g: _Graph, z: str, alpha: float, dt: np.dtype) -> str:
    # z where z > 0, else α·z, with α in the network's dtype (an ONNX attribute
    # would round it to float32)
    alpha_z = g.op("Mul", z, g.const(dt.type(alpha)))
    return g.op("Where", g.op("Greater", z, g.const(dt.type(0))), z, alpha_z)


def _elu(g: _Graph, z: str, alpha: float, dt: np.dtype) -> str:
    # z where z > 0, else α·(e^min(z, 0) − 1)
    negative = g.op("Min", z, g.const(dt.type(0)))
    alpha_e = g.op("Mul", g.const(dt.type(alpha)), _expm1(g, negative, dt))
    return g.op("Where", g.op("Greater", z, g.const(dt.type(0))), z, alpha_e)


#: σ(Z) as ONNX operators, one per built-in activation
ACTIVATIONS: dict[str, Callable[[_Graph, str, Any, np.dtype], str]] = {
    "sigmoid": lambda g, z, act, dt: g.op("Sigmoid", z),
    "tanh": lambda g, z, act, dt: g.op("Tanh", z),
    "relu": lambda g, z, act, dt: g.op("Relu", z),
    "leaky_relu": lambda g, z, act, dt: _leaky_relu(g, z, act.alpha, dt),
    "elu": lambda g, z, act, dt: _elu(g, z, act.alpha, dt),
    "softmax": lambda g, z, act, dt: g.op("Softmax", z, axis=1),
    "linear": lambda g, z, act, dt: z,
    "exp": lambda g, z, act, dt: g.op("Exp", z),
    "silu": lambda g, z, act, dt: g.op("Mul", z, g.op("Sigmoid", z)),
    "gelu": lambda g, z, act, dt: _gelu(g, z, dt),
    "softplus": lambda g, z, act, dt: _softplus(g, z, dt),
}


def _check_activations(net: Network) -> None:
    for l, act in enumerate(net.activations, start=1):
        known = ACTIVATIONS.get(act.name)
        params = act.params()
        if known is None or set(params) - {"alpha"}:
            raise ValueError(
                f"layer {l}: activation {act.name!r} has no ONNX form; nlayer.onnx "
                f"exports {', '.join(ACTIVATIONS)}"
            )


def _network(g: _Graph, net: Network, x: str) -> str:
    """Ŷ of ``net`` on the graph value ``x`` (already in the network's dtype)."""
    dt = net.dtype
    H = x
    for l, (W, b, act) in enumerate(
        zip(net.weights, net.biases, net.activations, strict=True), start=1
    ):
        Z = g.op(
            "Add",
            g.op("MatMul", H, g.const(np.array(W), f"W{l}")),
            g.const(np.array(b), f"b{l}"),
        )  # Z⁽ˡ⁾ = H⁽ˡ⁻¹⁾ W⁽ˡ⁾ + b⁽ˡ⁾
        H = ACTIVATIONS[act.name](g, Z, act, dt)  # H⁽ˡ⁾ = σₗ(Z⁽ˡ⁾)
    return H


def _probabilities(g: _Graph, y_hat: str, n_outputs: int, dt: np.dtype) -> str:
    """(N, classes): one sigmoid output p becomes [1 − p, p]."""
    if n_outputs != 1:
        return y_hat
    return g.op("Concat", g.op("Sub", g.const(dt.type(1)), y_hat), y_hat, axis=1)


# -- a plain ONNX model ---------------------------------------------------------------


class _Plain:
    """A plain ONNX graph being written."""

    def __init__(self, reserved: list[str]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.constants: list[onnx.TensorProto] = []
        self.used = set(reserved)
        self.graph = _Graph(self._node, self._constant, self._unique)

    def _unique(self, stem: str) -> str:
        k = len(self.used)
        while f"{stem}_{k}" in self.used:
            k += 1
        self.used.add(f"{stem}_{k}")
        return f"{stem}_{k}"

    def _node(
        self, op: str, inputs: list[str], out: str, domain: str, attrs: dict
    ) -> None:
        self.nodes.append(
            helper.make_node(op, inputs, [out], name=out, domain=domain, **attrs)
        )

    def _constant(self, name: str, value: np.ndarray) -> None:
        if value.dtype.kind in "UO":  # text: ONNX strings are bytes
            texts: Any = [str(v).encode() for v in value.ravel()]
            tensor = helper.make_tensor(name, TensorProto.STRING, value.shape, texts)
        else:
            tensor = numpy_helper.from_array(value, name)
        self.constants.append(tensor)

    def model(
        self,
        inputs: list[onnx.ValueInfoProto],
        outputs: list[tuple[str, str, int, list[Any]]],
        doc: str,
    ) -> onnx.ModelProto:
        """``outputs``: (graph value, output name, element type, shape)."""
        for value, name, _, _ in outputs:
            self.nodes.append(helper.make_node("Identity", [value], [name], name=name))
        graph = helper.make_graph(
            self.nodes,
            "nlayer",
            inputs,
            [helper.make_tensor_value_info(n, t, s) for _, n, t, s in outputs],
            self.constants,
        )
        opsets = [helper.make_opsetid("", OPSET)]
        if any(n.domain == "ai.onnx.ml" for n in self.nodes):
            opsets.append(helper.make_opsetid("ai.onnx.ml", ML_OPSET))
        model = helper.make_model(
            graph, opset_imports=opsets, producer_name="nlayer", doc_string=doc
        )
        model.producer_version = __version__
        model.ir_version = min(model.ir_version, 8)  # runtimes from ONNX 1.12 on
        onnx.checker.check_model(model, full_check=True)
        return model


def _network_model(net: Network, dtype: Any) -> onnx.ModelProto:
    _check_activations(net)
    plain = _Plain(["X", "Y_hat"])
    g = plain.graph
    x = "X" if np.dtype(dtype) == net.dtype else g.cast("X", net.dtype)
    y = _network(g, net, x)
    n0, nL = net.layer_sizes[0], net.layer_sizes[-1]
    return plain.model(
        [helper.make_tensor_value_info("X", _proto(dtype), ["N", n0])],
        [(y, "Y_hat", _proto(net.dtype), ["N", nL])],
        f"nlayer network {' -> '.join(map(str, net.layer_sizes))}",
    )


# -- a model with its preprocessing --------------------------------------------------


def _column_inputs(g: _Graph, pre: Preprocessing) -> tuple[list[str], list[Any]]:
    """Per column, its encoded inputs (N, width) in float64, and the graph inputs."""
    encoded, inputs = [], []
    nan = np.float64(np.nan)
    for enc in pre.columns:
        if enc.kind == "numeric":
            inputs.append(
                helper.make_tensor_value_info(enc.name, TensorProto.DOUBLE, ["N", 1])
            )
            x = enc.name
            if enc.fill is not None:  # a missing cell (NaN) takes the fill value
                x = g.op("Where", g.op("IsNaN", x), g.const(np.float64(enc.fill)), x)
            encoded.append(x)
            continue
        inputs.append(
            helper.make_tensor_value_info(enc.name, TensorProto.STRING, ["N", 1])
        )
        encoded.append(_text_column(g, enc, nan))
    return encoded, inputs


def _text_column(g: _Graph, enc: Encoding, nan: np.float64) -> str:
    """A true/false column as 0/1, or a category column one-hot, from its texts
    (an empty text is a missing cell)."""
    assert enc.categories is not None
    flat = g.op("Reshape", enc.name, g.const(np.array([-1], np.int64)))
    if enc.kind == "boolean":
        # case-insensitive, as training read them: the pair's texts, true/false, 1/0
        lower = g.op("StringNormalizer", flat, case_change_action="LOWER", locale="C")
        false, true = (c.lower() for c in enc.categories)
        value = {"false": 0.0, "0": 0.0, false: 0.0, "true": 1.0, "1": 1.0, true: 1.0}
        if enc.fill is not None:
            value[""] = 1.0 if str(enc.fill).lower() == true else 0.0
        keys = list(value)
        x = g.op(
            "LabelEncoder",
            lower,
            domain="ai.onnx.ml",
            keys_strings=keys,
            values_floats=[value[k] for k in keys],
            default_float=float("nan"),  # a text it does not know: NaN, not 0
        )
        return g.cast(g.op("Reshape", x, g.const(np.array([-1, 1], np.int64))), "f8")
    # a category's index (−1 unseen: all zeros; −2 missing without a fill)
    keys = list(enc.categories)
    codes = list(range(len(keys)))
    if enc.fill is not None:
        keys, codes = [*keys, ""], [*codes, keys.index(str(enc.fill))]
    elif "" not in keys:
        keys, codes = [*keys, ""], [*codes, -2]
    code = g.op(
        "LabelEncoder",
        flat,
        domain="ai.onnx.ml",
        keys_strings=keys,
        values_int64s=codes,
        default_int64=-1,
    )
    code = g.op("Reshape", code, g.const(np.array([-1, 1], np.int64)))
    K = len(enc.categories)
    onehot = g.cast(
        g.op("Equal", code, g.const(np.arange(K, dtype=np.int64)[None])), "f8"
    )
    if enc.fill is None:  # a missing cell: NaN, as predict would refuse it
        missing = g.op("Equal", code, g.const(np.array([[-2]], np.int64)))
        onehot = g.op("Where", missing, g.const(nan), onehot)
    return onehot


def _model_model(model: Model) -> onnx.ModelProto:
    net, pre = model.network, model.preprocessing
    assert pre is not None
    _check_activations(net)
    outputs = ["label", "probabilities"] if pre.classes is not None else ["predictions"]
    plain = _Plain([*pre.features, *outputs])
    g = plain.graph
    encoded, inputs = _column_inputs(g, pre)
    X = g.op("Concat", *encoded, axis=1) if len(encoded) > 1 else encoded[0]
    # X_std = (X − x_mean) / x_scale in float64, then the network's dtype
    X = g.op(
        "Div", g.op("Sub", X, g.const(pre.x_mean[None])), g.const(pre.x_scale[None])
    )
    y_hat = _network(g, net, g.cast(X, net.dtype))
    dt, n_out = net.dtype, net.layer_sizes[-1]
    doc = f"nlayer model: {pre.task} of {pre.target!r} from {len(pre.features)} columns"
    if pre.classes is not None:
        P = _probabilities(g, y_hat, n_out, dt)
        k = g.op("ArgMax", P, axis=1, keepdims=0)
        label = g.op("Gather", g.const(np.array(pre.classes, dtype=object)), k)
        return plain.model(
            inputs,
            [
                (label, "label", TensorProto.STRING, ["N"]),
                (P, "probabilities", _proto(dt), ["N", len(pre.classes)]),
            ],
            doc,
        )
    assert pre.y_mean is not None and pre.y_scale is not None
    Y = g.op(
        "Add",
        g.op("Mul", g.cast(y_hat, "f8"), g.const(pre.y_scale[None])),
        g.const(pre.y_mean[None]),
    )  # back in the target's units, in float64 as predict gives them
    return plain.model(
        inputs, [(Y, "predictions", TensorProto.DOUBLE, ["N", n_out])], doc
    )


# -- estimators, through skl2onnx ----------------------------------------------------


def _sklearn_graph(scope: Any, container: Any) -> _Graph:
    def add_node(
        op: str, inputs: list[str], out: str, domain: str, attrs: dict
    ) -> None:
        kwargs: dict[str, Any] = {}
        if domain:
            kwargs.update(op_domain=domain, op_version=ML_OPSET)
        container.add_node(
            op, inputs, out, name=scope.get_unique_operator_name(op), **kwargs, **attrs
        )

    def add_constant(name: str, value: np.ndarray) -> None:
        if value.dtype.kind in "UO":
            container.add_initializer(
                name,
                TensorProto.STRING,
                list(value.shape),
                [str(v).encode() for v in value.ravel()],
            )
        else:
            container.add_initializer(
                name, _constant_proto(value), list(value.shape), value.ravel().tolist()
            )

    return _Graph(add_node, add_constant, scope.get_unique_variable_name)


def _constant_proto(value: np.ndarray) -> int:
    if value.dtype.kind == "i":
        return TensorProto.INT64
    return _proto(value.dtype)


def _output_dtype(variable: Any) -> np.dtype:
    return np.dtype(
        np.float64 if "Double" in type(variable.type).__name__ else np.float32
    )


def _convert_classifier(scope: Any, operator: Any, container: Any) -> None:
    est = operator.raw_operator
    net, g = est.network_, _sklearn_graph(scope, container)
    _check_activations(net)
    kind = est.target_type_
    y_hat = _network(g, net, g.cast(operator.inputs[0].full_name, net.dtype))
    P = _probabilities(g, y_hat, 1 if kind == "binary" else 2, net.dtype)
    label, proba = operator.outputs[0].full_name, operator.outputs[1].full_name
    container.add_node(
        "Cast",
        P,
        proba,
        to=_proto(_output_dtype(operator.outputs[1])),
        name=scope.get_unique_operator_name("Cast"),
    )
    if kind == "multilabel-indicator":  # one 0/1 column per label: p > 0.5
        above = g.op("Greater", P, g.const(net.dtype.type(0.5)))
        container.add_node(
            "Cast",
            above,
            label,
            to=TensorProto.INT64,
            name=scope.get_unique_operator_name("Cast"),
        )
        return
    k = g.op("ArgMax", P, axis=1, keepdims=0)  # ties: the first, as NumPy's argmax
    classes = _class_constant(est.classes_)
    container.add_node(
        "Gather",
        [g.const(classes, "classes"), k],
        label,
        name=scope.get_unique_operator_name("Gather"),
    )


def _class_constant(classes: np.ndarray) -> np.ndarray:
    if classes.dtype.kind in "iub":
        return classes.astype(np.int64)
    if classes.dtype.kind == "f":
        if not np.all(classes == np.round(classes)):
            raise ValueError(
                f"ONNX labels are integers or texts; this classifier's classes are "
                f"{classes.tolist()}: fit it on integer or text labels"
            )
        return classes.astype(np.int64)
    return np.array([str(c) for c in classes], dtype=object)


def _convert_regressor(scope: Any, operator: Any, container: Any) -> None:
    est = operator.raw_operator
    net, g = est.network_, _sklearn_graph(scope, container)
    _check_activations(net)
    y_hat = _network(g, net, g.cast(operator.inputs[0].full_name, net.dtype))
    # predict: (Ŷ·scale + mean) in float64, in the network's dtype
    Y = g.op(
        "Add",
        g.op("Mul", g.cast(y_hat, "f8"), g.const(est.target_scale_[None])),
        g.const(est.target_mean_[None]),
    )
    container.add_node(
        "Cast",
        g.cast(Y, net.dtype),
        operator.outputs[0].full_name,
        to=_proto(_output_dtype(operator.outputs[0])),
        name=scope.get_unique_operator_name("Cast"),
    )


def _classifier_shapes(operator: Any) -> None:
    from skl2onnx.common.data_types import (
        DoubleTensorType,
        FloatTensorType,
        Int64TensorType,
        StringTensorType,
    )

    est = operator.raw_operator
    N = operator.inputs[0].get_first_dimension()
    classes = _class_constant(est.classes_)
    multilabel = est.target_type_ == "multilabel-indicator"
    if multilabel:
        operator.outputs[0].type = Int64TensorType([N, len(classes)])
    elif classes.dtype == object:
        operator.outputs[0].type = StringTensorType([N])
    else:
        operator.outputs[0].type = Int64TensorType([N])
    double = "Double" in type(operator.inputs[0].type).__name__
    proba = DoubleTensorType if double else FloatTensorType
    operator.outputs[1].type = proba([N, len(classes)])


def _regressor_shapes(operator: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    est = operator.raw_operator
    N = operator.inputs[0].get_first_dimension()
    double = "Double" in type(operator.inputs[0].type).__name__
    out = DoubleTensorType if double else FloatTensorType
    operator.outputs[0].type = out([N, est.n_outputs_])


def register() -> bool:
    """Register NLayerClassifier and NLayerRegressor with skl2onnx (done on
    import); False when skl2onnx or scikit-learn is not installed."""
    try:
        from skl2onnx import update_registered_converter

        from .estimators import NLayerClassifier, NLayerRegressor
    except ImportError:
        return False
    update_registered_converter(
        NLayerClassifier,
        "NLayerClassifier",
        _classifier_shapes,
        _convert_classifier,
        options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
    )
    update_registered_converter(
        NLayerRegressor, "NLayerRegressor", _regressor_shapes, _convert_regressor
    )
    return True


REGISTERED = register()


# -- the entry point ---------------------------------------------------------------


def to_onnx(obj: Any, X: Any = None) -> onnx.ModelProto:
    """``obj`` as an ONNX model (see the module doc for its inputs and outputs).

    ``obj``: a Network, a Model (``nlayer.load``) or a fitted NLayerClassifier
    / NLayerRegressor. ``X``: a sample of the inputs, whose dtype (float32 or
    float64) the graph's input takes — by default the network's; unused for a
    Model with preprocessing, whose inputs are its columns. An estimator's
    classifier gives ``probabilities`` as an array (skl2onnx's ``zipmap``
    off); convert it with ``skl2onnx.to_onnx`` for other options.
    """
    if isinstance(obj, Network):
        return _network_model(obj, _input_dtype(X, obj.dtype))
    if isinstance(obj, Model):
        if obj.preprocessing is None:
            return _network_model(obj.network, _input_dtype(X, obj.network.dtype))
        return _model_model(obj)
    network = getattr(obj, "network_", None)
    if isinstance(network, Network):
        return _estimator_model(obj, _input_dtype(X, network.dtype))
    raise TypeError(
        f"to_onnx converts an nlayer Network, a loaded Model or a fitted "
        f"NLayerClassifier/NLayerRegressor, not {type(obj).__name__}"
    )


def _input_dtype(X: Any, default: np.dtype) -> np.dtype:
    if X is None:
        return default
    dt = np.asarray(X[:1] if hasattr(X, "__getitem__") else X).dtype
    return dt if dt in _PROTO else default


def _estimator_model(est: Any, dtype: np.dtype) -> onnx.ModelProto:
    if not REGISTERED:
        raise ImportError(
            'converting an estimator needs skl2onnx: pip install "nlayer[onnx]"'
        )
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    tensor = DoubleTensorType if dtype == np.float64 else FloatTensorType
    options = {id(est): {"zipmap": False}} if hasattr(est, "classes_") else None
    model = skl_to_onnx(
        est,
        initial_types=[("X", tensor([None, est.n_features_in_]))],
        options=options,
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )
    return model
