"""Custom activations and losses in model files: only names registered with
``nlayer.register_activation`` / ``nlayer.register_loss`` save and load, and a
registered name must rebuild exactly what was saved.
"""

from __future__ import annotations

import contextlib
import os

import numpy as np
import pytest

import nlayer
from helpers import (
    RNG,
    Cube,
    X,
    assert_same_network,
    expect_model_error,
    make_net,
    parts,
)
from nlayer.activations import ACTIVATIONS
from nlayer.losses import LOSSES


@contextlib.contextmanager
def registered(registry_fn, registry, name, factory):
    """Register ``name`` for the duration of a with-block, then remove it."""
    registry_fn(name, factory)
    try:
        yield
    finally:
        registry.pop(name, None)


# Cube, the plain custom activation, is in helpers.py: test_io_atomic.py uses
# it too.


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
