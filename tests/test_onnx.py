"""ONNX export: onnxruntime computes what nlayer computes — a network for every
activation, a loaded model from its raw columns (fill values, one-hot, 0/1,
scaling, classes), the estimators alone and inside a scikit-learn Pipeline
through skl2onnx, and the ``nlayer export`` command."""

import csv

import numpy as np
import pytest

import nlayer
from helpers import nlayer_cmd

pytest.importorskip("onnx", reason="ONNX export needs onnx: pip install nlayer[onnx]")
ort = pytest.importorskip("onnxruntime", reason="the round trips need onnxruntime")
nlonnx = pytest.importorskip("nlayer.onnx")

from nlayer.activations import ACTIVATIONS, ELU, Activation, LeakyReLU  # noqa: E402

# float32: both sides round differently in each of ~10 operations; float64:
# only the last bits of sums taken in another order. Relative to the largest
# output, so that an output that cancels to nearly 0 is judged by its scale.
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}


def assert_close(got, expected, dtype):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    tol = TOLERANCE[np.dtype(dtype).name]
    scale = max(1.0, float(np.max(np.abs(expected))))
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol * scale)


def run(proto, feeds):
    session = ort.InferenceSession(
        proto.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return session.run(None, feeds)


def network(acts, dtype, seed=0, sizes=(5, 7, 3)):
    rng = np.random.default_rng(seed)
    net = nlayer.Network(list(sizes), acts, seed=seed, dtype=dtype)
    for b in net.biases:  # non-zero biases, so that every term counts
        b[...] = rng.normal(size=b.shape)
    return net


def inputs(m, n, dtype, seed=1):
    # columns from 1e-9 to 300: tiny, ordinary and saturating pre-activations
    scales = np.geomspace(1e-9, 300, n)
    return (np.random.default_rng(seed).normal(size=(m, n)) * scales).astype(dtype)


# -- a network -----------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "act", [*ACTIVATIONS, ELU(alpha=0.7), LeakyReLU(alpha=0.3)], ids=str
)
def test_every_activation_runs_the_same_in_onnxruntime(act, dtype):
    output_only = act in ("softmax", "exp")
    acts = ["tanh", act] if output_only else [act, act, "linear"]
    net = network(acts, dtype, sizes=(5, 7, 3) if output_only else (5, 7, 6, 3))
    X = inputs(200, 5, dtype)
    (Y,) = run(nlonnx.to_onnx(net), {"X": X})
    assert_close(Y, net.forward(X), dtype)


def test_the_graph_is_the_seeds_forward_pass():
    net = network(["tanh", "sigmoid"], "float64")
    proto = nlonnx.to_onnx(net)
    ops = [n.op_type for n in proto.graph.node]
    assert ops == ["MatMul", "Add", "Tanh", "MatMul", "Add", "Sigmoid", "Identity"]
    weights = {t.name.split("_")[0]: t for t in proto.graph.initializer}
    from onnx import numpy_helper

    np.testing.assert_array_equal(numpy_helper.to_array(weights["W1"]), net.weights[0])
    np.testing.assert_array_equal(numpy_helper.to_array(weights["b2"]), net.biases[1])
    assert [i.name for i in proto.graph.input] == ["X"]
    assert [o.name for o in proto.graph.output] == ["Y_hat"]


def test_a_float32_sample_gives_a_float32_input_to_a_float64_network():
    net = network(["relu", "linear"], "float64")
    X = inputs(20, 5, "float32")
    proto = nlonnx.to_onnx(net, X)
    (Y,) = run(proto, {"X": X})
    assert_close(Y, net.forward(X.astype(np.float64)), "float64")


def test_an_activation_without_an_onnx_form_is_named():
    class Cube(Activation):
        name = "cube"

        def forward(self, z):
            return z**3

        def derivative(self, z, h):
            return 3 * z**2

    net = nlayer.Network([2, 3, 1], [Cube(), "linear"])
    with pytest.raises(ValueError, match="layer 1: activation 'cube' has no ONNX form"):
        nlonnx.to_onnx(net)


