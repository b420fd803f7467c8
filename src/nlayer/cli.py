"""The ``nlayer`` command: train, predict, evaluate, summary, gradcheck.

The outermost ring: it reads data (:mod:`nlayer.data`), builds and trains a
:class:`~nlayer.network.Network`, and writes model files (:mod:`nlayer.io`),
histories and plots (:mod:`nlayer.plotting`). Errors a user can fix end the
command with one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import csv
import io as _io
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import __version__
from .activations import ACTIVATIONS
from .data import (
    DATASETS,
    DataError,
    Dataset,
    Preprocessing,
    builtin_dataset,
    dataset_for_prediction,
    dataset_from_csv,
    infer_task,
    split,
)
from .gradcheck import gradcheck_layers
from .io import load_model, save
from .losses import LOSSES
from .network import Network
from .optimizers import OPTIMIZERS
from .safefile import atomic_write
from .training import History, TrainingDiverged, TrainingInterrupted, accuracy, r2

#: what ``nlayer train`` does when an option is not given
DEFAULTS: dict[str, Any] = {
    "layers": [128, 64],
    "activations": ["relu"],
    "optimizer": "adam",
    "lr": None,  # the optimiser's own default
    "epochs": 200,
    "early_stopping": True,  # when there is a validation split
    "standardize": True,
    "batch_size": 32,
    "val_split": 0.1,
    "test_split": 0.2,
}
#: per built-in data set: the seeds' 4-layer example, exactly as they train it
PRESETS: dict[str, dict[str, Any]] = {
    "seed-squares": {
        "layers": [10, 8, 5],
        "activations": ["relu", "tanh", "relu"],
        "optimizer": "sgd",
        "lr": 0.01,
        "epochs": 1000,
        "batch_size": None,
        "val_split": 0.0,
        "test_split": 0.0,
        "early_stopping": False,
        "standardize": False,
    },
}
GRADCHECK_TOLERANCE = 1e-6

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# -- option parsing ------------------------------------------------------------


def _int_list(value: str | None, option: str) -> list[int] | None:
    if value is None:
        return None
    try:
        sizes = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(
            f"expected integers separated by commas, got {value!r}", param_hint=option
        ) from None
    if not sizes or any(n < 1 for n in sizes):
        raise click.BadParameter(
            f"expected positive integers, got {value!r}", param_hint=option
        )
    return sizes


def _name_list(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _batch_size(value: str | None) -> int | None | str:
    """``None`` when not given; "full" means the whole training set."""
    if value is None:
        return "default"
    if value.lower() == "full":
        return None
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise click.BadParameter(
            f"expected a positive integer or 'full', got {value!r}",
            param_hint="--batch-size",
        )
    return n


def _fraction(value: float | None, option: str) -> float | None:
    if value is not None and not 0 <= value < 1:
        raise click.BadParameter(f"must be in [0, 1), got {value}", param_hint=option)
    return value


def _hidden_activations(names: list[str], n_hidden: int) -> list[str]:
    if len(names) == 1:
        return names * n_hidden
    if len(names) != n_hidden:
        raise click.BadParameter(
            f"{len(names)} activations for {n_hidden} hidden layers; give one name "
            "for all of them or one per hidden layer",
            param_hint="--activations",
        )
    return names


def _output(task: str, loss: str | None, n_classes: int) -> tuple[str, str, int]:
    """(output activation, loss, number of outputs) for a task."""
    if task == "classification":
        loss = loss or "cross_entropy"
        if loss == "cross_entropy":
            return "softmax", loss, n_classes
        if loss == "binary_cross_entropy":
            if n_classes != 2:
                raise DataError(
                    "binary_cross_entropy needs two classes, "
                    f"the target has {n_classes}"
                )
            return "sigmoid", loss, 1
        raise DataError(
            f"--loss {loss} does not fit classification; use cross_entropy "
            "(or binary_cross_entropy for two classes)"
        )
    loss = loss or "mse"
    if loss in ("cross_entropy", "binary_cross_entropy"):
        raise DataError(
            f"--loss {loss} is for classification; this target is regressed"
        )
    return "linear", loss, 1


# -- output helpers ------------------------------------------------------------


def _new_run_dir(name: str) -> Path:
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path


def _history_csv(history: History) -> str:
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    n_layers = len(history.grad_norms[0]) if history.grad_norms else 0
    metric = f"val_{history.metric}" if history.metric else "val_metric"
    writer.writerow(
        [
            "epoch",
            "loss",
            "val_loss",
            metric,
            "lr",
            *[f"grad_norm_layer{l + 1}" for l in range(n_layers)],
        ]
    )
    for e in range(history.epochs):
        val = history.val_loss[e] if e < len(history.val_loss) else ""
        met = history.val_metric[e] if e < len(history.val_metric) else ""
        writer.writerow(
            [e + 1, history.loss[e], val, met, history.lr[e], *history.grad_norms[e]]
        )
    return buf.getvalue()


def _write_run(
    out_dir: Path,
    net: Network,
    pre: Preprocessing,
    history: History,
    record: dict[str, Any],
    quiet: bool,
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [save(net, out_dir / "model.safetensors", preprocessing=pre)]
    record = {**record, "history": history.as_dict()}
    text = json.dumps(record, indent=2, default=float)
    written.append(atomic_write(out_dir / "history.json", text.encode()))
    written.append(
        atomic_write(out_dir / "history.csv", _history_csv(history).encode())
    )
    if history.epochs:
        try:
            from .plotting import plot_history
        except ImportError:
            if not quiet:
                err.print("plots skipped: pip install matplotlib")
        else:
            written += plot_history(history, out_dir)
    return written


def _metrics(
    pre: Preprocessing,
    net: Network,
    X: np.ndarray,
    y: np.ndarray,
    column: str | None = None,
) -> dict[str, Any]:
    """Held-out metrics in the data's own terms (labels, target units)."""
    Y_hat = net.forward(pre.transform(X).astype(net.dtype)).astype(np.float64)
    if pre.classes is not None:
        Y = pre.encode(y, net.layer_sizes[-1], column)
        P = pre.probabilities(Y_hat)
        truth = pre.probabilities(Y).argmax(axis=1)
        picked = np.clip(P[np.arange(len(P)), truth], 1e-15, 1.0)
        confusion = np.zeros((len(pre.classes),) * 2, dtype=int)
        np.add.at(confusion, (truth, P.argmax(axis=1)), 1)
        return {
            "accuracy": accuracy(P, np.eye(P.shape[1])[truth]),
            "log_loss": float(-np.mean(np.log(picked))),
            "confusion_matrix": confusion.tolist(),
            "samples": len(y),
        }
    values = pre.decode(Y_hat)
    Y = pre.encode(y, 1, column) * pre.y_scale + pre.y_mean  # checks it is numeric
    return {
        "r2": r2(values, Y),
        "mse": float(np.mean((values - Y) ** 2)),
        "mae": float(np.mean(np.abs(values - Y))),
        "samples": len(y),
    }


