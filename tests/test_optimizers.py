"""Optimisers, learning-rate schedules and gradient clipping.

Each update is re-derived in plain NumPy from its textbook formula, and checked
against torch.optim where PyTorch is installed (those tests skip visibly
without it; the formula tests always run).

Buffers are laid out as in the network: the first N_WEIGHTS entries are
weights, the rest biases; weight decay applies to the weights only.
"""

import math

import numpy as np
import pytest

import nlayer
from nlayer.optimizers import (
    SGD,
    Adam,
    AdamW,
    Constant,
    CosineDecay,
    ExponentialDecay,
    InverseScaling,
    RMSprop,
    StepDecay,
    clip_by_global_norm,
)

N_WEIGHTS, N_BIASES = 7, 4
CLOSE = {"rtol": 1e-12, "atol": 1e-15}


@pytest.fixture
def torch():
    return pytest.importorskip(
        "torch",
        reason="PyTorch not installed: pip install torch==2.13.0 to compare with "
        "torch.optim",
    )


def problem(seed=0, steps=5):
    """Parameters θ and one random gradient per step."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=N_WEIGHTS + N_BIASES)
    grads = rng.normal(size=(steps, N_WEIGHTS + N_BIASES))
    return theta, grads


def run(opt, theta, grads):
    """θ after ``opt`` stepped once per gradient (grads are scratch: copies)."""
    params = theta.copy()
    for g in grads:
        opt.step(params, g.copy(), N_WEIGHTS)
    return params


# -- textbook formulas, re-derived ------------------------------------------------


def l2(theta, g, weight_decay):
    """g + λ·W: L2 regularisation adds λ·W to the weights' gradient only."""
    g = g.copy()
    g[:N_WEIGHTS] += weight_decay * theta[:N_WEIGHTS]
    return g


