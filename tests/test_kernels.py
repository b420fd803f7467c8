"""The optional fused kernels (``nlayer[fast]``, numba) against the NumPy path.

The promise is bit-identity: each kernel does the NumPy lines beside its caller
in the same order and dtype, so a run gives the same bits with and without
numba. Every comparison here is ``array_equal`` (NaN equal to NaN, the sign of
zero checked), never a tolerance: first each kernel on hostile values, then
optimiser steps, then whole training runs through fit and the estimators.
Without numba the module skips visibly; the NumPy path is the rest of the suite.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import nlayer
from nlayer import kernels
from nlayer.activations import get_activation
from nlayer.losses import get_loss
from nlayer.optimizers import get_optimizer

pytest.importorskip("numba", reason='numba not installed: pip install "nlayer[fast]"')

DTYPES = [np.float32, np.float64]


def same_bits(a, b):
    """Equal arrays, NaN where NaN, and the same sign on every zero (a NaN's
    sign bit means nothing, and NumPy's own loops do not agree on it)."""
    a, b = np.asarray(a), np.asarray(b)
    number = ~np.isnan(a)
    return (
        a.dtype == b.dtype
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a[number]), np.signbit(b[number]))
    )


def hostile(rng, shape, dtype):
    """Normal values across many magnitudes, with 0, −0, ±inf and NaN mixed in."""
    A = rng.normal(size=shape) * 10.0 ** rng.integers(-30, 30, size=shape)
    flat = A.reshape(-1)
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-310, -1e-310]
    picks = rng.choice(flat.size, size=min(flat.size, 3 * len(specials)), replace=False)
    flat[picks] = np.resize(specials, len(picks))
    with np.errstate(over="ignore"):
        return A.astype(dtype)


def every_other(A):
    """A as every other column of a wider array: a strided view (numba
    compiles a loop for that layout too)."""
    B = np.empty((*A.shape[:-1], 2 * A.shape[-1]), A.dtype)[..., ::2]
    B[...] = A
    return B


def copy_of(A):
    """A copy in A's layout: C-ordered, or strided as :func:`every_other`."""
    return A.copy() if A.flags.c_contiguous else every_other(A)


def both_paths(fn, *arrays):
    """fn run on copies of ``arrays`` with the kernels and without: the two
    results and the two sets of arrays afterwards (fn works in place)."""
    out = []
    for on in (True, False):
        copies = [copy_of(A) for A in arrays]
        with kernels.use(on), np.errstate(all="ignore"):
            result = fn(*copies)
        out.append((result, copies))
    return out


@pytest.fixture(autouse=True)
def kernels_on():
    with kernels.use(True):
        assert kernels.available()
        yield


# -- each kernel on hostile values -----------------------------------------------


@pytest.mark.parametrize("layout", ["C", "strided"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (3, 5), (200, 7), (128, 256), (7, 1000)])
@pytest.mark.parametrize(
    "name", ["relu", "tanh", "sigmoid", "softmax", "linear", "elu"]
)
def test_a_layer_forward_and_backward_match_numpy(name, shape, dtype, layout):
    rng = np.random.default_rng([len(name), *shape])
    act = get_activation(name)
    Z, b = hostile(rng, shape, dtype), hostile(rng, shape[1:], dtype)
    lay = every_other if layout == "strided" else np.ascontiguousarray
    Z, b, H = lay(Z), lay(b), lay(np.empty_like(Z))
    (H1, (Z1, _, Ho1)), (H2, (Z2, _, Ho2)) = both_paths(
        lambda z, b, h: act.bias_forward_into(z, b, h), Z, b, H
    )
    assert same_bits(Z1, Z2)  # Z += b
    assert same_bits(H1, H2)  # H = σ(Z)
    assert same_bits(Ho1, Ho2)
    if not act.elementwise:
        return
    dH = lay(hostile(rng, shape, dtype))
    (d1, _), (d2, _) = both_paths(
        lambda d, z, h: act.backward_into(d, z, h), dH, Z1, H1
    )
    assert same_bits(d1, d2)  # dZ = dH ⊙ σ′(Z)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [*range(1, 20), 31, 32, 33, 63, 64, 65, 100, 127, 128])
