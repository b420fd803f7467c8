"""Safe model files: safetensors + a versioned JSON description, no pickle.

Round trips for every registered activation and loss, the file format itself,
custom names through the registries, atomic writes, and hostile files: every
bad file must raise :class:`nlayer.ModelFileError` naming the file, never
another exception.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import pickle
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors import safe_open
from safetensors.numpy import save as safetensors_bytes

import nlayer
from nlayer import io
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU
from nlayer.data import Preprocessing
from nlayer.losses import LOSSES, Huber


def load_model(path):
    """(network, preprocessing) of a model file."""
    model = nlayer.load(path)
    return model.network, model.preprocessing


RNG = np.random.default_rng(2024)
X = RNG.normal(scale=2.0, size=(17, 3))
DESCRIPTION_KEYS = {
    "format",
    "format_version",
    "nlayer_version",
    "layer_sizes",
    "activations",
    "loss",
    "dtype",
    "preprocessing",
}
#: the safetensors dtype names of the numpy dtypes used here
ST_DTYPE = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "int32": "I32",
    "int64": "I64",
    "uint8": "U8",
    "bool": "BOOL",
}


# -- helpers ---------------------------------------------------------------------------


def make_net(sizes, acts, loss="mse", dtype="float64", seed=0):
    """A network with random weights *and* random non-zero biases."""
    net = nlayer.Network(sizes, acts, loss, dtype=dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    for l, b in enumerate(net.biases):
        net.biases[l] = rng.normal(size=b.shape)
    return net


def assert_same_network(a, b, X_in=X):
    if isinstance(b, nlayer.Model):  # what nlayer.load returns: the network inside
        b = b.network
    assert isinstance(b, nlayer.Network)
    assert b.layer_sizes == a.layer_sizes
    assert b.dtype == a.dtype
    assert [x.name for x in b.activations] == [x.name for x in a.activations]
    assert [x.params() for x in b.activations] == [x.params() for x in a.activations]
    assert [type(x) for x in b.activations] == [type(x) for x in a.activations]
    assert b.loss_function.name == a.loss_function.name
    assert b.loss_function.params() == a.loss_function.params()
    assert type(b.loss_function) is type(a.loss_function)
    assert b.params.dtype == a.params.dtype
    assert np.array_equal(b.params, a.params)
    for Wa, Wb, ba, bb in zip(a.weights, b.weights, a.biases, b.biases, strict=True):
        assert np.array_equal(Wa, Wb) and np.array_equal(ba, bb)
    X_in = X_in.astype(a.dtype)  # float64 input to a float32 net is refused
    Ya, Yb = a.forward(X_in), b.forward(X_in)
    assert Yb.dtype == Ya.dtype
    assert np.array_equal(Ya, Yb)  # bit-identical predictions
    assert Ya.tobytes() == Yb.tobytes()


def parts(path):
    """(description, tensors) of a safetensors file, read with safetensors."""
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    return json.loads(meta["nlayer"]), tensors


def saved_parts(net, preprocessing=None):
    """(description, tensors) exactly as nlayer.save writes them."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "m.nlt"
        nlayer.save(net, path, preprocessing=preprocessing)
        return parts(path)


def write_model(path, description, tensors, raw=False):
    """A safetensors file with ``description`` (JSON-encoded unless raw) as metadata."""
    text = description if raw else json.dumps(description)
    contiguous = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    Path(path).write_bytes(safetensors_bytes(contiguous, metadata={"nlayer": text}))
    return path


def expect_model_error(path, match=None, load=nlayer.load):
    """Load ``path``; it must raise ModelFileError naming the file first."""
    with pytest.raises(nlayer.ModelFileError) as info:
        load(path)
    e = info.value
    assert isinstance(e, ValueError)
    assert str(e).startswith(f"{path}: "), str(e)
    assert e.path == str(path)
    assert e.problem and str(e) == f"{path}: {e.problem}"
    if match is not None:
        assert re.search(match, e.problem), (match, e.problem)
    return e


def load_or_model_error(path):
    """What the fuzz allows: a loaded model, or ModelFileError naming the file."""
    try:
        net, pre = load_model(path)
    except nlayer.ModelFileError as e:
        assert str(e).startswith(f"{path}: "), str(e)
        return None
    assert isinstance(net, nlayer.Network)
    assert pre is None or isinstance(pre, Preprocessing)
    return net, pre


@contextlib.contextmanager
def registered(registry_fn, registry, name, factory):
    """Register ``name`` for the duration of a with-block, then remove it."""
    registry_fn(name, factory)
    try:
        yield
    finally:
        registry.pop(name, None)


# -- 1. round trips --------------------------------------------------------------------

BUILTIN_ACTIVATIONS = sorted(ACTIVATIONS)
BUILTIN_LOSSES = sorted(LOSSES)
OUTPUT_FOR_LOSS = {n: f().fused_with for n, f in LOSSES.items() if f().fused_with}


def activation_case(act):
    """A network using ``act`` on every layer it may go on."""
    name = act if isinstance(act, str) else act.name
    if name == "softmax":  # output layer only, and not over a single unit
        return [3, 5, 4], ["tanh", "softmax"], "cross_entropy"
    if name == "exp":  # unbounded: on the output, with the loss it fuses with
        return [3, 5, 4], ["tanh", "exp"], "poisson"
    return [3, 5, 4, 2], [act, act, act], "mse"


ACTIVATION_CASES = [*BUILTIN_ACTIVATIONS, LeakyReLU(alpha=0.2), ELU(alpha=0.5)]
LOSS_CASES = [*BUILTIN_LOSSES, Huber(delta=0.5)]