def _print_metrics(metrics: dict[str, Any], pre: Preprocessing, title: str) -> None:
    table = Table(title=title, show_header=False)
    for key in ("accuracy", "log_loss", "r2", "mse", "mae", "samples"):
        if key in metrics:
            value = metrics[key]
            text = (
                f"{value:.2%}"
                if key == "accuracy"
                else (str(value) if key == "samples" else f"{value:.6g}")
            )
            table.add_row(key.replace("_", " "), text)
    out.print(table)
    if "confusion_matrix" in metrics and pre.classes is not None:
        cm = Table(title="confusion matrix (rows: true, columns: predicted)")
        cm.add_column("")
        for c in pre.classes:
            cm.add_column(c, justify="right")
        for c, row in zip(pre.classes, metrics["confusion_matrix"], strict=True):
            cm.add_row(c, *map(str, row))
        out.print(cm)


class _Progress:
    """A fit callback: a rich progress bar on a terminal, plain lines elsewhere,
    and a copy of the best weights so far (what Ctrl-C keeps)."""

    def __init__(self, epochs: int, show_bar: bool, quiet: bool, metric: str | None):
        self.epochs, self.quiet, self.metric = epochs, quiet, metric
        self.best: tuple[float, int, np.ndarray] | None = None
        self.bar: Progress | None = None
        if show_bar and not quiet:
            self.bar = Progress(
                TextColumn("epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=out,
                transient=False,
            )
            self.task = self.bar.add_task("train", total=epochs, status="")
        self.every = max(1, epochs // 10)

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, net: Network, epoch: int, logs: dict[str, Any]) -> None:
        monitored = logs.get("val_loss", logs["loss"])
        if self.best is None or monitored < self.best[0]:
            self.best = (monitored, epoch, net.params.copy())
        status = f"loss {logs['loss']:.4g}"
        if "val_loss" in logs:
            status += f"  val_loss {logs['val_loss']:.4g}"
        if f"val_{self.metric}" in logs:
            status += f"  val_{self.metric} {logs[f'val_{self.metric}']:.4g}"
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch + 1, status=status)
        elif not self.quiet and ((epoch + 1) % self.every == 0 or epoch == 0):
            out.print(f"epoch {epoch + 1}/{self.epochs}  {status}")


