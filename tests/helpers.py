"""Helpers several test files share: run nlayer as a user does and write CSV
(the command-line tests); build, save, inspect and damage model files (the
test_io_*.py files)."""

import copy
import csv
import functools
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from safetensors import safe_open

import nlayer
from nlayer.activations import LeakyReLU
from nlayer.data import Preprocessing


def nlayer_cmd(*args, cwd, check_rc=0, timeout=120, stdin=None):
    """Run ``nlayer ARGS`` in a fresh process; assert its exit code (unless None)."""
    result = subprocess.run(
        [sys.executable, "-m", "nlayer", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


def write_csv(path, header, rows, **dialect):
    with open(path, "w", newline="", encoding=dialect.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, **dialect)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_model(path):
    """(network, preprocessing) of a model file."""
    model = nlayer.load(path)
    return model.network, model.preprocessing


def one_line_error(r, *fragments):
    """The run failed with one line on stderr holding every fragment."""
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# -- model files: shared by the test_io_*.py files -------------------------------------

# one stream for every file, drawn once: X is the same in each of them
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


class Cube:
    """A custom activation: forward z³, derivative 3z²."""

    name = "cube_io_test"

    def forward(self, z):
        return z**3

    def derivative(self, z, h=None):
        return 3 * z**2


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


def small_model_bytes(tmp_path):
    net = make_net([2, 3, 2], ["tanh", "softmax"], "cross_entropy", "float32")
    path = tmp_path / "small.nlt"
    nlayer.save(net, path, preprocessing=classification_preprocessing(2, ["p", "q"]))
    return path.read_bytes()
