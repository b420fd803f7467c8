"""NLayerClassifier and NLayerRegressor in scikit-learn's world: drop-ins for
MLPClassifier and MLPRegressor, and what they add."""

import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from scipy import sparse  # noqa: E402
from sklearn.datasets import (  # noqa: E402
    load_breast_cancer,
    load_digits,
    load_iris,
    make_regression,
)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    cross_val_score,
    train_test_split,
)
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

import nlayer  # noqa: E402
from helpers import load_model  # noqa: E402
from nlayer.estimators import NLayerClassifier, NLayerRegressor  # noqa: E402

# small models on small data often stop at max_iter; the warning is tested below
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
rng = np.random.default_rng(0)


def blobs(n=120, classes=3, features=4):
    centers = rng.normal(scale=3, size=(classes, features))
    y = rng.integers(0, classes, n)
    return centers[y] + rng.normal(size=(n, features)), y


def test_same_start_and_one_sgd_step_as_mlpregressor():
    """One random_state, one starting point (scikit-learn's initialisation, from
    the same random state); one full-batch SGD step lands on the same weights."""
    X = rng.normal(size=(30, 4))
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    common = dict(
        hidden_layer_sizes=(7, 5),
        activation="tanh",
        alpha=0.0,
        momentum=0.0,
        solver="sgd",
        learning_rate_init=0.05,
        max_iter=1,
        batch_size=30,
        shuffle=False,
        random_state=0,
    )
    ours = NLayerRegressor(standardize_target=False, **common).fit(X, y)
    theirs = MLPRegressor(**common).fit(X, y)
    start = MLPRegressor(**{**common, "learning_rate_init": 1e-300}).fit(X, y)
    for W, W_sk, W0 in zip(ours.coefs_, theirs.coefs_, start.coefs_, strict=True):
        assert np.abs(W - W0).max() > 1e-4  # the step moved every layer
        np.testing.assert_allclose(W, W_sk, rtol=0, atol=1e-10)
    for b, b_sk in zip(ours.intercepts_, theirs.intercepts_, strict=True):
        np.testing.assert_allclose(b, b_sk, rtol=0, atol=1e-10)


@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
def test_lbfgs_equals_scikit_learns(task):
    """The same start and the same objective: SciPy's L-BFGS-B walks the same
    path in both, to the same weights and loss."""
    if task == "regression":
        X, y = make_regression(n_samples=80, n_features=5, noise=5, random_state=0)
        y = y / y.std()
        ours = NLayerRegressor(solver="lbfgs", standardize_target=False)
        theirs = MLPRegressor(solver="lbfgs")
    else:
        X, y = blobs(n=90, classes=2 if task == "binary" else 3)
        ours, theirs = NLayerClassifier(solver="lbfgs"), MLPClassifier(solver="lbfgs")
    params = dict(hidden_layer_sizes=(6,), max_iter=60, random_state=1, alpha=1e-3)
    ours.set_params(**params).fit(X, y)
    theirs.set_params(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-6)
    for W, W_sk in zip(ours.coefs_, theirs.coefs_, strict=True):
        np.testing.assert_allclose(W, W_sk, rtol=1e-5, atol=1e-7)


def test_digits_as_accurate_as_mlpclassifier():
    """The benchmark's protocol (stratified 25 % test split, standardised
    features, default estimators), five seeds."""
    X, y = load_digits(return_X_y=True)
    ours, theirs = [], []
    for seed in range(5):
        Xtr, Xte, ytr, yte = train_test_split(
            X, y, test_size=0.25, stratify=y, random_state=seed
        )
        for scores, Model in ((ours, NLayerClassifier), (theirs, MLPClassifier)):
            model = make_pipeline(StandardScaler(), Model(random_state=seed))
            scores.append(model.fit(Xtr, ytr).score(Xte, yte))
    assert np.mean(ours) >= np.mean(theirs) - 0.005 and np.mean(ours) >= 0.975


def test_breast_cancer_as_accurate_as_mlpclassifier():
    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    ours = make_pipeline(StandardScaler(), NLayerClassifier(random_state=0))
    theirs = make_pipeline(StandardScaler(), MLPClassifier(random_state=0))
    ours_score = ours.fit(Xtr, ytr).score(Xte, yte)
    theirs_score = theirs.fit(Xtr, ytr).score(Xte, yte)
    assert ours_score >= theirs_score - 0.014
    assert ours_score >= 0.95