# -- commands ------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nlayer")
def cli() -> None:
    """Fully-connected N-layer networks trained by analytic backpropagation.

    \b
    Examples:
      nlayer train                                  # digits, the default network
      nlayer train data.csv --target price --layers 64,32 --epochs 200
      nlayer predict runs/digits-*/model.safetensors new.csv --out predictions.csv
      nlayer evaluate model.safetensors test.csv
      nlayer summary --layers 2,10,8,5,1 --activations relu,tanh,relu,linear
      nlayer gradcheck model.safetensors

    Run "nlayer COMMAND --help" for a command's options.
    """


@cli.command()
@click.argument("data", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--target", help="The CSV column to predict (needed with DATA).")
@click.option(
    "--dataset",
    type=click.Choice(list(DATASETS)),
    help="A built-in data set instead of DATA (default: digits).",
)
@click.option("--drop", help="CSV columns to leave out, comma-separated (e.g. an id).")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    help="Override the task guessed from the target column.",
)
@click.option(
    "--layers", help="Hidden layer sizes, comma-separated.  [default: 128,64]"
)
@click.option(
    "--activations",
    help="One activation for all hidden layers, or one per hidden layer. "
    f"[default: relu] Known: {', '.join(a for a in ACTIVATIONS if a != 'softmax')}",
)
@click.option(
    "--loss",
    type=click.Choice(list(LOSSES)),
    help="[default: cross_entropy for classes, mse for values]",
)
@click.option(
    "--optimizer", type=click.Choice(list(OPTIMIZERS)), help="[default: adam]"
)
@click.option("--lr", type=float, help="Learning rate [default: the optimizer's].")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="The most epochs to train.  [default: 200]",
)
@click.option("--batch-size", help="Samples per step, or 'full'.  [default: 32]")
@click.option(
    "--val-split",
    type=float,
    help="Fraction of the training data scored after every epoch. [default: 0.1]",
)
@click.option(
    "--test-split",
    type=float,
    help="Fraction held out and scored at the end. [default: 0.2]",
)
@click.option(
    "--early-stopping/--no-early-stopping",
    default=None,
    help="Stop when the validation loss has not improved for --patience epochs, "
    "and keep the best weights.  [default: on, with a validation split]",
)
@click.option(
    "--standardize/--no-standardize",
    default=None,
    help="Scale features (and regression targets) to mean 0, variance 1.  "
    "[default: on]",
)
@click.option(
    "--patience",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Epochs without improvement before early stopping.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed for the weights, the splits and the shuffling.",
)
@click.option(
    "--dtype",
    type=click.Choice(["float64", "float32"]),
    default="float64",
    show_default=True,
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory [default: a new folder under ./runs/].",
)
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a checkpoint there every --checkpoint-every epochs (atomically).",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Epochs between checkpoints.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Go on from the newest valid checkpoint in --checkpoint-dir "
    "(run with the same data and options).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def train(
    data: Path | None,
    target: str | None,
    dataset: str | None,
    drop: str | None,
    task: str | None,
    layers: str | None,
    activations: str | None,
    loss: str | None,
    optimizer: str | None,
    lr: float | None,
    epochs: int | None,
    batch_size: str | None,
    val_split: float | None,
    test_split: float | None,
    early_stopping: bool | None,
    standardize: bool | None,
    patience: int,
    seed: int,
    dtype: str,
    out_dir: Path | None,
    checkpoint_dir: Path | None,
    checkpoint_every: int,
    resume: bool,
    quiet: bool,
) -> None:
    """Train a network on DATA.csv (or a built-in data set) and save the run.

    Without DATA, trains on scikit-learn's bundled handwritten digits. The task
    (classification or regression) follows the target column: text labels or
    a few distinct integers are classes. Features are standardised and labels
    one-hot encoded; the model file stores both so that predict does the same.

    \b
    Writes to the output directory:
      model.safetensors   the network and its preprocessing (safe to open)
      history.json/.csv   loss, validation loss/metric and gradient norms per epoch
      loss.png, gradients.png

    \b
    Examples:
      nlayer train
      nlayer train --dataset iris --layers 16 --epochs 100
      nlayer train houses.csv --target price --layers 64,32 --activations relu,tanh
      nlayer train --dataset seed-squares       # the seeds' 4-layer example
      nlayer train --dataset seed-squares --layers 15 --activations sigmoid --lr 0.1
      nlayer train data.csv --target y --no-early-stopping --epochs 50 --out runs/y
    """
    ctx = click.get_current_context()
    if ctx.get_parameter_source("early_stopping") is click.core.ParameterSource.DEFAULT:
        early_stopping = None  # not given: the preset decides
    if ctx.get_parameter_source("standardize") is click.core.ParameterSource.DEFAULT:
        standardize = None
    if data is not None and dataset is not None:
        raise click.UsageError("give DATA or --dataset, not both")
    if data is None and target is not None:
        raise click.UsageError("--target names a column of DATA.csv; give DATA too")
    if data is not None and target is None:
        raise click.UsageError("DATA needs --target COLUMN, the column to predict")
    if data is not None:
        ds = dataset_from_csv(data, target or "", _name_list(drop) or [])
    else:
        ds = builtin_dataset(dataset or "digits")
    given = {
        "layers": _int_list(layers, "--layers"),
        "activations": _name_list(activations),
        "optimizer": optimizer,
        "lr": lr,
        "epochs": epochs,
        "val_split": _fraction(val_split, "--val-split"),
        "test_split": _fraction(test_split, "--test-split"),
        "early_stopping": early_stopping,
        "standardize": standardize,
    }
    preset = {**DEFAULTS, **PRESETS.get(ds.name, {})}
    opts = {k: preset[k] if v is None else v for k, v in given.items()}
    bs = _batch_size(batch_size)
    opts["batch_size"] = preset["batch_size"] if bs == "default" else bs
    if early_stopping is None and not opts["val_split"]:
        opts["early_stopping"] = False  # nothing to monitor: train every epoch
    if resume and checkpoint_dir is None:
        raise click.UsageError(
            "--resume needs --checkpoint-dir, the checkpoints to use"
        )
    checkpointing = (
        {}
        if checkpoint_dir is None
        else {
            "checkpoint_dir": checkpoint_dir,
            "checkpoint_every": checkpoint_every,
            "resume": resume,
        }
    )
    _train(ds, task, loss, opts, patience, seed, dtype, out_dir, quiet, checkpointing)


