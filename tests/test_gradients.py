"""Backpropagation against central differences (float64), for every activation
and every loss, on small random architectures."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nlayer
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU
from nlayer.losses import LOSSES, get_loss

# output activations: softmax mixes units, exp grows without bound when stacked
OUTPUT_ONLY = ("softmax", "exp")
HIDDEN = [name for name in ACTIVATIONS if name not in OUTPUT_ONLY]
ALL_ACTS = [*ACTIVATIONS, LeakyReLU(alpha=0.2), ELU(alpha=0.5)]
REGRESSION = ["mse", "mae", "huber"]


def targets(loss, m, n, rng):
    if loss == "cross_entropy":
        return np.eye(n)[rng.integers(0, n, m)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (m, n)).astype(float)
    if loss == "poisson":
        return rng.poisson(2.0, (m, n)).astype(float)
    return rng.normal(size=(m, n))


def jitter_biases(net, rng):
    """Move off the initial zero biases: with b = 0, a unit whose inputs are all
    dead ReLUs sits exactly on the kink Z = 0, where no derivative exists."""
    for b in net.biases:
        b[...] = rng.normal(scale=0.5, size=b.shape)


def problem(act, loss, seed):
    """A 3-layer net using ``act`` wherever the loss allows, with data."""
    rng = np.random.default_rng(seed)
    hidden = "tanh" if act in OUTPUT_ONLY else act
    # a fused loss picks its own output layer (the registry says which)
    output = get_loss(loss).fused_with or act
    n = [int(k) for k in rng.integers(1, 6, 4)]
    if output == "softmax":
        n[-1] = max(n[-1], 2)
    net = nlayer.Network(n, [hidden, hidden, output], loss=loss, seed=seed)
    jitter_biases(net, rng)
    m = int(rng.integers(3, 12))
    X = rng.normal(size=(m, n[0]))
    return net, X, targets(loss, m, n[-1], rng)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("act", ALL_ACTS, ids=str)
def test_every_activation_with_every_loss(act, loss):
    for seed in range(3):
        net, X, Y = problem(act, loss, seed)
        assert nlayer.gradcheck(net, X, Y) < 1e-6, (net, seed)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=6),
    data=st.data(),
)
def test_random_architectures(sizes, data):
    L = len(sizes) - 1
    loss = data.draw(st.sampled_from(list(LOSSES)))
    acts = [data.draw(st.sampled_from(HIDDEN)) for _ in range(L - 1)]
    fused = get_loss(loss).fused_with  # a fused loss brings its output layer
    acts.append(fused or data.draw(st.sampled_from(HIDDEN)))
    if fused == "softmax":
        sizes[-1] = max(sizes[-1], 2)
    seed = data.draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    net = nlayer.Network(sizes, acts, loss=loss, seed=seed)
    jitter_biases(net, rng)
    m = data.draw(st.integers(1, 10))
    X = rng.normal(size=(m, sizes[0]))
    assert nlayer.gradcheck(net, X, targets(loss, m, sizes[-1], rng)) < 1e-6


def test_gradients_change_no_weight_and_mirror_shapes():
    net, X, Y = problem("tanh", "mse", 0)
    before = net.params.copy()
    dWs, dbs = net.gradients(X, Y)
    np.testing.assert_array_equal(net.params, before)
    assert [d.shape for d in dWs] == [W.shape for W in net.weights]
    assert [d.shape for d in dbs] == [b.shape for b in net.biases]


def test_float32_network_is_checked_in_float64():
    net, X, Y = problem("elu", "huber", 1)
    net32 = net.copy(dtype="float32")
    assert nlayer.gradcheck(net32, X.astype("float32"), Y.astype("float32")) < 1e-6
    assert net32.params.dtype == np.float32  # the check left the network alone


def test_gradcheck_catches_a_wrong_gradient():
    """The check must be able to fail: break σ′ and it reports a large error."""

    class BadTanh(nlayer.activations.Tanh):
        def derivative(self, z, h=None):
            return 1 - 0.5 * np.tanh(z) ** 2

    rng = np.random.default_rng(0)
    net = nlayer.Network([3, 4, 2], [BadTanh(), "linear"], seed=0, check=False)
    X, Y = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    report = nlayer.gradcheck_layers(net, X, Y)
    assert report[0]["W"] > 1e-3  # layer 1 sees the wrong σ′
    assert report[1]["W"] < 1e-6  # layer 2's gradient does not involve it
