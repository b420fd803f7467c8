"""Sample weights (a weighted mean loss) and pickling that keeps the one buffer."""

import copy
import pickle

import numpy as np
import pytest

import nlayer

rng = np.random.default_rng(0)


def problem(loss="mse"):
    out = nlayer.losses.get_loss(loss).fused_with or "linear"
    net = nlayer.Network([3, 5, 4, 2], ["tanh", "elu", out], loss=loss, seed=1)
    for b in net.biases:
        b[...] = rng.normal(scale=0.3, size=b.shape)
    X = rng.normal(size=(7, 3))
    Y = {
        "cross_entropy": np.eye(2)[rng.integers(0, 2, 7)],
        "binary_cross_entropy": rng.integers(0, 2, (7, 2)).astype(float),
        "poisson": rng.poisson(2.0, (7, 2)).astype(float),
    }.get(loss, rng.normal(size=(7, 2)))
    return net, X, Y


@pytest.mark.parametrize("loss", list(nlayer.losses.LOSSES))
def test_integer_weights_equal_repeated_samples(loss):
    net, X, Y = problem(loss)
    w = np.array([1, 0, 3, 2, 1, 1, 4])
    repeat = np.repeat(np.arange(7), w)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(
        net.loss(X[repeat], Y[repeat])
    )
    dW, db = net.gradients(X, Y, sample_weight=w)
    dW_r, db_r = net.gradients(X[repeat], Y[repeat])
    for a, b in zip([*dW, *db], [*dW_r, *db_r], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    # only ratios matter; equal weights are no weights
    np.testing.assert_allclose(net.gradients(X, Y, sample_weight=2.5 * w)[0][0], dW[0])
    np.testing.assert_allclose(
        net.gradients(X, Y, sample_weight=np.ones(7))[0][0], net.gradients(X, Y)[0][0]
    )


def test_weighted_full_batch_fit_equals_fit_on_repeated_data():
    net, X, Y = problem()
    w = np.array([1, 2, 1, 3, 1, 1, 2])
    repeat = np.repeat(np.arange(7), w)
    a, b = net.copy(), net.copy()
    ha = a.fit(X, Y, epochs=20, optimizer="adam", lr=0.01, sample_weight=w)
    hb = b.fit(X[repeat], Y[repeat], epochs=20, optimizer="adam", lr=0.01)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-9)


def test_weights_in_minibatches_and_validation():
    net, X, Y = problem()
    w = np.arange(7.0)  # the first sample weighs nothing
    h = net.fit(
        X,
        Y,
        epochs=3,
        batch_size=2,
        lr=0.01,
        sample_weight=w,
        validation_data=(X, Y, w),
    )
    assert len(h.val_loss) == 3 and np.isfinite(h.loss).all()


@pytest.mark.parametrize(
    "w, message",
    [
        (
            np.ones(6),
            r"sample_weight must be 7 numbers, one per sample; .* shape \(6,\)",
        ),
        (np.ones((7, 1)), "sample_weight must be 7 numbers"),
        (np.array(["a"] * 7), "sample_weight must be 7 numbers"),
        (-np.ones(7), "finite and non-negative"),
        (np.full(7, np.nan), "finite and non-negative"),
        (np.zeros(7), "must not be all zero"),
    ],
)
def test_bad_weights(w, message):
    net, X, Y = problem()
    for call in (net.loss, net.gradients, net.fit):
        with pytest.raises(ValueError, match=message):
            call(X, Y, sample_weight=w)


def test_pickle_and_deepcopy_keep_weights_as_views_of_params():
    net, X, Y = problem("cross_entropy")
    net.fit(X, Y, epochs=3, lr=0.1)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        np.testing.assert_array_equal(clone.forward(X), net.forward(X))
        assert all(np.shares_memory(W, clone.params) for W in clone.weights)
        assert all(np.shares_memory(b, clone.params) for b in clone.biases)
        assert not np.shares_memory(clone.params, net.params)
        clone.weights[0][0, 0] += 1.0
        assert clone.params[0] == net.params[0] + 1.0
    # the random state travels too: both continue the same stream
    clone = pickle.loads(pickle.dumps(net))
    assert clone.rng.random() == net.rng.random()
