"""Fuzzing the model loader with hypothesis: random bytes, garbled safetensors
headers, and valid containers with mutated descriptions and tensors either load
or raise :class:`nlayer.ModelFileError` naming the file, nothing else.

The longer fuzz of the model and checkpoint loaders is tests/test_fuzz.py.
"""

from __future__ import annotations

import copy
import functools
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save as safetensors_bytes

from helpers import DESCRIPTION_KEYS, edit, load_or_model_error, small_model_bytes

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