def test_the_cases_cover_every_registered_name():
    assert set(BUILTIN_ACTIVATIONS) >= {
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "softmax",
        "linear",
        "gelu",
        "silu",
        "softplus",
    }
    assert set(BUILTIN_LOSSES) >= {
        "mse",
        "mae",
        "huber",
        "cross_entropy",
        "binary_cross_entropy",
    }


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("act", ACTIVATION_CASES, ids=repr)
def test_round_trip_every_activation(tmp_path, act, dtype):
    sizes, acts, loss = activation_case(act)
    net = make_net(sizes, acts, loss, dtype=dtype)
    path = tmp_path / "model.nlt"
    assert nlayer.save(net, path) == path
    loaded = nlayer.load(path).network
    assert_same_network(net, loaded)
    if not isinstance(act, str):  # the parameter itself survives, exactly
        assert loaded.activations[0] == act
    assert os.listdir(tmp_path) == ["model.nlt"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", LOSS_CASES, ids=repr)
def test_round_trip_every_loss(tmp_path, loss, dtype):
    name = loss if isinstance(loss, str) else loss.name
    out = OUTPUT_FOR_LOSS.get(name, "linear")
    n_out = 1 if out == "sigmoid" else 3
    net = make_net([3, 6, n_out], ["relu", out], loss, dtype=dtype)
    path = tmp_path / "model.nlt"
    nlayer.save(net, str(path))  # a str path works as well as a Path
    loaded = nlayer.load(str(path)).network
    assert_same_network(net, loaded)
    if not isinstance(loss, str):
        assert loaded.loss_function == loss


def test_round_trip_after_training_and_extreme_weights(tmp_path):
    net = make_net([3, 8, 8, 2], ["gelu", LeakyReLU(alpha=0.3), "linear"], "huber")
    Y = np.column_stack([X.sum(axis=1), X[:, 0] * X[:, 1]])
    net.fit(X, Y, epochs=5, optimizer="adam", lr=0.01)
    path = tmp_path / "trained.nlt"
    nlayer.save(net, path)
    assert_same_network(net, nlayer.load(path))
    # subnormals, signed zeros and values near the float64 limits survive exactly
    net.weights[0][0, :3] = [5e-324, -0.0, 1.7976931348623157e308]
    net.weights[0][1, :3] = [-1e-310, 1e300, np.nextafter(1.0, 2.0)]
    nlayer.save(net, path)
    assert nlayer.load(path).network.params.tobytes() == net.params.tobytes()


def test_saving_again_overwrites_and_loads_the_new_model(tmp_path):
    path = tmp_path / "model.nlt"
    first = make_net([3, 4, 2], ["tanh", "linear"], seed=1)
    second = make_net([3, 7, 7, 1], ["relu", "elu", "sigmoid"], seed=2, dtype="float32")
    nlayer.save(first, path)
    nlayer.save(second, path)
    assert_same_network(second, nlayer.load(path))
    assert os.listdir(tmp_path) == ["model.nlt"]


def test_load_model_without_preprocessing_gives_none(tmp_path):
    net = make_net([3, 4, 1], ["tanh", "linear"])
    nlayer.save(net, tmp_path / "m.nlt")
    loaded, pre = load_model(tmp_path / "m.nlt")
    assert pre is None
    assert_same_network(net, loaded)


def classification_preprocessing(n_features=3, classes=("setosa", "versicolor", "x")):
    rng = np.random.default_rng(n_features)
    return Preprocessing(
        [f"feature {j}" for j in range(n_features)],
        rng.normal(size=n_features),
        rng.uniform(0.5, 2.0, size=n_features),
        "classification",
        "species",
        list(classes),
    )


def regression_preprocessing(n_features=3, n_outputs=2):
    rng = np.random.default_rng(n_outputs)
    return Preprocessing(
        ["a", "b", "ç"][:n_features],
        rng.normal(size=n_features),
        rng.uniform(0.5, 2.0, size=n_features),
        "regression",
        "price",
        None,
        rng.normal(size=n_outputs),
        rng.uniform(0.5, 2.0, size=n_outputs),
    )


def assert_same_preprocessing(a, b):
    assert isinstance(b, Preprocessing)
    assert list(b.features) == list(a.features)
    assert b.task == a.task and b.target == a.target
    assert b.classes == (None if a.classes is None else list(a.classes))
    for name in ("x_mean", "x_scale", "y_mean", "y_scale"):
        va, vb = getattr(a, name), getattr(b, name)
        if va is None:
            assert vb is None
        else:
            assert vb.dtype == np.float64
            assert np.array_equal(np.asarray(va, np.float64), vb)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    "kind", ["multiclass", "binary", "regression"], ids=lambda k: k
)
def test_round_trip_with_preprocessing(tmp_path, kind, dtype):
    if kind == "multiclass":
        net = make_net([3, 5, 3], ["relu", "softmax"], "cross_entropy", dtype=dtype)
        pre = classification_preprocessing()
    elif kind == "binary":
        net = make_net(
            [3, 5, 1], ["relu", "sigmoid"], "binary_cross_entropy", dtype=dtype
        )
        pre = classification_preprocessing(classes=["no", "yes"])
    else:
        net = make_net([3, 5, 2], ["tanh", "linear"], "mse", dtype=dtype)
        pre = regression_preprocessing()
    path = tmp_path / "cli.nlt"
    nlayer.save(net, path, preprocessing=pre)
    loaded, loaded_pre = load_model(path)
    assert_same_network(net, loaded)
    assert_same_preprocessing(pre, loaded_pre)
    # the whole prediction pipeline is bit-identical too
    raw = RNG.normal(size=(9, 3))
    expected = pre.decode(net.forward(pre.transform(raw).astype(dtype)))
    got = loaded_pre.decode(loaded.forward(loaded_pre.transform(raw).astype(dtype)))
    assert np.array_equal(expected, got)
    # nlayer.load gives the same network, ignoring the preprocessing
    assert_same_network(net, nlayer.load(path))


def test_save_refuses_what_is_not_a_network(tmp_path):
    with pytest.raises(TypeError, match="nlayer.Network"):
        nlayer.save({"W1": np.zeros((2, 2))}, tmp_path / "m.nlt")
    assert os.listdir(tmp_path) == []


# -- 2. the format on disk -------------------------------------------------------------


def test_file_is_safetensors_with_the_documented_description(tmp_path):
    net = make_net(
        [3, 5, 4, 2], [LeakyReLU(alpha=0.2), ELU(alpha=0.5), "softmax"], "cross_entropy"
    )
    path = tmp_path / "m.nlt"
    nlayer.save(net, path)
    with safe_open(str(path), framework="np") as f:
        assert sorted(f.keys()) == ["W1", "W2", "W3", "b1", "b2", "b3"]
        meta = f.metadata()
        shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        dtypes = {k: f.get_slice(k).get_dtype() for k in f.keys()}
        for l in range(3):
            assert np.array_equal(f.get_tensor(f"W{l + 1}"), net.weights[l])
            assert np.array_equal(f.get_tensor(f"b{l + 1}"), net.biases[l])
    assert shapes == {
        "W1": (3, 5),
        "b1": (5,),
        "W2": (5, 4),
        "b2": (4,),
        "W3": (4, 2),
        "b3": (2,),
    }
    assert set(dtypes.values()) == {"F64"}
    assert set(meta) == {"nlayer", "nlayer_crc32"}
    d = json.loads(meta["nlayer"])
    assert set(d) == DESCRIPTION_KEYS
    assert d["format"] == "nlayer.model"
    assert d["format_version"] == 2 and type(d["format_version"]) is int
    assert d["nlayer_version"] == nlayer.__version__
    assert d["layer_sizes"] == [3, 5, 4, 2]
    assert d["activations"] == [
        {"name": "leaky_relu", "params": {"alpha": 0.2}},
        {"name": "elu", "params": {"alpha": 0.5}},
        {"name": "softmax", "params": {}},
    ]
    assert d["loss"] == {"name": "cross_entropy", "params": {}}
    assert d["dtype"] == "float64"
    assert d["preprocessing"] is None
    assert d == io.describe(net)


@pytest.mark.parametrize("kind", ["classification", "regression"])
def test_preprocessing_is_described_and_stored_as_float64_tensors(tmp_path, kind):
    if kind == "classification":
        net = make_net([3, 4, 3], ["relu", "softmax"], "cross_entropy", "float32")
        pre = classification_preprocessing()
        extra = {"x_mean": (3,), "x_scale": (3,)}
    else:
        net = make_net([3, 4, 2], ["relu", "linear"], "mae", "float32")
        pre = regression_preprocessing()
        extra = {"x_mean": (3,), "x_scale": (3,), "y_mean": (2,), "y_scale": (2,)}
    path = tmp_path / "m.nlt"
    nlayer.save(net, path, preprocessing=pre)
    d, tensors = parts(path)
    assert d["dtype"] == "float32"
    assert d["preprocessing"] == {
        "columns": [{"name": f} for f in pre.features],  # numbers, no fill
        "impute": None,
        "task": kind,
        "target": pre.target,
        "classes": pre.classes,
    }
    assert set(tensors) == {"W1", "b1", "W2", "b2", *extra}
    for name, shape in extra.items():
        assert tensors[name].dtype == np.float64 and tensors[name].shape == shape
        assert np.array_equal(tensors[name], getattr(pre, name))
    for name in ("W1", "b1", "W2", "b2"):
        assert tensors[name].dtype == np.float32