def sgd_formula(theta, grads, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    # v_t = μ·v_{t−1} + g_t  (v_0 = 0)
    # θ_t = θ_{t−1} − α·v_t;  Nesterov: θ_t = θ_{t−1} − α·(g_t + μ·v_t)
    # μ = 0: θ_t = θ_{t−1} − α·g_t, plain gradient descent
    theta, v = theta.copy(), np.zeros_like(theta)
    for g in grads:
        g = l2(theta, g, weight_decay)
        v = momentum * v + g
        theta = theta - lr * (g + momentum * v if nesterov else v)
    return theta


def adam_formula(
    theta,
    grads,
    lr=0.001,
    beta1=0.9,
    beta2=0.999,
    eps=1e-8,
    weight_decay=0.0,
    decoupled=False,
):
    # m_t = β₁·m_{t−1} + (1 − β₁)·g_t      v_t = β₂·v_{t−1} + (1 − β₂)·g_t²
    # m̂_t = m_t / (1 − β₁ᵗ)               v̂_t = v_t / (1 − β₂ᵗ)
    # θ_t = θ_{t−1} − α·m̂_t / (√v̂_t + ε)                      (Kingma & Ba)
    # Adam: L2 in the gradient, g_t = ∂L/∂θ + λ·W;
    # AdamW: decoupled, W ← (1 − α·λ)·W before the step        (Loshchilov & Hutter)
    theta = theta.copy()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            theta[:N_WEIGHTS] *= 1 - lr * weight_decay
        else:
            g = l2(theta, g, weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def adamw_formula(theta, grads, weight_decay=0.01, **kwargs):
    return adam_formula(
        theta, grads, weight_decay=weight_decay, decoupled=True, **kwargs
    )


def rmsprop_formula(theta, grads, lr=0.001, rho=0.99, eps=1e-8, weight_decay=0.0):
    # v_t = ρ·v_{t−1} + (1 − ρ)·g_t²;   θ_t = θ_{t−1} − α·g_t / (√v_t + ε)
    theta, v = theta.copy(), np.zeros_like(theta)
    for g in grads:
        g = l2(theta, g, weight_decay)
        v = rho * v + (1 - rho) * g**2
        theta = theta - lr * g / (np.sqrt(v) + eps)
    return theta


FORMULA_CASES = [
    pytest.param(SGD, sgd_formula, {"lr": 0.1}, id="sgd"),
    pytest.param(SGD, sgd_formula, {"lr": 0.1, "momentum": 0.9}, id="sgd-momentum"),
    pytest.param(
        SGD,
        sgd_formula,
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        id="sgd-nesterov",
    ),
    pytest.param(
        SGD, sgd_formula, {"lr": 0.1, "weight_decay": 0.05}, id="sgd-weight_decay"
    ),
    pytest.param(
        SGD,
        sgd_formula,
        {"lr": 0.1, "momentum": 0.8, "weight_decay": 0.05},
        id="sgd-momentum-weight_decay",
    ),
    pytest.param(
        SGD,
        sgd_formula,
        {"lr": 0.1, "momentum": 0.8, "nesterov": True, "weight_decay": 0.05},
        id="sgd-nesterov-weight_decay",
    ),
    pytest.param(Adam, adam_formula, {}, id="adam-defaults"),
    pytest.param(
        Adam,
        adam_formula,
        {"lr": 0.01, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6},
        id="adam-lr-betas-eps",
    ),
    pytest.param(
        Adam, adam_formula, {"lr": 0.01, "weight_decay": 0.1}, id="adam-weight_decay"
    ),
    pytest.param(AdamW, adamw_formula, {}, id="adamw-defaults"),
    pytest.param(
        AdamW,
        adamw_formula,
        {"lr": 0.01, "weight_decay": 0.1, "beta1": 0.5},
        id="adamw-weight_decay",
    ),
    pytest.param(
        AdamW, adamw_formula, {"lr": 0.01, "weight_decay": 0.0}, id="adamw-no_decay"
    ),
    pytest.param(RMSprop, rmsprop_formula, {}, id="rmsprop-defaults"),
    pytest.param(
        RMSprop,
        rmsprop_formula,
        {"lr": 0.01, "rho": 0.9, "eps": 1e-6},
        id="rmsprop-rho-eps",
    ),
    pytest.param(
        RMSprop,
        rmsprop_formula,
        {"lr": 0.01, "weight_decay": 0.1},
        id="rmsprop-weight_decay",
    ),
]


@pytest.mark.parametrize("seed", range(3), ids=lambda s: f"seed{s}")
@pytest.mark.parametrize("cls, formula, kwargs", FORMULA_CASES)
def test_five_steps_follow_the_textbook_formula(cls, formula, kwargs, seed):
    theta, grads = problem(seed, steps=5)
    opt = cls(**kwargs)
    np.testing.assert_allclose(
        run(opt, theta, grads), formula(theta, grads, **kwargs), **CLOSE
    )
    assert opt.t == 5  # the step count that bias correction uses


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (SGD, {"lr": 0.1, "momentum": 0.9}),
        (Adam, {"lr": 0.01}),
        (AdamW, {"lr": 0.01}),
        (RMSprop, {"lr": 0.01}),
    ],
    ids=["sgd", "adam", "adamw", "rmsprop"],
)
def test_weight_decay_touches_the_weights_only(cls, kwargs):
    theta, grads = problem(1)
    decayed = run(cls(weight_decay=0.1, **kwargs), theta, grads)
    plain = run(cls(weight_decay=0.0, **kwargs), theta, grads)
    np.testing.assert_array_equal(decayed[N_WEIGHTS:], plain[N_WEIGHTS:])
    assert np.all(decayed[:N_WEIGHTS] != plain[:N_WEIGHTS])


def test_adams_first_step_moves_every_parameter_by_about_lr():
    # t = 1: m̂ = g and v̂ = g², so θ₁ = θ₀ − α·g / (|g| + ε) ≈ θ₀ − α·sign(g)
    theta, grads = problem(2, steps=1)
    step = theta - run(Adam(lr=0.01), theta, grads)
    np.testing.assert_allclose(step, 0.01 * np.sign(grads[0]), rtol=1e-6)


