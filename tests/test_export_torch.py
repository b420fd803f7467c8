"""PyTorch export: the state dict loads into an ``nn.Sequential`` built here by
hand from torch's own modules, and that module computes what nlayer computes."""

import numpy as np
import pytest

import nlayer
from nlayer.activations import ACTIVATIONS, ELU, LeakyReLU
from nlayer.export import to_torch, to_torch_state_dict

torch = pytest.importorskip(
    "torch", reason="PyTorch not installed: pip install torch==2.13.0"
)
nn = torch.nn

TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


class Exp(nn.Module):
    def forward(self, z):
        return torch.exp(z)


def by_hand(act):
    """σ as torch's own module, written independently of nlayer.export."""
    return {
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(act.alpha),
        "elu": lambda: nn.ELU(act.alpha),
        "softmax": lambda: nn.Softmax(dim=1),
        "linear": lambda: nn.Identity(),
        "gelu": lambda: nn.GELU(approximate="tanh"),
        "silu": lambda: nn.SiLU(),
        "softplus": lambda: nn.Softplus(threshold=40.0),
        "exp": lambda: Exp(),
    }[act.name]()


def sequential(net):
    dtype = torch.float64 if net.dtype == np.float64 else torch.float32
    modules = []
    for l, act in enumerate(net.activations):
        n_in, n_out = net.layer_sizes[l], net.layer_sizes[l + 1]
        modules += [nn.Linear(n_in, n_out, dtype=dtype), by_hand(act)]
    return nn.Sequential(*modules)


def assert_close(got, expected, dtype):
    tol = TOLERANCE[np.dtype(dtype).name]
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def outputs(module, X):
    with torch.no_grad():
        return module(torch.from_numpy(X)).numpy()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "act", [*ACTIVATIONS, ELU(alpha=0.7), LeakyReLU(alpha=0.3)], ids=str
)
def test_the_state_dict_loads_into_a_hand_built_sequential(act, dtype):
    output_only = act in ("softmax", "exp")
    acts = ["tanh", act] if output_only else [act, act, "linear"]
    sizes = [5, 7, 3] if output_only else [5, 7, 6, 3]
    net = nlayer.Network(sizes, acts, seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    for b in net.biases:
        b[...] = rng.normal(size=b.shape)
    module = sequential(net)
    module.load_state_dict(to_torch_state_dict(net), strict=True)
    X = (rng.normal(size=(100, 5)) * np.geomspace(1e-6, 30, 5)).astype(dtype)
    assert_close(outputs(module, X), net.forward(X), dtype)
    assert_close(outputs(to_torch(net), X), net.forward(X), dtype)


def test_the_weights_are_transposed_and_the_biases_kept():
    net = nlayer.Network([3, 4, 2], ["relu", "linear"], seed=1)
    state = to_torch_state_dict(net)
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert state["0.weight"].shape == (4, 3)  # torch's (out, in)
    np.testing.assert_array_equal(state["2.weight"].numpy(), net.weights[1].T)
    np.testing.assert_array_equal(state["0.bias"].numpy(), net.biases[0])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_export_their_predictions():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_breast_cancer, load_diabetes

    X, y = load_diabetes(return_X_y=True)
    reg = nlayer.NLayerRegressor(hidden_layer_sizes=(16,), max_iter=30, random_state=0)
    reg.fit(X, y)  # a standardised target, folded into the last layer
    assert_close(outputs(to_torch(reg), X)[:, 0], reg.predict(X), "float64")
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    clf = nlayer.NLayerClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    clf.fit(X, y)  # binary: one sigmoid output, the probability of classes_[1]
    p = outputs(to_torch(clf), X)[:, 0]
    assert_close(p, clf.predict_proba(X)[:, 1], "float64")


def test_a_model_with_preprocessing_is_not_silently_cut(tmp_path):
    pytest.importorskip("sklearn")
    X = np.random.default_rng(0).normal(size=(40, 3))
    reg = nlayer.NLayerRegressor(hidden_layer_sizes=(4,), solver="lbfgs")
    reg.fit(X, X.sum(axis=1))
    model = nlayer.load(reg.save(tmp_path / "m.safetensors"))
    with pytest.raises(TypeError, match="holds the network only"):
        to_torch_state_dict(model)
    state = to_torch_state_dict(model.network)
    assert state["0.weight"].shape == (4, 3)