def test_raw_bytes_are_a_json_header_and_raw_tensor_data_only(tmp_path):
    net = make_net([3, 4, 2], ["tanh", "softmax"], "cross_entropy", "float32")
    pre = classification_preprocessing(classes=["a", "b"])
    path = tmp_path / "m.nlt"
    nlayer.save(net, path, preprocessing=pre)
    data = path.read_bytes()
    n = int.from_bytes(data[:8], "little")  # safetensors: u64 LE header length
    assert 8 + n <= len(data)
    header = json.loads(data[8 : 8 + n].decode("utf-8"))  # the header is JSON
    assert isinstance(header, dict)
    meta = header.pop("__metadata__")
    assert set(meta) == {"nlayer", "nlayer_crc32"} and isinstance(meta["nlayer"], str)
    assert set(json.loads(meta["nlayer"])) == DESCRIPTION_KEYS
    expected = {
        "W1": net.weights[0],
        "b1": net.biases[0],
        "W2": net.weights[1],
        "b2": net.biases[1],
        "x_mean": pre.x_mean,
        "x_scale": pre.x_scale,
    }
    assert set(header) == set(expected)
    body = data[8 + n :]
    covered = 0
    for name, info in header.items():
        assert set(info) == {"dtype", "shape", "data_offsets"}
        arr = expected[name]
        assert info["dtype"] == ST_DTYPE[arr.dtype.name]
        assert tuple(info["shape"]) == arr.shape
        start, end = info["data_offsets"]
        # the data region is exactly the tensors' little-endian bytes, nothing else
        assert (
            body[start:end]
            == np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        )
        covered += end - start
    assert covered == len(body)
    # no pickle anywhere: no protocol opcode at the start, no reduce machinery
    assert not data.startswith(b"\x80")
    for marker in (
        b"__reduce__",
        b"__builtin__",
        b"builtins",
        b"numpy.core",
        b"cnumpy",
        b"_codecs",
        b"torch",
        b"PK\x03\x04",
    ):
        assert marker not in data


def test_a_pickle_file_is_refused_without_being_unpickled(tmp_path):
    sentinel = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(sentinel), "w"))

    path = tmp_path / "evil.nlt"
    path.write_bytes(pickle.dumps({"W1": Evil()}))
    expect_model_error(path)
    assert not sentinel.exists()


# -- 3. custom activations and losses through the registries ---------------------------


class Cube:
    """A custom activation: forward z³, derivative 3z²."""

    name = "cube_io_test"

    def forward(self, z):
        return z**3

    def derivative(self, z, h=None):
        return 3 * z**2


class Scaled:
    """A parameterised custom activation k·z; params() only when asked for."""

    name = "scaled_io_test"

    def __init__(self, k=1.0):
        self.k = k

    def forward(self, z):
        return self.k * z

    def derivative(self, z, h=None):
        return np.full_like(z, self.k)


class ScaledWithParams(Scaled):
    name = "scaled_params_io_test"

    def params(self):
        return {"k": self.k}


class Quartic:
    """A custom loss: (1/4m) Σ (ŷ − y)⁴, per-sample gradient (ŷ − y)³."""

    name = "quartic_io_test"

    def value(self, Y_hat, Y):
        return float(((Y_hat - Y) ** 4).sum() / (4 * len(Y)))

    def gradient(self, Y_hat, Y):
        return (Y_hat - Y) ** 3


class ScaledLoss:
    """A parameterised custom loss (k/2m) Σ (ŷ − y)²."""

    name = "scaled_loss_io_test"

    def __init__(self, k=1.0):
        self.k = k

    def value(self, Y_hat, Y):
        return float(self.k * 0.5 * ((Y_hat - Y) ** 2).sum() / len(Y))

    def gradient(self, Y_hat, Y):
        return self.k * (Y_hat - Y)


class ScaledLossWithParams(ScaledLoss):
    name = "scaled_loss_params_io_test"

    def params(self):
        return {"k": self.k}


def test_custom_activation_needs_registering(tmp_path):
    net = make_net([3, 4, 2], [Cube(), "linear"])
    path = tmp_path / "cube.nlt"
    with pytest.raises(ValueError, match=r"register_activation\('cube_io_test'") as e:
        nlayer.save(net, path)
    assert "not registered" in str(e.value) and "layer 1" in str(e.value)
    assert os.listdir(tmp_path) == []  # nothing written, not even a temporary

    with registered(nlayer.register_activation, ACTIVATIONS, "cube_io_test", Cube):
        nlayer.save(net, path)
        assert parts(path)[0]["activations"][0] == {
            "name": "cube_io_test",
            "params": {},
        }
        assert_same_network(net, nlayer.load(path))
    assert "cube_io_test" not in ACTIVATIONS

    e = expect_model_error(path, r"register_activation\('cube_io_test', factory\)")
    assert "not registered" in e.problem and "layer 1" in e.problem


def test_custom_activation_with_parameters_round_trips_only_with_params(tmp_path):
    path = tmp_path / "scaled.nlt"
    with registered(
        nlayer.register_activation,
        ACTIVATIONS,
        "scaled_params_io_test",
        ScaledWithParams,
    ):
        net = make_net([3, 4, 2], [ScaledWithParams(2.5), "linear"])
        nlayer.save(net, path)
        assert parts(path)[0]["activations"][0]["params"] == {"k": 2.5}
        assert_same_network(net, nlayer.load(path))


def test_registered_name_that_computes_something_else_is_refused(tmp_path):
    path = tmp_path / "scaled.nlt"
    # Scaled(k=3) has no params(): the registry would rebuild Scaled(k=1)
    with registered(nlayer.register_activation, ACTIVATIONS, "scaled_io_test", Scaled):
        net = make_net([3, 4, 2], [Scaled(3.0), "linear"])
        with pytest.raises(ValueError, match="computes something else") as e:
            nlayer.save(net, path)
        assert "params()" in str(e.value)
        # the default parameter does compute the same, so it may be saved
        same = make_net([3, 4, 2], [Scaled(1.0), "linear"])
        nlayer.save(same, path)
        assert_same_network(same, nlayer.load(path))

    # a factory that cannot take the object's parameters is refused too
    class NoParams(Cube):
        name = "scaled_params_io_test"

    with registered(
        nlayer.register_activation, ACTIVATIONS, "scaled_params_io_test", NoParams
    ):
        net = make_net([3, 4, 2], [ScaledWithParams(2.0), "linear"])
        with pytest.raises(ValueError, match="cannot be rebuilt"):
            nlayer.save(net, tmp_path / "other.nlt")
    assert sorted(os.listdir(tmp_path)) == ["scaled.nlt"]


def test_a_registered_name_must_be_the_built_objects_name():
    # otherwise a loaded network would carry a name no registry entry has
    with pytest.raises(ValueError, match="builds one named 'cube_io_test'"):
        nlayer.register_activation("cube_alias", Cube)
    with pytest.raises(ValueError, match="builds one named 'quartic_io_test'"):
        nlayer.register_loss("quartic_alias", Quartic)
    assert "cube_alias" not in ACTIVATIONS and "quartic_alias" not in LOSSES


def test_custom_loss_needs_registering(tmp_path):
    net = make_net([3, 4, 2], ["tanh", "linear"], Quartic())
    path = tmp_path / "quartic.nlt"
    with pytest.raises(ValueError, match=r"register_loss\('quartic_io_test'"):
        nlayer.save(net, path)
    assert os.listdir(tmp_path) == []

    with registered(nlayer.register_loss, LOSSES, "quartic_io_test", Quartic):
        nlayer.save(net, path)
        assert parts(path)[0]["loss"] == {"name": "quartic_io_test", "params": {}}
        loaded = nlayer.load(path).network
        assert_same_network(net, loaded)
        Y = RNG.normal(size=(len(X), 2))
        assert loaded.loss(X, Y) == net.loss(X, Y)
    assert "quartic_io_test" not in LOSSES

    e = expect_model_error(path, r"register_loss\('quartic_io_test', factory\)")
    assert "not registered" in e.problem


