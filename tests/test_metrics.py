"""Every figure nlayer reports, checked against sklearn.metrics."""

import numpy as np
import pytest

from nlayer.metrics import (
    classification_report,
    r2,
    regression_report,
    roc_auc,
)

metrics = pytest.importorskip("sklearn.metrics")


def probabilities(rng, m, k):
    Z = rng.normal(size=(m, k)) * 2
    P = np.exp(Z)
    return P / P.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("k", [2, 3, 7])
@pytest.mark.parametrize("seed", range(4))
def test_classification_report_equals_scikit_learn(k, seed):
    rng = np.random.default_rng(seed)
    m = 300
    truth = rng.integers(0, k, m)
    P = probabilities(rng, m, k)
    P[truth == 0, 0] += 1.0  # some signal
    P /= P.sum(axis=1, keepdims=True)
    if seed == 3:  # ties in the scores count half
        P = np.round(P, 1)
        P /= P.sum(axis=1, keepdims=True)
    classes = [f"c{i}" for i in range(k)]
    report = classification_report(truth, P, classes)
    predicted = P.argmax(axis=1)
    labels = list(range(k))
    assert report["accuracy"] == pytest.approx(metrics.accuracy_score(truth, predicted))
    assert report["balanced_accuracy"] == pytest.approx(
        metrics.balanced_accuracy_score(truth, predicted)
    )
    assert report["log_loss"] == pytest.approx(
        metrics.log_loss(truth, P, labels=labels)
    )
    expected_auc = (
        metrics.roc_auc_score(truth, P[:, 1])
        if k == 2
        else metrics.roc_auc_score(truth, P, multi_class="ovr", labels=labels)
    )
    assert report["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    p, r, f, s = metrics.precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    for i, c in enumerate(classes):
        row = report["per_class"][c]
        assert row["precision"] == pytest.approx(p[i])
        assert row["recall"] == pytest.approx(r[i])
        assert row["f1"] == pytest.approx(f[i])
        assert row["support"] == s[i]
    for avg in ("macro", "weighted"):
        p, r, f, _ = metrics.precision_recall_fscore_support(
            truth, predicted, labels=labels, average=avg, zero_division=0
        )
        assert report[f"{avg}_avg"]["precision"] == pytest.approx(p)
        assert report[f"{avg}_avg"]["recall"] == pytest.approx(r)
        assert report[f"{avg}_avg"]["f1"] == pytest.approx(f)
    assert (
        report["confusion_matrix"]
        == metrics.confusion_matrix(truth, predicted, labels=labels).tolist()
    )


def test_roc_auc_is_none_when_a_class_is_absent():
    P = probabilities(np.random.default_rng(0), 10, 3)
    assert roc_auc(np.zeros(10, int), P) is None
    assert roc_auc(np.array([0] * 5 + [1] * 5), P) is None  # class 2 never occurs


@pytest.mark.parametrize("k", [1, 3])
def test_regression_report_equals_scikit_learn(k):
    rng = np.random.default_rng(k)
    y = rng.normal(size=(200, k)) * 100
    y_hat = y + rng.normal(size=(200, k)) * 10
    report = regression_report(y_hat, y)
    assert report["mse"] == pytest.approx(metrics.mean_squared_error(y, y_hat))
    assert report["rmse"] == pytest.approx(metrics.root_mean_squared_error(y, y_hat))
    assert report["mae"] == pytest.approx(metrics.mean_absolute_error(y, y_hat))
    assert report["r2"] == pytest.approx(metrics.r2_score(y, y_hat))
    assert r2(y_hat, y) == pytest.approx(metrics.r2_score(y, y_hat))
