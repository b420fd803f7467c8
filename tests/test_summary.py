"""The dimension-tracking template of seed 001, for a given network."""

import pytest

import nlayer


def lines_of(text):
    return [" ".join(line.split()) for line in text.splitlines()]


def test_template_for_the_seed_001_network():
    net = nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"])
    lines = lines_of(net.summary(batch_size=100))
    assert (
        lines[0] == "Network 2 -> 10 -> 8 -> 5 -> 1 loss=mse dtype=float64 batch m=100"
    )
    # forward shapes: H⁽⁰⁾ = X (m, n₀), Z⁽ˡ⁾ and H⁽ˡ⁾ (m, nₗ), W⁽ˡ⁾ (nₗ₋₁, nₗ)
    for expected in [
        "H0 = X (100, 2)",
        "Z1 = H0 @ W1 + b1 (100, 10) W1: (2, 10) b1: (10,)",
        "H2 = tanh(Z2) (100, 8)",
        "Z4 = H3 @ W4 + b4 (100, 1) W4: (5, 1) b4: (1,)",
        "Y_hat = H4 (100, 1)",
        # backward shapes: dH, dZ (m, nₗ); dW (nₗ₋₁, nₗ); db (nₗ,)
        "dH4 = dL/dY_hat (100, 1) mse",
        "dZ3 = dH3 * relu'(Z3) (100, 5)",
        "dW2 = H1.T @ dZ2 / m (10, 8)",
        "db2 = sum(dZ2, axis=0) / m (8,)",
        "dH1 = dZ2 @ W2.T (100, 10)",
        "dW1 = H0.T @ dZ1 / m (2, 10)",
        "parameters: layer 1: 30 layer 2: 88 layer 3: 45 layer 4: 6 total: 169",
    ]:
        assert expected in lines
    assert not any(line.startswith("dH0") for line in lines)  # no gradient for X


def test_template_shows_the_fused_output_delta():
    net = nlayer.Network([64, 128, 10], ["relu", "softmax"], loss="cross_entropy")
    lines = lines_of(net.summary(batch_size=32))
    assert "dZ2 = Y_hat - Y (32, 10) softmax + cross_entropy, fused" in lines
    assert lines[-1] == "parameters: layer 1: 8,320 layer 2: 1,290 total: 9,610"
    assert net.n_params == 64 * 128 + 128 + 128 * 10 + 10


def test_template_matches_the_arrays_of_a_real_pass():
    import numpy as np

    net = nlayer.Network([3, 4, 2], ["elu", "sigmoid"], loss="binary_cross_entropy")
    X = np.zeros((7, 3))
    Z, H = net.forward_pass(X)
    lines = lines_of(net.summary(batch_size=7))
    for l in range(2):
        formula = f"Z{l + 1} = H{l} @ W{l + 1} + b{l + 1} {Z[l].shape}"
        assert any(line.startswith(formula) for line in lines)
        assert (
            f"H{l + 1} = {net.activations[l].name}(Z{l + 1}) {H[l + 1].shape}" in lines
        )
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        net.summary(batch_size=0)
