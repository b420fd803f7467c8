"""Damaged, hand-edited and foreign files: each one raises
:class:`nlayer.ModelFileError` naming the file and the problem, never another
exception.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save as safetensors_bytes

import nlayer
from helpers import (
    RNG,
    base_net,
    edit,
    expect_model_error,
    load_model,
    load_or_model_error,
    make_net,
    saved_parts,
    small_model_bytes,
)


def write_model(path, description, tensors, raw=False):
    """A safetensors file with ``description`` (JSON-encoded unless raw) as metadata."""
    text = description if raw else json.dumps(description)
    contiguous = {k: np.require(v, requirements="C") for k, v in tensors.items()}
    Path(path).write_bytes(safetensors_bytes(contiguous, metadata={"nlayer": text}))
    return path


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
