"""Losses: values by hand, gradients against finite differences, fused forms."""

import numpy as np
import pytest

import nlayer
from nlayer.losses import LOSSES, Huber, get_loss

rng = np.random.default_rng(0)
Y_HAT = rng.uniform(0.05, 0.95, (6, 3))
Y_SOFT = rng.dirichlet(np.ones(3), 6)  # rows are probability distributions


def test_values_by_hand():
    Y_hat = np.array([[1.0, 2.0], [0.0, -1.0]])
    Y = np.array([[0.0, 2.0], [0.5, 1.0]])
    # residuals r = [[1, 0], [-0.5, -2]], m = 2
    assert get_loss("mse").value(Y_hat, Y) == pytest.approx((1 + 0.25 + 4) / (2 * 2))
    assert get_loss("mae").value(Y_hat, Y) == pytest.approx((1 + 0.5 + 2) / 2)
    # huber, δ = 1: ½·1², 0, ½·0.5², 1·(2 − ½)
    assert get_loss("huber").value(Y_hat, Y) == pytest.approx((0.5 + 0.125 + 1.5) / 2)
    P = np.array([[0.7, 0.2, 0.1], [0.25, 0.25, 0.5]])
    T = np.array([[1.0, 0, 0], [0, 0, 1]])
    ce = -(np.log(0.7) + np.log(0.5)) / 2
    assert get_loss("cross_entropy").value(P, T) == pytest.approx(ce)
    p, t = np.array([[0.9], [0.2]]), np.array([[1.0], [1.0]])
    bce = -(np.log(0.9) + np.log(0.2)) / 2
    assert get_loss("binary_cross_entropy").value(p, t) == pytest.approx(bce)


@pytest.mark.parametrize("name", list(LOSSES))
def test_gradient_is_m_times_dL_dYhat(name):
    Y = Y_SOFT if name == "cross_entropy" else rng.uniform(0, 1, Y_HAT.shape)
    assert nlayer.check_loss(name, Y_HAT.copy(), Y) < 1e-7


@pytest.mark.parametrize("name", ["cross_entropy", "binary_cross_entropy"])
def test_value_from_logits_matches_and_stays_finite(name):
    loss = get_loss(name)
    Z = rng.normal(size=(6, 3))
    act = nlayer.activations.get_activation(loss.fused_with)
    Y = Y_SOFT if name == "cross_entropy" else (Y_SOFT > 0.3).astype(float)
    assert loss.value_from_logits(Z, Y) == pytest.approx(loss.value(act.forward(Z), Y))
    # a confident wrong answer: probabilities round to 0, the loss stays exact
    Z_far = np.array([[1000.0, -1000.0, 0.0]])
    Y_far = np.array([[0.0, 1.0, 0.0]])
    # CE: −log softmax(z)₂ = 2000 (+ e⁻¹⁰⁰⁰ terms); BCE: 1000 + 1000 + log 2 at z = 0
    expected = 2000.0 if name == "cross_entropy" else 2000.0 + np.log(2)
    assert loss.value_from_logits(Z_far, Y_far) == pytest.approx(expected, rel=1e-12)


def test_fused_delta_is_yhat_minus_y():
    # softmax + cross-entropy: the chain rule through the softmax Jacobian gives Ŷ − Y
    Z = rng.normal(size=(5, 4))
    Y = np.eye(4)[[0, 1, 3, 2, 0]]
    softmax = nlayer.activations.get_activation("softmax")
    ce = get_loss("cross_entropy")
    H = softmax.forward(Z)
    chained = softmax.backward(ce.gradient(H, Y), Z, H)
    np.testing.assert_allclose(ce.fused_delta(H, Y), chained, atol=1e-12)


def test_target_checks():
    with pytest.raises(ValueError, match="row 1 sums to 2"):
        get_loss("cross_entropy").check_targets(np.array([[1.0, 0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        get_loss("cross_entropy").check_targets(np.array([[2.0, -1.0]]))
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\].*from 0 to 3"):
        get_loss("binary_cross_entropy").check_targets(np.array([[0.0], [3.0]]))
    with pytest.raises(ValueError, match="unknown loss 'mse2'; known: mse, mae"):
        get_loss("mse2")
    with pytest.raises(ValueError, match="delta must be a positive number"):
        Huber(delta=0)


class LogCosh:
    """A custom loss: L = (1/m) Σ log cosh(ŷ − y); m·∂L/∂Ŷ = tanh(ŷ − y)."""

    def value(self, Y_hat, Y):
        return np.log(np.cosh(Y_hat - Y)).sum() / len(Y)

    def gradient(self, Y_hat, Y):
        return np.tanh(Y_hat - Y)


class MeanedLogCosh(LogCosh):
    def gradient(self, Y_hat, Y):
        return np.tanh(Y_hat - Y) / len(Y)  # includes 1/m: the convention is per-sample


def test_custom_loss_trains_and_is_checked():
    X = rng.normal(size=(20, 3))
    Y = X @ np.array([[1.0], [-2.0], [0.5]])
    net = nlayer.Network([3, 4, 1], ["tanh", "linear"], loss=LogCosh(), seed=0)
    assert nlayer.gradcheck(net, X, Y) < 1e-6
    history = net.fit(X, Y, epochs=200, lr=0.1)
    assert history.loss[-1] < 0.2 * history.loss[0]
    with pytest.raises(ValueError, match="per-sample derivative"):
        nlayer.Network([3, 4, 1], ["tanh", "linear"], loss=MeanedLogCosh())
