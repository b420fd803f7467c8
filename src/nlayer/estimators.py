"""scikit-learn estimators over the core network: NLayerClassifier, NLayerRegressor.

Drop-ins for scikit-learn's ``MLPClassifier`` and ``MLPRegressor``: the same
parameters with the same names, defaults and meanings (``solver``,
``learning_rate_init``, ``max_iter``, ``n_iter_no_change``, …), the same
fitted attributes (``coefs_``, ``intercepts_``, ``loss_curve_``, ``t_``, …)
and the same rules for ``partial_fit``, ``warm_start`` and early stopping,
so that changing one import moves a project over. Beyond them: an activation
per hidden layer and nlayer's others (``"gelu"``, ``"elu"``, objects),
``class_weight``, ``dropout``, the solvers ``"adamw"`` and ``"rmsprop"``,
learning-rate schedules (``"cosine"``, ``"plateau"``, …), ``clip_norm``,
regression losses (``"mae"``, ``"huber"``, objects), validation data and
callbacks in ``fit``, and ``save`` to nlayer's safe model file.

The initial weights are scikit-learn's (Glorot uniform, biases too, drawn
from the same random state in the same order), so one ``random_state`` starts
both from the same point. Where nlayer differs on purpose, it says so: a
regressor learns a standardised target (``standardize_target``), which
changes no prediction's units and helps targets of any scale train alike;
the shuffles come from the network's own generator; and a fit whose loss or
gradient stops being finite stops at that step, before the update (nlayer's
divergence guard), where scikit-learn's goes on with non-finite weights. What
follows is scikit-learn's: a ``ValueError`` with its message, or, with early
stopping, a NaN validation score, the best weights kept and a
``ConvergenceWarning``.

``__init__`` stores the hyper-parameters untouched, ``fit`` checks them, and
every fitted attribute ends in ``_``.
"""

from __future__ import annotations

import inspect
import math
import os
import warnings
from collections.abc import Callable, Sequence
from numbers import Integral
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import (
    check_classification_targets,
    type_of_target,
    unique_labels,
)
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .activations import ACTIVATIONS
from .backend import as_weights, device_of, get_namespace, library_of, n_rows, to_numpy
from .callbacks import Callback, EarlyStopping
from .checks import interval, is_number
from .data import Preprocessing
from .distributed import get_communicator
from .io import save as save_model
from .losses import LOSSES, Loss, get_loss
from .network import Network
from .optimizers import LBFGS, SCHEDULES, Schedule, get_optimizer
from .state import Monitor, TrainingState
from .training import (
    TrainingDiverged,
    TrainingInterrupted,
    fit,
)

#: scikit-learn's activation names, as nlayer calls them
SKLEARN_ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid"}
#: nlayer's output activations, as scikit-learn names them in out_activation_
OUT_ACTIVATION_NAMES = {"linear": "identity", "sigmoid": "logistic"}
SOLVERS = ("lbfgs", "sgd", "adam", "adamw", "rmsprop")
STOCHASTIC = ("sgd", "adam", "adamw", "rmsprop")
SKLEARN_RATES = ("constant", "invscaling", "adaptive")
REGRESSION_LOSSES = {"squared_error": "mse", "poisson": "poisson", "mae": "mae"}
REGRESSION_LOSSES["huber"] = "huber"
#: the learning rate below which "adaptive" stops, as scikit-learn's does
ADAPTIVE_FLOOR = 1e-6
DIVERGED = (
    "Solver produced non-finite parameter weights. The input data may contain "
    "large values and need to be preprocessed."
)


class _SamplesInverseScaling(Schedule):
    """scikit-learn's "invscaling": α₀ / (t + 1)^power_t, t the samples seen
    before the epoch (``t0`` of them before this fit)."""

    name = "invscaling"

    def __init__(self, power_t: float, n_samples: int, t0: int) -> None:
        self.power_t, self.n_samples, self.t0 = power_t, n_samples, t0

    def __call__(self, lr0: float, epoch: int, epochs: int) -> float:
        return float(lr0 / (self.t0 + epoch * self.n_samples + 1) ** self.power_t)

    def __repr__(self) -> str:
        return f"invscaling(power_t={self.power_t})"


