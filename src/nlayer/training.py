"""The training loop: batches, shuffling, validation, early stopping, history.

One step is the seeds' loop body: forward, loss, backward, update. The loss
recorded for an epoch is the mean over its batches of the loss *before* each
step, so a full-batch run records exactly the seeds' ``losses`` list.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from numbers import Integral
from pathlib import Path
from typing import Any

import numpy as np

from . import checkpoints
from .backend import check_memory, n_rows, namespace, nbytes, take_rows
from .checks import is_number, non_negative, positive_int
from .metrics import accuracy, multilabel_accuracy, r2
from .network import Network, Workspace
from .optimizers import (
    LBFGS,
    Optimizer,
    clip_by_global_norm,
    get_optimizer,
    get_schedule,
)
from .safefile import locked

Array = Any
Callback = Callable[[Network, int, dict[str, Any]], Any]


class StopTraining(Exception):
    """Raise from a callback to end training after the current epoch."""


class CheckpointWarning(UserWarning):
    """A checkpoint was damaged and an older one used instead."""


class TrainingDiverged(ArithmeticError):
    """The loss or a gradient stopped being finite during ``fit``.

    Training stopped at that step, before the update: the network holds the
    weights of the last finite step. ``epoch`` and ``step`` count from 1;
    ``quantity`` names what went wrong ("the loss", "layer 2's gradient"),
    ``value`` is its value; ``history`` holds the completed epochs.
    """

    def __init__(
        self,
        history: History,
        epoch: int,
        step: int,
        loss: float,
        squares: Array,
        lr: float,
        clip_norm: float | None,
    ) -> None:
        L = len(squares) // 2
        per_layer = np.asarray(squares[:L]) + np.asarray(squares[L:])
        if not math.isfinite(loss):
            quantity, value = "the loss", loss
        else:
            # backpropagation runs from the output: the non-finite layer nearest
            # to it is where the trouble entered
            layer = int(np.flatnonzero(~np.isfinite(per_layer))[-1])
            quantity = f"layer {layer + 1}'s gradient norm"
            value = float(np.sqrt(per_layer[layer]))
        cure = f"lower the learning rate (lr={lr:g} now)"
        if clip_norm is None:
            cure += " or clip the gradient (e.g. clip_norm=1.0)"
        super().__init__(
            f"training diverged at epoch {epoch + 1}, step {step + 1}: {quantity} "
            f"is {value}; the weights are those of the last finite step. Try to "
            f"{cure}"
        )
        self.history, self.epoch, self.step = history, epoch + 1, step + 1
        self.quantity, self.value = quantity, value


def _newest_checkpoint(
    directory: Path, net: Network, data: dict, opt: Optimizer
) -> checkpoints.Checkpoint | None:
    """The checkpoint to resume from, having warned about every damaged one."""
    checkpoints.remove_stale_temporaries(directory)
    ck, skipped = checkpoints.latest(directory, net)
    for problem in skipped:
        warnings.warn(
            f"{problem}; resuming from the checkpoint before it",
            CheckpointWarning,
            stacklevel=4,
        )
    if ck is not None:
        _check_resumable(ck, data, opt)
    return ck


def _check_resumable(ck: checkpoints.Checkpoint, data: dict, opt: Optimizer) -> None:
    """A checkpoint goes on only the same training: same data, options, optimiser."""
    if ck.fingerprint != data:
        changed = sorted(
            k for k in {*data, *ck.fingerprint} if data.get(k) != ck.fingerprint.get(k)
        )
        raise ValueError(
            f"{ck.path} was written by a fit with other "
            f"{', '.join(changed)}; resume with the same data and options, or "
            "use another checkpoint_dir"
        )
    settings = checkpoints.optimizer_settings(opt)
    if ck.optimizer != {"name": opt.name, "settings": settings}:
        raise ValueError(
            f"{ck.path} was written with the optimizer {ck.optimizer}; this fit "
            f"uses {opt.name} {settings}: resume with the same one"
        )


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fit``: the network holds the weights of the last completed
    epoch (``history.epochs`` of them), and ``history`` is what ``fit`` saw."""

    def __init__(self, history: History) -> None:
        super().__init__(
            f"training interrupted after {history.epochs} completed epoch(s); "
            "the network holds the weights of the last one"
        )
        self.history = history