def test_output_layer_and_fitted_attributes_follow_the_task():
    X, y3 = blobs(classes=3)
    clf = NLayerClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    net = clf.fit(X, y3).network_
    assert net.activations[-1].name == "softmax" and net.layer_sizes[-1] == 3
    assert net.loss_function.name == "cross_entropy"
    assert (clf.out_activation_, clf.n_outputs_, clf.n_layers_) == ("softmax", 3, 3)
    assert [W.shape for W in clf.coefs_] == [(4, 8), (8, 3)]
    assert [b.shape for b in clf.intercepts_] == [(8,), (3,)]
    assert clf.t_ == 5 * len(X) and clf.n_iter_ == 5 and len(clf.loss_curve_) == 5
    assert clf.loss_ == clf.loss_curve_[-1] and clf.best_loss_ <= clf.loss_
    net = clf.fit(X, np.where(y3 == 0, "no", "yes")).network_
    assert net.activations[-1].name == "sigmoid" and net.layer_sizes[-1] == 1
    assert clf.out_activation_ == "logistic" and list(clf.classes_) == ["no", "yes"]
    assert clf.predict_proba(X).shape == (len(X), 2)
    np.testing.assert_allclose(
        clf.predict_log_proba(X), np.log(clf.predict_proba(X)), rtol=1e-12
    )
    Y_multi = np.column_stack([y3 == 0, y3 == 1, y3 != 2]).astype(int)
    net = clf.fit(X, Y_multi).network_
    assert net.activations[-1].name == "sigmoid" and net.layer_sizes[-1] == 3
    assert clf.predict(X).shape == (len(X), 3)
    reg = NLayerRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    net = reg.fit(X, np.column_stack([X[:, 0], X[:, 1]])).network_
    assert net.activations[-1].name == "linear" and net.layer_sizes[-1] == 2
    assert net.loss_function.name == "mse" and reg.out_activation_ == "identity"
    assert reg.predict(X).shape == (len(X), 2)
    assert reg.fit(X, X[:, 0]).predict(X).shape == (len(X),)
    counts = rng.poisson(np.exp(0.3 * X[:, 0]))
    poisson = NLayerRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=20)
    assert poisson.fit(X, counts).out_activation_ == "exp"
    assert (poisson.predict(X) > 0).all()


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
    logistic = NLayerClassifier(hidden_layer_sizes=(4,), activation="logistic")
    assert logistic.fit(X, y).network_.activations[0].name == "sigmoid"


def test_pipeline_gridsearch_and_cross_validation():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(
        StandardScaler(), NLayerClassifier(max_iter=60, random_state=0)
    )
    search = GridSearchCV(
        pipe,
        {
            "nlayerclassifier__hidden_layer_sizes": [(8,), (32,)],
            "nlayerclassifier__activation": ["relu", "tanh"],
        },
        cv=3,
    )
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
    assert np.shares_memory(clone.coefs_[0], clone.network_.params)


def test_coefs_are_the_networks_weights():
    X, y = blobs()
    clf = NLayerClassifier(hidden_layer_sizes=(5,), max_iter=3).fit(X, y)
    clf.coefs_[1] = np.zeros((5, 3))  # writes the network's weights
    assert not clf.network_.weights[1].any()
    assert np.allclose(clf.predict_proba(X).std(axis=0), 0)  # only the biases remain


def test_dataframes_keep_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = blobs()
    df = pd.DataFrame(X, columns=["alpha", "beta", "gamma", "delta"])
    clf = NLayerClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
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
    # scikit-learn's counts: one epoch a call, the loss curve grows
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3 and clf.t_ == 180
    first = clf.network_.params.copy()
    clf.partial_fit(X[60:], y[60:])
    assert not np.array_equal(first, clf.network_.params)
    with pytest.raises(ValueError, match="X has 3 features"):
        clf.partial_fit(X[:, :3], y)
    with pytest.raises(ValueError, match="classes not in `self.classes_`"):
        clf.partial_fit(X, y + 5)
    assert not hasattr(NLayerClassifier(solver="lbfgs"), "partial_fit")
    reg = NLayerRegressor(
        hidden_layer_sizes=(8,), max_iter=3, warm_start=True, random_state=0
    )
    reg.fit(X, X[:, 0])
    before = reg.network_.params.copy()
    reg.fit(X, X[:, 0])
    assert not np.array_equal(before, reg.network_.params)  # went on from there
    assert reg.n_iter_ == 3 and len(reg.loss_curve_) == 6


