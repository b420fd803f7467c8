"""Bad input gets a ValueError whose message names the problem."""

import numpy as np
import pytest

import nlayer

rng = np.random.default_rng(0)


def net(**kw):
    return nlayer.Network([10, 8, 3], ["relu", "linear"], seed=0, **kw)


X = rng.normal(size=(5, 10))
Y = rng.normal(size=(5, 3))


@pytest.mark.parametrize(
    "X_bad, Y_bad, message",
    [
        (X[:, :8], Y, r"layer 1 expects 10 inputs, got 8 \(X has shape \(5, 8\)\)"),
        (X, Y[:, :2], r"output layer \(layer 2\) has 3 units, got Y with 2 columns"),
        (X[:4], Y, "X has 4 rows but Y has 5; they must hold the same samples"),
        (
            np.where(np.eye(5, 10) > 0, np.nan, X),
            Y,
            r"X contains NaN \(first at row 0, column 0\)",
        ),
        (
            X,
            np.full((5, 3), np.inf),
            r"Y contains infinity \(first at row 0, column 0\)",
        ),
        (np.empty((0, 10)), np.empty((0, 3)), r"X is empty \(shape \(0, 10\)\)"),
        (
            X[0],
            Y,
            r"X must be a 2-D array .* got a 1-D array of shape \(10,\); use X.reshape",
        ),
        (X, Y[:, 0], r"Y must be a 2-D array .* 1-D array of shape \(5,\)"),
        (X[None], Y, "X must be a 2-D array"),
        (
            np.full((5, 10), "a"),
            Y,
            "X must hold real numbers, got an array of dtype <U1",
        ),
        (None, Y, r"X is missing \(got None\)"),
        (X.astype(np.complex128), Y, "X must hold real numbers"),
    ],
    ids=[
        "X-columns",
        "Y-columns",
        "rows",
        "nan",
        "inf",
        "empty",
        "1-D-X",
        "1-D-Y",
        "3-D",
        "strings",
        "none",
        "complex",
    ],
)
def test_bad_data(X_bad, Y_bad, message):
    for call in ("loss", "gradients", "fit"):
        with pytest.raises(ValueError, match=message):
            getattr(net(), call)(X_bad, Y_bad)


def test_bad_data_for_forward():
    with pytest.raises(ValueError, match="layer 1 expects 10 inputs, got 8"):
        net().forward(X[:, :8])
    with pytest.raises(ValueError, match="X contains NaN"):
        net().forward(np.full((2, 10), np.nan))


@pytest.mark.parametrize(
    "sizes, message",
    [
        ([10, 0, 3], r"positive integers; layer_sizes\[1\] is 0"),
        ([10, -4, 3], r"layer_sizes\[1\] is -4"),
        ([10, 8.5, 3], r"layer_sizes\[1\] is 8.5"),
        ([10, True, 3], r"layer_sizes\[1\] is True"),
        ([10], "at least two entries"),
        ("10,8,3", "must be a list of integers"),
    ],
)
def test_bad_layer_sizes(sizes, message):
    with pytest.raises(ValueError, match=message):
        nlayer.Network(sizes, ["relu", "linear"])