@dataclass
class History:
    """What ``fit`` saw, one entry per epoch (lists index epochs from 0).

    ``loss``: training loss, the mean over the epoch's batches;
    ``val_loss`` / ``val_metric``: on the validation data (empty without it);
    ``grad_norms[e][l]``: layer l+1's gradient norm ‖(dW, db)‖₂, as the root
    mean square over the epoch's steps, to see vanishing or exploding gradients;
    ``lr``: the learning rate used; ``best_epoch``: the epoch with the lowest
    monitored loss (validation loss if there is validation data).
    """

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_metric: list[float] = field(default_factory=list)
    metric: str | None = None
    grad_norms: list[list[float]] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False

    @property
    def epochs(self) -> int:
        """The number of epochs run."""
        return len(self.loss)

    def as_dict(self) -> dict[str, Any]:
        """Plain lists and numbers, ready for JSON."""
        return asdict(self)


def _metric(
    net: Network, metric: str | Callable[..., float] | None
) -> tuple[str | None, Callable[[Array, Array], float] | None]:
    if metric is None or callable(metric):
        return (getattr(metric, "__name__", "metric") if metric else None), metric
    if metric == "auto":
        if net.loss_function.name in ("cross_entropy", "binary_cross_entropy"):
            metric = "accuracy"
        else:
            metric = "r2"
    if metric == "accuracy":
        multi = net.activations[-1].name != "softmax" and net.layer_sizes[-1] > 1
        return "accuracy", multilabel_accuracy if multi else accuracy
    if metric == "r2":
        return "r2", r2
    raise ValueError(
        f"unknown metric {metric!r}; known: 'auto', 'accuracy', 'r2', None, "
        "or a function (Y_hat, Y) -> float"
    )


def _validation_split(
    net: Network,
    X: Array,
    Y: Array,
    w: Array | None,
    validation_data: Any,
    fraction: Any,
) -> tuple[Array, Array, Array | None, Array | None, Array | None, Array | None]:
    """(X, Y, w) to train on and (X_val, Y_val, w_val) to score, checked."""
    if validation_data is not None and fraction is not None:
        raise ValueError("give validation_data or validation_fraction, not both")
    if validation_data is not None:
        if not (
            isinstance(validation_data, Sequence) and len(validation_data) in (2, 3)
        ):
            raise ValueError(
                "validation_data must be a pair (X_val, Y_val) or a triple "
                "(X_val, Y_val, sample_weight_val)"
            )
        try:
            Xv, Yv = net.check_XY(*validation_data[:2])
            wv = net.check_weights(
                validation_data[2] if len(validation_data) == 3 else None, n_rows(Xv)
            )
        except ValueError as e:
            raise ValueError(f"validation_data: {e}") from None
        return X, Y, w, Xv, Yv, wv
    if fraction is None:
        return X, Y, w, None, None, None
    if not is_number(fraction, 0, 1, lo_open=True, hi_open=True):
        raise ValueError(f"validation_fraction must be in (0, 1), got {fraction!r}")
    m = n_rows(X)
    n_val = max(1, round(fraction * m))
    if n_val >= m:
        raise ValueError(
            f"validation_fraction={fraction} of {m} samples leaves none to train on"
        )
    order = net.rng.permutation(m)
    val, train = order[:n_val], order[n_val:]
    wt = None if w is None else w.take(train)
    wv = None if w is None else w.take(val)
    if wt is not None and wv is not None and not (wt.sum() > 0 and wv.sum() > 0):
        raise ValueError(
            "sample_weight is zero on the whole training or validation part"
        )
    return (
        take_rows(X, train),
        Y.take(train, axis=0),
        wt,
        take_rows(X, val),
        Y.take(val, axis=0),
        wv,
    )


