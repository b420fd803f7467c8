"""Activations and losses on every array backend: NumPy, array-api-strict (on its
default device and on a second one) and PyTorch. Each result must be an array
of the input's library, on its device and in its dtype, and equal NumPy's.

Equal means |got − NumPy| ≤ 1e-13·max(|NumPy|, 1) in float64: relative for
values of magnitude 1 and above, absolute below, where formulas such as
1 − tanh²z or 1 + tanh(u) cancel and one unit in the last place of a library's
tanh or exp (PyTorch's differ from NumPy's there) is all the difference.
The worst differences seen are printed at the end of the module's tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU, get_activation
from nlayer.backend import device_of, namespace, to_numpy
from nlayer.losses import LOSSES, get_loss

RTOL = 1e-13  # float64
RTOL32 = 1e-5  # float32, against NumPy computing in float32


@dataclass
class Backend:
    """An array library and the device its arrays are made on."""

    name: str
    xp: Any
    device: Any = None

    def asarray(self, A: np.ndarray) -> Any:
        if self.xp is np:
            return A.copy()  # no alias: in-place methods must not touch the reference
        if self.device is None:
            return self.xp.asarray(A)
        return self.xp.asarray(A, device=self.device)


def _make_backend(name: str) -> Backend:
    if name == "numpy":
        return Backend(name, np)
    if name.startswith("array_api_strict"):
        xps = pytest.importorskip("array_api_strict")
        device = xps.Device("device1") if name.endswith("device1") else None
        return Backend(name, xps, device)
    torch = pytest.importorskip("torch")
    return Backend(name, torch)


BACKEND_NAMES = ["numpy", "array_api_strict", "array_api_strict:device1", "torch"]


@pytest.fixture(params=BACKEND_NAMES)
def backend(request: pytest.FixtureRequest) -> Backend:
    return _make_backend(request.param)


ACTS = [*(f() for f in ACTIVATIONS.values()), LeakyReLU(alpha=0.2), ELU(alpha=0.5)]
ACT_IDS = [*ACTIVATIONS, "leaky_relu(0.2)", "elu(0.5)"]

M, N = 48, 5


def _z() -> np.ndarray:
    """Float64 pre-activations: normal values, values near 0, large ones."""
    rng = np.random.default_rng(7)
    Z = rng.standard_normal((M, N)) * 3
    Z[0] = [0.0, 1e-12, -1e-12, 1e-300, -0.0]
    Z[1] = [700.0, -700.0, 30.0, -30.0, 5.0]
    Z[2] = [-40.0, 40.0, -9.0, 9.0, -1.2784645]  # last: near SiLU′'s root
    Z[3] = [1e-8, -1e-8, 0.5, -0.5, 2.0]
    return Z


#: the worst differences seen, per backend: (relative where NumPy's value is
#: non-zero, the tested measure |got − NumPy| / max(|NumPy|, 1), where)
WORST: dict[str, dict[str, tuple[float, str]]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_worst(request: pytest.FixtureRequest):
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None or not WORST:
        return
    with capture.global_and_fixture_disabled():  # what capsys.disabled() does
        reporter.write_line("")
        reporter.write_line("test_backends_maths: worst float64 differences from NumPy")
        for name, worst in WORST.items():
            rel, rel_at = worst.get("relative", (0.0, "-"))
            tested, tested_at = worst.get("tested", (0.0, "-"))
            reporter.write_line(
                f"  {name:24s} relative {rel:.3g} ({rel_at}); "
                f"|diff|/max(|NumPy|, 1) {tested:.3g} ({tested_at})"
            )


def _note(backend: Backend, kind: str, value: float, where: str) -> None:
    worst = WORST.setdefault(backend.name, {})
    if value > worst.get(kind, (-1.0, ""))[0]:
        worst[kind] = (value, where)


def _check_array(backend: Backend, got: Any, like: Any, what: str) -> np.ndarray:
    """``got`` is an array of ``like``'s library, device and dtype; as NumPy."""
    assert type(got) is type(like), f"{what}: {type(got)} from {type(like)}"
    assert namespace(got) is namespace(like), what
    assert device_of(got) == device_of(like), f"{what}: on {device_of(got)}"
    assert got.dtype == like.dtype, f"{what}: {got.dtype}, not {like.dtype}"
    return to_numpy(got)