def test_bad_structure():
    with pytest.raises(
        ValueError,
        match=r"expected 2 activations, one per layer of 10 -> 8 -> 3, got 3",
    ):
        nlayer.Network([10, 8, 3], ["relu", "relu", "linear"])
    with pytest.raises(ValueError, match="one entry per layer"):
        nlayer.Network([10, 8, 3], "relu")
    with pytest.raises(
        ValueError,
        match="layer 1: unknown activation 'rlu'; known: sigmoid, tanh, relu",
    ):
        nlayer.Network([10, 8, 3], ["rlu", "linear"])
    with pytest.raises(ValueError, match="unknown loss 'mse '; known: mse, mae, huber"):
        nlayer.Network([10, 8, 3], ["relu", "linear"], loss="mse ")
    with pytest.raises(
        ValueError,
        match=r"softmax is only allowed on the output layer \(layer 3\); layer 1 uses",
    ):
        nlayer.Network([10, 8, 4, 3], ["softmax", "relu", "softmax"])
    with pytest.raises(
        ValueError,
        match="cross_entropy needs a softmax output layer; layer 2 uses 'linear'",
    ):
        nlayer.Network([10, 8, 3], ["relu", "linear"], loss="cross_entropy")
    with pytest.raises(
        ValueError, match="binary_cross_entropy needs a sigmoid output layer"
    ):
        nlayer.Network([10, 8, 3], ["relu", "softmax"], loss="binary_cross_entropy")
    with pytest.raises(ValueError, match="softmax over a single output is always 1"):
        nlayer.Network([10, 8, 1], ["relu", "softmax"], loss="cross_entropy")
    with pytest.raises(ValueError, match="dtype must be one of .*'float16'"):
        nlayer.Network([10, 8, 3], ["relu", "linear"], dtype="float16")
    with pytest.raises(
        ValueError, match="unknown initializer 'xavier'; known: xavier_normal"
    ):
        nlayer.Network([10, 8, 3], ["relu", "linear"], init="xavier")
    with pytest.raises(ValueError, match="expected 2 initializers"):
        nlayer.Network([10, 8, 3], ["relu", "linear"], init=["he_normal"])


def test_cross_entropy_targets_must_be_probabilities():
    clf = nlayer.Network([10, 8, 3], ["relu", "softmax"], loss="cross_entropy")
    labels = np.array([[0.0], [2.0], [1.0], [1.0], [0.0]])
    with pytest.raises(
        ValueError, match="output layer .* has 3 units, got Y with 1 columns"
    ):
        clf.fit(X, labels)
    with pytest.raises(
        ValueError, match="cross_entropy targets must be probabilities in"
    ):
        clf.fit(X, np.full((5, 3), 2.0))
    with pytest.raises(ValueError, match="row 0 sums to 3"):
        clf.fit(X, np.ones((5, 3)))
    clf.fit(X, np.eye(3)[[0, 1, 2, 1, 0]], epochs=2)  # one-hot rows are fine


@pytest.mark.parametrize(
    "options, message",
    [
        ({"epochs": 0}, "epochs must be a positive integer, got 0"),
        ({"epochs": 2.5}, "epochs must be a positive integer, got 2.5"),
        ({"batch_size": 0}, "batch_size must be a positive integer, got 0"),
        (
            {"optimizer": "adamm"},
            "unknown optimizer 'adamm'; known: sgd, adam, adamw, rmsprop",
        ),
        ({"lr": -0.1}, r"sgd: lr must be a number in \(0, inf\), got -0.1"),
        ({"optimizer": "adam", "momentum": 0.9}, "optimizer 'adam' takes no momentum"),
        (
            {"validation_fraction": 1.5},
            r"validation_fraction must be in \(0, 1\), got 1.5",
        ),
        ({"validation_fraction": 0.99}, "leaves none to train on"),
        ({"validation_data": (X, Y), "validation_fraction": 0.2}, "not both"),
        (
            {"validation_data": (X[:, :3], Y)},
            "validation_data: layer 1 expects 10 inputs, got 3",
        ),
        ({"validation_data": X}, r"validation_data must be a pair \(X_val, Y_val\)"),
        ({"schedule": "linear"}, "unknown schedule 'linear'; known: constant, step"),
        ({"clip_norm": 0}, "clip_norm must be a positive number, got 0"),
        ({"patience": 0}, "patience must be a positive integer, got 0"),
        ({"metric": "f1"}, "unknown metric 'f1'"),
        ({"verbose": -1}, "verbose must be True, False or a positive integer"),
        ({"optimizer": nlayer.optimizers.Adam(), "lr": 0.1}, "lr given both as fit"),
    ],
    ids=lambda v: str(v)[:30] if isinstance(v, dict) else "",
)
def test_bad_fit_options(options, message):
    with pytest.raises(ValueError, match=message):
        net().fit(X, Y, **options)


def test_nothing_changes_when_fit_refuses():
    n = net()
    before = n.params.copy()
    with pytest.raises(ValueError):
        n.fit(X, Y, epochs=5, validation_data=(X, Y[:, :1]))
    np.testing.assert_array_equal(n.params, before)
