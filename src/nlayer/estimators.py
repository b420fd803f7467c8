"""scikit-learn estimators over the core network: NLayerClassifier, NLayerRegressor.

Thin wrappers in scikit-learn's conventions: ``__init__`` stores the
hyper-parameters untouched, ``fit`` checks them and the data, and every
fitted attribute ends in ``_``. Unlike ``MLPClassifier``/``MLPRegressor``,
each hidden layer may have its own activation (any of nlayer's, or a custom
object), and the optimisers and losses are nlayer's.

The output layer follows the task: softmax + cross-entropy for several
classes, sigmoid + binary cross-entropy for two classes and for multi-label
targets, identity + MSE for (multi-output) regression.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .activations import ACTIVATIONS
from .backend import as_weights
from .data import Preprocessing
from .io import save as save_model
from .losses import Loss
from .network import Network
from .optimizers import OPTIMIZERS, Optimizer, get_optimizer
from .training import StopTraining, TrainingInterrupted, fit

DTYPES = ("float64", "float32")
#: batch_size="auto": min(AUTO_BATCH, n_samples); smaller than scikit-learn's 200,
#: which gives small tabular data sets more steps per epoch
AUTO_BATCH = 64
REGRESSION_LOSSES = ("mse", "mae", "huber")
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy")


class _Plateau:
    """A fit callback: stop once the training loss has not improved by ``tol``
    for ``patience`` epochs (scikit-learn's MLP convergence test)."""

    def __init__(self, tol: float, patience: int) -> None:
        self.tol, self.patience = tol, patience
        self.best, self.waited, self.converged = np.inf, 0, False

    def __call__(self, net: Network, epoch: int, logs: dict[str, Any]) -> None:
        if logs["loss"] > self.best - self.tol:
            self.waited += 1
        else:
            self.waited = 0
        self.best = min(self.best, logs["loss"])
        if self.waited >= self.patience:
            self.converged = True
            raise StopTraining


class _NLayerBase(BaseEstimator):
    """What the classifier and the regressor share; not for direct use."""

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (256,),
        activation: Any = "relu",
        *,
        loss: str | Loss | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int | str | None = "auto",
        max_epochs: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        alpha: float = 0.0001,
        momentum: float = 0.9,
        random_state: Any = None,
        dtype: str = "float64",
        warm_start: bool = False,
        verbose: bool | int = False,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.alpha = alpha
        self.momentum = momentum
        self.random_state = random_state
        self.dtype = dtype
        self.warm_start = warm_start
        self.verbose = verbose

    # -- hyper-parameters --------------------------------------------------------

    def _invalid(self, name: str, allowed: str) -> ValueError:
        return ValueError(
            f"{type(self).__name__}: {name} must be {allowed}, "
            f"got {getattr(self, name)!r}"
        )

    def _number(
        self,
        name: str,
        lo: float,
        hi: float = np.inf,
        lo_open: bool = False,
        integer: bool = False,
    ) -> None:
        v = getattr(self, name)
        kind = Integral if integer else Real
        ok = (
            isinstance(v, kind)
            and not isinstance(v, bool)
            and bool(np.isfinite(float(v)))
        )
        ok = ok and (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            what = "an integer" if integer else "a number"
            low = f"> {lo}" if lo_open else f">= {lo}"
            high = f" and <= {hi}" if np.isfinite(hi) else ""
            raise self._invalid(name, f"{what} {low}{high}")

    def _check_params(self) -> tuple[list[int], list[Any]]:
        """Raise ValueError naming the first bad hyper-parameter; the hidden
        layer sizes and activations."""
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, Integral) and not isinstance(sizes, bool):
            sizes = (sizes,)
        if (
            not isinstance(sizes, Sequence)
            or isinstance(sizes, str)
            or not all(
                isinstance(n, Integral) and not isinstance(n, bool) and int(n) > 0
                for n in sizes
            )
        ):
            raise self._invalid("hidden_layer_sizes", "a tuple of positive integers")
        act = self.activation
        hidden = [act] * len(sizes) if not isinstance(act, (list, tuple)) else list(act)
        if len(hidden) != len(sizes):
            raise self._invalid(
                "activation",
                f"one activation for all hidden layers or a list of {len(sizes)}",
            )
        for a in hidden:
            if isinstance(a, str) and (a not in ACTIVATIONS or a == "softmax"):
                known = ", ".join(n for n in ACTIVATIONS if n != "softmax")
                raise self._invalid("activation", f"one of {known} (or an object)")
        if self.optimizer not in OPTIMIZERS:
            raise self._invalid("optimizer", f"one of {', '.join(OPTIMIZERS)}")
        self._number("learning_rate", 0, lo_open=True)
        if not (
            self.batch_size in ("auto", None)
            or (
                isinstance(self.batch_size, Integral)
                and not isinstance(self.batch_size, bool)
                and self.batch_size > 0
            )
        ):
            raise self._invalid("batch_size", "a positive integer, 'auto' or None")
        self._number("max_epochs", 1, integer=True)
        if not isinstance(self.early_stopping, (bool, np.bool_)):
            raise self._invalid("early_stopping", "True or False")
        self._number("validation_fraction", 0, 1, lo_open=True)
        if self.validation_fraction == 1:
            raise self._invalid("validation_fraction", "a number > 0 and < 1")
        self._number("n_iter_no_change", 1, integer=True)
        self._number("tol", 0)
        self._number("alpha", 0)
        self._number("momentum", 0, 1)
        if self.momentum == 1:
            raise self._invalid("momentum", "a number >= 0 and < 1")
        if self.dtype not in DTYPES:
            raise self._invalid("dtype", "'float64' or 'float32'")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise self._invalid("warm_start", "True or False")
        return [int(n) for n in sizes], hidden

    # -- training -------------------------------------------------------------------

    def _build(
        self,
        n_in: int,
        sizes: list[int],
        hidden: list[Any],
        out_act: str,
        loss: Any,
        n_out: int,
    ) -> Network:
        seed = int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )
        try:
            return Network(
                [n_in, *sizes, n_out],
                [*hidden, out_act],
                loss,
                seed=seed,
                dtype=self.dtype,
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None

    def _optimizer(self, batch_weight: float) -> Optimizer:
        options: dict[str, Any] = {"lr": float(self.learning_rate)}
        if self.optimizer == "sgd":
            options["momentum"] = float(self.momentum)
        # scikit-learn's L2 term: alpha/(2·batch)·‖W‖² per batch, gradient
        # alpha·W/batch; with sample weights the batch counts its weight, so that
        # a weight of 2 is a sample seen twice
        options["weight_decay"] = float(self.alpha) / batch_weight
        return get_optimizer(self.optimizer, **options)

    def _train(
        self,
        X: np.ndarray,
        Y: np.ndarray,
        sample_weight: Any,
        epochs: int,
        incremental: bool,
    ) -> None:
        net = self.network_
        n = len(X)
        if self.batch_size == "auto":
            batch = min(AUTO_BATCH, n)
        else:
            batch = n if self.batch_size is None else min(int(self.batch_size), n)
        try:
            sample_weight = net.check_weights(sample_weight, n)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        if not (incremental or self.warm_start) or not hasattr(self, "optimizer_"):
            mean_weight = 1.0 if sample_weight is None else float(sample_weight.mean())
            self.optimizer_ = self._optimizer(batch * mean_weight)
        options: dict[str, Any] = {}
        plateau = None
        if self.early_stopping and not incremental:
            options.update(
                validation_fraction=self.validation_fraction,
                early_stopping=True,
                patience=self.n_iter_no_change,
                min_delta=self.tol,
            )
        elif not incremental:
            plateau = _Plateau(self.tol, self.n_iter_no_change)
            options["callbacks"] = [plateau]
        interrupted = False
        try:
            history = fit(
                net,
                X,
                Y,
                epochs=epochs,
                optimizer=self.optimizer_,
                batch_size=batch,
                verbose=self.verbose,
                sample_weight=sample_weight,
                metric=self._metric,
                **options,
            )
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        except TrainingInterrupted as stop:
            if not stop.history.epochs:
                raise  # no epoch finished: _fit leaves the estimator as it was
            # as MLPClassifier does: fitted on what finished, and it says so
            warnings.warn(
                f"{type(self).__name__}: training interrupted by the user after "
                f"{stop.history.epochs} epoch(s); the estimator is fitted on the "
                "completed epochs",
                UserWarning,
                stacklevel=3,
            )
            history, interrupted = stop.history, True
        self.history_ = history
        self.loss_curve_: list[float]
        self.n_iter_: int
        if incremental and hasattr(self, "loss_curve_"):
            self.loss_curve_ = [*self.loss_curve_, *history.loss]
            self.n_iter_ += history.epochs
        else:
            self.loss_curve_ = list(history.loss)
            self.n_iter_ = history.epochs
        self.best_loss_ = float(min(self.loss_curve_))
        self.validation_scores_ = (
            list(history.val_metric) if options.get("early_stopping") else None
        )
        stopped = history.stopped_early or (plateau is not None and plateau.converged)
        if not (incremental or stopped or interrupted):
            warnings.warn(
                f"{type(self).__name__}: the loss was still improving after "
                f"max_epochs={self.max_epochs} epochs; raise max_epochs or tol",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _fit(
        self, X: Any, y: Any, sample_weight: Any, incremental: bool, classes: Any = None
    ) -> Any:
        sizes, hidden = self._check_params()
        first = not (hasattr(self, "network_") and (incremental or self.warm_start))
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            dtype=self.dtype,
            multi_output=True,
            y_numeric=self._task == "regression",
        )
        try:  # before the targets are weighed with them
            as_weights(sample_weight, len(X), np.dtype(self.dtype))
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        Y, out_act, loss, n_out = self._targets(y, first, classes, sample_weight)
        if first:
            self.network_ = self._build(X.shape[1], sizes, hidden, out_act, loss, n_out)
        elif self.network_.layer_sizes[-1] != n_out:
            raise ValueError(
                f"{type(self).__name__}: y has {n_out} outputs, the fitted network "
                f"{self.network_.layer_sizes[-1]}; fit anew without warm_start"
            )
        try:
            self._train(
                X,
                Y.astype(self.dtype),
                sample_weight,
                1 if incremental else self.max_epochs,
                incremental,
            )
        except KeyboardInterrupt:
            if first:  # stopped before one epoch finished: unfitted, not half-fitted
                for name in set(vars(self)) - set(self.get_params(deep=False)):
                    delattr(self, name)
            raise
        return self

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Any:
        """Train on X (n_samples, n_features) and y; returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    def _forward(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=self.dtype)
        return self.network_.forward(X)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted network to a safe model file (``nlayer.load`` and
        ``nlayer predict`` read it); features are used as they are given."""
        check_is_fitted(self, "network_")
        n = self.n_features_in_
        names = [str(f) for f in getattr(self, "feature_names_in_", [])] or [
            f"x{j}" for j in range(n)
        ]
        pre = self._preprocessing(names)
        return save_model(self.network_, path, preprocessing=pre)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.non_deterministic = self.random_state is None
        return tags


class NLayerClassifier(ClassifierMixin, _NLayerBase):
    """A fully-connected network classifier with nlayer's backpropagation.

    Hyper-parameters (scikit-learn's MLP names where they exist):
        hidden_layer_sizes: hidden layer widths, e.g. ``(128, 64)``.
        activation: one name for all hidden layers, a list with one per hidden
            layer, or activation objects (``nlayer.activations.LeakyReLU(0.2)``).
        loss: None (cross-entropy with softmax for several classes, binary
            cross-entropy with sigmoid for two classes and multi-label),
            ``"cross_entropy"`` or ``"binary_cross_entropy"``.
        optimizer: ``"adam"``, ``"adamw"``, ``"sgd"`` (with ``momentum``) or
            ``"rmsprop"``; learning_rate: its step size.
        batch_size: ``"auto"`` = min(64, n_samples), an integer, or None for
            full-batch gradient descent.
        max_epochs, tol, n_iter_no_change: train at most max_epochs epochs, and
            stop when the training loss (or, with ``early_stopping``, the loss on
            a ``validation_fraction`` split, keeping the best weights) has not
            improved by tol for n_iter_no_change epochs.
        alpha: L2 penalty, scikit-learn's: adds alpha/(2·batch)·‖W‖² per batch.
        random_state, dtype (``"float64"``/``"float32"``), warm_start, verbose.

    Fitted: ``network_`` (the :class:`~nlayer.Network`), ``classes_``,
    ``loss_curve_``, ``validation_scores_``, ``best_loss_``, ``n_iter_``,
    ``history_``, ``n_features_in_``, ``feature_names_in_`` (DataFrames).
    """

    _task = "classification"
    _metric = "accuracy"

    def _targets(
        self, y: Any, first: bool, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, str, str, int]:
        if y.ndim == 2 and y.shape[1] == 1:  # a column of labels, as MLPClassifier
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if first:
            self._binarizer = LabelBinarizer()
            self._binarizer.fit(y if classes is None else classes)
            self.classes_ = self._binarizer.classes_
            self._kind = type_of_target(y if classes is None else classes)
            if self._kind == "multilabel-indicator":
                self._kind = "multilabel"
            elif len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least two classes "
                    f"in y; got one class, '{self.classes_[0]}'"
                )
            else:
                self._kind = "binary" if len(self.classes_) == 2 else "multiclass"
        unseen = (
            set(np.unique(y)) - set(self.classes_)
            if self._kind != "multilabel"
            else set()
        )
        if unseen:
            raise ValueError(
                f"{type(self).__name__}: y holds classes {sorted(unseen)} not in "
                f"classes_ {list(self.classes_)}"
            )
        Y = self._binarizer.transform(y).astype(np.float64)
        loss = self.loss
        if loss is None:
            loss = (
                "cross_entropy"
                if self._kind == "multiclass"
                else "binary_cross_entropy"
            )
        if loss not in CLASSIFICATION_LOSSES:
            raise self._invalid(
                "loss", "None, 'cross_entropy' or 'binary_cross_entropy'"
            )
        if loss == "cross_entropy":
            if self._kind == "multilabel":
                raise ValueError(
                    f"{type(self).__name__}: a multi-label target needs "
                    "loss='binary_cross_entropy' (one sigmoid per label)"
                )
            if self._kind == "binary":  # two softmax outputs
                Y = np.hstack([1 - Y, Y])
            return Y, "softmax", loss, Y.shape[1]
        if self._kind == "multiclass":
            raise ValueError(
                f"{type(self).__name__}: {len(self.classes_)} classes need "
                "loss='cross_entropy' (softmax); binary_cross_entropy is for two "
                "classes or multi-label targets"
            )
        return Y, "sigmoid", loss, Y.shape[1]

    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> NLayerClassifier:
        """One epoch over (X, y); the first call needs ``classes``, every class."""
        if not hasattr(self, "network_") and classes is None:
            raise ValueError(
                f"{type(self).__name__}.partial_fit needs classes= on its first call"
            )
        return self._fit(
            X,
            y,
            sample_weight,
            incremental=True,
            classes=classes,
        )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in ``classes_``
        order (per-label probabilities for a multi-label target)."""
        P = self._forward(X).astype(np.float64)
        if self._kind == "binary" and P.shape[1] == 1:
            return np.hstack([1 - P, P])
        return P

    def predict(self, X: Any) -> np.ndarray:
        """Predicted classes (n_samples,), or a label indicator matrix."""
        P = self.predict_proba(X)
        if self._kind == "multilabel":
            return (P > 0.5).astype(int)
        return self.classes_[P.argmax(axis=1)]

    def _preprocessing(self, names: list[str]) -> Preprocessing:
        if self._kind == "multilabel":
            raise ValueError(
                "a multi-label classifier cannot be written as a model file yet: "
                "the format knows classification and regression; pickle it instead"
            )
        n = len(names)
        return Preprocessing(
            names,
            np.zeros(n),
            np.ones(n),
            "classification",
            "y",
            [str(c) for c in self.classes_],
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NLayerRegressor(RegressorMixin, _NLayerBase):
    """A fully-connected network regressor with nlayer's backpropagation.

    The hyper-parameters are :class:`NLayerClassifier`'s, with loss None
    (``"mse"``), ``"mae"``, ``"huber"`` or a loss object; the output layer is
    linear with one unit per target column. ``predict`` returns (n_samples,)
    for a 1-D y and (n_samples, n_targets) otherwise.
    """

    _task = "regression"
    _metric = "r2"

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] = (256,),
        activation: Any = "relu",
        *,
        loss: str | Loss | None = None,
        optimizer: str = "adam",
        learning_rate: float = 0.001,
        batch_size: int | str | None = "auto",
        max_epochs: int = 200,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        n_iter_no_change: int = 10,
        tol: float = 1e-4,
        alpha: float = 0.0001,
        momentum: float = 0.9,
        standardize_target: bool = True,
        random_state: Any = None,
        dtype: str = "float64",
        warm_start: bool = False,
        verbose: bool | int = False,
    ) -> None:
        super().__init__(
            hidden_layer_sizes,
            activation,
            loss=loss,
            optimizer=optimizer,
            learning_rate=learning_rate,
            batch_size=batch_size,
            max_epochs=max_epochs,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change,
            tol=tol,
            alpha=alpha,
            momentum=momentum,
            random_state=random_state,
            dtype=dtype,
            warm_start=warm_start,
            verbose=verbose,
        )
        self.standardize_target = standardize_target

    def _targets(
        self, y: Any, first: bool, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, str, Any, int]:
        if not isinstance(self.standardize_target, (bool, np.bool_)):
            raise self._invalid("standardize_target", "True or False")
        y = np.asarray(y, dtype=np.float64)
        Y = y.reshape(len(y), -1)
        if first:
            self._y_1d = y.ndim == 1
            # the network learns (y − mean)/std: targets of any scale train alike;
            # weighted moments, so that a weight of 2 is a sample seen twice
            k = Y.shape[1]
            self._y_mean, self._y_scale = np.zeros(k), np.ones(k)
            w = (
                np.ones(len(Y))
                if sample_weight is None
                else np.asarray(sample_weight, dtype=np.float64)
            )
            if self.standardize_target and w.shape == (len(Y),) and w.sum() > 0:
                with np.errstate(over="ignore", invalid="ignore"):
                    self._y_mean = np.average(Y, axis=0, weights=w)
                    var = np.average((Y - self._y_mean) ** 2, axis=0, weights=w)
                if not (np.isfinite(self._y_mean).all() and np.isfinite(var).all()):
                    raise ValueError(
                        f"{type(self).__name__}: y holds values too large to "
                        f"standardise (up to {np.abs(Y).max():g}); rescale the "
                        "target (e.g. to thousands, or its logarithm)"
                    )
                self._y_scale = np.where(var > 0, np.sqrt(var), 1.0)
        Y = (Y - self._y_mean) / self._y_scale
        loss = "mse" if self.loss is None else self.loss
        if isinstance(loss, str) and loss not in REGRESSION_LOSSES:
            raise self._invalid("loss", "None, 'mse', 'mae', 'huber' or a loss object")
        return Y, "linear", loss, Y.shape[1]

    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NLayerRegressor:
        """One epoch over (X, y), continuing from the current weights."""
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: (n_samples,) for a 1-D y, else (n_samples, n_targets)."""
        with np.errstate(over="ignore", invalid="ignore"):
            Y = self._forward(X).astype(np.float64) * self._y_scale + self._y_mean
        bad = np.flatnonzero(~np.isfinite(Y).all(axis=1))
        if len(bad):
            raise ValueError(
                f"{type(self).__name__}: the prediction is not finite for "
                f"{len(bad)} sample(s) (first: row {bad[0]}); their features are "
                "far outside the range the network was trained on"
            )
        return Y[:, 0] if self._y_1d else Y

    def _preprocessing(self, names: list[str]) -> Preprocessing:
        n = len(names)
        return Preprocessing(
            names,
            np.zeros(n),
            np.ones(n),
            "regression",
            "y",
            None,
            self._y_mean,
            self._y_scale,
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


__all__ = ["NLayerClassifier", "NLayerRegressor"]
