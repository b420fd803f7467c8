"""Activations: σ′ against finite differences, stability, defaults, custom ones."""

import warnings

import numpy as np
import pytest

import nlayer
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU, get_activation

ELEMENTWISE = [name for name in ACTIVATIONS if name != "softmax"]
Z = np.linspace(-6, 6, 301) + 1e-3  # no point within 1e-6 of the ReLU kink at 0


@pytest.mark.parametrize("act", [*ELEMENTWISE, LeakyReLU(0.2), ELU(0.5)], ids=str)
def test_derivative_matches_central_differences(act):
    a = get_activation(act)
    eps = 1e-6
    numeric = (a.forward(Z + eps) - a.forward(Z - eps)) / (2 * eps)
    np.testing.assert_allclose(
        a.derivative(Z, a.forward(Z)), numeric, rtol=1e-6, atol=1e-8
    )
    # derivative without h computes h itself
    np.testing.assert_allclose(a.derivative(Z), a.derivative(Z, a.forward(Z)))


def test_softmax_backward_is_the_jacobian_product():
    a = get_activation("softmax")
    rng = np.random.default_rng(0)
    Zs, dH = rng.normal(size=(4, 5)), rng.normal(size=(4, 5))
    H = a.forward(Zs)
    np.testing.assert_allclose(H.sum(axis=1), 1.0)
    for i in range(4):
        h = H[i]
        jacobian = np.diag(h) - np.outer(h, h)  # ∂hᵢ/∂zⱼ
        np.testing.assert_allclose(a.backward(dH, Zs, H)[i], jacobian.T @ dH[i])
    with pytest.raises(TypeError, match="no element-wise derivative"):
        a.derivative(Zs)


# exp grows without bound by design (e^1000 is not a number): an overflow there
# is the divergence guard's to report, tested in test_faults.py
BOUNDED = [name for name in ACTIVATIONS if name != "exp"]


@pytest.mark.parametrize("name", BOUNDED)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_stable_for_large_inputs_and_dtype_kept(name, dtype):
    a = get_activation(name)
    z = np.array([[-1e3, -50.0, -1.0, 0.0, 1.0, 50.0, 1e3]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        with np.errstate(
            over="raise", invalid="raise", divide="raise"
        ):  # underflow to 0 is exact enough
            h = a.forward(z)
            dZ = a.backward(np.ones_like(z), z, h)
    assert np.isfinite(h).all() and np.isfinite(dZ).all()
    assert h.dtype == z.dtype and dZ.dtype == z.dtype


def test_known_values():
    z = np.array([-2.0, 0.0, 3.0])
    assert get_activation("relu").derivative(np.array([0.0]))[0] == 0.0  # σ′(0) = 0
    np.testing.assert_allclose(get_activation("leaky_relu").forward(z), [-0.02, 0, 3])
    np.testing.assert_allclose(get_activation("elu").forward(z), [np.expm1(-2), 0, 3])
    np.testing.assert_allclose(
        get_activation("sigmoid").forward(z), 1 / (1 + np.exp(-z))
    )
    np.testing.assert_allclose(
        get_activation("softplus").forward(z), np.log1p(np.exp(z))
    )
    np.testing.assert_allclose(get_activation("silu").forward(z), z / (1 + np.exp(-z)))
    gelu = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3)))
    np.testing.assert_allclose(get_activation("gelu").forward(z), gelu)
    assert LeakyReLU().alpha == 0.01 and ELU().alpha == 1.0


def test_bad_parameters_and_names():
    with pytest.raises(ValueError, match="alpha must be a non-negative number"):
        LeakyReLU(alpha=-1)
    with pytest.raises(ValueError, match="alpha must be a positive number"):
        ELU(alpha=0)
    with pytest.raises(ValueError, match="unknown activation 'rleu'; known: sigmoid"):
        get_activation("rleu")
    with pytest.raises(TypeError, match=r"LeakyReLU\(\), not the class"):
        get_activation(LeakyReLU)
    with pytest.raises(TypeError, match="forward"):
        get_activation(42)


class Cube:
    """A custom activation as the seeds ask: just σ and σ′."""

    def forward(self, z):
        return z**3

    def derivative(self, z, h):
        return 3 * z**2


class WrongCube(Cube):
    def derivative(self, z, h):
        return 2 * z**2  # the mistake a learner makes


def test_custom_activation_is_checked():
    assert nlayer.check_activation(Cube()) < 1e-6
    with pytest.raises(ValueError, match="disagrees with finite differences"):
        nlayer.check_activation(WrongCube())
    # the network runs the same check when it is built, naming the layer
    with pytest.raises(ValueError, match="layer 1: activation 'WrongCube'"):
        nlayer.Network([2, 3, 1], [WrongCube(), "linear"])
    net = nlayer.Network([2, 3, 1], [Cube(), "linear"], seed=0)
    X, Y = np.ones((4, 2)), np.zeros((4, 1))
    assert nlayer.gradcheck(net, X, Y) < 1e-6


class Upcasting(Cube):
    def forward(self, z):
        return np.float64(1.0) * z**3  # NumPy 2: float64 scalars up-cast float32


def test_custom_activation_must_keep_float32():
    nlayer.Network([2, 3, 1], [Upcasting(), "linear"], dtype="float64")
    with pytest.raises(ValueError, match="turns float32 input into float64"):
        nlayer.Network([2, 3, 1], [Upcasting(), "linear"], dtype="float32")


def test_subclass_and_registry():
    class Square(nlayer.Activation):
        name = "square"

        def forward(self, z):
            return z * z

        def derivative(self, z, h=None):
            return 2 * z

    nlayer.register_activation("square", Square)
    try:
        net = nlayer.Network([2, 3, 1], ["square", "linear"], seed=1)
        assert net.activations[0].name == "square"
        with pytest.raises(ValueError, match="already registered"):
            nlayer.register_activation("square", Square)
    finally:
        ACTIVATIONS.pop("square")


def test_a_subclass_that_redefines_the_derivative_is_trained_with_it():
    """The in-place shortcuts of a built-in must not outlive its formulas."""

    class HalfReLU(nlayer.activations.ReLU):
        def derivative(self, z, h=None):
            return 0.5 * (z > 0)

    dH = np.ones((2, 3))
    z = np.array([[1.0, -1.0, 2.0], [0.5, 3.0, -2.0]])
    np.testing.assert_array_equal(
        HalfReLU().backward_into(dH.copy(), z, None), 0.5 * (z > 0)
    )