class _Convergence(Callback):
    """scikit-learn's bookkeeping and stopping rule, after every epoch.

    Bookkeeping: ``n_iter_``, ``t_``, ``loss_`` (with the L2 penalty),
    ``loss_curve_`` and, with early stopping, ``validation_scores_``. The rule
    is nlayer's :class:`~nlayer.callbacks.EarlyStopping` with scikit-learn's
    ``tol`` (``rule="scikit-learn"``) on the validation score with early
    stopping (the best weights kept), else on ``loss_``: when neither improved
    for more than ``n_iter_no_change`` epochs in a row, training stops, or with
    ``learning_rate="adaptive"`` the learning rate is divided by 5 (stopping
    once it is below 1e-6). ``best_loss_``, ``best_validation_score_`` and
    ``_no_improvement_count`` show its state, and carry it into a warm start.
    """

    def __init__(
        self,
        est: _NLayerBase,
        opt: Any,
        n_samples: int,
        penalty: Callable[[Network], float],
        early_stopping: bool,
    ) -> None:
        self.est, self.opt, self.n_samples = est, opt, n_samples
        self.penalty, self.early_stopping = penalty, early_stopping
        self.adaptive = est.solver == "sgd" and est.learning_rate == "adaptive"
        self.converged = False
        score = f"val_{est._metric}"
        self.stopping = EarlyStopping(
            est.n_iter_no_change + 1,  # stop once the count exceeds n_iter_no_change
            key=(lambda logs: logs.get(score, math.nan))
            if early_stopping
            else (lambda logs: est.loss_),
            restore_best=False,  # _fit_stochastic restores, after a divergence too
            keep_best=early_stopping,
            on_plateau=self._plateau,
            monitor=Monitor(
                "max" if early_stopping else "min",
                est.tol,
                "scikit-learn",
                best=est.best_validation_score_ if early_stopping else est.best_loss_,
                waited=est._no_improvement_count,
            ),
        )

    @property
    def best_params(self) -> np.ndarray | None:
        return self.stopping.monitor.best_params

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        est = self.est
        est.n_iter_ += 1
        est.t_ += self.n_samples
        est.loss_ = float(logs["loss"] + self.penalty(net))
        est.loss_curve_.append(est.loss_)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {est.loss_:.8f}")
        if self.early_stopping:
            score = self.stopping.value(logs)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
        self.stopping.on_epoch_end(net, state, logs)
        monitor = self.stopping.monitor
        est._no_improvement_count = monitor.waited
        if self.early_stopping:
            est.best_validation_score_ = monitor.best
        else:
            est.best_loss_ = monitor.best

    def _plateau(self) -> bool:
        """n_iter_no_change epochs without improvement: True to go on."""
        est = self.est
        what = "Validation score" if self.early_stopping else "Training loss"
        message = (
            f"{what} did not improve more than tol={est.tol:f} for "
            f"{est.n_iter_no_change} consecutive epochs."
        )
        if self.adaptive and self.opt.lr > ADAPTIVE_FLOOR:
            self.opt.lr /= 5.0
            if est.verbose:
                print(f"{message} Setting learning rate to {self.opt.lr:f}")
            return True
        if est.verbose:
            print(f"{message} Stopping.")
        self.converged = True
        return False


def _device_place(X: Any) -> tuple[str, Any] | None:
    """(backend, device) of an array of another library when scikit-learn's
    ``array_api_dispatch`` is on: the estimator then trains there."""
    from sklearn import get_config

    if not get_config().get("array_api_dispatch", False):
        return None
    backend = library_of(X)
    return None if backend == "numpy" else (backend, device_of(X))