def _train(
    ds: Dataset,
    task: str | None,
    loss_name: str | None,
    opts: dict[str, Any],
    patience: int,
    seed: int,
    dtype: str,
    out_dir: Path | None,
    quiet: bool,
    checkpointing: dict[str, Any],
) -> None:
    task = task or ds.task or infer_task(ds.y)
    rng = np.random.default_rng(seed)
    strata = ds.y if task == "classification" else None
    train_idx, test_idx = split(len(ds.X), opts["test_split"], rng, strata)
    train_ds = Dataset(
        ds.name, ds.X[train_idx], ds.y[train_idx], ds.features, ds.target, task
    )
    pre = Preprocessing.fit(train_ds, task, opts["standardize"])
    n_classes = len(pre.classes or [])
    out_act, loss_name, n_out = _output(task, loss_name, n_classes)
    X = pre.transform(train_ds.X).astype(dtype)
    Y = pre.encode(train_ds.y, n_out).astype(dtype)
    hidden = opts["layers"]
    acts = [*_hidden_activations(opts["activations"], len(hidden)), out_act]
    net = Network([X.shape[1], *hidden, n_out], acts, loss_name, seed=seed, dtype=dtype)

    fit_options: dict[str, Any] = dict(checkpointing)
    if opts["val_split"]:
        v_train, v_val = split(
            len(X), opts["val_split"], rng, None if strata is None else train_ds.y
        )
        fit_options["validation_data"] = (X[v_val], Y[v_val])
        X, Y = X[v_train], Y[v_train]
    if opts["early_stopping"]:
        if not opts["val_split"]:
            raise click.UsageError(
                "--early-stopping needs a validation split (--val-split)"
            )
        fit_options.update(early_stopping=True, patience=patience)

    described = f"{len(ds.X)} samples, {len(ds.features)} features, " + (
        f"{n_classes} classes" if task == "classification" else "regression"
    )
    if not quiet:
        out.print(f"[bold]nlayer train[/bold]: {ds.name} ({described})")
        out.print(net.summary(batch_size=opts["batch_size"] or len(X)))
        out.print()
    out_dir = out_dir or _new_run_dir(ds.name)
    record: dict[str, Any] = {
        "nlayer_version": __version__,
        "data": ds.name,
        "task": task,
        "target": ds.target,
        "layer_sizes": list(net.layer_sizes),
        "activations": acts,
        "loss": loss_name,
        "dtype": dtype,
        "seed": seed,
        "patience": patience,
        **{k: v for k, v in opts.items() if k not in ("layers", "activations")},
    }
    metric = "accuracy" if task == "classification" else "r2"
    progress = _Progress(opts["epochs"], out.is_terminal, quiet, metric)
    started = time.perf_counter()
    try:
        with progress:
            history = net.fit(
                X,
                Y,
                epochs=opts["epochs"],
                optimizer=opts["optimizer"],
                lr=opts["lr"],
                batch_size=opts["batch_size"],
                metric=metric,
                callbacks=[progress],
                **fit_options,
            )
    except (TrainingInterrupted, TrainingDiverged) as stop:
        # keep the finished work: the best weights any completed epoch reached
        interrupted = isinstance(stop, TrainingInterrupted)
        what = (
            f"interrupted after epoch {stop.history.epochs} of {opts['epochs']}"
            if interrupted
            else f"error: {stop}"
        )
        code = 130 if interrupted else 1
        if progress.best is None:
            err.print(f"{what}; no epoch had finished: nothing saved", markup=False)
            sys.exit(code)
        _, best_epoch, best_params = progress.best
        net.params[...] = best_params
        record["stopped_after_epoch"] = stop.history.epochs
        record["stopped_because"] = "interrupted" if interrupted else str(stop)
        written = _write_run(out_dir, net, pre, stop.history, record, quiet)
        err.print(
            f"{what}; kept the best model so far (epoch {best_epoch + 1}) "
            f"in {written[0]}",
            markup=False,
        )
        sys.exit(code)
    seconds = time.perf_counter() - started

    record["train_seconds"] = seconds
    if len(test_idx):
        metrics = _metrics(pre, net, ds.X[test_idx], ds.y[test_idx])
        record["test"] = metrics
        headline = (
            f"held-out accuracy: {metrics['accuracy']:.2%}"
            if "accuracy" in metrics
            else f"held-out R²: {metrics['r2']:.4f} (MSE {metrics['mse']:.4g})"
        )
        headline += f" on {metrics['samples']} samples"
    else:
        final = net.loss(
            pre.transform(train_ds.X).astype(dtype),
            pre.encode(train_ds.y, n_out).astype(dtype),
        )
        record["final_training_loss"] = final
        headline = (
            f"final training loss: {final:.4f} (no held-out data: --test-split 0)"
        )
    written = _write_run(out_dir, net, pre, history, record, quiet)
    stopped = " (early stopping)" if history.stopped_early else ""
    out.print(
        f"trained {history.epochs} epochs in {seconds:.1f} s{stopped}; {headline}"
    )
    out.print(f"wrote {out_dir}: {', '.join(p.name for p in written)}")