def _same(backend: Backend, got: Any, ref: Any, like: Any, what: str) -> None:
    """``got`` (a backend array or a float) equals NumPy's ``ref`` (float64)."""
    if isinstance(ref, float):
        assert type(got) is float, f"{what}: {type(got)}, not a Python float"
        got_np, ref_np = np.asarray(got), np.asarray(ref)
    else:
        got_np, ref_np = _check_array(backend, got, like, what), np.asarray(ref)
        assert got_np.shape == ref_np.shape, what
    diff = np.abs(got_np - ref_np)
    tested = diff / np.maximum(np.abs(ref_np), 1.0)
    nonzero = ref_np != 0
    relative = np.where(nonzero, diff / np.where(nonzero, np.abs(ref_np), 1.0), 0.0)
    relative = np.where(~nonzero & (diff > 0), np.inf, relative)
    _note(backend, "relative", float(relative.max()), what)
    _note(backend, "tested", float(tested.max()), what)
    bad = ~(tested <= RTOL)  # NaN is bad too
    assert not bad.any(), (
        f"{what}: differs from NumPy by {float(np.nanmax(tested)):.3g} "
        f"(relative to max(|value|, 1)); NumPy {ref_np[bad][:3]}, got {got_np[bad][:3]}"
    )


def _close32(got: Any, ref: np.ndarray, what: str) -> None:
    got_np = to_numpy(got)
    assert np.all(np.abs(got_np - ref) <= RTOL32 * np.maximum(np.abs(ref), 1)), what


# ---------------------------------------------------------------- activations


@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
def test_activation_matches_numpy(backend: Backend, act: Any) -> None:
    Z = _z()
    dH = np.random.default_rng(1).standard_normal(Z.shape)
    H = act.forward(Z)
    z, dh = backend.asarray(Z), backend.asarray(dH)
    name = act.name
    h = act.forward(z)
    _same(backend, h, H, z, f"{name}.forward")
    _same(backend, act.backward(dh, z, h), act.backward(dH, Z, H), z, f"{name}.bwd")
    if act.elementwise:
        _same(backend, act.derivative(z), act.derivative(Z), z, f"{name}.derivative")
        D = act.derivative(Z, H)
        _same(backend, act.derivative(z, h), D, z, f"{name}.derivative(z, h)")
    else:
        with pytest.raises(TypeError, match="no element-wise derivative"):
            act.derivative(z)


@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
def test_activation_in_place_methods_fall_back_off_numpy(
    backend: Backend, act: Any
) -> None:
    """forward_into and backward_into: NumPy writes in place; any other library
    gets new arrays from forward and backward, its inputs untouched."""
    Z = _z()
    dH = np.random.default_rng(2).standard_normal(Z.shape)
    H = act.forward(Z)
    z, h, dh = backend.asarray(Z), backend.asarray(H), backend.asarray(dH)
    out = backend.xp.zeros_like(z)
    got = act.forward_into(z, out)
    _same(backend, got, H, z, f"{act.name}.forward_into")
    got = act.backward_into(dh, z, h)
    _same(backend, got, act.backward(dH, Z, H), z, f"{act.name}.backward_into")
    if backend.xp is not np:
        assert np.array_equal(to_numpy(dh), dH), "backward_into changed dH"
        assert not np.any(to_numpy(out)), "forward_into wrote into out"


@pytest.mark.parametrize("act", ACTS, ids=ACT_IDS)
def test_activation_float32_stays_float32(backend: Backend, act: Any) -> None:
    Z = np.clip(_z(), -20, 20).astype(np.float32)  # e^z finite in float32
    H = act.forward(Z)
    z = backend.asarray(Z)
    h = act.forward(z)
    dz = act.backward(backend.xp.ones_like(z), z, h)
    for got, ref, what in [
        (h, H, "forward"),
        (dz, act.backward(np.ones_like(Z), Z, H), "bwd"),
    ]:
        _check_array(backend, got, z, f"{act.name}.{what} float32")
        _close32(got, ref, f"{act.name}.{what} float32")
    if act.elementwise:
        d = act.derivative(z)
        _check_array(backend, d, z, f"{act.name}.derivative float32")
        _close32(d, act.derivative(Z), f"{act.name}.derivative float32")


def test_registered_activations_are_all_tested() -> None:
    assert {a.name for a in ACTS} == set(ACTIVATIONS)
    assert all(
        type(get_activation(n)) is type(a)
        for n, a in zip(ACTIVATIONS, ACTS, strict=False)
    )


# ---------------------------------------------------------------------- losses


def _loss_data(loss: Any, dtype: Any = np.float64) -> tuple[np.ndarray, ...]:
    """Logits Z, predictions Ŷ (the output activation of Z, or values near the
    targets) and targets Y: one-hot rows, 0/1, counts or normal values."""
    rng = np.random.default_rng(3)
    Z = _z()
    if dtype == np.float32:
        Z = np.clip(Z, -20, 20)
    Y = loss.example_targets(rng, Z.shape)
    if loss.fused_with:
        Y_hat = get_activation(loss.output).forward(Z)
    else:
        Y_hat = Y + rng.standard_normal(Z.shape) * rng.choice([1e-9, 0.5, 3.0], Z.shape)
        Y_hat[0] = Y[0]  # zero residuals: sign 0, no NaN
    return tuple(A.astype(dtype) for A in (Z, Y_hat, Y))


