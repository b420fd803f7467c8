"""The network's extensions beyond the seeds: dropout (with its masks held fixed,
the gradients are still exact), a sparse first layer (the same numbers as the
dense matrix), L-BFGS through ``fit`` and the reduce-on-plateau schedule."""

import math
import os

import numpy as np
import pytest

import nlayer
from nlayer import Network
from nlayer.callbacks import FunctionCallback
from nlayer.optimizers import LBFGS, ReduceOnPlateau
from nlayer.training import History

scipy_sparse = pytest.importorskip("scipy.sparse")


def problem(seed=0, sizes=(6, 9, 7, 3), acts=("tanh", "relu", "softmax"), m=25):
    rng = np.random.default_rng(seed)
    loss = "cross_entropy" if acts[-1] == "softmax" else "mse"
    net = Network(list(sizes), list(acts), loss=loss, seed=seed)
    for b in net.biases:  # off the kinks: b = 0 puts dead ReLUs exactly on them
        b[...] = rng.normal(scale=0.5, size=b.shape)
    X = rng.normal(size=(m, sizes[0]))
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], m)]
    else:
        Y = rng.normal(size=(m, sizes[-1]))
    return net, X, Y


# -- dropout -------------------------------------------------------------------


def test_dropout_masks_are_zero_or_the_inverted_scale():
    net = Network([4, 50, 40, 2], ["relu", "relu", "linear"], dropout=[0.3, 0.0])
    masks = net.dropout_masks(2000, np.random.default_rng(0))
    assert len(masks) == 2 and masks[1] is None  # one per hidden layer
    M = masks[0]
    assert M.shape == (2000, 50)
    assert set(np.unique(M)) == {0.0, 1 / 0.7}
    assert np.mean(M == 0) == pytest.approx(0.3, abs=0.01)
    assert M.mean() == pytest.approx(1.0, abs=0.01)  # E[M] = 1: no rescale needed later


def test_no_dropout_means_no_masks():
    assert Network([3, 4, 1], ["tanh", "linear"]).dropout_masks(5) is None


@pytest.mark.parametrize(
    "acts", [("tanh", "relu", "softmax"), ("gelu", "elu", "linear")]
)
def test_gradients_with_fixed_masks_match_finite_differences(acts):
    net, X, Y = problem(1, acts=acts)
    net.dropout = (0.5, 0.25)
    masks = net.dropout_masks(len(X), np.random.default_rng(3))
    assert nlayer.gradcheck(net, X, Y, masks=masks) < 1e-7
    # the masks matter: the gradients differ from the undropped network's
    dW_full, _ = net.gradients(X, Y)
    dW_drop, _ = net.gradients(X, Y, masks=masks)
    assert not np.allclose(dW_full[0], dW_drop[0])