def test_sgd_without_momentum_is_the_seeds_update():
    # θ ← θ − α·∂L/∂θ, every entry, weights and biases alike
    theta, grads = problem(3, steps=1)
    np.testing.assert_array_equal(
        run(SGD(lr=0.5), theta, grads), theta - 0.5 * grads[0]
    )


# -- one and three steps equal torch.optim's ------------------------------------------


def torch_run(torch, torch_cls, theta, grads, weight_decay=0.0, **kwargs):
    """θ after torch.optim stepped once per gradient, with weights and biases in
    two parameter groups so that weight decay reaches the weights only."""
    W = torch.tensor(theta[:N_WEIGHTS], requires_grad=True)
    b = torch.tensor(theta[N_WEIGHTS:], requires_grad=True)
    opt = torch_cls(
        [
            {"params": [W], "weight_decay": weight_decay},
            {"params": [b], "weight_decay": 0.0},
        ],
        **kwargs,
    )
    for g in grads:
        W.grad = torch.tensor(g[:N_WEIGHTS])
        b.grad = torch.tensor(g[N_WEIGHTS:])
        opt.step()
    return np.concatenate([W.detach().numpy(), b.detach().numpy()])


# (a fresh nlayer optimiser, torch.optim class name, torch's keywords for the same
# update)
TORCH_CASES = [
    pytest.param(lambda: SGD(lr=0.1), "SGD", {"lr": 0.1}, id="sgd"),
    pytest.param(
        lambda: SGD(lr=0.1, momentum=0.9),
        "SGD",
        {"lr": 0.1, "momentum": 0.9},
        id="sgd-momentum",
    ),
    pytest.param(
        lambda: SGD(lr=0.1, momentum=0.9, nesterov=True),
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True},
        id="sgd-nesterov",
    ),
    pytest.param(
        lambda: SGD(lr=0.1, weight_decay=0.05),
        "SGD",
        {"lr": 0.1, "weight_decay": 0.05},
        id="sgd-weight_decay",
    ),
    pytest.param(
        lambda: SGD(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
        "SGD",
        {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
        id="sgd-nesterov-weight_decay",
    ),
    pytest.param(
        lambda: Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7),
        "Adam",
        {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-7},
        id="adam",
    ),
    pytest.param(
        lambda: Adam(lr=0.01, weight_decay=0.1),
        "Adam",
        {"lr": 0.01, "weight_decay": 0.1},
        id="adam-weight_decay",
    ),
    pytest.param(
        lambda: AdamW(lr=0.01, weight_decay=0.1),
        "AdamW",
        {"lr": 0.01, "weight_decay": 0.1},
        id="adamw",
    ),
    pytest.param(
        lambda: RMSprop(lr=0.01, rho=0.9, eps=1e-7),
        "RMSprop",
        {"lr": 0.01, "alpha": 0.9, "eps": 1e-7},  # torch's alpha is nlayer's rho
        id="rmsprop",
    ),
    pytest.param(
        lambda: RMSprop(lr=0.01, weight_decay=0.1),
        "RMSprop",
        {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.1},
        id="rmsprop-weight_decay",
    ),
]


@pytest.mark.parametrize("steps", [1, 3], ids=lambda n: f"{n}step")
@pytest.mark.parametrize("make, torch_name, torch_kwargs", TORCH_CASES)
def test_steps_equal_torch_optim(torch, make, torch_name, torch_kwargs, steps):
    theta, grads = problem(4, steps=steps)
    theirs = torch_run(
        torch, getattr(torch.optim, torch_name), theta, grads, **torch_kwargs
    )
    np.testing.assert_allclose(run(make(), theta, grads), theirs, **CLOSE)


# -- inside fit ----------------------------------------------------------------------


