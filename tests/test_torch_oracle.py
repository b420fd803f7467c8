"""PyTorch autograd as an independent oracle for the forward pass, the loss and
backpropagation.

Each nlayer network is rebuilt in torch by hand from ``net.weights`` and
``net.biases``; the forward pass and the loss are written with torch ops straight
from their formulas, and torch's autograd (which knows nothing of nlayer's
backward) gives ∂L/∂W⁽ˡ⁾ and ∂L/∂b⁽ˡ⁾. In float64 every number must agree to
1e-9 relative.
"""

import numpy as np
import pytest

import nlayer
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU
from nlayer.losses import LOSSES

torch = pytest.importorskip(
    "torch",
    reason="PyTorch not installed: pip install torch==2.13.0 to run the autograd "
    "oracle tests",
)
F = torch.nn.functional

# σ(Z) with torch's own functions, one per nlayer activation name.
TORCH_ACTIVATIONS = {
    "sigmoid": lambda act, Z: torch.sigmoid(Z),
    "tanh": lambda act, Z: torch.tanh(Z),
    "relu": lambda act, Z: torch.relu(Z),
    "leaky_relu": lambda act, Z: F.leaky_relu(Z, negative_slope=act.alpha),
    "elu": lambda act, Z: F.elu(Z, alpha=act.alpha),
    "softmax": lambda act, Z: torch.softmax(Z, dim=1),
    "linear": lambda act, Z: Z,
    # ½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))
    "gelu": lambda act, Z: F.gelu(Z, approximate="tanh"),
    "silu": lambda act, Z: F.silu(Z),
    # log(1 + eᶻ); torch switches to z above `threshold`, so put it out of reach
    "softplus": lambda act, Z: F.softplus(Z, threshold=1000.0),
    "exp": lambda act, Z: torch.exp(Z),
}

# L(Z_L, Ŷ, Y): a sum over the outputs and a mean over the m samples.
TORCH_LOSSES = {
    # Σ (Ŷ − Y)² / 2m
    "mse": lambda Z, Yh, Y: ((Yh - Y) ** 2).sum() / (2 * len(Y)),
    # Σ |Ŷ − Y| / m
    "mae": lambda Z, Yh, Y: (Yh - Y).abs().sum() / len(Y),
    # Σ ℓ(Ŷ − Y) / m,  ℓ(r) = r²/2 if |r| ≤ 1 else |r| − ½
    "huber": lambda Z, Yh, Y: F.huber_loss(Yh, Y, reduction="sum", delta=1.0) / len(Y),
    # −Σ Y · log softmax(Z_L) / m
    "cross_entropy": lambda Z, Yh, Y: -(Y * torch.log_softmax(Z, dim=1)).sum() / len(Y),
    # −Σ [Y log σ(Z_L) + (1 − Y) log(1 − σ(Z_L))] / m
    "binary_cross_entropy": lambda Z, Yh, Y: (
        F.binary_cross_entropy_with_logits(Z, Y, reduction="sum") / len(Y)
    ),
    # Σ [Y log(Y / Ŷ) − Y + Ŷ] / m with Ŷ = exp(Z_L): half the Poisson deviance
    "poisson": lambda Z, Yh, Y: (
        (torch.xlogy(Y, Y) - Y * Z - Y + torch.exp(Z)).sum() / len(Y)
    ),
}

# output activations: softmax mixes units, exp grows without bound when stacked
OUTPUT_ONLY = ("softmax", "exp")
HIDDEN = [name for name in ACTIVATIONS if name not in OUTPUT_ONLY]
ALL_ACTIVATIONS = [*ACTIVATIONS, LeakyReLU(alpha=0.2), ELU(alpha=0.5)]

# float64: both sides round differently only in the last bits, so 1e-9 relative
# is a wide margin; atol 1e-12 only covers entries that cancel to nearly 0.
CLOSE = {"rtol": 1e-9, "atol": 1e-12}


def torch_oracle(net, X, Y, dtype=torch.float64):
    """Ŷ, L and every (∂L/∂W, ∂L/∂b) of ``net`` computed by torch autograd."""
    Ws = [
        torch.tensor(np.array(W), dtype=dtype, requires_grad=True) for W in net.weights
    ]
    bs = [
        torch.tensor(np.array(b), dtype=dtype, requires_grad=True) for b in net.biases
    ]
    H = torch.tensor(X, dtype=dtype)
    for W, b, act in zip(Ws, bs, net.activations, strict=True):
        Z = H @ W + b  # Z⁽ˡ⁾ = H⁽ˡ⁻¹⁾ W⁽ˡ⁾ + b⁽ˡ⁾
        H = TORCH_ACTIVATIONS[act.name](act, Z)  # H⁽ˡ⁾ = σₗ(Z⁽ˡ⁾)
    loss = TORCH_LOSSES[net.loss_function.name](Z, H, torch.tensor(Y, dtype=dtype))
    loss.backward()
    return (
        H.detach().numpy(),
        loss.item(),
        [W.grad.numpy() for W in Ws],
        [b.grad.numpy() for b in bs],
    )


def assert_matches_torch(net, X, Y, **close):
    close = close or CLOSE
    Y_hat, loss, dWs_torch, dbs_torch = torch_oracle(net, X, Y)
    np.testing.assert_allclose(net.forward(X), Y_hat, err_msg="forward", **close)
    np.testing.assert_allclose(net.loss(X, Y), loss, err_msg="loss", **close)
    dWs, dbs = net.gradients(X, Y)
    for l in range(net.n_layers):
        np.testing.assert_allclose(dWs[l], dWs_torch[l], err_msg=f"dW{l + 1}", **close)
        np.testing.assert_allclose(dbs[l], dbs_torch[l], err_msg=f"db{l + 1}", **close)