def test_gradients_with_masks_match_torch_autograd():
    torch = pytest.importorskip("torch")
    net, X, Y = problem(2)
    net.dropout = (0.4, 0.4)
    masks = net.dropout_masks(len(X), np.random.default_rng(4))
    Ws = [torch.tensor(np.array(W), requires_grad=True) for W in net.weights]
    bs = [torch.tensor(np.array(b), requires_grad=True) for b in net.biases]
    H = torch.tensor(X)
    for l, (W, b) in enumerate(zip(Ws, bs, strict=True)):
        Z = H @ W + b
        if l < 2:  # D⁽ˡ⁾ = σ(Z⁽ˡ⁾) ⊙ M⁽ˡ⁾
            H = torch.tanh(Z) if l == 0 else torch.relu(Z)
            H = H * torch.tensor(masks[l])
    loss = -(torch.tensor(Y) * torch.log_softmax(Z, dim=1)).sum() / len(Y)
    loss.backward()
    assert net.loss(X, Y, masks=masks) == pytest.approx(loss.item(), rel=1e-12)
    dW, db = net.gradients(X, Y, masks=masks)
    for l in range(3):
        np.testing.assert_allclose(dW[l], Ws[l].grad.numpy(), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(db[l], bs[l].grad.numpy(), rtol=1e-10, atol=1e-13)


def test_prediction_never_drops():
    net, X, Y = problem(5)
    plain = net.copy()
    net.dropout = (0.5, 0.5)
    np.testing.assert_array_equal(net.forward(X), plain.forward(X))
    np.testing.assert_array_equal(net.forward(X), net.forward(X))


def test_training_with_dropout_is_seeded_and_differs_from_without():
    def trained(dropout):
        net, X, Y = problem(6)
        net = Network(
            [6, 9, 7, 3], ["tanh", "relu", "softmax"], seed=0, dropout=dropout
        )
        net.fit(X, Y, epochs=20, lr=0.1, batch_size=5)
        return net.params.copy()

    np.testing.assert_array_equal(trained(0.3), trained(0.3))
    assert not np.allclose(trained(0.3), trained(None))


@pytest.mark.parametrize(
    "dropout, message",
    [
        (1.0, r"dropout of hidden layer 1 must be in \[0, 1\)"),
        (-0.1, r"dropout of hidden layer 1 must be in \[0, 1\)"),
        ([0.1, 0.2, 0.3], r"one rate or one per hidden layer \(2\)"),
    ],
)
def test_bad_dropout_is_refused_naming_the_layer(dropout, message):
    with pytest.raises(ValueError, match=message):
        Network([3, 4, 4, 1], ["tanh", "tanh", "linear"], dropout=dropout)


def test_dropout_survives_save_and_load(tmp_path):
    net = Network([3, 4, 4, 1], ["tanh", "tanh", "linear"], dropout=[0.2, 0.0])
    nlayer.save(net, tmp_path / "m.safetensors")
    again = nlayer.load(tmp_path / "m.safetensors").network
    assert again.dropout == (0.2, 0.0)
    np.testing.assert_array_equal(again.params, net.params)


# -- a sparse first layer ---------------------------------------------------------


def sparse_problem(seed=0, m=40, n=30):
    rng = np.random.default_rng(seed)
    dense = rng.normal(size=(m, n)) * (rng.random((m, n)) < 0.1)
    Y = rng.normal(size=(m, 2))
    return dense, scipy_sparse.csr_matrix(dense), Y


def test_a_sparse_matrix_gives_the_dense_numbers():
    dense, sparse, Y = sparse_problem()
    net = Network([30, 8, 2], ["relu", "linear"], seed=1)
    np.testing.assert_allclose(net.forward(sparse), net.forward(dense), rtol=1e-13)
    for a, b in zip(net.gradients(sparse, Y), net.gradients(dense, Y), strict=True):
        for l in range(2):
            np.testing.assert_allclose(a[l], b[l], rtol=1e-12, atol=1e-15)


def test_fitting_a_sparse_matrix_equals_fitting_it_dense():
    dense, sparse, Y = sparse_problem(2)
    a = Network([30, 8, 2], ["tanh", "linear"], seed=1)
    b = a.copy()
    a.fit(sparse, Y, epochs=10, lr=0.05, batch_size=8, optimizer="adam")
    b.fit(dense, Y, epochs=10, lr=0.05, batch_size=8, optimizer="adam")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-10, atol=1e-13)


def test_a_sparse_matrix_of_the_wrong_width_names_the_shapes():
    _, sparse, _ = sparse_problem()
    net = Network([29, 8, 2], ["relu", "linear"])
    with pytest.raises(ValueError, match="29"):
        net.forward(sparse)


# -- L-BFGS through fit -------------------------------------------------------------


def test_lbfgs_through_fit_is_scipys_minimiser_on_the_seeds_loss():
    from scipy.optimize import minimize

    net, X, Y = problem(7, acts=("tanh", "tanh", "linear"))
    start = net.params.copy()
    history = net.fit(X, Y, epochs=50, optimizer="lbfgs")

    twin = net.copy()

    def objective(theta):
        twin.params[...] = theta
        dW, db = twin.gradients(X, Y)
        return twin.loss(X, Y), np.concatenate([*(W.ravel() for W in dW), *db])

    # the same flat layout: every W then every b
    expected = minimize(
        objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 50}
    )
    np.testing.assert_allclose(net.params, expected.x, rtol=1e-9, atol=1e-12)
    assert history.epochs == expected.nit
    assert history.loss[-1] == pytest.approx(expected.fun, rel=1e-9)
    assert history.loss[-1] < history.loss[0] / 2