def test_what_is_not_an_nlayer_object_is_refused():
    with pytest.raises(TypeError, match="not list"):
        nlonnx.to_onnx([1, 2])


# -- a model with its preprocessing ----------------------------------------------------


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Numbers with gaps, a category with gaps, a yes/no column in mixed case."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("onnx") / "mix.csv"
    rows = []
    for _ in range(300):
        a, z = rng.normal(), rng.normal() * 5
        colour = str(rng.choice(["red", "green", "blue"]))
        flag = str(rng.choice(["yes", "no", "Yes", "NO"]))
        kind = "hi" if a + (colour == "red") + (flag.lower() == "yes") > 1 else "lo"
        if a > 1.5:
            kind = "top"
        value = 3 * a + 2 * (colour == "blue") - (flag.lower() == "yes")
        rows.append(
            [
                "" if rng.random() < 0.05 else f"{a:.6f}",
                "" if rng.random() < 0.05 else colour,
                flag,
                f"{z:.4f}",
                kind,
                f"{value + 0.1 * rng.normal():.5f}",
            ]
        )
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a", "colour", "flag", "z", "kind", "value"])
        writer.writerows(rows)
    return path


def trained(table, tmp_path, target, drop, *options):
    nlayer_cmd(
        "train", table, "--target", target, "--drop", drop, "--impute", "median",
        "--epochs", "15", "--quiet", "--out", "run", *options, cwd=tmp_path,
    )  # fmt: skip
    return nlayer.load(tmp_path / "run" / "model.safetensors")


