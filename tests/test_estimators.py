"""NLayerClassifier and NLayerRegressor in scikit-learn's world."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_breast_cancer, load_digits, load_iris  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import nlayer  # noqa: E402
from nlayer.estimators import NLayerClassifier, NLayerRegressor  # noqa: E402

# small models on small data often stop at max_epochs; the warning is tested below
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
rng = np.random.default_rng(0)


def load_model(path):
    """(network, preprocessing) of a model file."""
    model = nlayer.load(path)
    return model.network, model.preprocessing


def blobs(n=120, classes=3, features=4):
    centers = rng.normal(scale=3, size=(classes, features))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(size=(n, features)), y


def test_one_sgd_step_equals_mlpregressor():
    """Same initial weights, one full-batch SGD step (momentum 0, alpha 0, tanh):
    nlayer and scikit-learn's MLPRegressor land on the same weights."""
    X = rng.normal(size=(30, 4))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    common = dict(
        hidden_layer_sizes=(7, 5),
        activation="tanh",
        alpha=0.0,
        momentum=0.0,
    )
    ours = NLayerRegressor(
        batch_size=None,
        optimizer="sgd",
        learning_rate=0.05,
        max_epochs=1,
        standardize_target=False,
        random_state=0,
        **common,
    )
    theirs = MLPRegressor(
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=1,
        batch_size=len(X),
        shuffle=False,
        nesterovs_momentum=False,
        random_state=0,
        warm_start=True,
        **common,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)  # builds the network; its weights are the start
        theirs.fit(X, y)  # builds coefs_, then gets ours
        start_W = [W.copy() for W in ours.network_.weights]
        start_b = [b.copy() for b in ours.network_.biases]
        theirs.coefs_ = [W.copy() for W in start_W]
        theirs.intercepts_ = [b.copy() for b in start_b]
        ours.network_.weights = start_W
        ours.network_.biases = start_b
        ours.set_params(warm_start=True).fit(X, y)
        theirs.fit(X, y)
    for W, W_sk, W0 in zip(ours.network_.weights, theirs.coefs_, start_W, strict=True):
        assert np.abs(W - W0).max() > 1e-4  # the step moved every layer
        np.testing.assert_allclose(W, W_sk, rtol=0, atol=1e-10)
    for b, b_sk in zip(ours.network_.biases, theirs.intercepts_, strict=True):
        np.testing.assert_allclose(b, b_sk, rtol=0, atol=1e-10)


def test_digits_reaches_98_percent():
    """The benchmark's protocol (stratified 25 % test split, standardised
    features, default estimator): the mean over five seeds is at least 98 %."""
    X, y = load_digits(return_X_y=True)
    scores = []
    for seed in range(5):
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=seed
        )
        model = make_pipeline(StandardScaler(), NLayerClassifier(random_state=seed))
        scores.append(model.fit(Xtr, ytr).score(Xte, yte))
    assert np.mean(scores) >= 0.98 and min(scores) >= 0.97


def test_breast_cancer_as_accurate_as_mlpclassifier():
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    ours = make_pipeline(StandardScaler(), NLayerClassifier(random_state=0))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
    ours_score = ours.fit(Xtr, ytr).score(Xte, yte)
    theirs_score = theirs.fit(Xtr, ytr).score(Xte, yte)
    # within one standard deviation over seeds (BENCHMARKS.md: 1.4 points)
    assert ours_score >= theirs_score - 0.014
    assert ours_score >= 0.95