def test_custom_loss_parameters(tmp_path):
    path = tmp_path / "scaled.nlt"
    with registered(nlayer.register_loss, LOSSES, "scaled_loss_io_test", ScaledLoss):
        net = make_net([3, 4, 2], ["tanh", "linear"], ScaledLoss(4.0))
        with pytest.raises(ValueError, match="computes something else"):
            nlayer.save(net, path)
    with registered(
        nlayer.register_loss, LOSSES, "scaled_loss_params_io_test", ScaledLossWithParams
    ):
        net = make_net([3, 4, 2], ["tanh", "linear"], ScaledLossWithParams(4.0))
        nlayer.save(net, path)
        assert parts(path)[0]["loss"]["params"] == {"k": 4.0}
        loaded = nlayer.load(path).network
        assert_same_network(net, loaded)
        Y = RNG.normal(size=(len(X), 2))
        assert loaded.loss(X, Y) == net.loss(X, Y)


# -- 4. atomic writes ------------------------------------------------------------------


class Crash(BaseException):
    """A crash that no ``except Exception`` swallows."""


def leftovers(directory, name):
    return sorted(p.name for p in Path(directory).glob(f".{name}.*.tmp"))


@pytest.fixture
def good_model(tmp_path):
    path = tmp_path / "model.nlt"
    net = make_net([3, 4, 2], ["tanh", "linear"], seed=5)
    nlayer.save(net, path)
    return path, path.read_bytes(), net


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_a_crash_while_saving_leaves_the_old_model_intact(
    monkeypatch, good_model, where
):
    path, before, old_net = good_model
    new_net = make_net([3, 9, 9, 2], ["relu", "relu", "linear"], seed=6)
    written = []

    def boom(*args, **kwargs):
        raise Crash(where)

    if where == "replace":
        monkeypatch.setattr(io.os, "replace", boom)
    elif where == "fsync":
        monkeypatch.setattr(io.os, "fsync", boom)
    else:  # half the bytes reach the temporary file, then the process "dies"
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                written.append(len(data) // 2)
                raise Crash("disk went away")

            def __getattr__(self, name):
                return getattr(self.f, name)

        monkeypatch.setattr(
            io.os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k))
        )
    with pytest.raises(Crash):
        nlayer.save(new_net, path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # byte for byte
    assert leftovers(path.parent, path.name) == []
    assert os.listdir(path.parent) == [path.name]
    assert_same_network(old_net, nlayer.load(path))
    if where == "write":
        assert written and written[0] > 0


def test_an_oserror_while_saving_propagates_and_cleans_up(monkeypatch, good_model):
    path, before, _ = good_model

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        nlayer.save(make_net([3, 2], ["linear"]), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_a_killed_process_leaves_the_old_model_intact(good_model):
    """A hard kill (no cleanup runs) before the rename: the old model survives."""
    path, before, old_net = good_model
    script = (
        "import os, sys, nlayer\n"
        "from nlayer import io\n"
        "def die(fd):\n"
        "    os._exit(37)  # killed after writing, before the rename\n"
        "io.os.fsync = die\n"
        "net = nlayer.Network([3, 50, 2], ['relu', 'linear'], seed=0)\n"
        "nlayer.save(net, sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, timeout=60
    )
    assert done.returncode == 37, done.stderr.decode()
    assert path.read_bytes() == before
    assert_same_network(old_net, nlayer.load(path))
    # the orphaned temporary is hidden, named after the model, and never loaded
    orphans = leftovers(path.parent, path.name)
    assert len(orphans) == 1
    assert sorted(os.listdir(path.parent)) == sorted([path.name, *orphans])


def test_saving_into_a_missing_directory_creates_nothing(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "model.nlt"
    with pytest.raises(FileNotFoundError, match="no such directory"):
        nlayer.save(make_net([3, 2], ["linear"]), target)
    assert os.listdir(tmp_path) == []


def test_saving_over_a_directory_fails_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.nlt"
    target.mkdir()
    with pytest.raises(OSError):
        nlayer.save(make_net([3, 2], ["linear"]), target)
    assert target.is_dir() and list(target.iterdir()) == []
    assert os.listdir(tmp_path) == ["model.nlt"]


def test_an_unsavable_network_does_not_touch_the_old_file(good_model):
    path, before, _ = good_model
    with pytest.raises(ValueError, match="register_activation"):
        nlayer.save(make_net([3, 4, 2], [Cube(), "linear"]), path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_write_file_and_read_file(tmp_path):
    path = tmp_path / "other.st"
    tensors = {"a": np.arange(6.0).reshape(2, 3), "b": np.ones(2, np.float32)}
    io.write_file(path, tensors, {"kind": "test", "n": 2})

    def expected(d):
        if d.get("kind") != "test":
            raise ValueError("not a test file")
        return {"a": ("F64", (2, 3)), "b": ("F32", (2,))}

    d, got = io.read_file(path, expected)
    assert d == {"kind": "test", "n": 2}
    assert set(got) == {"a", "b"}
    assert np.array_equal(got["a"], tensors["a"]) and got["b"].dtype == np.float32

    def wrong_shape(d):
        return {"a": ("F64", (3, 2)), "b": ("F32", (2,))}

    with pytest.raises(nlayer.ModelFileError, match=r"tensor a is F64 \(2, 3\)"):
        io.read_file(path, wrong_shape)

    def refuses(d):
        raise TypeError("nope")

    with pytest.raises(nlayer.ModelFileError, match="nope"):
        io.read_file(path, refuses)
    with pytest.raises(ValueError):  # NaN is not valid JSON in a description
        io.write_file(tmp_path / "nan.st", tensors, {"x": float("nan")})
    assert sorted(os.listdir(tmp_path)) == ["other.st"]


# -- 5. corrupt and hand-edited files --------------------------------------------------


def base_net():
    return make_net([3, 4, 2], [LeakyReLU(alpha=0.2), "softmax"], "cross_entropy")


@functools.cache
def base_parts(kind):
    """(description, tensors) of a good model of each kind, as saved."""
    if kind == "plain":
        return saved_parts(base_net())
    if kind == "classification":
        net = make_net([3, 4, 2], ["tanh", "softmax"], "cross_entropy")
        return saved_parts(net, classification_preprocessing(classes=["a", "b"]))
    if kind == "binary":
        net = make_net([3, 4, 1], ["tanh", "sigmoid"], "binary_cross_entropy")
        return saved_parts(net, classification_preprocessing(classes=["n", "y"]))
    net = make_net([3, 4, 2], ["tanh", "linear"])
    return saved_parts(net, regression_preprocessing())


def edit(fn):
    """Apply ``fn(description, tensors)`` to a fresh copy of a good model."""

    def build(kind):
        d, t = base_parts(kind)
        d, t = copy.deepcopy(d), {k: v.copy() for k, v in t.items()}
        fn(d, t)
        return d, t

    return build


def setter(key, value):
    def fn(d, t):
        d[key] = value

    return fn


def deleter(*keys):
    def fn(d, t):
        for k in keys:
            d.pop(k)

    return fn


def tensor(name, value):
    def fn(d, t):
        if value is None:
            del t[name]
        else:
            t[name] = value(t.get(name)) if callable(value) else value

    return fn


def act(i, value):
    def fn(d, t):
        d["activations"][i] = value

    return fn


def pre(key, value):
    def fn(d, t):
        d["preprocessing"][key] = value

    return fn


def deleter_pre(*keys):
    def fn(d, t):
        for k in keys:
            d["preprocessing"].pop(k)

    return fn


def both(*fns):
    def fn(d, t):
        for f in fns:
            f(d, t)

    return fn


def with_nan(v):
    v = v.copy()
    v.flat[1] = np.nan
    return v


def with_inf(v):
    v = v.copy()
    v.flat[-1] = -np.inf
    return v


def resized(sizes, acts=None, dtype=np.float64):
    """Tensors of new sizes, consistent with themselves."""

    def fn(d, t):
        for k in [k for k in t if k[0] in "Wb"]:
            del t[k]
        for l in range(1, len(sizes)):
            t[f"W{l}"] = RNG.normal(size=(sizes[l - 1], sizes[l])).astype(dtype)
            t[f"b{l}"] = RNG.normal(size=sizes[l]).astype(dtype)
        d["layer_sizes"] = list(sizes)
        if acts is not None:
            d["activations"] = [{"name": a, "params": {}} for a in acts]

    return fn


SOFTMAX = {"name": "softmax", "params": {}}
LINEAR = {"name": "linear", "params": {}}

# (id, base model, edit, regular expression the problem must match)
EDITS = [
    ("format-name", "plain", setter("format", "keras.model"), "not an nlayer model"),
    ("format-missing", "plain", deleter("format"), "not an nlayer model"),
    ("format-number", "plain", setter("format", 1), "not an nlayer model"),
    ("version-3", "plain", setter("format_version", 3), "upgrade nlayer"),
    ("version-999", "plain", setter("format_version", 999), "newer nlayer.*upgrade"),
    ("version-str", "plain", setter("format_version", "1"), "format version '1'"),
    ("version-float", "plain", setter("format_version", 1.0), "format version 1.0"),
    ("version-bool", "plain", setter("format_version", True), "format version True"),
    ("version-0", "plain", setter("format_version", 0), "format version 0"),
    ("version-neg", "plain", setter("format_version", -1), "format version -1"),
    ("version-missing", "plain", deleter("format_version"), "format version None"),
    ("sizes-mismatch", "plain", setter("layer_sizes", [3, 5, 2]), r"W1 .*\(3, 5\)"),
    ("sizes-swapped", "plain", setter("layer_sizes", [4, 3, 2]), r"tensor W1"),
    (
        "sizes-more-layers",
        "plain",
        both(setter("layer_sizes", [3, 4, 4, 2]), act(1, LINEAR)),
        "expected 3 activations",
    ),
    (
        "sizes-more-layers-acts",
        "plain",
        both(
            setter("layer_sizes", [3, 4, 4, 2]),
            setter("activations", [LINEAR, LINEAR, SOFTMAX]),
        ),
        "missing W3, b3",
    ),
    ("sizes-negative", "plain", setter("layer_sizes", [3, -4, 2]), r"found -4"),
    ("sizes-zero", "plain", setter("layer_sizes", [3, 0, 2]), r"found 0"),
    ("sizes-huge", "plain", setter("layer_sizes", [3, 2**24 + 1, 2]), r"\[1, "),
    ("sizes-enormous", "plain", setter("layer_sizes", [3, 10**30, 2]), "integers"),
    # within the bounds but far too big for the file: refused before allocating
    ("sizes-big", "plain", setter("layer_sizes", [2**24, 2**24, 2]), "tensor W1"),
    ("sizes-float", "plain", setter("layer_sizes", [3, 4.0, 2]), "found 4.0"),
    ("sizes-bool", "plain", setter("layer_sizes", [3, True, 2]), "found True"),
    ("sizes-str", "plain", setter("layer_sizes", "342"), "must be a list"),
    ("sizes-empty", "plain", setter("layer_sizes", []), "must be a list"),
    ("sizes-one", "plain", setter("layer_sizes", [3]), "at least two"),
    ("sizes-null", "plain", setter("layer_sizes", None), "must be a list"),
    ("sizes-too-many", "plain", setter("layer_sizes", [1] * 5000), "at most 1025"),
    ("sizes-missing", "plain", deleter("layer_sizes"), "layer_sizes"),
    ("acts-too-few", "plain", setter("activations", [SOFTMAX]), "expected 2 activ"),
    (
        "acts-too-many",
        "plain",
        setter("activations", [LINEAR, LINEAR, SOFTMAX]),
        "expected 2 activations",
    ),
    ("acts-str", "plain", setter("activations", "relu"), "expected 2 activations"),
    ("acts-missing", "plain", deleter("activations"), "lacks activations"),
    ("act-bare-name", "plain", act(0, "relu"), r"layer 1: the activation must be"),
    ("act-no-params", "plain", act(0, {"name": "relu"}), "activation must be"),
    (
        "act-extra-key",
        "plain",
        act(0, {"name": "relu", "params": {}, "module": "os"}),
        "activation must be",
    ),
    (
        "act-params-list",
        "plain",
        act(0, {"name": "relu", "params": [1]}),
        "activation must be",
    ),
    (
        "act-unknown",
        "plain",
        act(0, {"name": "swish2", "params": {}}),
        r"layer 1 uses activation 'swish2'.*register_activation\('swish2', factory\)",
    ),
    (
        "act-import-path",
        "plain",
        act(0, {"name": "os.system", "params": {}}),
        r"register_activation\('os.system'",
    ),
    (
        "act-alpha-str",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": "x"}}),
        "parameter 'alpha' must be a number",
    ),
    (
        "act-alpha-negative",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": -1}}),
        "alpha must be a non-negative number",
    ),
    (
        "act-alpha-nan",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": float("nan")}}),
        "parameter 'alpha' must be a number",
    ),
    (
        "act-alpha-inf",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": float("inf")}}),
        "parameter 'alpha' must be a number",
    ),
    (
        "act-alpha-bool",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": True}}),
        "must be a number",
    ),
    (
        "act-alpha-null",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": None}}),
        "must be a number",
    ),
    (
        "act-elu-alpha-zero",
        "plain",
        act(0, {"name": "elu", "params": {"alpha": 0}}),
        "alpha must be a positive number",
    ),
    (
        "act-unknown-param",
        "plain",
        act(0, {"name": "relu", "params": {"beta": 1}}),
        "beta",
    ),
    (
        "act-param-huge-int",
        "plain",
        act(0, {"name": "leaky_relu", "params": {"alpha": 10**400}}),
        ".",  # refused, but see test_messages_say_what_is_wrong
    ),
    (
        "softmax-hidden",
        "plain",
        act(0, SOFTMAX),
        "only allowed on the output layer",
    ),
    (
        "softmax-single-output",
        "plain",
        both(resized([3, 4, 1]), setter("loss", {"name": "mse", "params": {}})),
        "softmax over a single output",
    ),
    ("loss-unknown", "plain", setter("loss", {"name": "hinge", "params": {}}), "hin"),
    (
        "loss-unknown-register",
        "plain",
        setter("loss", {"name": "hinge", "params": {}}),
        r"register_loss\('hinge', factory\)",
    ),
    ("loss-bare-name", "plain", setter("loss", "mse"), "loss must be"),
    ("loss-missing", "plain", deleter("loss"), "lacks loss"),
    (
        "loss-bad-delta",
        "plain",
        setter("loss", {"name": "huber", "params": {"delta": -1}}),
        "delta must be a positive",
    ),
    (
        "ce-with-linear",
        "plain",
        act(1, LINEAR),
        "cross_entropy needs a softmax output layer",
    ),
    (
        "bce-with-softmax",
        "plain",
        setter("loss", {"name": "binary_cross_entropy", "params": {}}),
        "needs a sigmoid output layer",
    ),
    ("dtype-float16", "plain", setter("dtype", "float16"), "float32 or float64"),
    ("dtype-missing", "plain", deleter("dtype"), "lacks dtype"),
    ("dtype-list", "plain", setter("dtype", ["float64"]), "."),  # see below
    ("dtype-float32-F64-data", "plain", setter("dtype", "float32"), "F64.*implies F32"),
    (
        "dtype-float64-F32-data",
        "plain",
        resized([3, 4, 2], dtype=np.float32),
        "F32.*implies F64",
    ),
    (
        "one-W-float32",
        "plain",
        tensor("W2", lambda v: v.astype(np.float32)),
        r"tensor W2 is F32 \(4, 2\), but the description implies F64 \(4, 2\)",
    ),
    ("W-int64", "plain", tensor("W1", lambda v: v.astype(np.int64)), "W1 is I64"),
    ("W-float16", "plain", tensor("b1", lambda v: v.astype(np.float16)), "b1 is F16"),
    ("W-transposed", "plain", tensor("W1", lambda v: v.T.copy()), r"\(4, 3\)"),
    ("b-2d", "plain", tensor("b2", lambda v: v.reshape(1, -1)), r"\(1, 2\)"),
    ("W-scalar", "plain", tensor("W1", np.array(1.0)), r"W1 is F64 \(\)"),
    ("missing-b2", "plain", tensor("b2", None), "missing b2"),
    ("missing-W1", "plain", tensor("W1", None), "missing W1"),
    ("extra-W3", "plain", tensor("W3", np.zeros((2, 2))), "unexpected W3"),
    ("extra-x-mean", "plain", tensor("x_mean", np.zeros(3)), "unexpected x_mean"),
    ("nan-W1", "plain", tensor("W1", with_nan), "tensor W1 holds NaN or infinity"),
    ("inf-b2", "plain", tensor("b2", with_inf), "tensor b2 holds NaN or infinity"),
    ("pre-not-dict", "classification", setter("preprocessing", []), "columns, impute"),
    ("pre-extra-key", "classification", pre("code", "x"), "columns, impute"),
    (
        "pre-features-count",
        "classification",
        pre("columns", [{"name": "a"}, {"name": "b"}]),
        "gives 2 inputs, the first layer takes 3",
    ),
    ("pre-features-type", "classification", pre("columns", [1, 2, 3]), "name itself"),
    ("pre-columns-empty", "classification", pre("columns", []), "non-empty list"),
    (
        "pre-column-twice",
        "classification",
        pre("columns", [{"name": "a"}, {"name": "b"}, {"name": "a"}]),
        "names a column twice",
    ),
    (
        "pre-column-key",
        "classification",
        pre("columns", [{"name": "a", "eval": "x"}, {"name": "b"}, {"name": "c"}]),
        "name itself",
    ),
    (
        "pre-encoding-unknown",
        "classification",
        pre("columns", [{"name": "a", "kind": "hash"}, {"name": "b"}, {"name": "c"}]),
        "unknown encoding 'hash'",
    ),
    (
        "pre-category-no-levels",
        "classification",
        pre("columns", [{"name": "a", "kind": "category"}, {"name": "b"}]),
        "category needs its categories",
    ),
    (
        "pre-category-repeated",
        "classification",
        pre("columns", [{"name": "a", "kind": "category", "categories": ["x", "x"]}]),
        "category needs its categories",
    ),
    (
        "pre-boolean-three",
        "classification",
        pre(
            "columns",
            [{"name": "a", "kind": "boolean", "categories": ["n", "y", "m"]}]
            + [{"name": "b"}, {"name": "c"}],
        ),
        "boolean needs its categories",
    ),
    (
        "pre-fill-not-a-category",
        "classification",
        pre(
            "columns",
            [{"name": "a", "kind": "category", "categories": ["x"], "fill": "z"}]
            + [{"name": "b"}, {"name": "c"}],
        ),
        "fill value must be one of its categories",
    ),
    (
        "pre-fill-text-number",
        "classification",
        pre("columns", [{"name": "a", "fill": "0"}, {"name": "b"}, {"name": "c"}]),
        "fill value must be a finite number",
    ),
    (
        "pre-numeric-categories",
        "classification",
        pre("columns", [{"name": "a", "categories": ["x"]}, {"name": "b"}]),
        "numeric column has no categories",
    ),
    ("pre-impute", "classification", pre("impute", "zero"), "unknown imputation"),
    (
        "pre-v1-keys-in-v2",
        "classification",
        both(deleter_pre("columns", "impute"), pre("features", ["a", "b", "c"])),
        "columns, impute",
    ),
    (
        "pre-classes-count",
        "classification",
        pre("classes", ["a", "b", "c"]),
        "needs 2 distinct classes",
    ),
    ("pre-classes-none", "classification", pre("classes", None), "needs 2 distinct"),
    ("pre-classes-same", "classification", pre("classes", ["a", "a"]), "2 distinct"),
    ("pre-binary-classes", "binary", pre("classes", ["only"]), "1 outputs needs 2"),
    ("pre-task", "classification", pre("task", "clustering"), "unknown task"),
    ("pre-task-list", "classification", pre("task", ["regression"]), "unknown task"),
    ("pre-target", "classification", pre("target", 3), "unknown task or target"),
    ("pre-no-x-mean", "classification", tensor("x_mean", None), "missing x_mean"),
    (
        "pre-x-mean-f32",
        "classification",
        tensor("x_mean", lambda v: v.astype(np.float32)),
        "x_mean is F32",
    ),
    (
        "pre-x-scale-length",
        "classification",
        tensor("x_scale", np.ones(4)),
        r"x_scale is F64 \(4,\)",
    ),
    (
        "pre-x-scale-zero",
        "classification",
        tensor("x_scale", np.array([1.0, 0.0, 1.0])),
        "scales must be positive",
    ),
    (
        "pre-x-scale-nan",
        "classification",
        tensor("x_scale", np.array([1.0, np.nan, 1.0])),
        "x_scale holds NaN",
    ),
    (
        "pre-y-mean-extra",
        "classification",
        tensor("y_mean", np.zeros(2)),
        "unexpected y_mean",
    ),
    ("reg-no-y-scale", "regression", tensor("y_scale", None), "missing y_scale"),
    (
        "reg-y-scale-negative",
        "regression",
        tensor("y_scale", np.array([1.0, -2.0])),
        "scales must be positive",
    ),
    ("reg-with-classes", "regression", pre("classes", ["a", "b"]), "no classes"),
    ("reg-as-classifier", "regression", pre("task", "classification"), "classes"),
    ("pre-without-tensors", "plain", setter("preprocessing", None), None),
]


@pytest.mark.parametrize(
    "base, fn, match", [e[1:] for e in EDITS], ids=[e[0] for e in EDITS]
)
def test_hand_edited_description(tmp_path, base, fn, match):
    d, t = edit(fn)(base)
    path = write_model(tmp_path / "edited.nlt", d, t)
    if match is None:  # setting preprocessing to None on a plain model is a no-op
        assert isinstance(nlayer.load(path), nlayer.Model)
        return
    expect_model_error(path, match, load=load_model)
    expect_model_error(path, match, load=nlayer.load)


def test_the_unedited_bases_load(tmp_path):
    for kind in ("plain", "classification", "binary", "regression"):
        d, t = edit(lambda d, t: None)(kind)
        path = write_model(tmp_path / f"{kind}.nlt", d, t)
        net, p = load_model(path)
        assert (p is None) == (kind == "plain")


def test_description_without_preprocessing_key(tmp_path):
    d, t = saved_parts(base_net())
    del d["preprocessing"]
    path = write_model(tmp_path / "m.nlt", d, t)
    # either refuse it (ModelFileError) or read it as "no preprocessing"
    try:
        net, p = load_model(path)
    except nlayer.ModelFileError as e:
        assert str(e).startswith(f"{path}: ")
    else:
        assert p is None and isinstance(net, nlayer.Network)


@pytest.mark.parametrize(
    "fn, match",
    [
        (
            act(0, {"name": "leaky_relu", "params": {"alpha": 10**400}}),
            "layer 1: activation parameter 'alpha' must be a number",
        ),
        (setter("dtype", ["float64"]), "dtype must be float32 or float64"),
    ],
    ids=["huge-int-param", "dtype-list"],
)
def test_messages_say_what_is_wrong(tmp_path, fn, match):
    d, t = edit(fn)("plain")
    path = write_model(tmp_path / "edited.nlt", d, t)
    expect_model_error(path, match)


@pytest.mark.parametrize(
    "text, match",
    [
        ("{", "not valid JSON"),
        ("", "not valid JSON"),
        ("NaN", "not a JSON object"),
        ("[]", "not a JSON object"),
        ("null", "not a JSON object"),
        ('"nlayer.model"', "not a JSON object"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),  # RecursionError inside
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "not valid JSON"),
        # Python >= 3.11 refuses 5000-digit ints while parsing; 3.10 reads them
        ('{"format": ' + "9" * 5000 + "}", "not valid JSON|not an nlayer model"),
        (json.dumps({"pad": "x" * (1 << 25)}), "implausibly large"),
    ],
    ids=[
        "truncated",
        "empty",
        "nan",
        "list",
        "null",
        "string",
        "deep-list",
        "deep-dict",
        "long-int",
        "huge",
    ],
)
def test_description_that_is_not_a_json_object(tmp_path, text, match):
    _, t = saved_parts(base_net())
    path = write_model(tmp_path / "m.nlt", text, t, raw=True)
    expect_model_error(path, match)


def test_safetensors_without_an_nlayer_description(tmp_path):
    _, t = saved_parts(base_net())
    path = tmp_path / "plain.safetensors"
    path.write_bytes(safetensors_bytes(t))
    expect_model_error(path, "not one written by nlayer")
    path.write_bytes(safetensors_bytes(t, metadata={"other": "{}"}))
    expect_model_error(path, "not one written by nlayer")
    path.write_bytes(safetensors_bytes({}))
    expect_model_error(path, "not one written by nlayer")


def small_model_bytes(tmp_path):
    net = make_net([2, 3, 2], ["tanh", "softmax"], "cross_entropy", "float32")
    path = tmp_path / "small.nlt"
    nlayer.save(net, path, preprocessing=classification_preprocessing(2, ["p", "q"]))
    return path.read_bytes()


def test_truncated_at_every_byte(tmp_path):
    data = small_model_bytes(tmp_path)
    assert len(data) < 2000
    path = tmp_path / "cut.nlt"
    for n in range(len(data)):
        path.write_bytes(data[:n])
        expect_model_error(path)
    path.write_bytes(data)
    load_model(path)  # the whole file still loads


def test_trailing_garbage_is_refused(tmp_path):
    data = small_model_bytes(tmp_path)
    path = tmp_path / "long.nlt"
    path.write_bytes(data + b"\0")
    expect_model_error(path)


def test_every_byte_flipped(tmp_path):
    data = small_model_bytes(tmp_path)
    good_net, good_pre = load_model(tmp_path / "small.nlt")
    good = [*good_net.weights, *good_net.biases, good_pre.x_mean, good_pre.x_scale]
    header_end = 8 + int.from_bytes(data[:8], "little")
    path = tmp_path / "flipped.nlt"
    refused = {"header": 0, "data": 0}
    for i in range(len(data)):
        b = bytearray(data)
        b[i] ^= 0xFF
        path.write_bytes(bytes(b))
        result = load_or_model_error(path)
        region = "header" if i < header_end else "data"
        if result is None:
            refused[region] += 1
            continue
        # the header is ASCII JSON, and an ASCII byte XOR 0xFF is never valid
        # UTF-8: a flip in the length or the header must always be refused
        assert region == "data", f"byte {i} of the header flipped, yet it loaded"
        net, p = result
        arrays = [*net.weights, *net.biases, p.x_mean, p.x_scale]
        changed = sum(
            int(np.sum(a.view(np.uint8) != g.view(np.uint8)))
            for a, g in zip(arrays, good, strict=True)
        )
        # a data byte: exactly one byte of one number changed, and it is finite
        assert changed == 1, (i, changed)
        assert all(np.isfinite(a).all() for a in arrays)
        assert repr(net) == repr(good_net) and p.classes == good_pre.classes
    assert refused["header"] == header_end
    # every tensor carries a CRC-32: a flipped data byte is refused too, even
    # where it would still read as a finite number
    assert refused["data"] == len(data) - header_end


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\0",
        b"\0" * 8,
        b"\0" * 16,
        b"\xff" * 8,
        b"\xff" * 64,
        b"sepal_length,sepal_width,species\n5.1,3.5,setosa\n4.9,3.0,setosa\n",
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0",
        b"PK\x03\x04" + bytes(40),
        (2**63).to_bytes(8, "little") + b"{}",
        (2**64 - 1).to_bytes(8, "little") + b"{}",
        (100).to_bytes(8, "little") + b"{}",
        (2).to_bytes(8, "little") + b"{}",
        (2).to_bytes(8, "little") + b"[]",
        (4).to_bytes(8, "little") + b"null",
        (2).to_bytes(8, "little") + b"\xff\xfe",
        (11).to_bytes(8, "little") + b'{"W1": 1}  ',
        (45).to_bytes(8, "little")
        + b'{"W1":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}'[:45],
        (58).to_bytes(8, "little")
        + b'{"W1":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}  '
        + bytes(8),
        (58).to_bytes(8, "little")
        + b'{"W1":{"dtype":"XYZ","shape":[2],"data_offsets":[0,16]}}  '
        + bytes(16),
        (74).to_bytes(8, "little")
        + b'{"__metadata__":{"nlayer":{"format":1}},"W1":{"dtype":"F64",'
        + b'"shape":[]}}',
        bytes(np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8)),
        pickle.dumps({"W1": np.zeros((2, 2))}),
    ],
    ids=lambda c: repr(c[:12]),
)
def test_not_a_safetensors_file(tmp_path, content):
    path = tmp_path / "model.nlt"
    path.write_bytes(content)
    e = expect_model_error(path)
    assert "nlayer" in e.problem or "file" in e.problem