def small_problem(seed=0):
    rng = np.random.default_rng(seed)
    net = nlayer.Network([3, 5, 2], ["tanh", "linear"], seed=seed)
    net.biases[0] = rng.normal(size=5)
    X, Y = rng.normal(size=(12, 3)), rng.normal(size=(12, 2))
    return net, X, Y


def flat_gradient(net, X, Y):
    """∂L/∂θ laid out like ``net.params``: every W row-major, then every b."""
    dWs, dbs = net.gradients(X, Y)
    return np.concatenate([dW.ravel() for dW in dWs] + [db for db in dbs])


def test_the_flat_layout_is_every_weight_then_every_bias():
    net, X, Y = small_problem()
    g = flat_gradient(net, X, Y)
    dWs, dbs = net.gradients(X, Y)
    dW_views, db_views = net.split(g)
    for l in range(net.n_layers):
        np.testing.assert_array_equal(dW_views[l], dWs[l])
        np.testing.assert_array_equal(db_views[l], dbs[l])
    assert net.n_weights == 3 * 5 + 5 * 2  # the rest of the buffer is 5 + 2 biases


def test_one_full_batch_sgd_epoch_is_one_gradient_step():
    # θ ← θ − α·∂L/∂θ with ∂L/∂θ taken at the weights before the step
    net, X, Y = small_problem()
    before, g, loss = net.params.copy(), flat_gradient(net, X, Y), net.loss(X, Y)
    history = net.fit(X, Y, epochs=1, optimizer="sgd", lr=0.1, batch_size=None)
    np.testing.assert_array_equal(net.params, before - 0.1 * g)
    assert history.loss == [loss]  # the loss recorded is the one before the step


@pytest.mark.parametrize("epochs", [1, 3])
def test_full_batch_adam_epochs_are_adam_steps(epochs):
    net, X, Y = small_problem(1)
    twin, opt = net.copy(), Adam(lr=0.01)
    for _ in range(epochs):
        opt.step(twin.params, flat_gradient(twin, X, Y), twin.n_weights)
    net.fit(X, Y, epochs=epochs, optimizer="adam", lr=0.01)
    np.testing.assert_array_equal(net.params, twin.params)


def test_fit_clips_the_gradient_before_the_step():
    # g ← g·c/‖g‖ when ‖g‖ > c, then θ ← θ − α·g
    net, X, Y = small_problem(2)
    before, g = net.params.copy(), flat_gradient(net, X, Y)
    assert np.linalg.norm(g) > 0.01
    net.fit(X, Y, epochs=1, lr=0.1, clip_norm=0.01)
    expected = before - 0.1 * g * (0.01 / np.linalg.norm(g))
    np.testing.assert_allclose(net.params, expected, **CLOSE)


# -- learning-rate schedules --------------------------------------------------------


