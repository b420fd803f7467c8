"""Fuzzing the model and checkpoint loaders: random, mutated and well-formed but
hostile files. The documented error is the only exception allowed, and no input
may hang or blow up memory.

CI runs a short version; `pytest -m slow tests/test_fuzz.py` runs 10 000
inputs, and `python tests/fuzz_atheris.py -runs=N` runs atheris where it
installs.
"""

import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nlayer
from fuzz_loaders import NET, load_both, seeds
from nlayer import safefile

DIR = Path(tempfile.mkdtemp(prefix="nlayer-fuzz-"))
SEEDS = seeds(DIR)
INPUT = DIR / "input.safetensors"

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def hostile_files(draw):
    kind = draw(
        st.sampled_from(
            ["random", "mutated", "truncated", "header", "described", "checkpoint-like"]
        )
    )
    base = SEEDS[draw(st.sampled_from(sorted(SEEDS)))]
    if kind == "random":
        return draw(st.binary(max_size=2048))
    if kind == "mutated":
        data = bytearray(base)
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
        return bytes(data)
    if kind == "truncated":
        return base[: draw(st.integers(0, len(base) - 1))]
    if kind == "header":  # a plausible length and a hostile JSON header
        header = json.dumps(draw(json_values)).encode()
        claimed = draw(st.sampled_from([len(header), 2**40, 0, len(header) + 7]))
        return struct.pack("<Q", claimed) + header + draw(st.binary(max_size=64))
    # well-formed containers with valid checksums: the descriptions must be
    # refused by nlayer's own checks, not by the container's
    description = json.loads(json.loads(_metadata(base))["nlayer"])
    if kind == "checkpoint-like":
        description["format"] = "nlayer.checkpoint"
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from(sorted(description) + ["extra"]))
        description[key] = draw(json_values)
    n = draw(st.integers(0, 40))
    dtype = draw(st.sampled_from([np.float32, np.float64, np.int64, np.uint8]))
    tensors = {
        draw(st.sampled_from(["params", "W1", "b1", "optimizer.M", "x"])): np.arange(
            n, dtype=dtype
        )
    }
    path = DIR / "described.safetensors"
    try:
        safefile.write_file(path, tensors, description)
    except ValueError:  # a description JSON cannot carry (NaN): not a file
        return b""
    return path.read_bytes()


def _metadata(data: bytes) -> str:
    n = struct.unpack("<Q", data[:8])[0]
    return json.dumps(json.loads(data[8 : 8 + n])["__metadata__"])


def fuzz(examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=2000,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=hostile_files())
    def one(data):
        INPUT.write_bytes(data)
        load_both(INPUT)  # anything but the documented error fails the test

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    one()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 256, f"peak memory grew by {grown_mb:.0f} MB while fuzzing"


def test_the_seeds_load():
    INPUT.write_bytes(SEEDS["model"])
    assert np.array_equal(
        safefile.read_file(
            INPUT,
            lambda d: {
                "W1": ("F64", (3, 4)),
                "b1": ("F64", (4,)),
                "W2": ("F64", (4, 2)),
                "b2": ("F64", (2,)),
            },
        )[1]["W1"],
        NET.weights[0],
    )


def test_fuzz_loaders_short():
    fuzz(500)


@pytest.mark.slow
def test_fuzz_loaders_10000():
    fuzz(10_000)


def test_atheris_short():
    pytest.importorskip("atheris", reason="atheris not installed: pip install atheris")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    r = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).parent / "fuzz_atheris.py"),
            "-runs=5000",
            "-max_len=4096",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Done 5000 runs" in r.stderr


# -- the checkpoint reader, field by field ---------------------------------------------

CHECKPOINT_FIELDS = [
    ("epoch",),
    ("optimizer", "t"),
    ("optimizer", "name"),
    ("optimizer", "state"),
    ("optimizer", "settings"),
    ("optimizer", "settings", "lr"),
    ("optimizer", "settings", "beta1"),
    ("early_stopping", "best"),
    ("early_stopping", "waited"),
    ("history", "loss"),
    ("history", "grad_norms"),
    ("history", "best_epoch"),
    ("history", "lr"),
    ("rng",),
    ("rng", "state"),
    ("rng_start", "bit_generator"),
    ("has_best_params",),
    ("network", "dtype"),
    ("data",),
]
hostile_numbers = st.sampled_from(
    [-1, -12, 0, 1, 2, 10**400, 2**53 + 1, 1.5, -0.0, 1e308, "3", None, True, [], {}]
)


@st.composite
def edited_checkpoints(draw):
    """The seed checkpoint with nested fields set to hostile values, written
    with fresh, valid checksums: only nlayer's own checks stand in the way."""
    data = SEEDS["checkpoint"]
    description = json.loads(json.loads(_metadata(data))["nlayer"])
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + n])
    tensors = {
        name: np.frombuffer(
            data[8 + n + e["data_offsets"][0] : 8 + n + e["data_offsets"][1]],
            dtype=np.float64,
        )
        for name, e in header.items()
        if name != "__metadata__"
    }
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(CHECKPOINT_FIELDS))
        target = description
        for key in path[:-1]:
            target = target.setdefault(key, {}) if isinstance(target, dict) else {}
        if isinstance(target, dict):
            target[path[-1]] = draw(hostile_numbers | json_values)
    return description, tensors


def test_fuzz_checkpoint_fields_short():
    fuzz_checkpoints(300)


@pytest.mark.slow
def test_fuzz_checkpoint_fields_3000():
    fuzz_checkpoints(3000)


def fuzz_checkpoints(examples: int) -> None:
    from nlayer import checkpoints

    X = np.random.default_rng(0).standard_normal((8, 3))
    Y = np.eye(2)[[0, 1] * 4]

    @settings(
        max_examples=examples,
        deadline=5000,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(case=edited_checkpoints())
    def one(case):
        description, tensors = case
        directory = DIR / "edited"
        directory.mkdir(exist_ok=True)
        for old in directory.glob("checkpoint-*"):
            old.unlink()
        path = checkpoints.path_for(directory, 2)
        try:
            safefile.write_file(path, tensors, description)
        except (ValueError, TypeError):
            return  # JSON cannot carry it (NaN, a huge float): no such file
        try:
            checkpoints.load_checkpoint(path, NET)
        except (nlayer.ModelFileError, safefile.WrongFileError):
            return
        # it loaded: resuming from it ends in a result or a clear refusal
        try:
            NET.copy().fit(
                X, Y, epochs=3, optimizer="adam", checkpoint_dir=directory, resume=True
            )
        except ValueError:
            pass

    one()
