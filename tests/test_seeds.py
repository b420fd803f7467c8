"""The seeds' own cases: the hand-worked three-layer tanh net, and training that
follows the seeds' reference classes step for step."""

import numpy as np
import pytest

import nlayer
from seed_reference import (
    Linear,
    NLayerNetwork,
    ReLU,
    Sigmoid,
    Tanh,
    ThreeLayerNetwork,
    squares_data,
)


def test_one_sample_by_hand():
    """Seed 000's gradient summary on a 1-1-1-1 tanh net, worked by hand.

    x = 1, y = 2; W1 = 0.5, W2 = 2, W3 = 1, b1 = b2 = 0, b3 = 0.5
      z1 = 0.5             h1 = tanh 0.5      = 0.462117
      z2 = 2·h1 = 0.924234 h2 = tanh 0.924234 = 0.727894
      ŷ = h2 + 0.5 = 1.227894,   L = ½(ŷ − y)² = 0.298074
    backward:
      ∂L/∂z3 = ŷ − y           = −0.772106 = ∂L/∂b3
      ∂L/∂W3 = h2·∂L/∂z3       = −0.562011
      ∂L/∂h2 = ∂L/∂z3·W3       = −0.772106
      ∂L/∂z2 = ∂L/∂h2·(1 − h2²) = −0.363021 = ∂L/∂b2
      ∂L/∂W2 = h1·∂L/∂z2       = −0.167758
      ∂L/∂h1 = ∂L/∂z2·W2       = −0.726041
      ∂L/∂z1 = ∂L/∂h1·(1 − h1²) = −0.570994 = ∂L/∂b1 = ∂L/∂W1 (x = 1)
    """
    net = nlayer.Network([1, 1, 1, 1], ["tanh", "tanh", "linear"])
    net.weights = [[[0.5]], [[2.0]], [[1.0]]]
    net.biases = [[0.0], [0.0], [0.5]]
    X, Y = np.array([[1.0]]), np.array([[2.0]])
    assert net.forward(X)[0, 0] == pytest.approx(1.227894, abs=1e-6)
    assert net.loss(X, Y) == pytest.approx(0.298074, abs=1e-6)
    dW, db = net.gradients(X, Y)
    hand_dW = [-0.570994, -0.167758, -0.562011]
    hand_db = [-0.570994, -0.363021, -0.772106]
    for l in range(3):
        assert dW[l][0, 0] == pytest.approx(hand_dW[l], abs=1e-6)
        assert db[l][0] == pytest.approx(hand_db[l], abs=1e-6)


def test_seed000_batch_gradients_as_the_seed_writes_them():
    X, Y = squares_data()
    net = nlayer.Network([2, 10, 5, 1], ["tanh", "tanh", "linear"], seed=3)
    rng = np.random.default_rng(4)
    net.biases = [rng.normal(size=b.shape) for b in net.biases]
    ref = ThreeLayerNetwork(
        *[a for Wb in zip(net.weights, net.biases, strict=True) for a in Wb]
    )
    ref.forward(X)
    ref_dW, ref_db = ref.gradients(X, Y)
    dW, db = net.gradients(X, Y)
    for l in range(3):
        np.testing.assert_allclose(dW[l], ref_dW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(db[l], ref_db[l], rtol=1e-12, atol=1e-15)


def copy_into_reference(net, activations, lr):
    return NLayerNetwork(list(net.weights), list(net.biases), activations, lr=lr)


@pytest.mark.parametrize(
    "sizes, names, reference_acts, lr",
    [
        ([2, 10, 5, 1], ["tanh", "tanh", "linear"], "three-layer", 0.01),
        (
            [2, 10, 8, 5, 1],
            ["relu", "tanh", "relu", "linear"],
            [ReLU(), Tanh(), ReLU(), Linear()],
            0.01,
        ),
        ([2, 15, 1], ["sigmoid", "linear"], [Sigmoid(), Linear()], 0.1),
    ],
    ids=["seed000-tanh", "seed001-4layer", "seed001-sigmoid"],
)
def test_fit_follows_the_seed_reference_step_for_step(sizes, names, reference_acts, lr):
    X, Y = squares_data()
    net = nlayer.Network(sizes, names, seed=0)
    if reference_acts == "three-layer":
        ref = ThreeLayerNetwork(
            *[a for Wb in zip(net.weights, net.biases, strict=True) for a in Wb], lr=lr
        )
        ref_weights = lambda: [ref.W1, ref.W2, ref.W3]  # noqa: E731
    else:
        ref = copy_into_reference(net, reference_acts, lr)
        ref_weights = lambda: ref.weights  # noqa: E731
    ref_losses = ref.train(X, Y, epochs=1000)
    history = net.fit(X, Y, epochs=1000, optimizer="sgd", lr=lr, batch_size=None)
    # the same operations in the same order: equal up to floating-point reordering
    np.testing.assert_allclose(history.loss, ref_losses, rtol=1e-10)
    for W, W_ref in zip(net.weights, ref_weights(), strict=True):
        np.testing.assert_allclose(W, W_ref, rtol=1e-10, atol=1e-13)