LOSS_NAMES = list(LOSSES)


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_matches_numpy(backend: Backend, name: str) -> None:
    loss = get_loss(name)
    Z, Y_hat, Y = _loss_data(loss)
    z, y_hat, y = (backend.asarray(A) for A in (Z, Y_hat, Y))
    loss.check_targets(y)  # valid targets pass on every backend
    _same(backend, loss.samples(y_hat, y), loss.samples(Y_hat, Y), y, f"{name}.samples")
    _same(backend, loss.value(y_hat, y), loss.value(Y_hat, Y), y, f"{name}.value")
    G = loss.sample_gradient(Y_hat, Y)
    _same(backend, loss.sample_gradient(y_hat, y), G, y, f"{name}.sample_gradient")
    if not loss.fused_with:
        with pytest.raises(TypeError, match="not fused"):
            loss.fused_delta(y_hat, y)
        return
    D = loss.fused_delta(Y_hat, Y)
    _same(backend, loss.fused_delta(y_hat, y), D, y, f"{name}.fused_delta")
    out = backend.xp.zeros_like(y)
    got = loss.fused_delta(y_hat, y, out)
    _same(backend, got, D, y, f"{name}.fused_delta(out=)")
    if backend.xp is np:
        assert got is out  # NumPy's fast path writes into out
    else:
        assert not np.any(to_numpy(out)), "out= is NumPy's only"
    S = loss.samples_from_logits(Z, Y)
    _same(backend, loss.samples_from_logits(z, y), S, y, f"{name}.samples_from_logits")
    V = loss.value_from_logits(Z, Y)
    _same(backend, loss.value_from_logits(z, y), V, y, f"{name}.value_from_logits")


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_loss_float32_stays_float32(backend: Backend, name: str) -> None:
    loss = get_loss(name)
    Z, Y_hat, Y = _loss_data(loss, np.float32)
    z, y_hat, y = (backend.asarray(A) for A in (Z, Y_hat, Y))
    checks = [
        (loss.samples(y_hat, y), loss.samples(Y_hat, Y), "samples"),
        (loss.sample_gradient(y_hat, y), loss.sample_gradient(Y_hat, Y), "gradient"),
    ]
    if loss.fused_with:
        checks += [
            (loss.fused_delta(y_hat, y), loss.fused_delta(Y_hat, Y), "fused_delta"),
            (loss.samples_from_logits(z, y), loss.samples_from_logits(Z, Y), "logits"),
        ]
        value = loss.value_from_logits(z, y)
        assert type(value) is float
        assert abs(value - loss.value_from_logits(Z, Y)) <= RTOL32 * max(abs(value), 1)
    for got, ref, what in checks:
        _check_array(backend, got, y, f"{name}.{what} float32")
        _close32(got, ref, f"{name}.{what} float32")
    value = loss.value(y_hat, y)
    assert type(value) is float
    assert abs(value - loss.value(Y_hat, Y)) <= RTOL32 * max(abs(value), 1)


BAD_TARGETS = [
    ("cross_entropy", [[0.5, 0.6], [1.0, 0.0]]),  # a row summing to 1.1
    ("cross_entropy", [[1.5, -0.5], [1.0, 0.0]]),  # outside [0, 1]
    ("binary_cross_entropy", [[-0.25, 1.0]]),
    ("binary_cross_entropy", [[0.0, 2.0]]),
    ("poisson", [[1.0], [-2.5]]),
]


@pytest.mark.parametrize(("name", "targets"), BAD_TARGETS)
def test_check_targets_says_the_same_on_every_backend(
    backend: Backend, name: str, targets: list
) -> None:
    Y = np.asarray(targets, dtype=np.float64)
    loss = get_loss(name)
    with pytest.raises(ValueError) as expected:
        loss.check_targets(Y)
    with pytest.raises(ValueError) as got:
        loss.check_targets(backend.asarray(Y))
    assert str(got.value) == str(expected.value)


def test_to_numpy_reads_every_device() -> None:
    """nlayer.backend.to_numpy reads array-api-strict's second device too."""
    xps = pytest.importorskip("array_api_strict")
    A = np.arange(6.0).reshape(2, 3)
    on_device1 = xps.asarray(A, device=xps.Device("device1"))
    assert np.array_equal(to_numpy(on_device1), A)