def test_row_sums_have_numpys_bits(n, dtype):
    """NumPy sums a row pairwise; the kernel's order must be the same for every
    row length it takes (above 128 NumPy keeps the row)."""
    rng = np.random.default_rng(n)
    A = (rng.normal(size=(5, n)) * 10.0 ** rng.integers(-6, 6, size=(5, n))).astype(
        dtype
    )
    out = np.empty(5, dtype)
    kernels.get().row_sums(A, out, dtype(0))
    assert same_bits(out, A.sum(axis=1))
    S = np.empty_like(A)
    kernels.get().shift_rows(A, S)
    assert same_bits(S, A - A.max(axis=1, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("classes", [2, 7, 10, 128, 129, 1000])
def test_cross_entropy_from_logits_matches_numpy(classes, dtype):
    rng = np.random.default_rng(classes)
    Z = (rng.normal(size=(64, classes)) * 30).astype(dtype)
    Y = np.eye(classes, dtype=dtype)[rng.integers(0, classes, 64)]
    loss = get_loss("cross_entropy")
    (v1, _), (v2, _) = both_paths(loss.value_from_logits, Z, Y)
    assert v1 == v2
    (H1, _), (H2, _) = both_paths(
        lambda z, h: get_activation("softmax").forward_into(z, h), Z, np.empty_like(Z)
    )
    assert same_bits(H1, H2)


# -- optimiser updates --------------------------------------------------------------

OPTIMIZERS = [
    ("sgd", {}),
    ("sgd", {"weight_decay": 0.1}),
    ("sgd", {"momentum": 0.9}),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("adam", {}),
    ("adam", {"weight_decay": 0.1}),
    ("adamw", {}),
    ("rmsprop", {}),
    ("rmsprop", {"weight_decay": 0.1}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "kw"), OPTIMIZERS)
def test_an_optimiser_step_matches_numpy(name, kw, dtype):
    rng = np.random.default_rng(0)
    n, n_weights = 1001, 700
    theta0 = hostile(rng, (n,), dtype)
    theta0[np.isnan(theta0) | np.isinf(theta0)] = 1.5  # NaN would spread: kept finite
    steps = [hostile(rng, (n,), dtype) for _ in range(4)]
    runs = []
    for on in (True, False):
        opt, theta = get_optimizer(name, lr=0.01, **kw), theta0.copy()
        with kernels.use(on), np.errstate(all="ignore"):
            for g in steps:
                opt.step(theta, g.copy(), n_weights)
        runs.append((theta, opt.state))
    (t1, s1), (t2, s2) = runs
    assert same_bits(t1, t2)
    assert s1.keys() == s2.keys()
    for key in s1:
        assert same_bits(s1[key], s2[key]), key


# -- whole runs --------------------------------------------------------------------

RUNS = [
    ([5, 16, 12, 3], ["relu", "tanh", "softmax"], "cross_entropy", "adam"),
    ([5, 16, 12, 2], ["sigmoid", "relu", "linear"], "mse", "sgd"),
    ([5, 9, 1], ["leaky_relu", "sigmoid"], "binary_cross_entropy", "rmsprop"),
    ([5, 8, 8, 2], ["elu", "gelu", "linear"], "huber", "adamw"),
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("sizes", "acts", "loss", "opt"), RUNS)
def test_a_fit_has_the_same_bits_with_and_without_kernels(
    sizes, acts, loss, opt, dtype
):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, sizes[0])).astype(dtype)
    if loss == "cross_entropy":
        Y = np.eye(sizes[-1], dtype=dtype)[rng.integers(0, sizes[-1], 300)]
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (300, 1)).astype(dtype)
    else:
        Y = rng.normal(size=(300, sizes[-1])).astype(dtype)
    w = rng.random(300).astype(dtype)
    runs = []
    for on in (True, False):
        net = nlayer.Network(sizes, acts, loss=loss, seed=3, dtype=dtype)
        with kernels.use(on):
            hist = net.fit(
                X,
                Y,
                epochs=4,
                batch_size=32,
                optimizer=opt,
                lr=0.01,
                validation_fraction=0.2,
                sample_weight=w,
            )
        runs.append((net.params.copy(), hist))
    (p1, h1), (p2, h2) = runs
    assert same_bits(p1, p2)
    assert h1.loss == h2.loss
    assert h1.val_loss == h2.val_loss
    assert h1.grad_norms == h2.grad_norms


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_the_estimator_has_the_same_bits_with_and_without_kernels():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    fits = []
    for on in (True, False):
        with kernels.use(on):
            m = nlayer.NLayerClassifier(
                hidden_layer_sizes=(32,), max_iter=5, random_state=0
            ).fit(X, y)
        fits.append(m)
    a, b = fits
    assert all(same_bits(u, v) for u, v in zip(a.coefs_, b.coefs_, strict=True))
    assert a.loss_curve_ == b.loss_curve_


# -- when the kernels are not used ---------------------------------------------------


def test_arrays_the_kernels_cannot_take_go_to_numpy():
    """Read-only, mismatched or float16 arrays: NumPy's result, or NumPy's own
    error, never a kernel reading out of bounds; strided ones: the kernel, the
    same bits."""
    rng = np.random.default_rng(0)
    relu = get_activation("relu")
    Z = rng.normal(size=(6, 8))
    assert kernels.usable(2, Z, Z.copy()) is not None
    assert kernels.usable(2, Z[:, ::2], Z[:, ::2].copy()) is not None  # strided
    ro = Z.copy()
    ro.flags.writeable = False
    assert kernels.usable(2, Z.copy(), ro) is None
    assert kernels.usable(2, Z, Z[:5].copy()) is None  # shapes differ
    assert kernels.usable(2, Z.astype(np.float16), Z.astype(np.float16)) is None
    assert kernels.usable(2, Z, Z.astype(np.float32)) is None  # dtypes differ
    assert kernels.usable(2, Z, bias=np.zeros(7)) is None  # bias of another length
    assert kernels.usable(1, Z.ravel()) is not None
    assert kernels.usable(1, Z) is None  # a matrix where a vector is expected
    with pytest.raises(ValueError):  # NumPy's broadcasting error
        relu.backward_into(Z.copy(), Z[:5], None)
    d = rng.normal(size=(6, 8))
    expect = d[:, ::2] * (Z[:, ::2] > 0)
    assert same_bits(relu.backward_into(d[:, ::2], Z[:, ::2], None), expect)
    assert same_bits(d[:, ::2], expect)  # in place, through the strided view