def test_output_layer_follows_the_task():
    X, y3 = blobs(classes=3)
    clf = NLayerClassifier(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        net = clf.fit(X, y3).network_
        assert net.activations[-1].name == "softmax" and net.layer_sizes[-1] == 3
        assert net.loss_function.name == "cross_entropy"
        net = clf.fit(X, np.where(y3 == 0, "no", "yes")).network_
        assert net.activations[-1].name == "sigmoid" and net.layer_sizes[-1] == 1
        assert list(clf.classes_) == ["no", "yes"]
        assert clf.predict_proba(X).shape == (len(X), 2)
        Y_multi = np.column_stack([y3 == 0, y3 == 1, y3 != 2]).astype(int)
        net = clf.fit(X, Y_multi).network_
        assert net.activations[-1].name == "sigmoid" and net.layer_sizes[-1] == 3
        assert clf.predict(X).shape == (len(X), 3)
        reg = NLayerRegressor(hidden_layer_sizes=(8,), max_epochs=5, random_state=0)
        net = reg.fit(X, np.column_stack([X[:, 0], X[:, 1]])).network_
        assert net.activations[-1].name == "linear" and net.layer_sizes[-1] == 2
        assert net.loss_function.name == "mse"
        assert reg.predict(X).shape == (len(X), 2)
        assert reg.fit(X, X[:, 0]).predict(X).shape == (len(X),)


def test_per_layer_and_custom_activations():
    X, y = blobs()
    clf = NLayerClassifier(
        hidden_layer_sizes=(16, 8, 8),
        activation=["elu", nlayer.activations.LeakyReLU(alpha=0.2), "gelu"],
        random_state=0,
    ).fit(X, y)
    assert [a.name for a in clf.network_.activations] == [
        "elu",
        "leaky_relu",
        "gelu",
        "softmax",
    ]
    assert clf.score(X, y) > 0.9


def test_pipeline_gridsearch_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), NLayerClassifier(max_epochs=60, random_state=0)
    )
    search = GridSearchCV(
        pipe,
        {
            "nlayerclassifier__hidden_layer_sizes": [(8,), (32,)],
            "nlayerclassifier__activation": ["relu", "tanh"],
        },
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_score_ > 0.85 and scores.mean() > 0.85


def test_pickle_round_trip():
    X, y = blobs()
    clf = NLayerClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, y)
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict_proba(X), clf.predict_proba(X))
    assert np.shares_memory(clone.network_.weights[0], clone.network_.params)