def test_a_directory_and_a_missing_path(tmp_path):
    expect_model_error(tmp_path, "not a file")
    expect_model_error(tmp_path / "nothing.nlt", "no such file")
    expect_model_error(str(tmp_path / "nothing.nlt"), "no such file")
    link = tmp_path / "dangling.nlt"
    link.symlink_to(tmp_path / "gone.nlt")
    expect_model_error(link, "no such file")


# -- 6. fuzzing: nothing but ModelFileError (or a successful load) ---------------------

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.sampled_from([0, 1, 2, 3, -1, 2**24, 2**24 + 1, 10**30])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(
        [
            "nlayer.model",
            "float32",
            "float64",
            "float16",
            "relu",
            "softmax",
            "leaky_relu",
            "elu",
            "cross_entropy",
            "mse",
            "huber",
            "classification",
            "regression",
        ]
    )
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(["name", "params", "alpha", "delta"]) | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


FUZZ_COUNTS: dict[str, int] = {}


def fuzz_load(directory, name, data):
    FUZZ_COUNTS[name] = FUZZ_COUNTS.get(name, 0) + 1
    path = directory / f"{name}.nlt"
    path.write_bytes(data)
    return load_or_model_error(path)


@FUZZ
@given(data=st.binary(max_size=3000))
def test_fuzz_random_bytes(fuzz_dir, data):
    fuzz_load(fuzz_dir, "bytes", data)


