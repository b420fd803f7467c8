"""Scores of predictions, in NumPy: what ``fit`` monitors and ``evaluate`` reports.

Each agrees with its namesake in ``sklearn.metrics`` (the tests check every
figure against it), without needing scikit-learn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .backend import Array


def accuracy(Y_hat: Array, Y: Array) -> float:
    """Share of samples whose class is right: the argmax of each row when there
    are several outputs (softmax), ŷ > ½ for a single output."""
    if Y.shape[1] == 1:
        return float(np.mean((Y_hat > 0.5) == (Y > 0.5)))
    return float(np.mean(Y_hat.argmax(axis=1) == Y.argmax(axis=1)))


def multilabel_accuracy(Y_hat: Array, Y: Array) -> float:
    """Share of samples with every output right at the ½ threshold."""
    return float(np.mean(np.all((Y_hat > 0.5) == (Y > 0.5), axis=1)))


def r2(Y_hat: Array, Y: Array) -> float:
    """Coefficient of determination, averaged over outputs (as scikit-learn)."""
    ss_res = ((Y - Y_hat) ** 2).sum(axis=0)
    ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
    # a constant target column scores 1 if predicted exactly, else 0
    safe = np.where(ss_tot > 0, ss_tot, 1)
    per_output = np.where(ss_tot > 0, 1 - ss_res / safe, (ss_res == 0).astype(float))
    return float(np.mean(per_output))


#: the validation metrics ``fit`` knows by name
METRICS = ("accuracy", "r2")


def validation_metric(
    metric: Any, loss: Any, output: Any, n_outputs: int
) -> tuple[str | None, Callable[[Array, Array], float] | None]:
    """(name, function (Ŷ, Y) -> float) of ``fit``'s validation metric.

    ``metric``: "auto" (the registry decides: accuracy for a loss whose
    ``task`` is classification, R² otherwise), "accuracy", "r2", a function or
    None. Accuracy counts each output at ½ (multi-label) unless the output
    activation mixes its units (softmax: one label per sample).
    """
    if metric is None or callable(metric):
        return (getattr(metric, "__name__", "metric") if metric else None), metric
    if metric == "auto":
        task = getattr(loss, "task", "regression")
        metric = "accuracy" if task == "classification" else "r2"
    if metric == "accuracy":
        multi = getattr(output, "elementwise", True) and n_outputs > 1
        return "accuracy", multilabel_accuracy if multi else accuracy
    if metric == "r2":
        return "r2", r2
    raise ValueError(
        f"unknown metric {metric!r}; known: 'auto', {', '.join(map(repr, METRICS))}, "
        "None, or a function (Y_hat, Y) -> float"
    )


def regression_report(y_hat: Array, y: Array) -> dict[str, float]:
    """MSE, RMSE, MAE and R² of predictions ``y_hat`` (m, k) against ``y`` (m, k),
    in the target's own units."""
    y_hat, y = np.asarray(y_hat, np.float64), np.asarray(y, np.float64)
    if y.ndim == 1:
        y_hat, y = y_hat.reshape(-1, 1), y.reshape(-1, 1)
    per_output = np.mean((y_hat - y) ** 2, axis=0)
    return {
        "mse": float(np.mean(per_output)),
        # scikit-learn's multi-output RMSE: the mean of each output's RMSE
        "rmse": float(np.mean(np.sqrt(per_output))),
        "mae": float(np.mean(np.abs(y_hat - y))),
        "r2": r2(y_hat, y),
        "samples": len(y),
    }


def confusion_matrix(truth: Array, predicted: Array, n_classes: int) -> np.ndarray:
    """(k, k) counts: row i, column j counts samples of class i predicted as j."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (truth, predicted), 1)
    return cm


def _ranks(x: Array) -> np.ndarray:
    """1-based ranks, ties sharing their average rank (as scipy's rankdata)."""
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + 1 + ends) / 2.0)[inverse]


def roc_auc_binary(positive: Array, score: Array) -> float | None:
    """Area under the ROC curve (the chance that a random positive scores above
    a random negative, ties counting half); None when one side is empty."""
    positive = np.asarray(positive, bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    rank_sum = float(_ranks(score)[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def roc_auc(truth: Array, P: Array) -> float | None:
    """ROC AUC of class probabilities P (m, k) for classes ``truth`` (m,): the
    binary AUC for two classes, else the unweighted mean of the one-vs-rest
    AUCs (scikit-learn's multi_class="ovr", average="macro"). None when a
    class is missing from ``truth``."""
    k = P.shape[1]
    if k == 2:
        return roc_auc_binary(truth == 1, P[:, 1])
    scores = [roc_auc_binary(truth == c, P[:, c]) for c in range(k)]
    present = [s for s in scores if s is not None]
    return float(np.mean(present)) if len(present) == k else None


def log_loss(truth: Array, P: Array) -> float:
    """Mean −log p(true class), probabilities clipped at the float's epsilon."""
    eps = np.finfo(np.float64).eps
    picked = np.clip(np.asarray(P, np.float64)[np.arange(len(truth)), truth], eps, 1)
    return float(-np.mean(np.log(picked)))


def classification_report(truth: Array, P: Array, classes: list[str]) -> dict[str, Any]:
    """Every figure ``nlayer evaluate`` prints for classes ``truth`` (m,) (indices
    into ``classes``) and probabilities P (m, k): accuracy, balanced accuracy,
    log-loss, ROC AUC, precision, recall, F1 and support per class, their
    macro and weighted averages, and the confusion matrix."""
    truth = np.asarray(truth, np.int64)
    k = len(classes)
    predicted = P.argmax(axis=1)
    cm = confusion_matrix(truth, predicted, k)
    tp = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.float64)
    called = cm.sum(axis=0).astype(np.float64)
    # a class never predicted (or never present) scores 0, as scikit-learn's
    # zero_division default does (it also warns; nlayer says so in the report)
    precision = np.divide(tp, called, out=np.zeros(k), where=called > 0)
    recall = np.divide(tp, support, out=np.zeros(k), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(k), where=both > 0)
    present = support > 0
    weights = support / support.sum()
    return {
        "accuracy": float(tp.sum() / len(truth)),
        "balanced_accuracy": float(recall[present].mean()),
        "log_loss": log_loss(truth, P),
        "roc_auc": roc_auc(truth, P),
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "macro_avg": {
            "precision": float(precision.mean()),
            "recall": float(recall.mean()),
            "f1": float(f1.mean()),
        },
        "weighted_avg": {
            "precision": float(weights @ precision),
            "recall": float(weights @ recall),
            "f1": float(weights @ f1),
        },
        "confusion_matrix": cm.tolist(),
        "samples": len(truth),
    }