def test_dataframes_keep_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    df = pd.DataFrame(X, columns=["alpha", "beta", "gamma", "delta"])
    clf = NLayerClassifier(hidden_layer_sizes=(8,), max_epochs=20, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(df, pd.Series(y))
    assert list(clf.feature_names_in_) == ["alpha", "beta", "gamma", "delta"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(clf.predict(df), clf.predict(X))
    with pytest.raises(ValueError, match="feature names"):
        clf.predict(df[["beta", "alpha", "gamma", "delta"]])


def test_save_to_a_model_file_that_the_command_line_reads(tmp_path):
    X, y = blobs()
    labels = np.array(["red", "green", "blue"])[y]
    clf = NLayerClassifier(hidden_layer_sizes=(16,), random_state=0).fit(X, labels)
    path = clf.save(tmp_path / "clf.safetensors")
    net, pre = load_model(path)
    np.testing.assert_array_equal(net.forward(X), clf.predict_proba(X))
    assert list(pre.decode(net.forward(X))) == list(clf.predict(X))
    assert pre.features == ["x0", "x1", "x2", "x3"]
    reg = NLayerRegressor(hidden_layer_sizes=(16,), random_state=0).fit(
        X, 50 + 9 * X[:, 0]
    )
    net, pre = load_model(reg.save(tmp_path / "reg.safetensors"))
    np.testing.assert_allclose(pre.decode(net.forward(X))[:, 0], reg.predict(X))


def test_partial_fit_and_warm_start_continue_training():
    X, y = blobs()
    clf = NLayerClassifier(hidden_layer_sizes=(16,), random_state=0)
    with pytest.raises(ValueError, match="needs classes= on its first call"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X[:60], y[:60], classes=[0, 1, 2])
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    first = clf.network_.params.copy()
    clf.partial_fit(X[60:], y[60:])
    assert not np.array_equal(first, clf.network_.params)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)
    reg = NLayerRegressor(
        hidden_layer_sizes=(8,), max_epochs=3, warm_start=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, X[:, 0])
        before = reg.network_.params.copy()
        reg.fit(X, X[:, 0])
    assert not np.array_equal(before, reg.network_.params)  # went on from there


def test_convergence_and_early_stopping():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        NLayerClassifier(max_epochs=2, random_state=0).fit(X, y)
    clf = NLayerClassifier(early_stopping=True, max_epochs=500, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.history_.stopped_early


def test_sample_weight_shifts_the_fit():
    X, y = blobs(classes=2)
    w = np.where(y == 0, 10.0, 0.1)
    plain = NLayerClassifier(hidden_layer_sizes=(4,), random_state=0, max_epochs=30)
    weighted = NLayerClassifier(hidden_layer_sizes=(4,), random_state=0, max_epochs=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        p0 = plain.fit(X, y).predict_proba(X)[:, 0].mean()
        p1 = weighted.fit(X, y, sample_weight=w).predict_proba(X)[:, 0].mean()
    assert p1 > p0  # class 0 weighs more: it is predicted more


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"hidden_layer_sizes": (10, 0)},
            "hidden_layer_sizes must be a tuple of positive",
        ),
        ({"hidden_layer_sizes": "10"}, "hidden_layer_sizes must be a tuple"),
        ({"activation": "rleu"}, "activation must be one of sigmoid, tanh, relu"),
        ({"activation": "softmax"}, "activation must be one of"),
        ({"activation": ["relu", "tanh"]}, "activation must be one activation for all"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of sgd, adam, adamw, rmsprop"),
        ({"learning_rate": 0}, "learning_rate must be a number > 0"),
        ({"batch_size": 0}, "batch_size must be a positive integer, 'auto' or None"),
        ({"max_epochs": 2.5}, "max_epochs must be an integer >= 1"),
        ({"validation_fraction": 1.0}, "validation_fraction must be a number > 0"),
        ({"n_iter_no_change": 0}, "n_iter_no_change must be an integer >= 1"),
        ({"tol": -1}, "tol must be a number >= 0"),
        ({"alpha": -0.1}, "alpha must be a number >= 0"),
        ({"momentum": 1.0}, "momentum must be a number >= 0 and < 1"),
        ({"dtype": "float16"}, "dtype must be 'float64' or 'float32'"),
        (
            {"loss": "mse"},
            "loss must be None, 'cross_entropy' or 'binary_cross_entropy'",
        ),
        ({"early_stopping": "yes"}, "early_stopping must be True or False"),
    ],
)
def test_invalid_hyper_parameters_fail_at_fit_naming_them(params, message):
    X, y = blobs()
    clf = NLayerClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=f"NLayerClassifier: {message}"):
        clf.fit(X, y)


def test_invalid_regressor_loss_and_classifier_mismatch():
    X, y = blobs()
    with pytest.raises(ValueError, match="loss must be None, 'mse', 'mae', 'huber'"):
        NLayerRegressor(loss="cross_entropy").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="3 classes need loss='cross_entropy'"):
        NLayerClassifier(loss="binary_cross_entropy").fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        NLayerClassifier().fit(X, X[:, 0])


def test_float32_estimators_compute_in_float32():
    X, y = blobs()
    clf = NLayerClassifier(hidden_layer_sizes=(8,), dtype="float32", random_state=0)
    clf.fit(X, y)
    assert clf.network_.params.dtype == np.float32
    assert clf.score(X, y) > 0.9


def test_top_level_names_and_the_benchmark_script_runs(tmp_path):
    assert nlayer.NLayerClassifier is NLayerClassifier
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).parent.parent / "benchmarks" / "accuracy.py"
    r = subprocess.run(
        [
            sys.executable,
            str(script),
            "--smoke",
            "--no-torch",
            "--data",
            "digits",
            "diabetes (R²)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    assert "| digits |" in r.stdout and "| diabetes (R²) |" in r.stdout