def test_column_major_rows_and_overlapping_views_go_to_numpy():
    """NumPy sums a column-major row in another order than a C-ordered one, and
    buffers operands that partly overlap: the kernels must not take either."""
    rng = np.random.default_rng(3)
    Z = np.asfortranarray(rng.normal(size=(50, 10)))
    softmax = get_activation("softmax")
    (H1, _), (H2, _) = both_paths(lambda z, h: softmax.forward_into(z, h), Z, Z * 0)
    assert same_bits(H1, H2)
    Y = np.asfortranarray(rng.dirichlet(np.ones(10), 50))  # a DataFrame's layout
    (v1, _), (v2, _) = both_paths(get_loss("cross_entropy").value_from_logits, Z, Y)
    assert v1 == v2
    relu, tanh = get_activation("relu"), get_activation("tanh")
    cases = [
        lambda B, b: relu.backward_into(B[1:], B[:-1], None),
        lambda B, b: tanh.backward_into(B[:, 1:], None, B[:, :-1]),
        lambda B, b: relu.bias_forward_into(B, b, B[::-1]),
        lambda B, b: softmax.forward_into(B, B[:, ::-1]),
    ]
    for case in cases:
        B, b = rng.normal(size=(6, 8)), rng.normal(size=8)
        (r1, (B1, _)), (r2, (B2, _)) = both_paths(case, B, b)
        assert same_bits(B1, B2) and same_bits(r1, r2)
    A = rng.normal(size=(6, 8))  # the very same array twice: the loops' order
    (r1, _), (r2, _) = both_paths(lambda a: relu.backward_into(a, a, None), A)
    assert same_bits(r1, r2)


@pytest.mark.parametrize("name", ["sgd", "adam", "rmsprop"])
def test_settings_that_round_to_zero_in_float32_match_numpy(name):
    """NumPy tests the Python momentum and weight decay, not their float32
    roundings: 1e-50 is 0 in float32 and still switches the lines on."""
    kw = {"weight_decay": 1e-50} | ({"momentum": 1e-50} if name == "sgd" else {})
    rng = np.random.default_rng(4)
    theta0 = rng.normal(size=40).astype(np.float32)
    theta0[:3] = [-0.0, 0.0, -0.0]
    g = rng.normal(size=40).astype(np.float32)
    g[:3] = [-0.0, -0.0, 0.0]
    runs = []
    for on in (True, False):
        opt, theta = get_optimizer(name, lr=0.1, **kw), theta0.copy()
        with kernels.use(on):
            opt.step(theta, g.copy(), 20)
            opt.step(theta, g.copy(), 20)
        runs.append((theta, opt.state))
    (t1, s1), (t2, s2) = runs
    assert same_bits(t1, t2)
    assert all(same_bits(s1[key], s2[key]) for key in s1)


def test_an_update_of_an_array_by_itself_goes_to_numpy():
    p = np.arange(1.0, 6.0)
    q = p.copy()
    with kernels.use(True):
        get_optimizer("sgd", lr=0.5).step(p, p, 3)
    with kernels.use(False):
        get_optimizer("sgd", lr=0.5).step(q, q, 3)
    assert same_bits(p, q)


def test_turned_off_or_missing_numba_means_numpy():
    code = (
        "import sys, numpy as np, nlayer\n"
        "from nlayer import kernels\n"
        "net = nlayer.Network([2, 3, 1], ['relu', 'linear'], seed=0)\n"
        "net.fit(np.ones((4, 2)), np.ones((4, 1)), epochs=2, batch_size=2)\n"
        "print(kernels.available(), sys.modules.get('numba') is not None)\n"
    )

    def run(prefix="", **env):
        environ = {k: v for k, v in os.environ.items() if k != "NLAYER_KERNELS"}
        r = subprocess.run(
            [sys.executable, "-c", prefix + code],
            env=environ | env,
            capture_output=True,
            text=True,
            check=True,
        )
        return r.stdout.split()

    assert run(NLAYER_KERNELS="0") == ["False", "False"]  # off: numba not imported
    hide = "import sys; sys.modules['numba'] = None\n"
    assert run(hide) == ["False", "False"]  # missing: the NumPy path trains
    assert run() == ["True", "True"]


def test_importing_nlayer_does_not_import_numba():
    code = "import sys, nlayer; print('numba' in sys.modules)"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert r.stdout.strip() == "False"