safetensors_dtypes = st.sampled_from(
    ["F64", "F32", "F16", "BF16", "I64", "I32", "U8", "BOOL", "F8_E4M3", "XYZ", 1]
)
header_entries = (
    st.fixed_dictionaries(
        {
            "dtype": safetensors_dtypes,
            "shape": st.lists(st.integers(-2, 2**40), max_size=3) | json_values,
            "data_offsets": st.lists(st.integers(-1, 2**40), max_size=3) | json_values,
        }
    )
    | json_values
)
headers = st.dictionaries(
    st.sampled_from(["W1", "b1", "__metadata__", "x_mean"]) | st.text(max_size=4),
    header_entries
    | st.dictionaries(
        st.sampled_from(["nlayer"]) | st.text(max_size=4),
        st.text(max_size=20) | json_values.map(json.dumps),
        max_size=2,
    ),
    max_size=4,
)


@functools.cache
def real_header_and_body():
    """The parsed header and the data bytes of a small, good model file."""
    with tempfile.TemporaryDirectory() as d:
        data = small_model_bytes(Path(d))
    n = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + n]), data[8 + n :]


small_ints = st.integers(-1, 40) | st.sampled_from([2**31, 2**63 - 1, 2**64])


@st.composite
def edited_real_header(draw):
    """A good model's safetensors header with some fields replaced."""
    header, body = real_header_and_body()
    header = copy.deepcopy(header)
    touched = set()
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(sorted(header)))
        entry, pristine = header[name], name not in touched
        touched.add(name)
        if name == "__metadata__":
            value = draw(st.text(max_size=20) | json_values.map(json.dumps))
            entry[draw(st.sampled_from(["nlayer", "other"]))] = value
            continue
        field = draw(
            st.sampled_from(
                ["reshape", "retype", "dtype", "shape", "data_offsets", "delete"]
            )
        )
        if field in ("reshape", "retype") and not pristine:
            field = "dtype"
        if field == "reshape":  # the same bytes, another shape: still valid
            size = int(np.prod(entry["shape"]))
            entry["shape"] = draw(st.sampled_from([[size], [1, size], [size, 1], []]))
            if entry["shape"] == [] and size != 1:
                entry["shape"] = entry["shape"] + [size]
        elif field == "retype":  # the same width, another type: still valid
            same_width = {"F64": ["I64", "U64"], "F32": ["I32", "U32"]}
            entry["dtype"] = draw(st.sampled_from(same_width[entry["dtype"]]))
        elif field == "delete":
            del header[name]
        elif field == "dtype":
            entry["dtype"] = draw(safetensors_dtypes)
        else:
            entry[field] = draw(st.lists(small_ints, max_size=3) | json_values)
    if draw(st.integers(0, 3)) == 3:  # a new entry, perhaps overlapping the others
        header[draw(st.text(min_size=1, max_size=4))] = draw(header_entries)
    return header, draw(st.sampled_from([body, body, body[:-8], body + bytes(8)]))