def test_convergence_and_early_stopping():
    X, y = blobs()
    with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(2\) reached"):
        NLayerClassifier(max_iter=2, random_state=0).fit(X, y)
    clf = NLayerClassifier(early_stopping=True, max_iter=500, random_state=0)
    clf.fit(X, y)
    assert clf.n_iter_ < 500 and len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    assert clf._no_improvement_count == clf.n_iter_no_change + 1


def test_sample_weight_and_class_weight_shift_the_fit():
    X, y = blobs(classes=2)
    w = np.where(y == 0, 10.0, 0.1)
    params = dict(hidden_layer_sizes=(4,), random_state=0, max_iter=30)
    p0 = NLayerClassifier(**params).fit(X, y).predict_proba(X)[:, 0].mean()
    p1 = NLayerClassifier(**params).fit(X, y, sample_weight=w).predict_proba(X)
    p2 = NLayerClassifier(**params, class_weight={0: 10.0, 1: 0.1}).fit(X, y)
    assert p1[:, 0].mean() > p0  # class 0 weighs more: it is predicted more
    np.testing.assert_allclose(p2.predict_proba(X), p1, rtol=1e-12)
    # "balanced" is n / (classes · count) per row, as scikit-learn defines it
    counts = np.bincount(y)
    same = len(y) / (2 * counts[y])
    p3 = NLayerClassifier(**params, class_weight="balanced").fit(X, y)
    p4 = NLayerClassifier(**params).fit(X, y, sample_weight=same)
    np.testing.assert_allclose(p3.predict_proba(X), p4.predict_proba(X), rtol=1e-12)


def test_imbalanced_classes_are_found_with_class_weight():
    X = rng.normal(size=(400, 2))
    y = (X[:, 0] > 1.6).astype(int)  # about 5 % positive
    params = dict(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
    plain = NLayerClassifier(**params).fit(X, y)
    balanced = NLayerClassifier(**params, class_weight="balanced").fit(X, y)
    recall = lambda m: np.mean(m.predict(X)[y == 1] == 1)  # noqa: E731
    assert recall(balanced) > recall(plain) and recall(balanced) > 0.9


def test_dropout_trains_and_predicts_without_dropping():
    X, y = load_digits(return_X_y=True)
    X = X / 16
    clf = NLayerClassifier(
        hidden_layer_sizes=(64, 32), dropout=[0.2, 0.1], max_iter=30, random_state=0
    ).fit(X, y)
    assert clf.network_.dropout == (0.2, 0.1)
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    assert clf.score(X, y) > 0.95


def test_schedules_clipping_validation_data_and_callbacks():
    X, y = blobs()
    seen = []
    clf = NLayerClassifier(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="cosine",
        learning_rate_init=0.05,
        clip_norm=1.0,
        max_iter=12,
        random_state=0,
    )
    clf.fit(
        X[:90],
        y[:90],
        validation_data=(X[90:], y[90:]),
        callbacks=[lambda net, epoch, logs: seen.append(logs["lr"])],
    )
    assert len(clf.history_.val_loss) == 12 and seen[0] > seen[-1]
    plateau = NLayerRegressor(
        hidden_layer_sizes=(8,),
        solver="sgd",
        learning_rate="plateau",
        max_iter=30,
        random_state=0,
    )
    plateau.fit(X, X[:, 0])
    assert plateau.history_.lr[0] == pytest.approx(0.001)


def test_sparse_input_equals_dense():
    X, y = load_digits(n_class=3, return_X_y=True)
    X = X / 16
    dense = NLayerClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=20)
    sparse_clf = NLayerClassifier(hidden_layer_sizes=(16,), random_state=0, max_iter=20)
    P = dense.fit(X, y).predict_proba(X)
    for fmt in (sparse.csr_matrix, sparse.csc_matrix, sparse.csr_array):
        P_sparse = sparse_clf.fit(fmt(X), y).predict_proba(fmt(X))
        np.testing.assert_allclose(P_sparse, P, rtol=1e-7, atol=1e-9)