def _load(model: Path) -> tuple[Network, Preprocessing]:
    net, pre = load_model(model)
    if pre is None:
        raise DataError(
            f"{model}: this model has no preprocessing (saved from Python with "
            "nlayer.save); predict and evaluate need a model trained by nlayer train"
        )
    return net, pre


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the CSV here instead of to stdout.",
)
def predict(model: Path, data: Path, out_file: Path | None) -> None:
    """Predict for every row of DATA.csv with a trained MODEL.

    Writes CSV: the predicted class and one probability per class (p_<class>),
    or the predicted value. Columns are found by name; others are ignored.

    \b
    Example:
      nlayer predict runs/iris/model.safetensors flowers.csv --out predicted.csv
    """
    net, pre = _load(model)
    _, X = dataset_for_prediction(data, pre.features)
    Y_hat = net.forward(pre.transform(X).astype(net.dtype)).astype(np.float64)
    buf = _io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if pre.classes is not None:
        P = pre.probabilities(Y_hat)
        writer.writerow([pre.target, *[f"p_{c}" for c in pre.classes]])
        for label, p in zip(pre.decode(Y_hat), P, strict=True):
            writer.writerow([label, *[f"{v:.6g}" for v in p]])
    else:
        writer.writerow([pre.target])
        writer.writerows([[f"{v:.10g}"] for v in pre.decode(Y_hat)[:, 0]])
    if out_file is None:
        sys.stdout.write(buf.getvalue())
    else:
        atomic_write(out_file, buf.getvalue().encode())
        err.print(f"wrote {len(X)} predictions to {out_file}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--target", help="The column holding the truth [default: the model's].")