def feeds(model, path):
    """Each column as the ONNX graph takes it: float64 numbers (NaN missing),
    texts ("" missing), (N, 1) each."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for enc in model.preprocessing.columns:
        cells = [r[enc.name] for r in rows]
        if enc.kind == "numeric":
            values = [float(c) if c else np.nan for c in cells]
            out[enc.name] = np.array(values).reshape(-1, 1)
        else:
            out[enc.name] = np.array(cells, dtype=object).reshape(-1, 1)
    return out


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_classifier_model_from_raw_columns(table, tmp_path, dtype):
    model = trained(table, tmp_path, "kind", "value", "--dtype", dtype)
    kinds = {c.name: c.kind for c in model.preprocessing.columns}
    assert kinds == {
        "a": "numeric",
        "colour": "category",
        "flag": "boolean",
        "z": "numeric",
    }
    proto = nlonnx.to_onnx(model)
    assert [i.name for i in proto.graph.input] == ["a", "colour", "flag", "z"]
    label, P = run(proto, feeds(model, table))
    np.testing.assert_array_equal(label, model.predict(table))
    assert_close(P, model.predict_proba(table).astype(dtype), dtype)


def test_a_regression_model_in_the_targets_units(table, tmp_path):
    model = trained(
        table, tmp_path, "value", "kind", "--layers", "8", "--activations", "elu"
    )
    (Y,) = run(nlonnx.to_onnx(model), feeds(model, table))
    assert_close(Y[:, 0], model.predict(table), "float64")


def test_unseen_categories_and_unfillable_gaps(table, tmp_path):
    model = trained(table, tmp_path, "kind", "value")
    f = {k: v[:4].copy() for k, v in feeds(model, table).items()}
    f["colour"][0, 0] = "purple"  # unseen: all zeros, as predict encodes it
    f["flag"][1, 0] = "maybe"  # not a yes/no text: predict refuses it; NaN here
    f["flag"][2, 0] = "YES"  # any case, as training read them
    label, P = run(nlonnx.to_onnx(model), f)
    rows = {k: [str(v[i, 0]) if v.dtype == object else v[i, 0] for i in (0, 2, 3)]
            for k, v in f.items()}  # fmt: skip
    with pytest.warns(nlayer.data.DataWarning, match="purple"):
        expected = model.predict_proba(rows)
    assert_close(P[[0, 2, 3]], expected, "float64")
    assert np.isnan(P[1]).all()


def test_a_model_without_preprocessing_is_its_network(tmp_path):
    net = network(["gelu", "linear"], "float64")
    nlayer.save(net, tmp_path / "bare.safetensors")
    model = nlayer.load(tmp_path / "bare.safetensors")
    X = inputs(10, 5, "float64")
    (Y,) = run(nlonnx.to_onnx(model), {"X": X})
    assert_close(Y, net.forward(X), "float64")


# -- the estimators, through skl2onnx ---------------------------------------------


sklearn = pytest.importorskip("sklearn")
skl2onnx = pytest.importorskip("skl2onnx")


def classification_data(kind):
    from sklearn.datasets import load_iris, make_multilabel_classification

    X, y = load_iris(return_X_y=True)
    if kind == "multiclass":
        return X, y
    if kind == "text":
        return X, np.array(["setosa", "versicolor", "virginica"])[y]
    if kind == "binary":
        return X, np.array(["no", "yes"])[(y == 1).astype(int)]
    return make_multilabel_classification(n_samples=150, random_state=0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("kind", ["multiclass", "text", "binary", "multilabel"])
def test_a_pipeline_with_a_classifier_converts_with_skl2onnx(kind, dtype):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = classification_data(kind)
    X = X.astype(dtype)
    clf = nlayer.NLayerClassifier(
        hidden_layer_sizes=(10, 6),
        activation=["elu", "gelu"],
        max_iter=40,
        random_state=0,
    )
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    proto = skl2onnx.to_onnx(pipe, X[:1], options={"zipmap": False})
    label, P = run(proto, {"X": X})
    np.testing.assert_array_equal(label, pipe.predict(X))
    assert_close(P, pipe.predict_proba(X).astype(dtype), dtype)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize(
    "loss, targets", [("squared_error", 1), ("squared_error", 2), ("poisson", 1)]
)
def test_a_regressor_converts_alone(loss, targets, dtype):
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True)
    X = X.astype(dtype)
    Y = y if targets == 1 else np.c_[y, -0.5 * y]
    reg = nlayer.NLayerRegressor(loss=loss, max_iter=40, random_state=0).fit(X, Y)
    (out,) = run(nlonnx.to_onnx(reg, X), {"X": X})
    expected = reg.predict(X).reshape(len(X), -1)
    assert_close(out, expected, dtype)


def test_nlayer_onnx_converts_a_classifier_without_zipmap():
    X, y = classification_data("text")
    clf = nlayer.NLayerClassifier(
        hidden_layer_sizes=(5,), solver="lbfgs", random_state=0
    )
    clf.fit(X, y)
    proto = nlonnx.to_onnx(clf)
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    label, P = run(proto, {"X": X})
    np.testing.assert_array_equal(label, clf.predict(X))
    assert_close(P, clf.predict_proba(X), "float64")


# -- the command line ------------------------------------------------------------


def test_nlayer_export_writes_a_graph_that_runs(table, tmp_path):
    model = trained(table, tmp_path, "kind", "value")
    r = nlayer_cmd("export", "run/model.safetensors", "mix.onnx", cwd=tmp_path)
    assert "wrote mix.onnx" in r.stdout
    for fragment in ("colour", "text", "(N, 1)", "label", "probabilities", "(N, 3)"):
        assert fragment in r.stdout
    import onnx

    proto = onnx.load(tmp_path / "mix.onnx")
    label, _ = run(proto, feeds(model, table))
    np.testing.assert_array_equal(label, model.predict(table))
    r = nlayer_cmd("export", "missing.safetensors", "x.onnx", cwd=tmp_path, check_rc=1)
    assert "missing.safetensors: no such file" in r.stderr
    assert not (tmp_path / "x.onnx").exists()