@st.composite
def garbled_headers(draw):
    """An 8-byte length and a (maybe garbled) JSON header, then maybe data."""
    if draw(st.booleans()):
        header, body = draw(edited_real_header())
        header = json.dumps(header).encode()
    else:
        header = json.dumps(draw(headers | json_values)).encode()
        body = draw(st.binary(max_size=64) | st.just(bytes(16)))
    if draw(st.booleans()):  # garble: cut, splice or overwrite some bytes
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(header)))
            j = draw(st.integers(i, min(len(header), i + 8)))
            header = header[:i] + draw(st.binary(max_size=4)) + header[j:]
    if draw(st.booleans()):  # pad to 8 bytes, as safetensors does
        header += b" " * (-len(header) % 8)
    n = len(header) + draw(st.sampled_from([0, 0, 0, -1, 1, 8, -8, 2**40]))
    return max(n, 0).to_bytes(8, "little") + header + body


@FUZZ
@given(data=garbled_headers())
def test_fuzz_garbled_headers(fuzz_dir, data):
    fuzz_load(fuzz_dir, "header", data)


NP_DTYPES = ["float64", "float32", "float16", "int8", "int32", "int64", "uint8", "bool"]
TENSOR_NAMES = ["W1", "b1", "W2", "b2", "W3", "b3", "x_mean", "x_scale", "y_mean"]