def evaluate(model: Path, data: Path, target: str | None) -> None:
    """Score a trained MODEL on labelled DATA.csv.

    Classification: accuracy, log-loss and the confusion matrix. Regression:
    R², MSE and MAE, in the target's own units.

    \b
    Example:
      nlayer evaluate runs/iris/model.safetensors test.csv --target species
    """
    net, pre = _load(model)
    table, X = dataset_for_prediction(data, pre.features)
    column = target or pre.target
    metrics = _metrics(pre, net, X, np.array(table.column(column)), column)
    _print_metrics(metrics, pre, f"{model.name} on {data.name}")


def _spec_network(
    model: Path | None, layers: str | None, activations: str | None, loss: str | None
) -> Network:
    if model is not None:
        if layers or activations:
            raise click.UsageError("give MODEL or --layers/--activations, not both")
        return load_model(model)[0]
    sizes = _int_list(layers, "--layers")
    if sizes is None:
        raise click.UsageError(
            "give MODEL, or --layers with every layer's size "
            "(inputs first, outputs last)"
        )
    names = _name_list(activations)
    if names is None:
        raise click.UsageError("--layers needs --activations, one per layer")
    return Network(sizes, names, loss or "mse", seed=0)


_spec_options: list[Callable[[Any], Any]] = [
    click.argument("model", required=False, type=click.Path(path_type=Path)),
    click.option(
        "--layers",
        help="Instead of MODEL: every layer's size, inputs first "
        "and outputs last, e.g. 2,10,8,5,1.",
    ),
    click.option(
        "--activations",
        help="With --layers: one activation per layer, e.g. relu,tanh,relu,linear.",
    ),
    click.option(
        "--loss", type=click.Choice(list(LOSSES)), help="With --layers [default: mse]."
    ),
]


