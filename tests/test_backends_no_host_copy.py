"""No silent trip to the host: on a backend other than NumPy, training,
prediction, gradients and losses compute on the arrays' own device.

NumPy functions accept PyTorch CPU tensors and array-api-strict arrays on its
default device by copying them into NumPy arrays, so a stray ``np.exp(z)``
would pass every equality test there and fail only on a GPU. Here that copy
is an error: array-api-strict's second device ("device1") refuses to become a
NumPy array, and PyTorch tensors get an ``__array__`` that raises. nlayer's
explicit host reads (:func:`nlayer.backend.to_numpy`: history, checkpoints,
model files) go through other doors and stay allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import nlayer
from nlayer.activations import ACTIVATIONS
from nlayer.backend import device_of, library_of, to_numpy
from nlayer.losses import LOSSES, get_loss
from nlayer.optimizers import OPTIMIZERS

strict = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")


def _no_array(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a PyTorch tensor was silently converted to NumPy")


@pytest.fixture(params=["strict-device1", "torch-guarded"])
def place(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Any]]:
    if request.param == "strict-device1":
        yield ("array_api_strict", strict.Device("device1"))
        return
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.Tensor, "__array__", _no_array)
    yield ("torch", "cpu")


def test_the_guards_catch_a_host_copy(place: tuple[str, Any]) -> None:
    net = nlayer.Network([2, 1], ["linear"], loss="mse").to(*place)
    A = net.on_device(np.ones((2, 2)))
    with pytest.raises((AssertionError, RuntimeError, TypeError)):
        np.exp(A)
    assert np.array_equal(to_numpy(A), np.ones((2, 2)))  # the explicit read


def _where(A: Any, net: nlayer.Network) -> None:
    assert library_of(A) == net.backend, type(A)
    assert device_of(A) == net.device, device_of(A)
    assert A.dtype == net.xp.float64


def _targets(loss: str, m: int, n: int) -> np.ndarray:
    return get_loss(loss).example_targets(np.random.default_rng(5), (m, n))


HIDDEN = [name for name, f in ACTIVATIONS.items() if f().elementwise]


@pytest.mark.parametrize("loss", list(LOSSES))
def test_every_loss_and_activation_trains_where_the_arrays_are(
    place: tuple[str, Any], loss: str
) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4))
    Y = _targets(loss, 40, 3)
    output = get_loss(loss).output
    n_hidden = len(HIDDEN)
    net = nlayer.Network(
        [4, *[5] * n_hidden, 3], [*HIDDEN, output], loss=loss, seed=2, dropout=0.1
    ).to(*place)
    Xd, Yd = net.on_device(X), net.on_device(Y)
    w = net.on_device(rng.uniform(0.5, 2.0, 40))
    history = net.fit(
        Xd, Yd, sample_weight=w, epochs=2, optimizer="adam", lr=0.01, batch_size=16,
        validation_fraction=0.25, clip_norm=1.0,
    )  # fmt: skip
    assert len(history.loss) == 2 and all(np.isfinite(history.loss))
    _where(net.params, net)
    Y_hat = net.forward(Xd)
    _where(Y_hat, net)
    assert type(net.loss(Xd, Yd, w)) is float
    dW, db = net.gradients(Xd, Yd, w)
    for A in (*dW, *db):
        _where(A, net)


@pytest.mark.parametrize("optimizer", [o for o in OPTIMIZERS if o != "lbfgs"])
def test_every_optimizer_steps_where_the_arrays_are(
    place: tuple[str, Any], optimizer: str
) -> None:
    rng = np.random.default_rng(1)
    X = rng.normal(size=(32, 3))
    Y = np.eye(2)[rng.integers(0, 2, 32)]
    net = nlayer.Network(
        [3, 6, 2], ["tanh", "softmax"], loss="cross_entropy", seed=3
    ).to(*place)
    options: dict[str, Any] = {"schedule": "cosine", "weight_decay": 1e-3}
    if optimizer == "sgd":
        options.update(momentum=0.9, nesterov=True)
    net.fit(
        net.on_device(X), net.on_device(Y), epochs=3, optimizer=optimizer, lr=0.01,
        batch_size=8, validation_data=(net.on_device(X), net.on_device(Y)),
        early_stopping=True, patience=1, **options,
    )  # fmt: skip
    _where(net.params, net)


def test_lbfgs_says_it_runs_on_numpy(place: tuple[str, Any]) -> None:
    net = nlayer.Network([3, 1], ["linear"], loss="mse").to(*place)
    X = net.on_device(np.ones((4, 3)))
    with pytest.raises(ValueError, match="lbfgs.*runs on NumPy arrays"):
        net.fit(X, net.on_device(np.ones((4, 1))), epochs=1, optimizer="lbfgs")