def random_tensor(rng, dtype, shape):
    """An array (0-d included) of ``dtype``; floats sometimes hold NaN or inf."""
    if dtype == "bool":
        return np.asarray(rng.random(shape) < 0.5)
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)
        v = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        return np.asarray(v, dtype=dtype)
    v = np.asarray(rng.normal(scale=10.0 ** rng.integers(-3, 4), size=shape))
    if v.size and rng.random() < 0.3:  # a special value somewhere
        v.flat[rng.integers(v.size)] = rng.choice([np.nan, np.inf, -np.inf, 0.0, -0.0])
    with np.errstate(over="ignore"):
        return v.astype(dtype)


#: mostly keys past the format check, so that most inputs get deep into loading
MUTATED_KEYS = st.sampled_from(
    [
        *sorted(DESCRIPTION_KEYS - {"format", "format_version"}) * 4,
        "format",
        "format_version",
    ]
)
DELETABLE_KEYS = st.sampled_from(sorted(DESCRIPTION_KEYS))


def mutate_description(draw, d):
    for key in draw(st.lists(MUTATED_KEYS, min_size=1, max_size=3)):
        how = draw(st.sampled_from(["value", "nested", "nested"]))
        if how == "nested" and isinstance(d.get(key), (list, dict)) and d[key]:
            inner = d[key]
            slots = sorted(inner) if isinstance(inner, dict) else range(len(inner))
            inner[draw(st.sampled_from(slots))] = draw(json_values)
        else:
            d[key] = draw(json_values)


def mutate_params(draw, d):
    """An activation's or the loss's parameters get a random JSON scalar."""
    acts = d.get("activations")
    acts = acts if isinstance(acts, list) else []
    entry = draw(st.sampled_from([*acts, d.get("loss")]))
    if isinstance(entry, dict) and isinstance(entry.get("params"), dict):
        key = draw(st.sampled_from(["alpha", "delta", "x"]))
        entry["params"][key] = draw(json_scalars)


def mutate_tensors(draw, t):
    """Drop, add or replace (with NaN, inf, other dtypes and shapes) tensors."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(TENSOR_NAMES) | st.text(min_size=1, max_size=4))
        if draw(st.booleans()) and name in t:
            if draw(st.booleans()):
                del t[name]
            else:  # same name, shape and dtype; new values (NaN, inf, ...)
                t[name] = random_tensor(rng, t[name].dtype.name, t[name].shape)
        else:
            dtype = draw(st.sampled_from(NP_DTYPES))
            shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
            t[name] = random_tensor(rng, dtype, shape)


@st.composite
def fuzzed_models(draw):
    """Valid safetensors: a good model's description and tensors, mutated.

    One kind of damage at a time is common, so that inputs get past the first
    check; "mixed" piles them up, "random" replaces the whole description.
    """
    kind = draw(st.sampled_from(["plain", "classification", "binary", "regression"]))
    d, t = edit(lambda d, t: None)(kind)
    mode = draw(
        st.sampled_from(
            ["delete", "description", "params", "tensors", "mixed", "random"]
        )
    )
    if mode == "delete":
        d.pop(draw(DELETABLE_KEYS))
    if mode in ("description", "mixed"):
        mutate_description(draw, d)
    if mode in ("params", "mixed"):
        mutate_params(draw, d)
    if mode in ("tensors", "mixed"):
        mutate_tensors(draw, t)
    if mode == "random":
        d = draw(st.dictionaries(MUTATED_KEYS, json_values))
        if draw(st.booleans()):
            mutate_tensors(draw, t)
    return safetensors_bytes(t, metadata={"nlayer": json.dumps(d)})


@FUZZ
@given(data=fuzzed_models())
def test_fuzz_valid_containers_with_random_descriptions(fuzz_dir, data):
    fuzz_load(fuzz_dir, "container", data)


def test_zz_fuzz_ran(fuzz_dir):
    """The three fuzz tests above ran their examples (run in file order)."""
    for name in ("bytes", "header", "container"):
        if name in FUZZ_COUNTS:  # absent when the test was deselected
            assert FUZZ_COUNTS[name] >= 100, FUZZ_COUNTS


@pytest.mark.parametrize(
    "dropout, match",
    [
        ([1.5, 0.0], r"dropout of hidden layer 1 must be in \[0, 1\)"),
        ([0.1], r"one rate or one per hidden layer \(2\)"),
        ("0.5", "dropout must be a list of rates"),
        ([True, 0.0], "dropout must be a list of rates"),
    ],
)
def test_a_bad_dropout_in_the_file_is_refused(tmp_path, dropout, match):
    net = make_net([3, 4, 4, 1], ["tanh", "tanh", "linear"])
    description, tensors = saved_parts(net)
    description["dropout"] = dropout
    expect_model_error(write_model(tmp_path / "m.nlt", description, tensors), match)