def targets(kind, m, n, rng):
    if kind == "normal":  # regression
        return rng.normal(scale=1.5, size=(m, n))
    if kind == "one_hot":  # class labels
        return np.eye(n)[rng.integers(0, n, m)]
    if kind == "soft_rows":  # probability rows summing to 1 (label smoothing, …)
        P = rng.random((m, n)) + 0.05
        return P / P.sum(axis=1, keepdims=True)
    if kind == "binary":  # multi-label 0/1 targets
        return rng.integers(0, 2, (m, n)).astype(float)
    if kind == "soft_binary":  # probabilities in [0, 1]
        return rng.random((m, n))
    if kind == "counts":  # Poisson targets
        return rng.poisson(2.0, (m, n)).astype(float)
    raise AssertionError(kind)


def random_problem(seed, hidden, output, loss, target_kind):
    """A 2–4 layer net with sizes 1–7 and random non-zero biases, m = 5–20 samples.

    ``hidden`` is one activation for every hidden layer, or None to draw each
    hidden layer's activation at random.
    """
    rng = np.random.default_rng(seed)
    L = int(rng.integers(2, 5))
    sizes = [int(n) for n in rng.integers(1, 8, L + 1)]
    if nlayer.activations.get_activation(output).name == "softmax":
        sizes[-1] = max(sizes[-1], 2)  # softmax needs two outputs or more
    acts = [hidden or str(rng.choice(HIDDEN)) for _ in range(L - 1)] + [output]
    net = nlayer.Network(sizes, acts, loss=loss, seed=seed)
    for l in range(L):  # biases start at 0; make them count
        net.biases[l] = rng.normal(scale=0.5, size=sizes[l + 1])
    m = int(rng.integers(5, 21))
    X = rng.normal(size=(m, sizes[0]))
    return net, X, targets(target_kind, m, sizes[-1], rng)


def test_the_oracle_covers_every_builtin_activation_and_loss():
    assert set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(TORCH_LOSSES) == set(LOSSES)


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("act", ALL_ACTIVATIONS, ids=str)
def test_every_activation_matches_autograd(act, seed):
    """``act`` on every hidden layer and on the output (loss mse); softmax, which
    the network only allows on the output, gets tanh hidden layers."""
    hidden = "tanh" if act in OUTPUT_ONLY else act
    net, X, Y = random_problem(seed, hidden, act, "mse", "normal")
    assert_matches_torch(net, X, Y)


OUTPUT_CASES = [
    ("linear", "mse", "normal"),
    ("linear", "mae", "normal"),
    ("linear", "huber", "normal"),
    ("tanh", "huber", "normal"),
    ("sigmoid", "mae", "soft_binary"),
    ("softmax", "mse", "normal"),
    ("softmax", "mae", "normal"),
    ("softmax", "huber", "normal"),
    ("softmax", "cross_entropy", "one_hot"),
    ("softmax", "cross_entropy", "soft_rows"),
    ("sigmoid", "binary_cross_entropy", "binary"),
    ("sigmoid", "binary_cross_entropy", "soft_binary"),
    ("exp", "poisson", "counts"),
]


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed{s}")
@pytest.mark.parametrize(
    "output, loss, target_kind", OUTPUT_CASES, ids=lambda v: str(v)
)
def test_every_loss_matches_autograd(output, loss, target_kind, seed):
    """Random hidden activations; the output layer and loss as given (the fused
    softmax + cross-entropy and sigmoid + binary cross-entropy included)."""
    net, X, Y = random_problem(seed, None, output, loss, target_kind)
    if loss == "huber":  # the data reach both branches of ℓ
        r = np.abs(net.forward(X) - Y)
        assert (r < 1).any() and (r > 1).any()
    assert_matches_torch(net, X, Y)


def test_every_loss_is_covered_by_the_output_cases():
    assert {loss for _, loss, _ in OUTPUT_CASES} == set(LOSSES)


@pytest.mark.parametrize(
    "acts, loss, target_kind",
    [
        (["gelu", "elu", "linear"], "huber", "normal"),
        (["silu", "softplus", "softmax"], "cross_entropy", "one_hot"),
        (["leaky_relu", "tanh", "sigmoid"], "binary_cross_entropy", "binary"),
    ],
    ids=["huber", "cross_entropy", "binary_cross_entropy"],
)
def test_float32_network_computes_the_same_maths_in_float32(acts, loss, target_kind):
    rng = np.random.default_rng(7)
    net = nlayer.Network([4, 6, 5, 3], acts, loss=loss, seed=7, dtype="float32")
    X = rng.normal(size=(16, 4)).astype(np.float32)
    Y = targets(target_kind, 16, 3, rng).astype(np.float32)

    Y_hat, loss_value, dWs_torch, dbs_torch = torch_oracle(net, X, Y, torch.float32)
    dWs, dbs = net.gradients(X, Y)
    assert net.forward(X).dtype == np.float32
    assert all(d.dtype == np.float32 for d in [*dWs, *dbs])
    # float32 rounds at ~6e-8 relative; sums over 16 samples and 3 layers of
    # differently ordered ops stay well inside 1e-4, and atol 1e-6 covers
    # gradient entries that cancel to nearly 0.
    close = {"rtol": 1e-4, "atol": 1e-6}
    np.testing.assert_allclose(net.forward(X), Y_hat, **close)
    np.testing.assert_allclose(net.loss(X, Y), loss_value, **close)
    for mine, theirs in zip([*dWs, *dbs], [*dWs_torch, *dbs_torch], strict=True):
        np.testing.assert_allclose(mine, theirs, **close)