class _NLayerBase(BaseEstimator):
    """What the classifier and the regressor share; not for direct use."""

    _metric = "accuracy"

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str | Schedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        dropout: float | Sequence[float] | None = None,
        clip_norm: float | None = None,
        distributed: Any = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.clip_norm = clip_norm
        self.distributed = distributed

    # -- the weights, as scikit-learn shows them --------------------------------

    @property
    def coefs_(self) -> list[np.ndarray]:
        """W⁽ˡ⁾ per layer, (n_l, n_{l+1}): views into the network's buffer, so
        ``coefs_[l] = A`` writes the network's weights."""
        if "network_" in self.__dict__:
            return self.network_.weights
        if "_given_coefs" in self.__dict__:
            return self.__dict__["_given_coefs"]
        raise AttributeError(f"{type(self).__name__} has no coefs_ before fit")

    @coefs_.setter
    def coefs_(self, value: list[np.ndarray]) -> None:
        # set by hand (as scikit-learn's own tests do): the next fit starts there
        self.__dict__.pop("network_", None)
        self.__dict__["_given_coefs"] = value

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """b⁽ˡ⁾ per layer, (n_{l+1},): views into the network's buffer."""
        if "network_" in self.__dict__:
            return self.network_.biases
        if "_given_intercepts" in self.__dict__:
            return self.__dict__["_given_intercepts"]
        raise AttributeError(f"{type(self).__name__} has no intercepts_ before fit")

    @intercepts_.setter
    def intercepts_(self, value: list[np.ndarray]) -> None:
        self.__dict__.pop("network_", None)
        self.__dict__["_given_intercepts"] = value

    # -- hyper-parameters --------------------------------------------------------

    def _invalid(self, name: str, allowed: str) -> ValueError:
        return ValueError(
            f"The '{name}' parameter of {type(self).__name__} must be {allowed}. "
            f"Got {getattr(self, name)!r} instead."
        )

    def _number(
        self,
        name: str,
        lo: float,
        hi: float = math.inf,
        lo_open: bool = False,
        hi_open: bool = False,
        integer: bool = False,
    ) -> None:
        top = None if hi == math.inf else hi
        v = getattr(self, name)
        if not is_number(v, lo, top, lo_open=lo_open, hi_open=hi_open, integer=integer):
            what = "an int" if integer else "a float"
            where = interval(lo, top, lo_open, hi_open)
            raise self._invalid(name, f"{what} in the range {where}")

    def _check_params(self) -> tuple[list[int], list[Any]]:
        """Raise ValueError naming the first bad hyper-parameter; the hidden
        layer sizes and their activations."""
        sizes: Any = self.hidden_layer_sizes
        if isinstance(sizes, Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        if (
            not isinstance(sizes, (Sequence, np.ndarray))
            or isinstance(sizes, str)
            or not all(is_number(n, 1, integer=True) for n in sizes)
        ):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {sizes!r}.")
        act = self.activation
        hidden = list(act) if isinstance(act, (list, tuple)) else [act] * len(sizes)
        if len(hidden) != len(sizes):
            raise self._invalid(
                "activation",
                f"one activation for all hidden layers or a list of {len(sizes)}",
            )
        hidden = [
            SKLEARN_ACTIVATIONS.get(a, a) if isinstance(a, str) else a for a in hidden
        ]
        hidden_ok = [
            n for n, a in ACTIVATIONS.items() if getattr(a, "elementwise", True)
        ]
        known = [*SKLEARN_ACTIVATIONS, *hidden_ok]
        for a in hidden:
            if isinstance(a, str) and a not in hidden_ok:
                raise self._invalid("activation", f"a str among {known} (or an object)")
        if self.solver not in SOLVERS:
            raise self._invalid("solver", f"a str among {list(SOLVERS)}")
        self._check_numbers()
        return [int(n) for n in sizes], hidden

    def _check_numbers(self) -> None:
        self._number("alpha", 0)
        if not (
            self.batch_size == "auto" or is_number(self.batch_size, 1, integer=True)
        ):
            raise self._invalid("batch_size", "an int >= 1 or 'auto'")
        rate = self.learning_rate
        if not (isinstance(rate, Schedule) or rate in (*SKLEARN_RATES, *SCHEDULES)):
            raise self._invalid(
                "learning_rate", f"a str among {[*SKLEARN_RATES, *SCHEDULES]}"
            )
        self._number("learning_rate_init", 0, lo_open=True)
        self._number("power_t", 0)
        self._number("max_iter", 1, integer=True)
        self._number("tol", 0)
        self._number("momentum", 0, 1)
        self._number("validation_fraction", 0, 1, lo_open=True, hi_open=True)
        self._number("beta_1", 0, 1, hi_open=True)
        self._number("beta_2", 0, 1, hi_open=True)
        self._number("epsilon", 0, lo_open=True)
        n = self.n_iter_no_change
        if not (n == math.inf or is_number(n, 1, integer=True)):
            raise self._invalid("n_iter_no_change", "an int >= 1 or np.inf")
        self._number("max_fun", 1, integer=True)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise self._invalid(flag, "a bool")
        if self.clip_norm is not None:
            self._number("clip_norm", 0, lo_open=True)

    # -- fitting ----------------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any = None,
        *,
        validation_data: tuple[Any, ...] | None = None,
        callbacks: Sequence[Any] = (),
    ) -> Any:
        """Train on X (n_samples, n_features), dense or sparse, and y; returns self.

        ``validation_data``: (X_val, y_val[, sample_weight_val]) scored after
        every epoch (and used by early stopping instead of a split);
        ``callbacks``: functions ``(network, epoch, logs)`` called after every
        epoch, as :func:`nlayer.fit` calls them.
        """
        return self._fit(
            X,
            y,
            sample_weight,
            False,
            validation_data=validation_data,
            callbacks=callbacks,
        )

    def _fit(
        self,
        X: Any,
        y: Any,
        sample_weight: Any,
        incremental: bool,
        classes: Any = None,
        validation_data: Any = None,
        callbacks: Sequence[Any] = (),
    ) -> Any:
        sizes, hidden = self._check_params()
        first = not hasattr(self, "coefs_") or not (self.warm_start or incremental)
        place = _device_place(X)  # torch or CuPy inputs under array_api_dispatch
        if place is not None:  # checked and encoded on the host, trained there
            X, y, sample_weight = (
                None if A is None else to_numpy(A) for A in (X, y, sample_weight)
            )
        X, y = validate_data(
            self,
            X,
            y,
            reset=first,
            accept_sparse=["csr", "csc"],
            dtype=[np.float64, np.float32],
            multi_output=True,
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        try:
            sample_weight = as_weights(sample_weight, n_rows(X), X.dtype)
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        Y, out_act, loss = self._targets(y, first, incremental, classes, sample_weight)
        sample_weight = self._weighted(y, sample_weight)
        random_state = self._random_state()
        try:
            self._network(first, X, Y, (sizes, hidden, out_act, loss), random_state)
            if place is not None:
                self.network_.to(*place)  # coefs_ and intercepts_ live there too
            Y = Y.astype(X.dtype)
            if self.solver == "lbfgs":
                if self.distributed is not None:
                    raise ValueError(
                        "solver='lbfgs' works on the whole training set in one "
                        "process; use a stochastic solver with distributed"
                    )
                self._fit_lbfgs(X, Y, sample_weight, validation_data, callbacks)
            else:
                self._fit_stochastic(
                    X, Y, sample_weight, incremental, random_state, validation_data,
                    callbacks,
                )  # fmt: skip
        except KeyboardInterrupt:
            if first:  # stopped before one epoch finished: unfitted, not half-fitted
                for name in set(vars(self)) - set(self.get_params(deep=False)):
                    delattr(self, name)
            raise
        if not np.isfinite(self.network_.params).all():
            raise ValueError(DIVERGED)
        return self

    def _random_state(self) -> np.random.RandomState:
        """``random_state`` as scikit-learn reads it; data-parallel, every
        process draws from rank 0's seed (the same splits and weights)."""
        random_state = check_random_state(self.random_state)
        comm = get_communicator(self.distributed)
        if comm is not None and self.random_state is None:
            seed = comm.broadcast_object(int(random_state.randint(2**31 - 1)))
            random_state = np.random.RandomState(seed)
        return random_state

    def _network(
        self,
        first: bool,
        X: Any,
        Y: np.ndarray,
        layout: tuple[list[int], list[Any], str, Any],
        random_state: np.random.RandomState,
    ) -> None:
        """A new network on a first fit, the given coefs_ on a later one, else
        the fitted network, checked against Y."""
        sizes, hidden, out_act, loss = layout
        if first:
            self._initialize(X, Y, sizes, hidden, out_act, loss, random_state)
        elif "network_" not in self.__dict__:
            self._network_from_given(X, hidden, out_act, loss)
        elif self.network_.layer_sizes[-1] != Y.shape[1]:
            raise ValueError(
                f"{type(self).__name__}: y has {Y.shape[1]} outputs, the fitted "
                f"network {self.network_.layer_sizes[-1]}; fit anew without "
                "warm_start"
            )

    def _initialize(
        self,
        X: Any,
        Y: np.ndarray,
        sizes: list[int],
        hidden: list[Any],
        out_act: str,
        loss: Any,
        random_state: np.random.RandomState,
    ) -> None:
        """The attributes scikit-learn's MLP sets on a first fit, and the network."""
        self.__dict__.pop("_given_coefs", None)
        self.__dict__.pop("_given_intercepts", None)
        try:
            self.network_ = Network(
                [X.shape[1], *sizes, Y.shape[1]],
                [*hidden, out_act],
                loss,
                init=_zeros,  # drawn below, as scikit-learn draws them
                dtype=X.dtype,
                dropout=self.dropout if sizes else None,
            )
        except (ValueError, TypeError) as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None
        _glorot_uniform(self.network_, hidden, random_state)
        self.__dict__.pop("_seeded", None)
        self.n_iter_, self.t_ = 0, 0
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = len(sizes) + 2
        self.out_activation_ = OUT_ACTIVATION_NAMES.get(out_act, out_act)
        self.loss_curve_: list[float] = []
        self._no_improvement_count = 0
        # None where scikit-learn has None (the other mode's fields)
        if self.early_stopping:
            self.validation_scores_: Any = []
            self.best_validation_score_: Any = -np.inf
            self.best_loss_: Any = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _network_from_given(
        self, X: Any, hidden: list[Any], out_act: str, loss: Any
    ) -> None:
        """A network made of ``coefs_`` and ``intercepts_`` set by hand."""
        coefs = self.__dict__.pop("_given_coefs")
        intercepts = self.__dict__.pop("_given_intercepts")
        sizes = [np.shape(coefs[0])[0], *(np.shape(c)[1] for c in coefs)]
        out = getattr(self, "out_activation_", None)
        out_act = SKLEARN_ACTIVATIONS.get(out, out) if isinstance(out, str) else out_act
        self.network_ = Network(sizes, [*hidden, out_act], loss, dtype=X.dtype, seed=0)
        self.network_.weights = coefs
        self.network_.biases = intercepts
        for name, value in (("n_iter_", 0), ("t_", 0), ("loss_curve_", [])):
            self.__dict__.setdefault(name, value)
        self.__dict__.setdefault("best_loss_", np.inf)
        self.__dict__.setdefault("_no_improvement_count", 0)
        self.__dict__.setdefault("validation_scores_", None)
        self.__dict__.setdefault("best_validation_score_", None)

    def _make_optimizer(self, batch_weight: float) -> Any:
        """The nlayer optimiser for the solver; alpha is scikit-learn's L2 term,
        alpha/(2·batch)·‖W‖² per batch (AdamW: its decoupled weight decay)."""
        solver = self.solver
        options: dict[str, Any] = {"lr": float(self.learning_rate_init)}
        if solver == "sgd":
            options["momentum"] = float(self.momentum)
            options["nesterov"] = bool(self.nesterovs_momentum) and self.momentum > 0
        elif solver in ("adam", "adamw"):
            options.update(beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon)
        elif solver == "rmsprop":
            options["eps"] = self.epsilon
        decay = float(self.alpha) if solver == "adamw" else self.alpha / batch_weight
        options["weight_decay"] = float(decay)
        return get_optimizer(solver, **options)

    def _schedule(self, n_samples: int) -> Any:
        rate = self.learning_rate
        if isinstance(rate, Schedule) or rate in SCHEDULES:
            return rate
        if rate == "invscaling" and self.solver == "sgd":
            return _SamplesInverseScaling(self.power_t, n_samples, self.t_)
        return None  # constant; "adaptive" changes the optimiser's rate itself

    def _split(
        self, X: Any, Y: np.ndarray, sample_weight: Any, random_state: Any
    ) -> tuple[Any, ...]:
        """scikit-learn's early-stopping split: validation_fraction held out,
        stratified for one-output classifiers."""
        stratify = Y.astype(bool) if self._stratify(Y) else None
        parts = [X, Y] if sample_weight is None else [X, Y, sample_weight]
        split = train_test_split(
            *parts,
            random_state=random_state,
            test_size=self.validation_fraction,
            stratify=stratify,
        )
        if n_rows(split[1]) < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' "
                "or the size of your dataset."
            )
        if sample_weight is None:
            return split[0], split[2], None, (split[1], split[3])
        return split[0], split[2], split[4], (split[1], split[3], split[5])

    def _stratify(self, Y: np.ndarray) -> bool:
        return False

    def _fit_stochastic(
        self,
        X: Any,
        Y: np.ndarray,
        sample_weight: Any,
        incremental: bool,
        random_state: Any,
        validation_data: Any,
        callbacks: Sequence[Any],
    ) -> None:
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        validation = self._validation(validation_data, X.dtype)
        if self.early_stopping and validation is None:
            X, Y, sample_weight, validation = self._split(
                X, Y, sample_weight, random_state
            )
        if "_seeded" not in self.__dict__:  # shuffles and dropout: after the split
            seed = int(random_state.randint(np.iinfo(np.int32).max))
            self.network_.rng = np.random.default_rng(seed)
            self._seeded = True
        n = n_rows(X)
        batch = self._batch(n)
        mean = 1.0 if sample_weight is None else float(np.mean(sample_weight))
        if not incremental or not hasattr(self, "optimizer_"):
            self.optimizer_ = self._make_optimizer(batch * mean)
        opt = self.optimizer_
        self.n_iter_ = 0
        penalty = self._penalty(batch * mean)
        convergence = _Convergence(self, opt, n, penalty, self.early_stopping)
        self._train(
            X,
            Y,
            sample_weight,
            1 if incremental else self.max_iter,
            opt,
            dict(
                batch_size=batch,
                shuffle=self.shuffle,
                schedule=self._schedule(n),
                clip_norm=self.clip_norm,
                validation_data=validation,
                callbacks=[convergence, *callbacks],
                distributed=get_communicator(self.distributed),
            ),
        )
        if self.early_stopping and convergence.best_params is not None:
            self.network_.params[...] = convergence.best_params  # the best epoch
        self._optimizer_ = SimpleNamespace(learning_rate=self._current_rate(opt, n))
        if not (incremental or convergence.converged) and self.n_iter_ == self.max_iter:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                "and the optimization hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _batch(self, n: int) -> int:
        """scikit-learn's batch size for n samples: min(200, n) for "auto"."""
        if self.batch_size == "auto":
            return min(200, n)
        batch = int(self.batch_size)
        if batch > n:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is "
                "going to be clipped",
                stacklevel=5,
            )
        return int(np.clip(batch, 1, n))

    def _current_rate(self, opt: Any, n: int) -> float:
        schedule = self._schedule(n)
        if isinstance(schedule, _SamplesInverseScaling):
            return float(self.learning_rate_init / (self.t_ + 1) ** self.power_t)
        return float(opt.lr)

    def _penalty(self, batch: float) -> Callable[[Network], float]:
        """scikit-learn's L2 term in a reported loss: alpha/(2·batch)·‖W‖²."""
        nw = self.network_.n_weights
        if self.solver == "adamw" or not self.alpha:
            return lambda net: 0.0
        return lambda net: float(
            0.5 * self.alpha * np.dot(net.params[:nw], net.params[:nw]) / batch
        )

    def _validation(self, data: Any, dtype: Any) -> tuple[Any, ...] | None:
        """User validation data as the network's (X_val, Y_val[, w_val])."""
        if data is None:
            return None
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError(
                "validation_data must be (X_val, y_val[, sample_weight_val])"
            )
        Xv = validate_data(
            self, data[0], reset=False, accept_sparse=["csr", "csc"], dtype=dtype
        )
        Yv = self._encode(data[1]).astype(dtype)
        if len(data) == 3:
            return Xv, Yv, as_weights(data[2], n_rows(Xv), dtype)
        return Xv, Yv

    def _train(
        self,
        X: Any,
        Y: np.ndarray,
        sample_weight: Any,
        epochs: int,
        opt: Any,
        options: dict[str, Any],
    ) -> None:
        """nlayer's fit, with scikit-learn's answers to divergence and Ctrl-C."""
        net = self.network_
        if net.backend != "numpy":  # the host's arrays, moved where the network is
            X, Y = net.on_device(X), net.on_device(Y)
            sample_weight = (
                None if sample_weight is None else net.on_device(sample_weight)
            )
            if options.get("validation_data") is not None:
                options["validation_data"] = tuple(
                    net.on_device(A) for A in options["validation_data"]
                )
        try:
            self.history_ = fit(
                self.network_,
                X,
                Y,
                epochs=epochs,
                optimizer=opt,
                sample_weight=sample_weight,
                metric=self._metric,
                **options,
            )
        except TrainingDiverged as e:
            if not self.early_stopping or self.solver == "lbfgs":
                raise ValueError(f"{DIVERGED} ({e})") from None
            # the best epoch's weights are kept, as scikit-learn keeps them
            self.validation_scores_.append(float("nan"))
            self.n_iter_ += 1
            self.history_ = e.history
            warnings.warn(
                f"{type(self).__name__}: training diverged ({e}); the weights of the "
                "best validation score are kept",
                ConvergenceWarning,
                stacklevel=5,
            )
        except TrainingInterrupted as stop:
            if not stop.history.epochs:
                raise  # no epoch finished: _fit leaves the estimator as it was
            warnings.warn(  # as MLPClassifier: fitted on what finished, and it says so
                f"{type(self).__name__}: training interrupted by the user after "
                f"{stop.history.epochs} epoch(s); the estimator is fitted on the "
                "completed epochs",
                UserWarning,
                stacklevel=5,
            )
            self.history_ = stop.history
        except ValueError as e:
            raise ValueError(f"{type(self).__name__}: {e}") from None

    def _fit_lbfgs(
        self,
        X: Any,
        Y: np.ndarray,
        sample_weight: Any,
        validation_data: Any,
        callbacks: Sequence[Any],
    ) -> None:
        """scikit-learn's lbfgs: SciPy's L-BFGS-B on the loss plus
        alpha/(2n)·‖W‖², at most max_iter iterations and max_fun evaluations."""
        n = n_rows(X) if sample_weight is None else float(np.sum(sample_weight))
        opt = LBFGS(
            tol=float(self.tol), max_fun=int(self.max_fun), weight_decay=self.alpha / n
        )
        self.optimizer_ = opt
        self._train(
            X,
            Y,
            sample_weight,
            self.max_iter,
            opt,
            dict(
                validation_data=self._validation(validation_data, X.dtype),
                callbacks=list(callbacks),
            ),
        )
        result = opt.result
        self.n_iter_ = int(result.nit)
        self.t_ = getattr(self, "t_", 0) + self.n_iter_ * n_rows(X)
        self.loss_ = float(result.fun)
        self.loss_curve_ = [*getattr(self, "loss_curve_", []), *self.history_.loss]
        self._optimizer_ = SimpleNamespace(learning_rate=self.learning_rate_init)
        if result.status != 0:
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}): {result.message}. Increase the number "
                "of iterations (max_iter) or scale the data",
                ConvergenceWarning,
                stacklevel=4,
            )

    def _loss_grad_lbfgs(
        self, packed: np.ndarray, X: Any, Y: Any, sample_weight: Any, *buffers: Any
    ) -> tuple[float, np.ndarray]:
        """scikit-learn's private L-BFGS objective, for its own tests: the loss
        with alpha/(2n)·‖W‖² and its gradient at the flat parameters ``packed``
        (its layout is nlayer's: every W, then every b)."""
        net = self.network_
        net.params[...] = packed
        X, Y = net.check_XY(X, np.asarray(Y, dtype=net.dtype).reshape(n_rows(X), -1))
        n = n_rows(X) if sample_weight is None else float(np.sum(sample_weight))
        W = net.params[: net.n_weights]
        value = net.loss(X, Y, sample_weight) + 0.5 * self.alpha * float(W @ W) / n
        dW, _ = net.gradients(X, Y, sample_weight)
        grad = np.concatenate([a.ravel() for a in (*dW, *_)])
        grad[: net.n_weights] += self.alpha * W / n
        return value, grad

    @property
    def _optimizer(self) -> Any:
        # what scikit-learn's tests read: the rate of the last epoch (schedules)
        if "_optimizer_" not in self.__dict__:
            raise AttributeError("_optimizer")
        return self.__dict__["_optimizer_"]

    def _forward(self, X: Any) -> np.ndarray:
        """The network's outputs (n_samples, n_outputs) on the host."""
        check_is_fitted(self, "network_")
        net = self.network_
        X = validate_data(
            self,
            to_numpy(X) if _device_place(X) else X,
            reset=False,
            accept_sparse=["csr", "csc"],
            dtype=net.dtype,
        )
        if net.backend == "numpy":
            return net.forward(X)
        return to_numpy(net.forward(net.on_device(X)))

    def _like(self, result: np.ndarray, X: Any) -> Any:
        """A result for input X: on X's library and device when it came from
        one (array_api_dispatch), numbers only; NumPy otherwise."""
        place = _device_place(X)
        if place is None or result.dtype.kind not in "biuf":
            return result
        xp = get_namespace(place[0])
        return xp.asarray(result, device=place[1])

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the fitted network to a safe model file (``nlayer.load`` and
        ``nlayer predict`` read it); features are used as they are given."""
        check_is_fitted(self, "network_")
        n = self.n_features_in_
        names = [str(f) for f in getattr(self, "feature_names_in_", [])] or [
            f"x{j}" for j in range(n)
        ]
        return save_model(self.network_, path, preprocessing=self._preprocessing(names))

    def _preprocessing(self, names: list[str]) -> Preprocessing:
        raise NotImplementedError

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.non_deterministic = self.random_state is None
        return tags


def _zeros(rng: Any, fan_in: int, fan_out: int) -> np.ndarray:
    return np.zeros((fan_in, fan_out))


def _glorot_uniform(net: Network, hidden: list[Any], random_state: Any) -> None:
    """scikit-learn's MLP initialisation, drawn from the same random state in
    the same order, so that one random_state gives the same starting point:
    W and b uniform in ±√(factor/(fan_in + fan_out)), factor 2 after a
    logistic layer, 6 otherwise (Glorot & Bengio)."""
    names = [getattr(a, "name", a) for a in hidden] or ["linear"]
    for l in range(net.n_layers):
        fan_in, fan_out = net.layer_sizes[l], net.layer_sizes[l + 1]
        factor = 2.0 if names[min(l, len(names) - 1)] == "sigmoid" else 6.0
        bound = math.sqrt(factor / (fan_in + fan_out))
        net.weights[l] = random_state.uniform(-bound, bound, (fan_in, fan_out))
        net.biases[l] = random_state.uniform(-bound, bound, fan_out)


def _stochastic(est: _NLayerBase) -> bool:
    """partial_fit exists for the stochastic solvers only, as in scikit-learn."""
    if est.solver not in STOCHASTIC:
        raise AttributeError(
            f"partial_fit is only available for stochastic optimizers. {est.solver} "
            "is not stochastic."
        )
    return True


#: the parameters _NLayerBase takes (its subclasses pass them on)
_BASE_PARAMS = frozenset(inspect.signature(_NLayerBase.__init__).parameters) - {"self"}


class NLayerClassifier(ClassifierMixin, _NLayerBase):
    """A drop-in for scikit-learn's ``MLPClassifier``, with nlayer's network.

    Every ``MLPClassifier`` parameter, with its name, default and meaning;
    ``activation`` also takes nlayer's names (``"gelu"``, ``"elu"``, …),
    objects, and a list with one per hidden layer; ``solver`` also
    ``"adamw"`` and ``"rmsprop"``; ``learning_rate`` also nlayer's schedules
    (``"cosine"``, ``"step"``, ``"plateau"``, …) or a Schedule object. Beyond:
    ``class_weight`` (``"balanced"`` or {label: weight}), ``dropout`` (one rate
    or one per hidden layer, in training only) and ``clip_norm``.

    The output layer follows the target: softmax and cross-entropy for several
    classes, one logistic unit for two classes, one per label for multi-label
    targets. Fitted, as ``MLPClassifier``: ``classes_``, ``coefs_``,
    ``intercepts_``, ``n_layers_``, ``n_outputs_``, ``out_activation_``,
    ``loss_``, ``loss_curve_``, ``best_loss_``, ``validation_scores_``,
    ``best_validation_score_``, ``t_``, ``n_iter_``, ``n_features_in_``,
    ``feature_names_in_``; and ``network_`` (the :class:`~nlayer.Network`),
    ``history_``.
    """

    _metric = "accuracy"

    def __init__(
        self,
        hidden_layer_sizes: Any = (100,),
        activation: Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str | Schedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        class_weight: Any = None,
        dropout: float | Sequence[float] | None = None,
        clip_norm: float | None = None,
        distributed: Any = None,
    ) -> None:
        given = {k: v for k, v in locals().items() if k in _BASE_PARAMS}
        super().__init__(**given)  # the signature above lists them for get_params
        self.class_weight = class_weight

    def _targets(
        self, y: Any, first: bool, incremental: bool, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, str, str]:
        """y one-hot (multiclass), 0/1 (binary: one column) or as given
        (multi-label), with scikit-learn's rules on classes."""
        if y.ndim == 2 and y.shape[1] == 1:  # a column of labels, as MLPClassifier
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if incremental:
            self._partial_fit_classes(y, classes)
        elif first:
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            seen = unique_labels(y)
            if set(self.classes_) != set(seen):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {self.classes_}, "
                    f"`y` has {seen}"
                )
        Y = self._label_binarizer.transform(y).astype(np.float64)
        kind = self._label_binarizer.y_type_
        # several classes: one softmax; else (binary, multi-label, or one class
        # as MLPClassifier allows) a logistic unit per column
        loss = "cross_entropy" if kind == "multiclass" else "binary_cross_entropy"
        return Y, get_loss(loss).output, loss

    def _partial_fit_classes(self, y: np.ndarray, classes: Any) -> None:
        if not hasattr(self, "classes_") or "_label_binarizer" not in self.__dict__:
            if classes is None:
                raise ValueError(
                    f"{type(self).__name__}.partial_fit needs classes= on its first "
                    "call"
                )
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
            if len(self.classes_) < 2:
                raise ValueError("partial_fit needs classes= with at least two classes")
        elif classes is not None and not np.array_equal(
            np.unique(classes), self.classes_
        ):
            raise ValueError(
                f"`classes={list(classes)!r}` is not the same as on the first call "
                f"to partial_fit, {list(self.classes_)!r}"
            )
        if self._label_binarizer.y_type_ != "multilabel-indicator":
            unseen = set(unique_labels(y)) - set(self.classes_)
            if unseen:
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has "
                    f"{self.classes_}. 'y' has {unique_labels(y)}."
                )

    def _encode(self, y: Any) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        return self._label_binarizer.transform(y).astype(np.float64)

    def _weighted(self, y: Any, sample_weight: Any) -> Any:
        if self.class_weight is None:
            return sample_weight
        weights = compute_sample_weight(self.class_weight, y)
        return weights if sample_weight is None else weights * sample_weight

    def _stratify(self, Y: np.ndarray) -> bool:
        return Y.shape[1] == 1  # as scikit-learn: one output, not multi-label

    @available_if(_stochastic)
    def partial_fit(
        self, X: Any, y: Any, classes: Any = None, sample_weight: Any = None
    ) -> NLayerClassifier:
        """One epoch over (X, y); the first call needs ``classes``, every class."""
        return self._fit(X, y, sample_weight, True, classes=classes)

    @property
    def target_type_(self) -> str:
        """What the classifier was fitted on: "binary", "multiclass" or
        "multilabel-indicator" (scikit-learn's ``type_of_target``)."""
        check_is_fitted(self, "classes_")
        return str(self._label_binarizer.y_type_)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in ``classes_``
        order (per-label probabilities for a multi-label target)."""
        P = self._forward(X)
        if self._label_binarizer.y_type_ == "binary":
            return self._like(np.hstack([1 - P, P]), X)
        return self._like(P.copy(), X)

    def predict_log_proba(self, X: Any) -> np.ndarray:
        """log(predict_proba(X)), as MLPClassifier computes it."""
        P = to_numpy(self.predict_proba(X))
        return self._like(np.log(P), X)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted classes (n_samples,), or a label indicator matrix."""
        P = self._forward(X)
        kind = self._label_binarizer.y_type_
        if kind == "multilabel-indicator":
            return self._like((P > 0.5).astype(int), X)
        if kind == "binary":
            return self._like(self.classes_[(P[:, 0] > 0.5).astype(int)], X)
        return self._like(self.classes_[P.argmax(axis=1)], X)

    def _preprocessing(self, names: list[str]) -> Preprocessing:
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError(
                "a multi-label classifier cannot be written as a model file yet: "
                "the format knows classification and regression; pickle it instead"
            )
        n = len(names)
        classes = [str(c) for c in self.classes_]
        return Preprocessing(
            names, np.zeros(n), np.ones(n), "classification", "y", classes
        )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class NLayerRegressor(RegressorMixin, _NLayerBase):
    """A drop-in for scikit-learn's ``MLPRegressor``, with nlayer's network.

    Every ``MLPRegressor`` parameter and fitted attribute, with the
    classifier's extensions (see :class:`NLayerClassifier`). ``loss``:
    ``"squared_error"`` (an identity output), ``"poisson"`` (an exp output,
    for counts), nlayer's ``"mae"`` and ``"huber"``, or a loss object.
    ``standardize_target``: learn (y − mean)/std and undo it on prediction
    (``"auto"``: yes, except for the Poisson loss, whose counts must stay
    positive); scikit-learn's MLP does not, and its fits of targets far from
    unit scale suffer. ``predict`` returns (n_samples,) for a 1-D y and
    (n_samples, n_targets) otherwise, in the input's float dtype.
    """

    _metric = "r2"

    def __init__(
        self,
        loss: str | Loss = "squared_error",
        hidden_layer_sizes: Any = (100,),
        activation: Any = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str | Schedule = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
        shuffle: bool = True,
        random_state: Any = None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int | float = 10,
        max_fun: int = 15000,
        standardize_target: bool | str = "auto",
        dropout: float | Sequence[float] | None = None,
        clip_norm: float | None = None,
        distributed: Any = None,
    ) -> None:
        given = {k: v for k, v in locals().items() if k in _BASE_PARAMS}
        super().__init__(**given)  # the signature above lists them for get_params
        self.loss = loss
        self.standardize_target = standardize_target

    def _loss(self) -> tuple[Any, str]:
        """The nlayer loss and the output activation it needs."""
        if isinstance(self.loss, str):
            # scikit-learn's names, and any registered regression loss by its own
            name = REGRESSION_LOSSES.get(self.loss, self.loss)
            known = [*REGRESSION_LOSSES] + [
                n for n in LOSSES if n not in REGRESSION_LOSSES.values()
                and get_loss(n).task == "regression"
            ]  # fmt: skip
            if name not in LOSSES or get_loss(name).task != "regression":
                raise self._invalid("loss", f"a str among {known} or a loss object")
            return name, get_loss(name).output
        try:
            return self.loss, get_loss(self.loss).output
        except TypeError:
            raise self._invalid(
                "loss", f"a str among {list(REGRESSION_LOSSES)} or a loss object"
            ) from None

    def _targets(
        self, y: Any, first: bool, incremental: bool, classes: Any, sample_weight: Any
    ) -> tuple[np.ndarray, str, Any]:
        if self.standardize_target not in ("auto", True, False):
            raise self._invalid("standardize_target", "True, False or 'auto'")
        loss, out_act = self._loss()
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        if first or "_y_mean" not in self.__dict__:
            self._y_1d = np.ndim(y) == 1
            standardize = self.standardize_target
            if standardize == "auto":
                standardize = out_act == "linear"
            self._y_mean, self._y_scale = np.zeros(Y.shape[1]), np.ones(Y.shape[1])
            if standardize:
                self._standardize(Y, sample_weight)
        return (Y - self._y_mean) / self._y_scale, out_act, loss

    def _standardize(self, Y: np.ndarray, sample_weight: Any) -> None:
        # the network learns (y − mean)/std: targets of any scale train alike;
        # weighted moments, so that a weight of 2 is a sample seen twice
        with np.errstate(over="ignore", invalid="ignore"):
            mean = np.average(Y, axis=0, weights=sample_weight)
            var = np.average((Y - mean) ** 2, axis=0, weights=sample_weight)
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            raise ValueError(
                f"{type(self).__name__}: y holds values too large to standardise "
                f"(up to {np.abs(Y).max():g}); rescale the target (e.g. to "
                "thousands, or its logarithm)"
            )
        self._y_mean, self._y_scale = mean, np.where(var > 0, np.sqrt(var), 1.0)

    def _encode(self, y: Any) -> np.ndarray:
        Y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
        return (Y - self._y_mean) / self._y_scale

    def _weighted(self, y: Any, sample_weight: Any) -> Any:
        return sample_weight

    @available_if(_stochastic)
    def partial_fit(self, X: Any, y: Any, sample_weight: Any = None) -> NLayerRegressor:
        """One epoch over (X, y), continuing from the current weights."""
        return self._fit(X, y, sample_weight, True)

    @property
    def target_mean_(self) -> np.ndarray:
        """(n_outputs,): predictions are the network's output × target_scale_
        + target_mean_ (0 and 1 without a standardised target)."""
        check_is_fitted(self, "network_")
        return np.asarray(self._y_mean)

    @property
    def target_scale_(self) -> np.ndarray:
        """(n_outputs,): see :attr:`target_mean_`."""
        check_is_fitted(self, "network_")
        return np.asarray(self._y_scale)

    def predict(self, X: Any) -> np.ndarray:
        """Predicted values: (n_samples,) for a 1-D y, else (n_samples, n_targets)."""
        out = self._forward(X)
        with np.errstate(over="ignore", invalid="ignore"):
            Y = (out * self._y_scale + self._y_mean).astype(out.dtype)
        bad = np.flatnonzero(~np.isfinite(Y).all(axis=1))
        if len(bad):
            raise ValueError(
                f"{type(self).__name__}: the prediction is not finite for "
                f"{len(bad)} sample(s) (first: row {bad[0]}); their features are "
                "far outside the range the network was trained on"
            )
        return self._like(Y[:, 0] if self._y_1d else Y, X)

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