def _with_spec(f: Callable[..., Any]) -> Callable[..., Any]:
    for decorate in reversed(_spec_options):
        f = decorate(f)
    return f


@cli.command()
@_with_spec
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="The batch size m in the shapes.",
)
def summary(
    model: Path | None,
    layers: str | None,
    activations: str | None,
    loss: str | None,
    batch_size: int,
) -> None:
    """Print the dimension-tracking template of a MODEL or a --layers spec.

    Every layer's forward shapes (H, Z, W, b) and backward shapes (dH, dZ, dW,
    db) for a batch of m samples, and the parameter count.

    \b
    Examples:
      nlayer summary runs/digits/model.safetensors --batch-size 64
      nlayer summary --layers 2,10,8,5,1 --activations relu,tanh,relu,linear
    """
    out.print(_spec_network(model, layers, activations, loss).summary(batch_size))


@cli.command()
@_with_spec
@click.option(
    "--samples",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Random samples to check on.",
)
@click.option("--seed", type=int, default=0, show_default=True)
def gradcheck(
    model: Path | None,
    layers: str | None,
    activations: str | None,
    loss: str | None,
    samples: int,
    seed: int,
) -> None:
    """Check a MODEL's (or a spec's) gradients against finite differences.

    Prints each layer's relative error for W and b, in float64, on random inputs
    and targets; exits with 1 if any error exceeds 1e-6.

    \b
    Examples:
      nlayer gradcheck runs/digits/model.safetensors
      nlayer gradcheck --layers 4,16,3 --activations elu,softmax --loss cross_entropy
    """
    net = _spec_network(model, layers, activations, loss)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((samples, net.layer_sizes[0])).astype(net.dtype)
    n_out = net.layer_sizes[-1]
    name = net.loss_function.name
    if name == "cross_entropy":
        Y = np.eye(n_out)[rng.integers(0, n_out, samples)]
    elif name == "binary_cross_entropy":
        Y = rng.integers(0, 2, (samples, n_out)).astype(float)
    else:
        Y = rng.standard_normal((samples, n_out))
    report = gradcheck_layers(net, X, Y.astype(net.dtype))
    table = Table(title=f"finite-difference check, {samples} samples, float64")
    for column in ("layer", "W error", "b error"):
        table.add_column(column, justify="right")
    for r in report:
        table.add_row(str(r["layer"]), f"{r['W']:.2e}", f"{r['b']:.2e}")
    out.print(table)
    worst = max(max(r["W"], r["b"]) for r in report)
    if not math.isfinite(worst) or worst > GRADCHECK_TOLERANCE:
        err.print(f"FAILED: max relative error {worst:.2e} > {GRADCHECK_TOLERANCE:g}")
        sys.exit(1)
    out.print(f"passed: max relative error {worst:.2e} ≤ {GRADCHECK_TOLERANCE:g}")


def _warn(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
    err.print(f"warning: {message}", markup=False)


def main(argv: Sequence[str] | None = None) -> int:
    """The console script: runs the command, turning errors into one line."""
    warnings.showwarning = _warn
    try:
        cli.main(args=argv, prog_name="nlayer", standalone_mode=False)
    except click.exceptions.Exit as e:
        return int(e.exit_code)
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        err.print("aborted")
        return 130
    except (ValueError, OSError) as e:  # bad data, bad files: the user's to fix
        err.print(f"error: {e}", markup=False)
        return 1
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