def test_lbfgs_runs_scipys_own_blas_on_one_thread_and_leaves_numpys():
    """NumPy's and SciPy's wheels each bring an OpenBLAS thread pool; during
    L-BFGS-B SciPy's is held to one thread (its spinning threads made fits 3×
    slower), NumPy's keeps its threads for the products, and both are as they
    were afterwards."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    import scipy

    home = os.path.dirname(scipy.__file__)

    def pools():
        info = threadpoolctl.threadpool_info()
        scipys = [i["num_threads"] for i in info if i["filepath"].startswith(home)]
        others = [
            i["num_threads"]
            for i in info
            if i["user_api"] == "blas" and not i["filepath"].startswith(home)
        ]
        return scipys, others

    import scipy.optimize  # noqa: F401  (loads SciPy's BLAS, as fit does)

    before = pools()
    if not before[0]:
        pytest.skip("SciPy shares NumPy's BLAS here: one pool, nothing to hold")
    seen = []
    net, X, Y = problem(7, acts=("tanh", "tanh", "linear"))
    net.fit(X, Y, epochs=3, optimizer="lbfgs",
            callbacks=[FunctionCallback(lambda *_: seen.append(pools()))])  # fmt: skip
    assert seen and all(scipys == [1] * len(scipys) for scipys, _ in seen)
    assert all(others == before[1] for _, others in seen)
    assert pools() == before


def test_lbfgs_weight_decay_adds_half_lambda_w_squared():
    from scipy.optimize import minimize

    net, X, Y = problem(8, acts=("tanh", "tanh", "linear"))
    start = net.params.copy()
    lam = 0.3
    net.fit(X, Y, epochs=30, optimizer=LBFGS(weight_decay=lam))
    twin, nw = net.copy(), net.n_weights

    def objective(theta):
        twin.params[...] = theta
        dW, db = twin.gradients(X, Y)
        g = np.concatenate([*(W.ravel() for W in dW), *db])
        g[:nw] += lam * theta[:nw]
        return twin.loss(X, Y) + lam / 2 * theta[:nw] @ theta[:nw], g

    expected = minimize(
        objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 30}
    )
    np.testing.assert_allclose(net.params, expected.x, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize(
    "option", [{"batch_size": 4}, {"schedule": "cosine"}, {"clip_norm": 1.0}]
)
def test_lbfgs_refuses_options_of_stochastic_training(option):
    net, X, Y = problem(9)
    name = next(iter(option))
    with pytest.raises(ValueError, match=f"lbfgs.*no {name}"):
        net.fit(X, Y, epochs=3, optimizer="lbfgs", **option)


def test_lbfgs_takes_no_single_step():
    with pytest.raises(TypeError, match="whole training set"):
        LBFGS().step(np.zeros(3), np.zeros(3), 2)


# -- reduce on plateau -------------------------------------------------------------


def test_plateau_divides_the_rate_after_patience_epochs_without_improvement():
    sched = ReduceOnPlateau(factor=0.5, patience=2)
    history = History(loss=[5.0, 4.0, 4.0, 4.0, 3.0, 3.0, 3.0, 3.0, 3.0])
    rates = [sched.rate(1.0, e, 9, history) for e in range(10)]
    # epochs 2 and 3 do not improve on 4.0: the rate halves from epoch 4; 3.0 is
    # then the best, and epochs 5–6 and 7–8 each make another plateau
    assert rates == [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_plateau_watches_the_validation_loss_and_stops_at_min_lr():
    sched = ReduceOnPlateau(factor=0.1, patience=1, min_lr=0.05)
    history = History(loss=[3.0, 2.0, 1.0, 0.5], val_loss=[1.0, 1.0, 1.0, 1.0])
    assert sched.rate(1.0, 4, 4, history) == 0.05  # 1.0 → 0.1 → 0.05 (the floor)


def test_fit_with_plateau_records_the_rates_it_used():
    net, X, Y = problem(10, acts=("tanh", "tanh", "linear"))
    history = net.fit(X, Y, epochs=60, lr=5.0, schedule="plateau")  # lr too large
    sched = ReduceOnPlateau()
    assert history.lr == [sched.rate(5.0, e, 60, history) for e in range(60)]
    assert min(history.lr) < 5.0 and all(math.isfinite(v) for v in history.loss)