@pytest.mark.parametrize(
    "schedule, formula",
    [
        # α_e = α₀
        pytest.param(Constant(), lambda e, E: 0.1, id="constant"),
        # α_e = α₀·γ^⌊e / step_size⌋
        pytest.param(
            StepDecay(step_size=3, gamma=0.5),
            lambda e, E: 0.1 * 0.5 ** (e // 3),
            id="step",
        ),
        # α_e = α₀·γᵉ
        pytest.param(
            ExponentialDecay(gamma=0.9), lambda e, E: 0.1 * 0.9**e, id="exponential"
        ),
        # α_e = α_min + (α₀ − α_min)·(1 + cos(π·e/E))/2
        pytest.param(
            CosineDecay(lr_min=0.01),
            lambda e, E: 0.01 + 0.09 * (1 + math.cos(math.pi * e / E)) / 2,
            id="cosine",
        ),
        # α_e = α₀ / (e + 1)^p
        pytest.param(
            InverseScaling(power=0.5),
            lambda e, E: 0.1 / math.sqrt(e + 1),
            id="inverse_scaling",
        ),
    ],
)
def test_schedule_follows_its_formula(schedule, formula):
    E = 10
    got = [schedule(0.1, e, E) for e in range(E)]
    assert got == pytest.approx([formula(e, E) for e in range(E)], rel=1e-14)


def test_schedule_landmarks():
    assert StepDecay()(1.0, 9, 30) == 1.0  # step_size 10, γ 0.1: same lr for e < 10
    assert StepDecay()(1.0, 10, 30) == pytest.approx(0.1)
    assert StepDecay()(1.0, 25, 30) == pytest.approx(0.01)
    assert CosineDecay(lr_min=0.2)(1.0, 0, 10) == 1.0  # starts at α₀
    assert CosineDecay(lr_min=0.2)(1.0, 5, 10) == pytest.approx(0.6)  # halfway
    assert InverseScaling(power=1.0)(1.0, 3, 10) == pytest.approx(0.25)  # α₀/(e+1)
    assert ExponentialDecay(gamma=0.5)(1.0, 3, 10) == 0.125


def test_fit_records_the_scheduled_lr_per_epoch():
    net, X, Y = small_problem()
    history = net.fit(X, Y, epochs=25, lr=0.1, schedule="step")
    # StepDecay defaults: step_size 10, γ 0.1
    assert history.lr == pytest.approx([0.1] * 10 + [0.01] * 10 + [0.001] * 5)


def test_fit_steps_with_the_scheduled_lr():
    # epoch e: θ ← θ − α₀·γᵉ·∂L/∂θ
    net, X, Y = small_problem(3)
    twin = net.copy()
    net.fit(X, Y, epochs=3, lr=0.1, schedule=ExponentialDecay(gamma=0.5))
    for e in range(3):
        twin.params -= 0.1 * 0.5**e * flat_gradient(twin, X, Y)
    np.testing.assert_allclose(net.params, twin.params, **CLOSE)


# -- gradient clipping ----------------------------------------------------------------


def test_clip_by_global_norm_scales_to_the_max_norm():
    g = np.array([3.0, 4.0, 0.0, 12.0])  # ‖g‖₂ = 13
    assert clip_by_global_norm(g, 6.5) == 13.0  # returns the norm before
    np.testing.assert_allclose(g, [1.5, 2.0, 0.0, 6.0], **CLOSE)  # scaled in place
    assert np.linalg.norm(g) == pytest.approx(6.5)


def test_clip_by_global_norm_leaves_small_gradients_alone():
    g = np.array([3.0, 4.0, 0.0, 12.0])
    assert clip_by_global_norm(g, 13.0) == 13.0
    assert clip_by_global_norm(g, 20.0) == 13.0
    np.testing.assert_array_equal(g, [3.0, 4.0, 0.0, 12.0])


@pytest.mark.parametrize("max_norm", [0.5, 100.0], ids=["clipped", "unclipped"])
def test_clip_by_global_norm_equals_torch(torch, max_norm):
    _, (g,) = problem(5, steps=1)
    W = torch.zeros(N_WEIGHTS, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(N_BIASES, dtype=torch.float64, requires_grad=True)
    W.grad, b.grad = torch.tensor(g[:N_WEIGHTS]), torch.tensor(g[N_WEIGHTS:])
    torch_norm = torch.nn.utils.clip_grad_norm_([W, b], max_norm)

    norm = clip_by_global_norm(g, max_norm)
    assert norm == pytest.approx(torch_norm.item(), rel=1e-12)
    # torch scales by max_norm / (‖g‖ + 1e-6), nlayer by max_norm / ‖g‖: they
    # differ by ~1e-6/‖g‖ relative (‖g‖ ≈ 3 here)
    theirs = np.concatenate([W.grad.numpy(), b.grad.numpy()])
    np.testing.assert_allclose(g, theirs, rtol=1e-6)


# -- invalid hyper-parameters --------------------------------------------------------


@pytest.mark.parametrize(
    "make, name",
    [
        pytest.param(lambda: SGD(lr=0), "lr", id="sgd-lr=0"),
        pytest.param(lambda: Adam(lr=-0.001), "lr", id="adam-lr<0"),
        pytest.param(lambda: RMSprop(lr=float("nan")), "lr", id="rmsprop-lr=nan"),
        pytest.param(lambda: SGD(momentum=1.0), "momentum", id="sgd-momentum=1"),
        pytest.param(lambda: SGD(momentum=-0.1), "momentum", id="sgd-momentum<0"),
        pytest.param(lambda: Adam(beta1=1.0), "beta1", id="adam-beta1=1"),
        pytest.param(lambda: Adam(beta2=1.0), "beta2", id="adam-beta2=1"),
        pytest.param(lambda: Adam(eps=0.0), "eps", id="adam-eps=0"),
        pytest.param(lambda: RMSprop(rho=1.0), "rho", id="rmsprop-rho=1"),
        pytest.param(
            lambda: SGD(weight_decay=-1e-4), "weight_decay", id="sgd-weight_decay<0"
        ),
        pytest.param(
            lambda: AdamW(weight_decay=-0.01), "weight_decay", id="adamw-weight_decay<0"
        ),
        pytest.param(
            lambda: SGD(lr=0.1, nesterov=True),
            "nesterov",
            id="sgd-nesterov-no-momentum",
        ),
        pytest.param(lambda: StepDecay(step_size=0), "step_size", id="step-size=0"),
        pytest.param(lambda: ExponentialDecay(gamma=0.0), "gamma", id="exp-gamma=0"),
    ],
)
def test_invalid_hyper_parameters_raise_naming_the_parameter(make, name):
    with pytest.raises(ValueError, match=name):
        make()


@pytest.mark.parametrize(
    "options, message",
    [
        pytest.param(
            {"optimizer": "adagrad"},
            "unknown optimizer 'adagrad'; known: sgd, adam, adamw, rmsprop",
            id="unknown-optimizer",
        ),
        pytest.param(
            {"optimizer": "adam", "momentum": 0.9},
            "optimizer 'adam' takes no momentum",
            id="adam-momentum",
        ),
        pytest.param({"optimizer": "sgd", "lr": 0.0}, "lr", id="sgd-lr=0"),
        pytest.param(
            {"optimizer": "sgd", "momentum": 1.5}, "momentum", id="momentum>1"
        ),
        pytest.param(
            {"optimizer": Adam(), "lr": 0.1}, "lr given both", id="object-and-lr"
        ),
        pytest.param({"schedule": "warmup"}, "unknown schedule", id="unknown-schedule"),
    ],
)
def test_fit_refuses_bad_optimizer_options_before_training(options, message):
    net, X, Y = small_problem()
    before = net.params.copy()
    with pytest.raises(ValueError, match=message):
        net.fit(X, Y, epochs=1, **options)
    np.testing.assert_array_equal(net.params, before)  # nothing was trained


def test_fit_leaves_the_callers_optimizer_lr_alone():
    """A schedule must not change the optimiser object's lr across fits."""
    net = nlayer.Network([2, 1], ["linear"], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4, 2)), rng.normal(size=(4, 1))
    opt = SGD(lr=0.1)
    first = net.fit(X, Y, epochs=3, optimizer=opt, schedule="exponential").lr
    assert opt.lr == 0.1
    second = net.fit(X, Y, epochs=3, optimizer=opt, schedule="exponential").lr
    assert first == second == [0.1, 0.1 * 0.95, 0.1 * 0.95**2]


@pytest.mark.parametrize("max_norm", [0.0, -1.0, float("nan")])
def test_clip_by_global_norm_refuses_a_non_positive_max_norm(max_norm):
    g = np.array([3.0, 4.0])
    with pytest.raises(ValueError, match="max_norm must be a number in"):
        clip_by_global_norm(g, max_norm)
    np.testing.assert_array_equal(g, [3.0, 4.0])
