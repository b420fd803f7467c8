"""Safe model files as written: save then load gives the same network, bit for
bit (every registered activation and loss, float32 and float64, with and without
preprocessing), and the file is the documented layout: safetensors tensors plus
a versioned JSON description, no pickle.
"""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
from safetensors import safe_open

import nlayer
from helpers import (
    DESCRIPTION_KEYS,
    RNG,
    X,
    assert_same_network,
    classification_preprocessing,
    expect_model_error,
    load_model,
    make_net,
    parts,
    regression_preprocessing,
)
from nlayer import io
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU
from nlayer.data import Preprocessing
from nlayer.losses import LOSSES, Huber

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


# -- 3. io.write_file and io.read_file, the container under every file -----------------


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