def fit(
    net: Network,
    X: Any,
    Y: Any,
    *,
    epochs: int = 1000,
    optimizer: str | Optimizer = "sgd",
    lr: float | None = None,
    batch_size: int | None = None,
    verbose: bool | int = False,
    momentum: float | None = None,
    nesterov: bool | None = None,
    weight_decay: float | None = None,
    schedule: Any = None,
    clip_norm: float | None = None,
    validation_data: tuple[Any, Any] | None = None,
    validation_fraction: float | None = None,
    early_stopping: bool = False,
    patience: int = 10,
    min_delta: float = 0.0,
    shuffle: bool = True,
    metric: str | Callable[[Array, Array], float] | None = "auto",
    callbacks: Sequence[Callback] = (),
    sample_weight: Any = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 1,
    resume: bool = False,
) -> History:
    """Train ``net`` in place on X (m, n_0), Y (m, n_L); returns the History.

    Args:
        epochs: passes over the training data.
        optimizer: ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an
            :class:`~nlayer.optimizers.Optimizer` (then set its options on it).
        lr: learning rate (default: the optimiser's, 0.01 for SGD, 0.001 else).
        batch_size: ``None`` for full-batch gradient descent, as in the seeds;
            otherwise mini-batches, reshuffled every epoch when ``shuffle``.
        verbose: print progress about ten times per run (an int: every n epochs).
        momentum, nesterov: SGD's; weight_decay: L2 on the weights (AdamW:
            decoupled). Unset means the optimiser's default (none).
        schedule: learning-rate schedule per epoch, a name from
            :data:`~nlayer.optimizers.SCHEDULES` or a Schedule object.
        clip_norm: rescale each step's gradient to at most this global L2 norm.
        validation_data / validation_fraction: data scored after each epoch
            (a fraction is split off at random, using the network's RNG).
        early_stopping: stop once the monitored loss (validation loss, else
            training loss) has not improved by ``min_delta`` for ``patience``
            epochs, and restore the weights of the best epoch.
        metric: validation metric: "auto" (accuracy for cross-entropy losses,
            R² otherwise), "accuracy", "r2", a function (Ŷ, Y) -> float or None.
        callbacks: functions ``(net, epoch, logs)`` called after every epoch;
            raise :class:`StopTraining` in one to stop.
        sample_weight: (m,) non-negative weights: every loss becomes the
            weighted mean Σ wᵢℓᵢ / Σ wᵢ (over a batch, an epoch, the validation
            split); ``validation_data`` may carry its own as a third element.
        checkpoint_dir: write a checkpoint there (atomically) every
            ``checkpoint_every`` epochs and after the last: weights, optimiser
            state, epoch, random state and history, in nlayer's safe format.
        resume: go on from the newest valid checkpoint in ``checkpoint_dir``
            (a damaged one is reported with a :class:`CheckpointWarning` and the
            one before it used); with the same data, options and seed the
            result equals, bit for bit, a run never interrupted. Without any
            checkpoint, training starts from the beginning.

    Raises :class:`TrainingDiverged` when a loss or a gradient stops being
    finite: the network keeps the weights of the last finite step.
    """
    epochs = positive_int("epochs", epochs)
    if batch_size is not None:
        batch_size = positive_int("batch_size", batch_size)
    patience = positive_int("patience", patience)
    min_delta = non_negative("min_delta", min_delta)
    if clip_norm is not None:
        clip_norm = non_negative("clip_norm", clip_norm, positive=True)
    if not isinstance(verbose, (bool, Integral)) or verbose < 0:
        raise ValueError(
            f"verbose must be True, False or a positive integer, got {verbose!r}"
        )
    checkpoint_every = positive_int("checkpoint_every", checkpoint_every)
    if resume and checkpoint_dir is None:
        raise ValueError("resume=True needs the checkpoint_dir to resume from")
    X, Y = net.check_XY(X, Y)
    w = net.check_weights(sample_weight, n_rows(X))
    given = {
        "lr": lr,
        "momentum": momentum,
        "nesterov": nesterov,
        "weight_decay": weight_decay,
    }
    opt = get_optimizer(optimizer, **{k: v for k, v in given.items() if v is not None})
    check_memory(
        _memory_needed(net, opt, X, Y, batch_size, validation_fraction, early_stopping),
        f"training {net!r} on {n_rows(X):,} samples",
    )
    sched = get_schedule(schedule)
    metric_name, metric_fn = _metric(net, metric)
    callbacks = list(callbacks)
    history = History(metric=metric_name)
    if isinstance(opt, LBFGS):
        given_options = {
            "checkpoint_dir": checkpoint_dir,
            "schedule": schedule,
            "clip_norm": clip_norm,
            "batch_size": batch_size,
            "early_stopping": early_stopping or None,
        }
        for name, value in given_options.items():
            if value is not None:
                raise ValueError(
                    f"optimizer 'lbfgs' works on the whole training set and takes "
                    f"no {name}; use a stochastic optimizer for it"
                )
        every = max(1, epochs // 10) if verbose is True else int(verbose)
        X, Y, w, Xv, Yv, wv = _validation_split(
            net, X, Y, w, validation_data, validation_fraction
        )
        return _fit_lbfgs(
            net,
            opt,
            (X, Y, w),
            (Xv, Yv, wv),
            epochs,
            (metric_name, metric_fn),
            callbacks,
            every,
        )
    best, best_params, waited, start = math.inf, None, 0, 0

    with contextlib.ExitStack() as stack:
        ck_dir, ck, data_print = None, None, {}
        if checkpoint_dir is not None:
            ck_dir = Path(checkpoint_dir)
            ck_dir.mkdir(parents=True, exist_ok=True)
            # one run at a time: another would delete this one's temporaries
            stack.enter_context(locked(ck_dir, "checkpoint_dir"))
            data_print = checkpoints.fingerprint(
                X,
                Y,
                w,
                {
                    "batch_size": batch_size,
                    "shuffle": shuffle,
                    "schedule": repr(sched),
                    "validation_fraction": validation_fraction,
                    "validation_data": validation_data is not None,
                    "early_stopping": early_stopping,
                    "patience": patience,
                    "min_delta": min_delta,
                    "clip_norm": clip_norm,
                },
            )
            if resume:
                ck = _newest_checkpoint(ck_dir, net, data_print, opt)
            if ck is not None and ck.epoch > epochs:
                raise ValueError(
                    f"{ck.path} holds {ck.epoch} epochs, more than epochs={epochs}: "
                    "raise epochs to go on, or use another checkpoint_dir"
                )
            if ck is not None:
                net.rng.bit_generator.state = ck.rng_start  # the same validation split
        rng_start = net.rng.bit_generator.state
        X, Y, w, Xv, Yv, wv = _validation_split(
            net, X, Y, w, validation_data, validation_fraction
        )
        if ck is not None:  # go on exactly where the checkpoint left off
            net.params[...] = ck.params
            opt.t, opt.state = (
                ck.optimizer_t,
                {k: v.copy() for k, v in ck.optimizer_state.items()},
            )
            net.rng.bit_generator.state = ck.rng
            history = History(**ck.history)
            best = math.inf if ck.best is None else ck.best
            waited, start = ck.waited, ck.epoch
            best_params = None if ck.best_params is None else ck.best_params.copy()

        m, L = n_rows(X), net.n_layers
        bs = m if batch_size is None else min(batch_size, m)
        # one full batch: order cannot change the sum, so keep X as it is (no copy)
        shuffle = shuffle and bs < m
        grads = namespace(net.params).empty_like(net.params)
        dW, db = net.split(grads)
        every = max(1, epochs // 10) if verbose is True else int(verbose)
        # buffers reused by every step: at most two batch sizes (full, last)
        workspaces = {k: Workspace(net, k, Y.shape[1]) for k in {bs, m % bs or bs}}
        squared_norms = _squared_norms(grads, [*dW, *db])
        forward, backward, loss_value = (
            net._forward_pass,
            net._backward,
            net._loss_value,
        )
        full_batch = [(X, Y, w, workspaces[m])] if not shuffle and bs == m else None
        dropout = any(net.dropout)  # masks drawn from net.rng, one set per step

        completed = net.params.copy()  # the weights after the last completed epoch
        # overflow is caught below as divergence, with a clear error: NumPy's own
        # warnings on the way there would only be noise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                for epoch in range(start, epochs):
                    if history.stopped_early:
                        break  # a resumed run that had already stopped
                    lr = sched.rate(opt.lr, epoch, epochs, history)
                    order = net.rng.permutation(m) if shuffle else None
                    total, squares, steps = 0.0, np.zeros(2 * L), 0
                    for Xb, Yb, wb, work in full_batch or _batches(
                        X, Y, w, bs, order, workspaces
                    ):
                        if wb is not None and not wb.sum() > 0:
                            continue  # every sample of this batch weighs nothing
                        masks = net.dropout_masks(n_rows(Xb)) if dropout else None
                        Z, H = forward(Xb, work, masks)
                        batch_loss = loss_value(Z[-1], H[-1], Yb, wb)
                        backward(Z, H, Yb, dW, db, wb, work, masks)
                        step_squares = squared_norms()
                        if not (
                            math.isfinite(batch_loss)
                            and math.isfinite(float(step_squares.sum()))
                        ):
                            # before the update: the weights are still the last
                            # finite ones (if a step overflowed them, the epoch's start)
                            if not np.isfinite(net.params).all():
                                net.params[...] = completed
                            raise TrainingDiverged(
                                history,
                                epoch,
                                steps,
                                batch_loss,
                                step_squares,
                                lr,
                                clip_norm,
                            )
                        total += batch_loss * (
                            n_rows(Xb) if wb is None else float(wb.sum())
                        )
                        squares += step_squares
                        steps += 1
                        if clip_norm is not None:
                            clip_by_global_norm(grads, clip_norm)
                        opt.step(net.params, grads, net.n_weights, lr)

                    logs: dict[str, Any] = {
                        "epoch": epoch,
                        "loss": total / (m if w is None else float(w.sum())),
                        "lr": lr,
                        # root mean square of each layer's gradient norm over the steps
                        "grad_norms": np.sqrt(
                            (squares[:L] + squares[L:]) / steps
                        ).tolist(),
                    }
                    if Xv is not None:
                        Zv, Hv = net._forward_pass(Xv)
                        logs["val_loss"] = net._loss_value(Zv[-1], Hv[-1], Yv, wv)
                        if metric_fn is not None:
                            logs[f"val_{metric_name}"] = float(metric_fn(Hv[-1], Yv))
                    _record(history, logs, metric_name)
                    completed[...] = net.params

                    monitored = logs.get("val_loss", logs["loss"])
                    if monitored < best - min_delta:
                        best, waited, history.best_epoch = monitored, 0, epoch
                        if early_stopping:
                            best_params = net.params.copy()
                    else:
                        waited += 1
                        history.stopped_early = early_stopping and waited >= patience

                    stop = history.stopped_early
                    for callback in callbacks:
                        try:
                            callback(net, epoch, logs)
                        except StopTraining:
                            stop = True
                    if every and (
                        (epoch + 1) % every == 0
                        or epoch == 0
                        or stop
                        or epoch == epochs - 1
                    ):
                        _print_progress(epoch, epochs, logs)
                    if ck_dir is not None and (
                        (epoch + 1) % checkpoint_every == 0
                        or stop
                        or epoch == epochs - 1
                    ):
                        checkpoints.save_checkpoint(
                            ck_dir,
                            epoch + 1,
                            net,
                            opt,
                            rng_start,
                            history.as_dict(),
                            best,
                            waited,
                            best_params,
                            data_print,
                        )
                    if stop:
                        break
            except KeyboardInterrupt:
                # a step may have been cut halfway: back to a state the history
                # describes
                net.params[...] = completed
                raise TrainingInterrupted(history) from None

        if best_params is not None:
            net.params[...] = best_params
        return history


def _fit_lbfgs(
    net: Network,
    opt: LBFGS,
    train: tuple[Array, Array, Array | None],
    validation: tuple[Array | None, Array | None, Array | None],
    epochs: int,
    metric: tuple[str | None, Callable[[Array, Array], float] | None],
    callbacks: list[Callback],
    every: int,
) -> History:
    """``epochs`` iterations of SciPy's L-BFGS-B on the whole training set.

    The objective is the seeds' loss plus λ/2·‖W‖² (λ = ``opt.weight_decay``)
    and its gradient, from one forward and one backward pass; a point where
    either is not finite is reported to SciPy as an infinite loss, so that its
    line search steps back. Each iteration is an epoch of the History.
    """
    try:
        from scipy.optimize import minimize
    except ImportError:  # pragma: no cover - depends on the installation
        raise ImportError("optimizer='lbfgs' needs SciPy: pip install scipy") from None
    X, Y, w = train
    Xv, Yv, wv = validation
    metric_name, metric_fn = metric
    history = History(metric=metric_name)
    grads = namespace(net.params).empty_like(net.params)
    dW, db = net.split(grads)
    L, nw, lam = net.n_layers, net.n_weights, opt.weight_decay
    squared_norms = _squared_norms(grads, [*dW, *db])
    last: dict[str, Any] = {}  # the latest finite evaluation

    def objective(theta: Array) -> tuple[float, Array]:
        net.params[...] = theta
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            Z, H = net._forward_pass(X)
            data = net._loss_value(Z[-1], H[-1], Y, w)
            net._backward(Z, H, Y, dW, db, w)
            squares = squared_norms()
            W = net.params[:nw]
            value = data + 0.5 * lam * float(np.dot(W, W)) if lam else data
            if lam:
                grads[:nw] += lam * W  # ∂(λ/2·‖W‖²)/∂W = λW
        if not (math.isfinite(value) and np.isfinite(grads).all()):
            return math.inf, np.zeros_like(theta)
        last.update(theta=theta.copy(), data=data, squares=squares.copy())
        return value, grads.astype(np.float64)

    def iteration(intermediate_result: Any) -> None:
        x = intermediate_result.x
        if "theta" not in last or not np.array_equal(last["theta"], x):
            objective(x)
        net.params[...] = x
        epoch = history.epochs
        squares = last["squares"]
        logs: dict[str, Any] = {
            "epoch": epoch,
            "loss": last["data"],
            "lr": 0.0,  # L-BFGS picks its steps by a line search
            "grad_norms": np.sqrt(squares[:L] + squares[L:]).tolist(),
        }
        if Xv is not None:
            Zv, Hv = net._forward_pass(Xv)
            logs["val_loss"] = net._loss_value(Zv[-1], Hv[-1], Yv, wv)
            if metric_fn is not None:
                logs[f"val_{metric_name}"] = float(metric_fn(Hv[-1], Yv))
        _record(history, logs, metric_name)
        if every and ((epoch + 1) % every == 0 or epoch == 0):
            _print_progress(epoch, epochs, logs)
        stop = False
        for callback in callbacks:
            try:
                callback(net, epoch, logs)
            except StopTraining:
                stop = True
        if stop:
            raise StopIteration  # SciPy ends the minimisation

    start = net.params.astype(np.float64)
    try:
        result = minimize(
            objective,
            start,
            jac=True,
            method="L-BFGS-B",
            callback=iteration,
            options={"maxiter": epochs, "maxfun": opt.max_fun, "gtol": opt.tol},
        )
    except KeyboardInterrupt:
        net.params[...] = last.get("theta", start)
        raise TrainingInterrupted(history) from None
    net.params[...] = result.x
    if not (math.isfinite(result.fun) and np.isfinite(net.params).all()):
        raise TrainingDiverged(
            history, history.epochs, 0, math.inf, np.zeros(2 * L), 0.0, None
        )
    opt.result, opt.t = result, opt.t + int(result.nit)
    monitored = history.val_loss or history.loss
    if monitored:
        history.best_epoch = int(np.argmin(monitored))
    return history


def _memory_needed(
    net: Network,
    opt: Optimizer,
    X: Array,
    Y: Array,
    batch_size: int | None,
    validation_fraction: float | None,
    early_stopping: bool,
) -> float:
    """Bytes fit allocates beyond the data it is given: the gradient, a copy of
    the weights after each epoch and of the best ones, the optimiser's state
    and scratch, the batches' work buffers, a validation split's copy of the
    data and its forward pass."""
    size = net.dtype.itemsize
    m, units = n_rows(X), sum(net.layer_sizes[1:])
    copies = 3 + int(early_stopping) + len(opt.state_keys)
    bs = m if batch_size is None else min(batch_size, m)
    work = 2 * bs * (3 * units + X.shape[1] + Y.shape[1] + 1)
    val = 0.0
    if validation_fraction:
        val = nbytes(X) + Y.nbytes + validation_fraction * m * 2 * units * size
    return copies * net.n_params * size + work * size + val


def _squared_norms(grads: Array, parts: list[Array]) -> Callable[[], Array]:
    """A function giving ‖part‖² for every W and b (2L,) of the gradient buffer.

    Measured: with few parameters the fixed cost of a call dominates, and one
    squared copy reduced at every part's start (3 calls) beats 2L dot products
    (5 µs against 15 µs a step for the seeds' network); with many, the copy's
    memory traffic dominates and BLAS dot products win (35 µs against 99 µs for
    784-256-128-10)."""
    if grads.size > 1 << 16:
        return lambda: np.array([np.vdot(p, p) for p in parts])
    sq = np.empty_like(grads)
    starts = np.cumsum([0] + [p.size for p in parts[:-1]])
    return lambda: np.add.reduceat(np.multiply(grads, grads, out=sq), starts)


def _batches(
    X: Array,
    Y: Array,
    w: Array | None,
    bs: int,
    order: Array | None,
    workspaces: dict[int, Workspace],
) -> Iterator[tuple[Array, Array, Array | None, Workspace]]:
    """(X_batch, Y_batch, w_batch, workspace) for each step of an epoch."""
    m = n_rows(X)
    for start in range(0, m, bs):
        work = workspaces[min(bs, m - start)]
        idx: Any
        if order is None:
            idx = slice(start, start + bs)
            yield X[idx], Y[idx], None if w is None else w[idx], work
        else:  # gather the batch's rows into the reused buffers: no new arrays
            idx = order[start : start + bs]
            Xb = take_rows(X, idx, out=work.X)
            Yb = Y.take(idx, axis=0, out=work.Y)
            yield Xb, Yb, None if w is None else w[idx], work


def _record(history: History, logs: dict[str, Any], metric_name: str | None) -> None:
    history.loss.append(logs["loss"])
    history.grad_norms.append(logs["grad_norms"])
    history.lr.append(logs["lr"])
    if "val_loss" in logs:
        history.val_loss.append(logs["val_loss"])
    if f"val_{metric_name}" in logs:
        history.val_metric.append(logs[f"val_{metric_name}"])


def _print_progress(epoch: int, epochs: int, logs: dict[str, Any]) -> None:
    width = len(str(epochs))
    parts = [f"epoch {epoch + 1:>{width}}/{epochs}", f"loss {logs['loss']:.6g}"]
    parts += [f"{k} {v:.6g}" for k, v in logs.items() if k.startswith("val_")]
    print("  ".join(parts), flush=True)
