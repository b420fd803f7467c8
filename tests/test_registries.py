"""The registries decide: a new activation or loss is one class and one
registry line, and fit, the estimators and the command line's choices follow
without an edit anywhere else."""

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import nlayer
from nlayer.activations import ACTIVATIONS, Activation, register_activation
from nlayer.losses import LOSSES, Loss, register_loss


@dataclass(frozen=True, repr=False)
class Bent(Activation):
    """σ(z) = (√(z² + 1) − 1)/2 + z: smooth, unbounded, with σ′ > 0."""

    name: ClassVar[str] = "bent"

    def forward(self, z):
        return (np.sqrt(z * z + 1) - 1) / 2 + z

    def derivative(self, z, h=None):
        return z / (2 * np.sqrt(z * z + 1)) + 1


@dataclass(frozen=True, repr=False)
class LogCosh(Loss):
    """ℓᵢ = Σⱼ log cosh(ŷᵢⱼ − yᵢⱼ), ∂ℓᵢ/∂ŷᵢ = tanh(ŷᵢ − yᵢ)."""

    name: ClassVar[str] = "log_cosh"

    def samples(self, Y_hat, Y):
        R = Y_hat - Y
        return (np.abs(R) + np.log1p(np.exp(-2 * np.abs(R))) - np.log(2)).sum(axis=1)

    def sample_gradient(self, Y_hat, Y):
        return np.tanh(Y_hat - Y)


@pytest.fixture
def registered():
    register_activation("bent", Bent)
    register_loss("log_cosh", LogCosh)
    yield
    del ACTIVATIONS["bent"], LOSSES["log_cosh"]


def test_a_registered_activation_and_loss_work_everywhere(registered, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X[:, 0] - 2 * X[:, 1] ** 2
    net = nlayer.Network([3, 8, 1], ["bent", "linear"], loss="log_cosh", seed=0)
    assert nlayer.gradcheck(net, X, y[:, None]) < 1e-7
    history = net.fit(X, y[:, None], epochs=5, validation_fraction=0.2)
    assert history.metric == "r2"  # the loss's task: regression
    nlayer.save(net, tmp_path / "m.safetensors")  # stored by its registered names
    assert (
        nlayer.load(tmp_path / "m.safetensors").network.loss_function.name == "log_cosh"
    )
    pytest.importorskip("sklearn")
    from sklearn.exceptions import ConvergenceWarning

    reg = nlayer.NLayerRegressor(
        hidden_layer_sizes=(8,), activation="bent", loss="log_cosh", max_iter=5
    )
    with pytest.warns(ConvergenceWarning):  # five iterations do not converge
        reg.fit(X, y)
    assert reg.network_.activations[0].name == "bent"
    from nlayer import cli

    assert cli._output("regression", "log_cosh", 0) == ("linear", "log_cosh", 1)
    with pytest.raises(nlayer.DataError, match="log_cosh is for regression"):
        cli._output("classification", "log_cosh", 3)


def test_a_loss_may_say_its_task_and_output_layer(registered):
    class Counts(LogCosh):
        name: ClassVar[str] = "counts"
        fused_with: ClassVar[str | None] = None

        @property
        def output(self):
            return "softplus"  # positive predictions

    register_loss("counts", Counts)
    try:
        from nlayer import cli

        assert cli._output("regression", "counts", 0)[0] == "softplus"
    finally:
        del LOSSES["counts"]