def test_a_one_hot_encoder_feeds_the_classifier_sparsely():
    colours = rng.choice(["red", "green", "blue", "grey"], (300, 2))
    y = (colours[:, 0] == "red") | (colours[:, 1] == "blue")
    params = dict(hidden_layer_sizes=(16,), max_iter=500, random_state=0)
    ours = make_pipeline(OneHotEncoder(), NLayerClassifier(**params))
    theirs = make_pipeline(OneHotEncoder(), MLPClassifier(**params))
    assert sparse.issparse(ours[0].fit_transform(colours))
    assert (
        ours.fit(colours, y).score(colours, y)
        >= theirs.fit(colours, y).score(colours, y) - 0.01
    )
    assert ours.score(colours, y) > 0.97


def test_divergence_raises_as_scikit_learn_or_keeps_the_best_weights():
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with pytest.raises(ValueError, match="Solver produced non-finite parameter"):
        with np.errstate(all="ignore"):
            NLayerRegressor().fit(X, rng.normal(size=10))
    X, y = load_iris(return_X_y=True)
    reg = NLayerRegressor(
        activation="identity",
        solver="sgd",
        learning_rate_init=1,
        early_stopping=True,
        max_iter=20,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert np.isnan(reg.validation_scores_[-1])
    assert np.isfinite(reg.predict(X)).all()  # the best epoch's weights


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_layer_sizes": (10, 0)}, "hidden_layer_sizes must be > 0"),
        ({"hidden_layer_sizes": "10"}, "hidden_layer_sizes must be > 0"),
        ({"activation": "rleu"}, "'activation' parameter .* must be a str among"),
        ({"activation": "softmax"}, "'activation' parameter"),
        ({"activation": ["relu", "tanh"]}, "one activation for all hidden layers"),
        ({"solver": "newton"}, "'solver' parameter .* among"),
        ({"learning_rate_init": 0}, "'learning_rate_init' parameter"),
        ({"learning_rate": "fast"}, "'learning_rate' parameter"),
        ({"batch_size": 0}, "'batch_size' parameter .* an int >= 1 or 'auto'"),
        ({"max_iter": 2.5}, "'max_iter' parameter .* an int"),
        ({"validation_fraction": 1.0}, "'validation_fraction' parameter"),
        ({"n_iter_no_change": 0}, "'n_iter_no_change' parameter"),
        ({"tol": -1}, "'tol' parameter"),
        ({"alpha": -0.1}, "'alpha' parameter"),
        ({"momentum": 1.5}, "'momentum' parameter"),
        ({"beta_1": 1.0}, "'beta_1' parameter"),
        ({"early_stopping": "yes"}, "'early_stopping' parameter .* a bool"),
        ({"dropout": 1.0}, "dropout of hidden layer 1 must be in"),
        ({"clip_norm": 0}, "'clip_norm' parameter"),
    ],
)
def test_invalid_hyper_parameters_fail_at_fit_naming_them(params, message):
    X, y = blobs()
    clf = NLayerClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=message):
        clf.fit(X, y)


def test_invalid_regressor_loss_and_classifier_targets():
    X, y = blobs()
    with pytest.raises(ValueError, match="'loss' parameter of NLayerRegressor"):
        NLayerRegressor(loss="cross_entropy").fit(X, X[:, 0])
    with pytest.raises(ValueError, match="Unknown label type"):
        NLayerClassifier().fit(X, X[:, 0])


def test_float32_input_trains_and_predicts_in_float32():
    X, y = blobs()
    clf = NLayerClassifier(hidden_layer_sizes=(8,), random_state=0)
    clf.fit(X.astype(np.float32), y)
    assert clf.network_.params.dtype == np.float32
    assert all(W.dtype == np.float32 for W in clf.coefs_)
    assert clf.score(X.astype(np.float32), y) > 0.9
    reg = NLayerRegressor(hidden_layer_sizes=(8,)).fit(X.astype(np.float32), X[:, 0])
    assert reg.predict(X.astype(np.float32)).dtype == np.float32


def test_top_level_names():
    # the accuracy benchmark's smoke run is in test_benchmarks.py
    assert nlayer.NLayerClassifier is NLayerClassifier
    assert nlayer.NLayerRegressor is NLayerRegressor


def test_warnings_are_scikit_learns():
    X, y = blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.warns(ConvergenceWarning):
            NLayerClassifier(max_iter=1).fit(X, y)
