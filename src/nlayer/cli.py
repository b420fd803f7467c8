"""The ``nlayer`` command: train, predict, evaluate, summary, gradcheck, data.

The outermost ring: it reads tables (:mod:`nlayer.tables`), learns their
preprocessing (:mod:`nlayer.data`), builds and trains a
:class:`~nlayer.network.Network`, and writes runs: the model file
(:mod:`nlayer.io`), the run's record, its history and plots
(:mod:`nlayer.plotting`). Errors a user can fix end the command with one line
on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import click
import numpy as np
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table as RichTable

from .activations import ACTIVATIONS, Activation, get_activation
from .backend import available_memory
from .callbacks import Callback, EarlyStopping
from .checks import interval, is_number
from .data import (
    DATASETS,
    IMPUTE,
    MAX_CATEGORIES,
    DataError,
    Dataset,
    Preprocessing,
    balanced_weights,
    builtin_dataset,
    choose_task,
    class_codes,
    class_labels,
    column_numbers,
    rows_by_chunk,
    split,
    target_rows,
    write_rows,
)
from .distributed import Communicator, get_communicator
from .gradcheck import gradcheck_layers
from .history import History
from .io import load, save
from .losses import LOSSES, Loss, get_loss
from .metrics import classification_report, regression_report
from .model import BLOCK, Model
from .network import Network, check_dropout, check_structure, template
from .optimizers import OPTIMIZERS, SCHEDULES
from .safefile import atomic_write, atomic_writer, locked
from .state import TrainingState
from .tables import (
    CsvOptions,
    Table,
    column_names,
    csv_text,
    data_bytes,
    is_dataset,
    is_npy,
    iter_tables,
    parse_numbers,
    quoted,
    read_column,
    read_table,
    to_arrow,
)
from .training import TrainingDiverged, TrainingInterrupted
from .version import __version__

#: the activations a hidden layer may use: the registry's element-wise ones
HIDDEN_ACTIVATIONS = [
    n for n, a in ACTIVATIONS.items() if getattr(a, "elementwise", True)
]
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
#: gradcheck checks every parameter of networks up to this size, and a random
#: sample of GRADCHECK_ENTRIES per array of larger ones
GRADCHECK_ALL = 20_000
GRADCHECK_ENTRIES = 64
#: the best model so far is written at most this often (seconds) during training
SAVE_EVERY = 2.0
RUN_FILES = ("model.safetensors", "run.json", "history.json", "history.csv")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


# -- option parsing ------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


class Number(click.ParamType):
    """A number as a user types one: ASCII digits only. Python's int() and
    float() also take "1_000", full-width "１" and Arabic-Indic "١", which
    nobody means on a command line; the range is checked too."""

    def __init__(
        self,
        integer: bool = False,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        hi_open: bool = False,
    ) -> None:
        self.integer, self.lo, self.hi = integer, lo, hi
        self.lo_open, self.hi_open = lo_open, hi_open
        self.name = "integer" if integer else "number"

    def convert(self, value: Any, param: Any, ctx: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number: float = value
        else:
            text = str(value).strip()
            if not (_INTEGER if self.integer else _DECIMAL).fullmatch(text):
                self.fail(
                    f"{value!r} is not {'an integer' if self.integer else 'a number'}",
                    param,
                    ctx,
                )
            number = int(text) if self.integer else float(text)
        if not is_number(
            number, self.lo, self.hi, lo_open=self.lo_open, hi_open=self.hi_open
        ):
            where = interval(self.lo, self.hi, self.lo_open, self.hi_open)
            self.fail(f"{value!r} is not in {where}", param, ctx)
        return number


def _int_list(value: str | None, option: str) -> list[int] | None:
    if value is None:
        return None
    parts = [v.strip() for v in value.split(",") if v.strip()]
    if not parts or not all(_INTEGER.fullmatch(v) for v in parts):
        raise click.BadParameter(
            f"expected integers separated by commas, got {value!r}", param_hint=option
        )
    sizes = [int(v) for v in parts]
    if any(n < 1 for n in sizes):
        raise click.BadParameter(
            f"expected positive integers, got {value!r}", param_hint=option
        )
    return sizes


def _dropout(value: str | None) -> float | list[float] | None:
    """--dropout: one rate for every hidden layer, or one per hidden layer."""
    if value is None:
        return None
    try:
        rates = [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(
            f"expected rates in [0, 1) separated by commas, got {value!r}",
            param_hint="--dropout",
        ) from None
    return rates[0] if len(rates) == 1 else rates


def _name_list(value: str | Sequence[str] | None) -> list[str] | None:
    """Names from an option given once with commas, or several times."""
    if value is None:
        return None
    values = [value] if isinstance(value, str) else list(value)
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    return names or None


def _batch_size(value: str | None) -> int | None | str:
    """ "default" when not given; None for "full", the whole training set."""
    if value is None:
        return "default"
    if value.lower() == "full":
        return None
    n = int(value) if value.isascii() and value.isdigit() else 0
    if n < 1:
        raise click.BadParameter(
            f"expected a positive integer or 'full', got {value!r}",
            param_hint="--batch-size",
        )
    return n


def _fraction(value: float | None, option: str) -> float | None:
    if value is not None and not is_number(value, 0, 1, hi_open=True):
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
    """(output activation, loss, number of outputs) for a task: the loss
    registry says which task each loss serves and its output layer."""
    name = loss or ("cross_entropy" if task == "classification" else "mse")
    fn = get_loss(name)
    if fn.task != task:
        fitting = [n for n, f in LOSSES.items() if f().task == task]
        raise DataError(
            f"--loss {name} is for {fn.task}; this target is "
            f"{'classified' if task == 'classification' else 'regressed'}: use "
            f"{' or '.join(fitting)}"
        )
    if task == "regression":
        return fn.output, name, 1
    if not get_activation(fn.output).elementwise:  # softmax: one output per class
        return fn.output, name, n_classes
    if n_classes != 2:  # one unit, the probability of the second class
        raise DataError(f"{name} needs two classes, the target has {n_classes}")
    return fn.output, name, 1


def _class_weight(value: str | None) -> str | dict[str, float] | None:
    """ "balanced", {label: weight}, or None."""
    if value is None or value == "balanced":
        return value
    weights: dict[str, float] = {}
    for pair in value.split(","):
        label, _, weight = pair.partition("=")
        try:
            w = float(weight)
        except ValueError:
            w = -1.0
        if not label.strip() or not (math.isfinite(w) and w >= 0):
            raise click.BadParameter(
                "expected 'balanced' or LABEL=WEIGHT pairs, e.g. a=2,b=1; "
                f"got {value!r}",
                param_hint="--class-weight",
            )
        weights[label.strip()] = w
    return weights


# -- data ------------------------------------------------------------------------


def _read_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say how to read a data file."""
    options = [
        click.option(
            "--sep",
            help="The CSV delimiter [default: detected among , ; tab |]; "
            "'\\t' for tab.",
        ),
        click.option("--encoding", help="The file's text encoding [default: UTF-8]."),
        click.option(
            "--decimal",
            type=click.Choice([".", ","]),
            default=".",
            show_default=True,
            help="The decimal mark of numbers in a CSV file.",
        ),
        click.option(
            "--na",
            multiple=True,
            help="Also read this text as a missing cell (repeatable). "
            "[default: '', NA, N/A, NaN, null, None, …]",
        ),
    ]
    return _apply(f, options)


def _csv_options(
    sep: str | None, encoding: str | None, decimal: str, na: Any
) -> CsvOptions:
    if sep is not None:
        sep = {"\\t": "\t", "tab": "\t"}.get(sep, sep)
    return CsvOptions(sep, encoding, decimal, tuple(na or ()))


#: a Parquet file trains out of core when its bytes on disk exceed this share
#: of the memory available (its table in memory is several times larger)
OUT_OF_CORE_SHARE = 0.1


def _out_of_core(data: Path, asked: bool) -> bool:
    """Whether DATA is read a column, then a chunk of rows, at a time: asked,
    a folder, a .npy file, or a Parquet file large for this machine."""
    if asked or is_dataset(data) or is_npy(data):
        return True
    if str(data) == "-" or data.suffix.lower() not in (".parquet", ".pq"):
        return False
    available = available_memory()
    return available is not None and data_bytes(data) > OUT_OF_CORE_SHARE * available


def _dataset(
    data: Path | None,
    dataset: str | None,
    target: str | None,
    options: CsvOptions,
    out_of_core: bool | None = None,
) -> Dataset:
    """The data set of DATA or --dataset. ``out_of_core``: None, read DATA into
    memory (summary, gradcheck); else whether --out-of-core was given (train),
    DATA then read out of core when asked or when :func:`_out_of_core` says."""
    if data is not None and dataset is not None:
        raise click.UsageError("give DATA or --dataset, not both")
    if data is None and target is not None:
        raise click.UsageError("--target names a column of DATA; give DATA too")
    if data is not None and target is None:
        raise click.UsageError("DATA needs --target COLUMN, the column to predict")
    if data is None:
        return builtin_dataset(dataset or "digits")
    name = Path(data).name.split(".")[0] if str(data) != "-" else "stdin"
    if out_of_core is not None and _out_of_core(data, out_of_core):
        names = column_names(data)
        if target not in names:
            raise DataError(
                f"{data}: no column {target!r}; the columns are {quoted(names)}"
            )
        return Dataset(
            name, read_column(data, target or ""), target or "", None, data, names
        )
    table = read_table(data, options)
    table.column(target or "")  # raises naming the columns
    return Dataset(name, table, target or "")


class _Prepared:
    """A data set made ready to train on: the task, the splits, the
    preprocessing learned from the training rows, X and Y."""

    def __init__(self, ds: Dataset, a: dict[str, Any], seed: int) -> None:
        table = ds.table
        self.task, self.why = choose_task(table, ds.target, a["task"])
        if a["task"] is None and ds.task not in (None, self.task):
            self.task, self.why = ds.task, f"target {ds.target!r}: {ds.task}"
        rows = target_rows(table, ds.target, self.task, a["drop_missing_target"])
        self.dropped_rows = table.n_rows - len(rows)
        self.kept, self.path = rows, ds.path  # rows of the file; out of core
        if self.dropped_rows:
            table = table.take(rows)
        rng = np.random.default_rng(seed)
        self.strata = None
        if self.task == "classification":
            col = table.column(ds.target)
            self.strata = class_codes(col, class_labels(col), table)
        train, self.test = split(table.n_rows, a["test_split"], rng, self.strata)
        self.table, self.train_table = table, table.take(train)
        self.train = train
        self.scratch = Path()  # out of core: the folder of the encoded rows
        self.pre = Preprocessing.fit(
            table,
            ds.target,
            self.task,
            rows=train,
            drop=a["drop"],
            impute=a["impute"],
            categorical=a["categorical"],
            numeric=a["numeric"],
            max_categories=a["max_categories"],
            standardize=a["standardize"],
            columns=None if ds.path is None else (ds.names, self._reader(ds.path)),
        )
        self.rng = rng
        self.train_strata = None if self.strata is None else self.strata[train]

    def _reader(self, path: Path) -> Callable[[str], Table]:
        """One column of the file at a time, only the rows with a target."""
        if not self.dropped_rows:
            return lambda name: read_column(path, name)
        return lambda name: read_column(path, name).take(self.kept)

    def file_rows(self, rows: np.ndarray) -> np.ndarray:
        """The rows of the file of training-table ``rows``."""
        return self.kept[self.train[rows]]


def _fingerprint(path: Path | None, ds: Dataset) -> dict[str, Any]:
    """What identifies the data of a run: the file, its size and SHA-256."""
    info: dict[str, Any] = {"name": ds.name, "rows": ds.table.n_rows}
    info["columns"] = ds.names or ds.table.names
    if path is None or str(path) == "-":
        info["source"] = "built-in" if path is None else "standard input"
        return info
    digest = hashlib.sha256()
    files = (
        sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    )
    for file in files:  # a folder: its files in the order of their paths
        with open(file, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    info.update(source=str(path), bytes=data_bytes(path), sha256=digest.hexdigest())
    return info


# -- runs ------------------------------------------------------------------------


def _new_run_dir(name: str) -> Path:
    """A new folder under ./runs/, unique even for runs started at the same
    moment: ``mkdir`` either creates it or fails, so no two runs share one."""
    base = Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    base.parent.mkdir(parents=True, exist_ok=True)
    for k in range(1, 10_000):
        path = base if k == 1 else base.with_name(f"{base.name}-{k}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise OSError(f"{base}: could not create a new run folder")


def _out_dir(out_dir: Path | None, name: str, overwrite: bool, resume: bool) -> Path:
    if out_dir is None:
        return _new_run_dir(name)
    if out_dir.exists() and not out_dir.is_dir():
        raise DataError(f"--out {out_dir}: a file of that name exists")
    held = (
        sorted(p.name for p in out_dir.iterdir() if not p.name.startswith("."))
        if out_dir.exists()
        else []
    )
    if held and not (overwrite or resume):
        raise DataError(
            f"--out {out_dir} already holds {quoted(held, 4)}; give --overwrite to "
            "replace that run, or another --out"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _write_json(path: Path, record: dict[str, Any]) -> Path:
    return atomic_write(
        path, json.dumps(record, indent=2, default=_plain, ensure_ascii=False).encode()
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def _versions() -> dict[str, str]:
    versions = {
        "nlayer": __version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for module in ("pyarrow", "sklearn"):
        if module in sys.modules:
            versions[module] = getattr(sys.modules[module], "__version__", "?")
    return versions


def _write_run(
    out_dir: Path, model: Model, history: History, quiet: bool
) -> list[Path]:
    written = [save(model, out_dir / "model.safetensors")]
    written.append(atomic_write(out_dir / "history.json", history.to_json()))
    written.append(atomic_write(out_dir / "history.csv", history.to_csv().encode()))
    if history.epochs:
        try:
            from .plotting import plot_history
        except ImportError:
            if not quiet:
                err.print("plots skipped: pip install matplotlib")
        else:
            written += plot_history(history, out_dir)
    return written


class _Progress:
    """A fit callback: a live bar on a terminal (epoch, losses, samples per
    second, time left), plain lines elsewhere."""

    def __init__(
        self,
        epochs: int,
        samples: int,
        show_bar: bool,
        quiet: bool,
        describe: Callable[[dict[str, Any]], str],
    ) -> None:
        self.epochs, self.samples, self.quiet = epochs, samples, quiet
        self.describe = describe
        self.calls, self.first_epoch = 0, cast(int | None, None)
        self.bar: Progress | None = None
        if show_bar and not quiet:
            self.bar = Progress(
                TextColumn("epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("left"),
                TimeRemainingColumn(),
                console=out,
                transient=False,
            )
            self.task = self.bar.add_task("train", total=epochs, status="")
        self.every = max(1, epochs // 10)

    def __enter__(self) -> _Progress:
        self.started = time.perf_counter()
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.bar is not None:
            self.bar.stop()

    def __call__(self, net: Network, epoch: int, logs: dict[str, Any]) -> None:
        if self.first_epoch is None:
            self.first_epoch = epoch
            if epoch and not self.quiet:
                out.print(f"resumed from epoch {epoch}")
        self.calls += 1
        elapsed = time.perf_counter() - self.started
        rate = self.samples * self.calls / max(elapsed, 1e-9)
        status = f"{self.describe(logs)}  {rate:,.0f} samples/s"
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch + 1, status=status)
        elif not self.quiet and ((epoch + 1) % self.every == 0 or self.calls == 1):
            left = elapsed / self.calls * (self.epochs - epoch - 1)
            out.print(f"epoch {epoch + 1}/{self.epochs}  {status}  {left:.0f} s left")


class _KeepBest(Callback):
    """Keeps the best model so far on disk (at most every SAVE_EVERY seconds),
    so that a failure late in a run does not lose it; nlayer's EarlyStopping,
    watching without stopping, finds the best epoch. A failed write is reported
    once and training goes on."""

    def __init__(self, path: Path, pre: Preprocessing, quiet: bool) -> None:
        self.path, self.pre, self.quiet = path, pre, quiet
        self.watch = EarlyStopping(
            math.inf, stop=False, restore_best=False, keep_best=True
        )
        self.saved_at, self.failed = -math.inf, False

    @property
    def params(self) -> np.ndarray | None:
        """The best epoch's weights so far."""
        return self.watch.monitor.best_params

    @property
    def epoch(self) -> int | None:
        """The best epoch so far (from 0)."""
        return self.watch.monitor.best_epoch

    def on_epoch_end(
        self, net: Network, state: TrainingState, logs: dict[str, Any]
    ) -> None:
        self.watch.on_epoch_end(net, state, logs)
        new_best = self.epoch == logs["epoch"]
        if new_best and time.perf_counter() - self.saved_at >= SAVE_EVERY:
            self.save(net)

    def save(self, net: Network) -> None:
        if self.params is None or self.failed:
            return
        best = net.copy()
        best.params[...] = self.params
        try:
            save(Model(best, self.pre), self.path)
            self.saved_at = time.perf_counter()
        except OSError as e:
            self.failed = True
            err.print(
                f"warning: could not keep the best model so far: {e}", markup=False
            )


# -- train -----------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nlayer")
def cli() -> None:
    """Fully-connected N-layer networks trained by analytic backpropagation.

    \b
    Examples:
      nlayer train                       # digits, the default network
      nlayer data iris iris.csv          # a built-in data set as a CSV file
      nlayer train iris.csv --target species --out runs/iris
      nlayer predict runs/iris/model.safetensors iris.csv --out predicted.csv
      nlayer evaluate runs/iris/model.safetensors iris.csv
      nlayer summary runs/iris/model.safetensors
      nlayer gradcheck runs/iris/model.safetensors

    Run "nlayer COMMAND --help" for a command's options.
    """


def _data_options(
    f: Callable[..., Any], metavar: str = "[DATA]", folders: bool = False
) -> Callable[..., Any]:
    """DATA (a folder too, with ``folders``), --target or --dataset, and how to
    read DATA."""
    options = [
        click.argument(
            "data",
            required=False,
            metavar=metavar,
            type=click.Path(dir_okay=folders, path_type=Path),
        ),
        click.option("--target", help="The column to predict (needed with DATA)."),
        click.option(
            "--dataset",
            type=click.Choice(list(DATASETS)),
            help="A built-in data set instead of DATA (default: digits).",
        ),
    ]
    return _read_options(_apply(f, options))


def _network_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--layers", help="Hidden layer sizes, comma-separated.  [default: 128,64]"
        ),
        click.option(
            "--activations",
            help="One activation for all hidden layers, or one per hidden layer. "
            f"[default: relu] Known: {', '.join(HIDDEN_ACTIVATIONS)}",
        ),
        click.option(
            "--dropout",
            help="Dropout rate while training: one for every hidden layer, or one "
            "per hidden layer (comma-separated).  [default: none]",
        ),
        click.option(
            "--loss",
            type=click.Choice(list(LOSSES)),
            help="[default: cross_entropy for classes, mse for values]",
        ),
        click.option(
            "--task",
            type=click.Choice(["classification", "regression"]),
            help="Override the task chosen from the target column.",
        ),
    ]
    return _apply(f, options)


def _column_options(f: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--drop",
            multiple=True,
            help="Columns to leave out: comma-separated, or the option repeated.",
        ),
        click.option(
            "--impute",
            type=click.Choice(IMPUTE),
            help="Fill missing feature cells: numbers with their column's mean, "
            "median or most frequent value, text with its most frequent value; the "
            "model keeps the fill values.  [default: a missing cell is an error]",
        ),
        click.option(
            "--drop-missing-target",
            is_flag=True,
            help="Leave out rows whose target is missing or not finite.",
        ),
        click.option(
            "--categorical",
            multiple=True,
            help="One-hot encode these columns, whatever they hold.",
        ),
        click.option(
            "--numeric",
            multiple=True,
            help="Read these columns as numbers (an identifier left out otherwise).",
        ),
        click.option(
            "--max-categories",
            type=Number(integer=True, lo=2),
            default=MAX_CATEGORIES,
            show_default=True,
            help="Text columns with more distinct values are refused.",
        ),
    ]
    return _apply(f, options)


def _training_options(f: Callable[..., Any]) -> Callable[..., Any]:
    return _apply(f, [*_loop_options(), *_more_training_options()])


def _loop_options() -> list[Callable[..., Any]]:
    """The optimiser, the epochs and batches, the splits, early stopping."""
    return [
        click.option(
            "--optimizer", type=click.Choice(list(OPTIMIZERS)), help="[default: adam]"
        ),
        click.option(
            "--lr",
            type=Number(lo=0, lo_open=True),
            help="Learning rate [default: the optimizer's].",
        ),
        click.option(
            "--epochs",
            type=Number(integer=True, lo=1),
            help="The most epochs to train.  [default: 200]",
        ),
        click.option(
            "--batch-size", help="Samples per step, or 'full'.  [default: 32]"
        ),
        click.option(
            "--val-split",
            type=Number(lo=0, hi=1, hi_open=True),
            help="Fraction of the training rows scored after every epoch. "
            "[default: 0.1]",
        ),
        click.option(
            "--test-split",
            type=Number(lo=0, hi=1, hi_open=True),
            help="Fraction of the rows held out and scored at the end. [default: 0.2]",
        ),
        click.option(
            "--early-stopping/--no-early-stopping",
            default=None,
            help="Stop when the validation loss has not improved for --patience "
            "epochs, and keep the best weights.  "
            "[default: on, with a validation split]",
        ),
        click.option(
            "--patience",
            type=Number(integer=True, lo=1),
            default=10,
            show_default=True,
            help="Epochs without improvement before early stopping.",
        ),
    ]


def _more_training_options() -> list[Callable[..., Any]]:
    """Scaling, the optimiser's settings, class weights, the seed, the dtype."""
    return [
        click.option(
            "--standardize/--no-standardize",
            default=None,
            help="Scale numeric features (and regression targets) to mean 0, "
            "variance 1.  [default: on]",
        ),
        click.option(
            "--weight-decay",
            type=Number(lo=0),
            help="L2 on the weights (AdamW: decoupled).",
        ),
        click.option(
            "--momentum",
            type=Number(lo=0, hi=1, hi_open=True),
            help="SGD's momentum.",
        ),
        click.option(
            "--schedule",
            type=click.Choice(list(SCHEDULES)),
            help="Learning-rate schedule per epoch.",
        ),
        click.option(
            "--clip-norm",
            type=Number(lo=0, lo_open=True),
            help="Clip each step's gradient to this global L2 norm.",
        ),
        click.option(
            "--class-weight",
            help="'balanced' (n / (classes · n_class)) or LABEL=WEIGHT pairs, "
            "e.g. spam=5,ham=1.",
        ),
        click.option(
            "--seed",
            type=Number(integer=True, lo=0),
            default=0,
            show_default=True,
            help="Seed for the weights, the splits and the shuffling.",
        ),
        click.option(
            "--dtype",
            type=click.Choice(["float64", "float32"]),
            default="float64",
            show_default=True,
        ),
    ]


def _apply(
    f: Callable[..., Any], options: list[Callable[..., Any]]
) -> Callable[..., Any]:
    """``f`` decorated with click ``options``, shown in the order given."""
    for decorate in reversed(options):
        f = decorate(f)
    return f


@cli.command()
@lambda f: _data_options(f, folders=True)
@_column_options
@_network_options
@_training_options
@click.option(
    "--out-of-core",
    is_flag=True,
    help="Read DATA a column, then a chunk of rows, at a time and train on the "
    "encoded rows memory-mapped from a temporary folder (TMPDIR): the same model "
    "as in memory. Automatic for a folder of Parquet files, a .npy file and a "
    "Parquet file larger than a tenth of the memory available. For Parquet "
    "and .npy files (convert a CSV file to Parquet first).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The run folder [default: a new folder under ./runs/].",
)
@click.option("--overwrite", is_flag=True, help="Replace the run already in --out.")
@click.option(
    "--checkpoint-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write a checkpoint there every --checkpoint-every epochs (atomically).",
)
@click.option(
    "--checkpoint-every",
    type=Number(integer=True, lo=1),
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
@click.option(
    "--backend",
    type=click.Choice(["numpy", "torch", "cupy"]),
    default="numpy",
    show_default=True,
    help="The array library that trains (torch and cupy: on a GPU with --device).",
)
@click.option(
    "--device",
    help="Where --backend computes, e.g. cuda or cuda:1 (torch), cuda (cupy).",
)
@click.option(
    "--distributed",
    type=click.Choice(["mpi", "torch"]),
    help="Data-parallel training on the processes of an MPI job "
    "(mpiexec -n 4 nlayer train ...) or of torchrun; rank 0 prints and writes "
    "the run.",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
def train(**a: Any) -> None:
    """Train a network on DATA (or a built-in data set) and save the run.

    DATA is a CSV file (comma, semicolon or tab separated; plain or .gz, .bz2,
    .xz, .zip compressed), a Parquet or an Arrow/Feather file, a folder of
    Parquet files (one data set, its files in the order of their paths, read
    out of core) or a .npy file of a 2-D array of numbers (read out of core;
    its columns are named 0, 1, …: --target 7 predicts column 7). Without DATA,
    trains on scikit-learn's bundled handwritten digits. The task follows the
    target: text labels or a few distinct integers are classes, other numbers
    are regressed. Numeric columns are standardised, true/false columns read as
    0/1 and text columns one-hot encoded; an identifier column is left out. The
    model file keeps all of it, so that predict does the same.

    \b
    Writes to the run folder, first run.json (command, versions, data), then:
      model.safetensors   the best model so far, kept up to date while training
      history.json/.csv   loss, validation loss/metric and gradient norms per epoch
      loss.png, gradients.png

    \b
    Examples:
      nlayer train
      nlayer train --dataset iris --layers 16 --epochs 100
      nlayer train --dataset seed-squares       # the seeds' 4-layer example
      nlayer train --dataset seed-squares --layers 15 --activations sigmoid --lr 0.1
      nlayer data diabetes d.csv
      nlayer train d.csv --target progression --layers 64,32 --activations relu,tanh
      nlayer train d.csv --target progression --drop age,sex --schedule cosine
      nlayer train d.csv --target progression --no-early-stopping --epochs 50 --out d
      nlayer train d.csv --target progression --layers 64,32 --dropout 0.2,0.1
      nlayer train d.csv --target progression --optimizer lbfgs --epochs 300
    """
    ctx = click.get_current_context()
    for flag in ("early_stopping", "standardize"):
        if ctx.get_parameter_source(flag) is click.core.ParameterSource.DEFAULT:
            a[flag] = None  # not given: the preset decides
    options = _csv_options(a["sep"], a["encoding"], a["decimal"], a["na"])
    ds = _dataset(a["data"], a["dataset"], a["target"], options, a["out_of_core"])
    opts = _train_settings(a, {**DEFAULTS, **PRESETS.get(ds.name, {})})
    if a["resume"] and a["checkpoint_dir"] is None:
        raise click.UsageError(
            "--resume needs --checkpoint-dir, the checkpoints to use"
        )
    a.update(
        drop=_name_list(a["drop"]) or [],
        categorical=_name_list(a["categorical"]) or [],
        numeric=_name_list(a["numeric"]) or [],
        class_weight=_class_weight(a["class_weight"]),
        test_split=opts["test_split"],
        standardize=opts["standardize"],
    )
    _train(ds, opts, a)


def _train_settings(a: dict[str, Any], preset: dict[str, Any]) -> dict[str, Any]:
    """The network and training settings: what was given, else the preset's."""
    given = {
        "layers": _int_list(a["layers"], "--layers"),
        "activations": _name_list(a["activations"]),
        "optimizer": a["optimizer"],
        "lr": a["lr"],
        "epochs": a["epochs"],
        "val_split": _fraction(a["val_split"], "--val-split"),
        "test_split": _fraction(a["test_split"], "--test-split"),
        "early_stopping": a["early_stopping"],
        "standardize": a["standardize"],
    }
    opts = {k: preset[k] if v is None else v for k, v in given.items()}
    bs = _batch_size(a["batch_size"])
    opts["batch_size"] = preset["batch_size"] if bs == "default" else bs
    if a["early_stopping"] is None and not opts["val_split"]:
        opts["early_stopping"] = False  # nothing to monitor: train every epoch
    if opts["optimizer"] == "lbfgs":  # whole-set steps: no batches unless asked
        opts["batch_size"] = None if bs == "default" else bs
        if a["early_stopping"] is None:
            opts["early_stopping"] = False
    opts["dropout"] = _dropout(a["dropout"])
    if opts["early_stopping"] and not opts["val_split"]:
        raise click.UsageError(
            "--early-stopping needs a validation split (--val-split)"
        )
    return opts


def _build(
    prep: _Prepared, opts: dict[str, Any], a: dict[str, Any], parts: Any
) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network for the prepared data, and its X and Y (training rows; out
    of core, memory-mapped in the order of ``parts``, the validation split)."""
    pre = prep.pre
    n_classes = len(pre.classes or [])
    out_act, loss_name, n_out = _output(prep.task, a["loss"], n_classes)
    if prep.path is None:
        X = pre.inputs_for(prep.train_table, a["dtype"])
        Y = pre.encode(prep.train_table, n_out).astype(a["dtype"])
    else:  # the training rows, those of the validation split last
        order = np.arange(len(prep.train)) if parts is None else np.concatenate(parts)
        rows = prep.file_rows(order)
        X, Y = write_rows(prep.path, pre, rows, n_out, a["dtype"], prep.scratch)
    hidden = opts["layers"]
    acts = [*_hidden_activations(opts["activations"], len(hidden)), out_act]
    try:
        net = Network(
            [X.shape[1], *hidden, n_out],
            acts,
            loss_name,
            seed=a["seed"],
            dtype=a["dtype"],
            dropout=opts["dropout"],
        )
    except ValueError as e:
        if opts["dropout"] is None or "dropout" not in str(e):
            raise
        raise click.BadParameter(str(e), param_hint="--dropout") from None
    return net, X, Y


def _sample_weights(prep: _Prepared, how: Any) -> np.ndarray | None:
    if how is None:
        return None
    if prep.task != "classification":
        raise DataError(
            "--class-weight is for classification; this target is regressed"
        )
    assert prep.pre.classes is not None and prep.train_strata is not None
    codes, classes = prep.train_strata, prep.pre.classes
    if how == "balanced":
        return balanced_weights(codes, len(classes))
    unknown = sorted(set(how) - set(classes))
    if unknown:
        raise DataError(
            f"--class-weight names {quoted(unknown)}, not classes of the target; "
            f"they are {quoted(classes)}"
        )
    return np.array([how.get(c, 1.0) for c in classes])[codes]


def _val_split(prep: _Prepared, opts: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(training, validation) positions among the training rows, or None."""
    if not opts["val_split"]:
        return None
    return split(len(prep.train), opts["val_split"], prep.rng, prep.train_strata)


def _fit_options(
    prep: _Prepared,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    parts: tuple[np.ndarray, np.ndarray] | None,
    opts: dict,
    a: dict,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]]:
    """The training rows after the validation split ``parts``, and fit's
    options."""
    X, Y, w = data
    fit: dict[str, Any] = {
        k: a[k]
        for k in ("weight_decay", "momentum", "schedule", "clip_norm")
        if a[k] is not None
    }
    if a["checkpoint_dir"] is not None:
        fit.update(
            checkpoint_dir=a["checkpoint_dir"],
            checkpoint_every=a["checkpoint_every"],
            resume=a["resume"],
        )
    if parts is not None:
        train, val = parts
        wt, wv = (None, None) if w is None else (w[train], w[val])
        if prep.path is None:
            Xt, Yt, Xv, Yv = X[train], Y[train], X[val], Y[val]
        else:  # written in this order: views of the file, no copy
            n = len(train)
            Xt, Yt, Xv, Yv = X[:n], Y[:n], X[n:], Y[n:]
        fit["validation_data"] = (Xv, Yv) if wv is None else (Xv, Yv, wv)
        X, Y, w = Xt, Yt, wt
    if opts["early_stopping"]:
        fit.update(early_stopping=True, patience=a["patience"])
    return X, Y, w, fit


def _units(prep: _Prepared, loss: str) -> Callable[[float], str]:
    """A regression loss as an error in the target's units ("" if it has none)."""
    pre = prep.pre
    if pre.y_scale is None or loss not in ("mse", "mae"):
        return lambda value: ""
    scale = float(pre.y_scale[0])
    if loss == "mse":  # L = ½·mean (ŷ − y)², so RMSE = √(2L), times the scale
        return lambda value: f" (RMSE {math.sqrt(2 * value) * scale:.4g})"
    return lambda value: f" (MAE {value * scale:.4g})"


def _train(ds: Dataset, opts: dict[str, Any], a: dict[str, Any]) -> None:
    comm = get_communicator(a["distributed"])
    prep = _Prepared(ds, a, a["seed"])
    with tempfile.TemporaryDirectory(prefix="nlayer-") as scratch:
        prep.scratch = Path(scratch)  # out of core: the encoded rows
        parts = _val_split(prep, opts)
        net, X, Y = _build(prep, opts, a, parts)
        _place(net, a["backend"], a["device"])
        w = _sample_weights(prep, a["class_weight"])
        data = _fit_options(prep, (X, Y, w), parts, opts, a)
        _train_on(ds, prep, net, data, opts, a, comm)


def _train_on(
    ds: Dataset,
    prep: _Prepared,
    net: Network,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]],
    opts: dict[str, Any],
    a: dict[str, Any],
    comm: Communicator | None,
) -> None:
    """Train the network on the prepared rows: rank 0 (or the one process)
    reports and writes the run."""
    X, Y, w, fit_options = data
    if comm is not None:
        fit_options["distributed"] = comm
        if comm.rank != 0:  # a worker: it trains; rank 0 reports and writes
            _work(net, (X, Y, w), fit_options, opts, prep)
            return
        _describe_processes(comm, a["quiet"])
    if not a["quiet"]:
        _describe_data(ds, prep, net, opts["batch_size"] or len(X))
    out_dir = _out_dir(a["out_dir"], ds.name, a["overwrite"], a["resume"])
    with locked(out_dir, "--out"):  # one run writes a folder at a time
        record: dict[str, Any] = {
            "status": "running",
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": ["nlayer", *sys.argv[1:]],
            "versions": _versions(),
            "data": _fingerprint(a["data"], ds),
            "task": prep.task,
            "task_reason": prep.why,
            "rows_without_target": prep.dropped_rows,
            "columns": {c.name: c.describe() for c in prep.pre.columns},
            "notes": prep.pre.notes,
            "network": net.spec(),
            "options": dict(opts),
            "seed": a["seed"],
        }
        _write_json(out_dir / "run.json", record)
        _run(prep, net, (X, Y, w), fit_options, opts, a, record, out_dir)


def _place(net: Network, backend: str, device: str | None) -> None:
    """The network on --backend and --device (NumPy on the host: as it is)."""
    if backend != "numpy" or device:
        try:
            net.to(backend, _device(backend, device))
        except (ImportError, ValueError) as e:  # no such library or device here
            raise click.ClickException(str(e)) from None


def _device(backend: str, device: str | None) -> str | None:
    """--device as the backend names it (CuPy: the GPU's number)."""
    if backend == "cupy" and device is not None:
        return None if device in ("cuda", "gpu") else device.rsplit(":", 1)[-1]
    return device


def _describe_processes(comm: Communicator, quiet: bool) -> None:
    """Which process is which: an MPI launcher names a killed process by its pid."""
    pids = comm.allgather(np.array([[float(os.getpid())]]), [1] * comm.size)
    if not quiet:
        ranks = ", ".join(f"rank {r} pid {int(p)}" for r, p in enumerate(pids[:, 0]))
        out.print(f"data-parallel on {comm.size} processes: {ranks}")


def _work(
    net: Network,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    fit_options: dict[str, Any],
    opts: dict[str, Any],
    prep: _Prepared,
) -> None:
    """A process other than rank 0: the same training, silently."""
    comm = fit_options["distributed"]
    comm.allgather(np.array([[float(os.getpid())]]), [1] * comm.size)
    X, Y, w = data
    metric = "accuracy" if prep.task == "classification" else "r2"
    try:
        net.fit(
            X, Y, epochs=opts["epochs"], optimizer=opts["optimizer"], lr=opts["lr"],
            batch_size=opts["batch_size"], metric=metric, sample_weight=w,
            **fit_options,
        )  # fmt: skip
    except TrainingDiverged:
        sys.exit(1)  # rank 0 says so


def _run(
    prep: _Prepared,
    net: Network,
    data: tuple[np.ndarray, np.ndarray, np.ndarray | None],
    fit_options: dict[str, Any],
    opts: dict[str, Any],
    a: dict[str, Any],
    record: dict[str, Any],
    out_dir: Path,
) -> None:
    """Train, keeping the best model on disk, then write the run's files."""
    X, Y, w = data
    pre, quiet = prep.pre, a["quiet"]
    units = _units(prep, net.loss_function.name)
    metric = "accuracy" if prep.task == "classification" else "r2"

    def describe(logs: dict[str, Any]) -> str:
        text = f"loss {logs['loss']:.4g}{units(logs['loss'])}"
        if "val_loss" in logs:
            text += f"  val_loss {logs['val_loss']:.4g}{units(logs['val_loss'])}"
        if f"val_{metric}" in logs:
            text += f"  val_{metric} {logs[f'val_{metric}']:.4g}"
        return text

    if fit_options.get("validation_data") is not None:  # where the network is
        fit_options = dict(fit_options)
        fit_options["validation_data"] = tuple(
            net.on_device(A) for A in fit_options["validation_data"]
        )
    progress = _Progress(opts["epochs"], len(X), out.is_terminal, quiet, describe)
    keep = _KeepBest(out_dir / "model.safetensors", pre, quiet)
    started = time.perf_counter()
    try:
        with progress:
            history = net.fit(
                net.on_device(X),  # the table's arrays, where the network is
                net.on_device(Y),
                epochs=opts["epochs"],
                optimizer=opts["optimizer"],
                lr=opts["lr"],
                batch_size=opts["batch_size"],
                metric=metric,
                sample_weight=None if w is None else net.on_device(w),
                callbacks=[keep, progress],  # saved, then reported
                **fit_options,
            )
    except (TrainingInterrupted, TrainingDiverged) as stop:
        _stopped(stop, net, pre, keep, record, out_dir, opts, quiet)
    seconds = time.perf_counter() - started
    if progress.first_epoch is None and history.epochs and not quiet:
        out.print(f"resumed from epoch {history.epochs}: nothing left to train")
    model = Model(net, pre)
    record["result"] = _result(prep, model, history, units, opts, progress, seconds)
    record["train_seconds"] = seconds
    written = _write_run(out_dir, model, history, quiet)
    record["status"] = "finished"
    record["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    written.insert(1, _write_json(out_dir / "run.json", record))
    out.print(f"trained {record['result']['summary']}; {record['result']['headline']}")
    out.print(f"wrote {out_dir}: {', '.join(p.name for p in written)}")


def _describe_data(ds: Dataset, prep: _Prepared, net: Network, m: int) -> None:
    pre = prep.pre
    n_cols = len(pre.columns)
    outputs = f"{len(pre.classes)} classes" if pre.classes else "regression"
    out.print(
        f"[bold]nlayer train[/bold]: {ds.name} ({ds.table.n_rows} rows, {n_cols} "
        f"feature column{'s' if n_cols != 1 else ''} → {len(pre.inputs)} inputs, "
        f"{outputs})"
    )
    out.print(prep.why, markup=False)
    if prep.dropped_rows:
        out.print(
            f"left out {prep.dropped_rows} rows whose target is missing or not finite"
        )
    for note in pre.notes:
        out.print(f"  {note}", markup=False)
    out.print(net.summary(batch_size=m))
    out.print()


def _result(
    prep: _Prepared,
    model: Model,
    history: History,
    units: Callable[[float], str],
    opts: dict[str, Any],
    progress: _Progress,
    seconds: float,
) -> dict[str, Any]:
    """The numbers of a finished run, and its two lines for the user."""
    pre, net = prep.pre, model.network
    ran = progress.calls
    summary = f"{history.epochs} epochs"
    if history.epochs < opts["epochs"]:
        summary += f" (of at most {opts['epochs']})"
    if ran != history.epochs:
        summary += f" ({ran} in this run)"
    summary += f" in {seconds:.2f} s" if seconds < 10 else f" in {seconds:.0f} s"
    if history.stopped_early and history.best_epoch is not None:
        summary += f", early stopping kept epoch {history.best_epoch + 1}"
    elif history.best_epoch is not None and history.val_loss:
        summary += (
            f", kept the last epoch (the best validation loss was at epoch "
            f"{history.best_epoch + 1})"
        )
    result: dict[str, Any] = {
        "epochs": history.epochs,
        "best_epoch": history.best_epoch,
        "summary": summary,
    }
    if len(prep.test):
        report = _test_report(prep, model)
        result["test"] = report
        if pre.classes is not None:
            headline = f"held-out accuracy: {report['accuracy']:.2%}"
        else:
            headline = (
                f"held-out R²: {report['r2']:.4f} (RMSE {report['rmse']:.4g}, MAE "
                f"{report['mae']:.4g} in {pre.target!r} units)"
            )
        result["headline"] = headline + f" on {report['samples']} samples"
        return result
    final = _training_loss(prep, net)
    result["final_training_loss"] = final
    result["headline"] = (
        f"final training loss: {final:.4f}{units(final)} "
        "(no held-out data: --test-split 0)"
    )
    return result


def _training_loss(prep: _Prepared, net: Network) -> float:
    """The loss on the training rows (out of core: a chunk at a time, each
    chunk's mean weighted by its rows)."""
    pre, n_out = prep.pre, net.layer_sizes[-1]
    if prep.path is None:
        X = pre.transform(prep.train_table).astype(net.dtype)
        return net.loss(X, pre.encode(prep.train_table, n_out).astype(net.dtype))
    rows = prep.file_rows(np.arange(len(prep.train)))
    total = 0.0
    for table, _ in rows_by_chunk(prep.path, [*pre.features, pre.target], rows):
        X = pre.inputs_for(table, net.dtype)
        total += net.loss(X, pre.encode(table, n_out).astype(net.dtype)) * len(X)
    return total / len(rows)


def _stopped(
    stop: TrainingInterrupted | TrainingDiverged,
    net: Network,
    pre: Preprocessing,
    keep: _KeepBest,
    record: dict[str, Any],
    out_dir: Path,
    opts: dict[str, Any],
    quiet: bool,
) -> None:
    """Keep the finished work: the best weights any completed epoch reached."""
    interrupted = isinstance(stop, TrainingInterrupted)
    what = (
        f"interrupted after epoch {stop.history.epochs} of {opts['epochs']}"
        if interrupted
        else f"error: {stop}"
    )
    code = 130 if interrupted else 1
    record["status"] = "interrupted" if interrupted else "diverged"
    record["stopped_after_epoch"] = stop.history.epochs
    record["stopped_because"] = "interrupted" if interrupted else str(stop)
    if keep.params is None:
        _write_json(out_dir / "run.json", record)
        err.print(f"{what}; no epoch had finished: nothing saved", markup=False)
        sys.exit(code)
    assert keep.epoch is not None
    net.params[...] = keep.params
    written = _write_run(out_dir, Model(net, pre), stop.history, quiet)
    _write_json(out_dir / "run.json", record)
    err.print(
        f"{what}; kept the best model so far (epoch {keep.epoch + 1}) in {written[0]}",
        markup=False,
    )
    sys.exit(code)


# -- predict and evaluate -----------------------------------------------------------


def _model(path: Path) -> Model:
    model = load(path)
    if model.preprocessing is None:
        raise DataError(
            f"{path}: this model has no preprocessing (saved from a bare Network): "
            "it cannot read a table's columns; use model.network.forward(X) in Python"
        )
    return model


def _chunks(
    model: Model,
    data: Path,
    options: CsvOptions,
    keep: Sequence[str] = (),
    target: str | None = None,
) -> Iterator[Table]:
    """The file's rows in chunks, with the columns the model reads (and ``keep``)."""
    pre = model.preprocessing
    assert pre is not None
    kinds = {c.name: _read_as(c.kind, c.categories) for c in pre.columns}
    for name in keep:
        kinds.setdefault(name, "text")
    if target:
        kinds[target] = _read_as("category" if pre.classes else "numeric", pre.classes)
    return iter_tables(data, kinds, options, rows_multiple=BLOCK)


def _read_as(kind: str, categories: Sequence[str] | None) -> str:
    """How to read a column: numbers for numeric columns, and for categories
    that are all numbers (as training read them: "1.0" and "1" are one class)."""
    if kind == "numeric":
        return "number"
    if (
        kind == "category"
        and categories
        and not np.isnan(parse_numbers(categories)).any()
    ):
        return "number"
    return "text"


class _Writer:
    """Tables of predictions to CSV, JSON or Parquet, chunk by chunk."""

    def __init__(self, stream: BinaryIO, fmt: str) -> None:
        self.stream, self.fmt, self.rows = stream, fmt, 0
        self.parquet: Any = None

    def write(self, table: Table) -> None:
        if self.fmt == "json":
            self._json(table)
        elif self.fmt == "parquet":
            import pyarrow.parquet as pq

            data = to_arrow(table)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.stream, data.schema)
            self.parquet.write_table(data)
        else:
            self._csv(table)
        self.rows += table.n_rows

    def _csv(self, table: Table) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        # text a spreadsheet would run as a formula is escaped (OWASP)
        data = to_arrow(table, escape=csv_text)
        if self.rows == 0:  # pyarrow quotes every header name; this does not
            names = [_csv_cell(csv_text(n)) for n in table.names]
            self.stream.write((",".join(names) + "\n").encode())
        try:
            options = pcsv.WriteOptions(include_header=False, quoting_style="none")
            pcsv.write_csv(data, self.stream, options)
        except pa.ArrowInvalid:  # a cell needs quotes (a comma, a quote, a newline)
            options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
            pcsv.write_csv(data, self.stream, options)

    def _json(self, table: Table) -> None:
        lists = [
            c.numbers.tolist() if c.numbers is not None else c.texts(np.arange(len(c)))
            for c in table.columns.values()
        ]
        names = table.names
        parts = [
            json.dumps(dict(zip(names, row, strict=True)), allow_nan=False)
            for row in zip(*lists, strict=True)
        ]
        if parts:
            prefix = "[\n" if self.rows == 0 else ",\n"
            self.stream.write((prefix + ",\n".join(parts)).encode())

    def close(self) -> None:
        if self.fmt == "json":
            self.stream.write(b"[\n]\n" if self.rows == 0 else b"\n]\n")
        if self.parquet is not None:
            self.parquet.close()


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path, allow_dash=True))
@_read_options
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the predictions here instead of to standard output.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json", "parquet"]),
    default=None,
    help="The output format [default: from --out's suffix, else csv].",
)
@click.option(
    "--keep",
    multiple=True,
    help="Input columns to copy into the output, e.g. an id: comma-separated "
    "or repeated.",
)
def predict(
    model: Path,
    data: Path,
    sep: str | None,
    encoding: str | None,
    decimal: str,
    na: Any,
    out_file: Path | None,
    fmt: str | None,
    keep: Any,
) -> None:
    """Predict for every row of DATA with a trained MODEL.

    DATA is read as train reads it ('-' for standard input), in chunks: the
    memory used does not grow with the file. Columns are found by name; others
    are ignored. Writes the predicted class and one probability per class
    (p_<class>), or the predicted value, after any --keep columns. CSV output
    is safe to open in a spreadsheet (text that starts with =, +, -, @ is
    escaped with a leading apostrophe).

    \b
    Examples:
      nlayer data iris iris.csv
      nlayer train iris.csv --target species --out runs/iris --quiet
      nlayer predict runs/iris/model.safetensors iris.csv --out predicted.csv
      nlayer predict runs/iris/model.safetensors iris.csv --keep species --format json
      nlayer predict runs/iris/model.safetensors - --out predicted.parquet < iris.csv
    """
    m = _model(model)
    keep_columns = _name_list(keep) or []
    fmt = fmt or (
        out_file.suffix.lstrip(".").lower() if out_file is not None else "csv"
    )
    if fmt not in ("csv", "json", "parquet"):
        fmt = "csv"
    if fmt == "parquet" and out_file is None:
        raise click.UsageError("--format parquet needs --out FILE")
    options = _csv_options(sep, encoding, decimal, na)
    unseen: dict[str, set[str]] = {}
    chunks = _chunks(m, data, options, keep_columns)
    if out_file is None:
        _write_predictions(m, chunks, keep_columns, sys.stdout.buffer, fmt, unseen)
        sys.stdout.flush()
    else:
        with atomic_writer(out_file) as f:
            rows = _write_predictions(m, chunks, keep_columns, f, fmt, unseen)
        through = (
            f" (a link: written into {out_file.resolve()})"
            if out_file.is_symlink()
            else ""
        )
        err.print(f"wrote {rows} predictions to {out_file}{through}")
    _warn_unseen(unseen, data)


def _write_predictions(
    m: Model,
    chunks: Iterator[Table],
    keep: list[str],
    stream: BinaryIO,
    fmt: str,
    unseen: dict[str, set[str]],
) -> int:
    """Predict chunk by chunk into ``stream``; the number of rows written."""
    writer = _Writer(stream, fmt)
    with _one_blas_thread():
        for chunk in chunks:
            predicted = m.predictions(chunk, unseen)
            columns = {k: chunk.columns[k] for k in keep}
            for name, col in predicted.columns.items():
                columns[f"predicted_{name}" if name in columns else name] = col
            writer.write(Table("predictions", columns, chunk.n_rows))
    writer.close()
    return writer.rows


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS on all cores but one while predicting: the file is parsed in a
    thread beside it, and BLAS threads that spin-wait between the small
    products take that thread's core (measured on two cores: 1.4 s -> 1.2 s
    and a third less CPU time for 10⁶ rows). Needs threadpoolctl (with
    scikit-learn); without it, nothing changes."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=max(1, (os.cpu_count() or 2) - 1), user_api="blas"):
        yield


def _warn_unseen(unseen: dict[str, set[str]], data: Path) -> None:
    for name, values in unseen.items():
        err.print(
            f"warning: {data}: column {name!r} holds categories the model was not "
            f"trained on ({quoted(sorted(values), 5)}); they were encoded as all zeros",
            markup=False,
        )


def _report(model: Model, table: Table, column: str) -> dict[str, Any]:
    pre = model.preprocessing
    assert pre is not None
    truth, predicted = _truth_and_predictions(model, table, column)
    if pre.classes is not None:
        return classification_report(truth, predicted, pre.classes)
    return regression_report(predicted, truth)


def _truth_and_predictions(
    model: Model, table: Table, column: str
) -> tuple[np.ndarray, np.ndarray]:
    """Classes (m,) and probabilities (m, k), or targets (m,) and predictions."""
    pre = model.preprocessing
    assert pre is not None
    if pre.classes is not None:
        truth = class_codes(table.column(column), pre.classes, table)
        return truth, model.predict_proba(table)
    y = column_numbers(table, table.column(column), "target")
    return y, model.predict(table)


def _test_report(prep: _Prepared, model: Model) -> dict[str, Any]:
    """The figures on the held-out rows; out of core, predicted chunk by chunk."""
    pre = prep.pre
    if prep.path is None:
        return _report(model, prep.table.take(prep.test), pre.target)
    rows = prep.kept[prep.test]
    truth, predicted = np.empty(0), np.empty(0)
    for table, places in rows_by_chunk(prep.path, [*pre.features, pre.target], rows):
        t, p = _truth_and_predictions(model, table, pre.target)
        if not len(truth):
            truth = np.empty((len(rows), *t.shape[1:]), t.dtype)
            predicted = np.empty((len(rows), *p.shape[1:]), p.dtype)
        truth[places], predicted[places] = t, p
    if pre.classes is not None:
        return classification_report(truth, predicted, pre.classes)
    return regression_report(predicted, truth)


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("data", type=click.Path(path_type=Path, allow_dash=True))
@_read_options
@click.option("--target", help="The column holding the truth [default: the model's].")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def evaluate(
    model: Path,
    data: Path,
    sep: str | None,
    encoding: str | None,
    decimal: str,
    na: Any,
    target: str | None,
    as_json: bool,
) -> None:
    """Score a trained MODEL on labelled DATA.

    Classification: accuracy, balanced accuracy, log-loss, ROC AUC, precision,
    recall and F1 per class, and the confusion matrix with the class labels.
    Regression: MSE, RMSE, MAE and R², in the target's own units.

    \b
    Examples:
      nlayer data iris iris.csv
      nlayer train iris.csv --target species --out runs/iris --quiet
      nlayer evaluate runs/iris/model.safetensors iris.csv
      nlayer evaluate runs/iris/model.safetensors iris.csv --target species --json
    """
    m = _model(model)
    pre = m.preprocessing
    assert pre is not None
    column = target or pre.target
    options = _csv_options(sep, encoding, decimal, na)
    unseen: dict[str, set[str]] = {}
    truths, outputs = [], []
    with _one_blas_thread():
        for chunk in _chunks(m, data, options, target=column):
            col = chunk.column(column)
            if pre.classes is not None:
                truths.append(class_codes(col, pre.classes, chunk))
            else:
                truths.append(column_numbers(chunk, col, "target"))
            outputs.append(m.outputs(chunk, unseen))
    _warn_unseen(unseen, data)
    truth, Y_hat = np.concatenate(truths), np.concatenate(outputs)
    if pre.classes is not None:
        report = classification_report(truth, pre.probabilities(Y_hat), pre.classes)
    else:
        bad = np.flatnonzero(~np.isfinite(truth))
        if len(bad):
            raise DataError(
                f"{data}: target {column!r} is missing or not finite on {len(bad)} rows"
            )
        report = regression_report(pre.decode(Y_hat), truth)
    if as_json:
        out.print(json.dumps(report, indent=2), markup=False)
    else:
        _print_report(report, pre, f"{model.name} on {data.name}")


def _print_report(report: dict[str, Any], pre: Preprocessing, title: str) -> None:
    table = RichTable(title=title, show_header=False)
    for key in (
        "accuracy",
        "balanced_accuracy",
        "log_loss",
        "roc_auc",
        "mse",
        "rmse",
        "mae",
        "r2",
        "samples",
    ):
        if key not in report:
            continue
        value = report[key]
        if value is None:
            text = "n/a (a class is missing from the data)"
        elif key in ("accuracy", "balanced_accuracy"):
            text = f"{value:.2%}"
        elif key == "samples":
            text = str(value)
        else:
            text = f"{value:.6g}"
        table.add_row(key.replace("_", " "), text)
    out.print(table)
    if pre.classes is None:
        return
    per = RichTable(title="per class")
    for name in ("class", "precision", "recall", "f1", "support"):
        per.add_column(name, justify="right" if name != "class" else "left")
    for c, row in report["per_class"].items():
        per.add_row(
            c,
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            f"{row['f1']:.4f}",
            str(row["support"]),
        )
    for avg in ("macro_avg", "weighted_avg"):
        row = report[avg]
        per.add_row(
            avg.replace("_", " "),
            f"{row['precision']:.4f}",
            f"{row['recall']:.4f}",
            f"{row['f1']:.4f}",
            "",
        )
    out.print(per)
    cm = RichTable(title="confusion matrix (rows: true, columns: predicted)")
    cm.add_column("")
    for c in pre.classes:
        cm.add_column(c, justify="right")
    for c, row in zip(pre.classes, report["confusion_matrix"], strict=True):
        cm.add_row(c, *map(str, row))
    out.print(cm)


# -- export ------------------------------------------------------------------------


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.argument(
    "onnx_file", metavar="OUT", type=click.Path(dir_okay=False, path_type=Path)
)
def export(model: Path, onnx_file: Path) -> None:
    """Write MODEL as an ONNX file OUT, for any ONNX runtime.

    The graph holds everything predict does between the columns and the
    answers: fill values, standardisation, one-hot encodings, the network and
    the classes or the target's units. Its inputs are the columns by name,
    (N, 1) each: float64 for number columns (NaN for a missing value), text for
    true/false and category columns (an empty text for a missing one). Its
    outputs are label and probabilities for classes, predictions for values.
    Needs the onnx package: pip install "nlayer[onnx]".

    \b
    Examples:
      nlayer data iris iris.csv
      nlayer train iris.csv --target species --out runs/iris --quiet
      nlayer export runs/iris/model.safetensors iris.onnx
    """
    m = load(model)
    try:
        from .onnx import to_onnx
    except ImportError as e:
        raise click.ClickException(str(e)) from None
    proto = to_onnx(m)
    atomic_write(onnx_file, proto.SerializeToString())
    table = RichTable(title=f"wrote {onnx_file}")
    for column in ("", "name", "type", "shape"):
        table.add_column(column)
    for kind, values in (("input", proto.graph.input), ("output", proto.graph.output)):
        for v in values:
            t = v.type.tensor_type
            dims = [d.dim_param or str(d.dim_value) for d in t.shape.dim]
            element = _ONNX_TYPES.get(t.elem_type, str(t.elem_type))
            shape = f"({dims[0]},)" if len(dims) == 1 else f"({', '.join(dims)})"
            table.add_row(kind, v.name, element, shape)
    out.print(table)


#: ONNX element types by their number (TensorProto.FLOAT, DOUBLE, STRING)
_ONNX_TYPES = {1: "float32", 11: "float64", 8: "text"}


# -- summary, gradcheck, data -------------------------------------------------------


@dataclass
class _Spec:
    """A network described, not built: what summary prints and gradcheck builds."""

    sizes: list[int]
    activations: list[Activation]
    loss: Loss
    dtype: str
    model: Model | None = None
    prep: _Prepared | None = None
    dropout: tuple[float, ...] = ()

    def network(self) -> Network:
        if self.model is not None:
            return self.model.network
        return Network(
            self.sizes,
            self.activations,
            self.loss,
            seed=0,
            dtype=self.dtype,
            dropout=self.dropout or None,
        )


def _spec(a: dict[str, Any]) -> _Spec:
    """The network of a MODEL, or the one train would build for the data and
    options (its inputs and outputs from the data), without building it."""
    if a["model"] is not None:
        if a["dataset"] is not None or a["layers"] or a["activations"] or a["dropout"]:
            raise click.UsageError(
                "give MODEL, or data with --layers/--activations/--dropout, not both"
            )
        m = load(a["model"])
        net = m.network
        sizes, acts = list(net.layer_sizes), list(net.activations)
        return _Spec(
            sizes, acts, net.loss_function, net.dtype.name, model=m, dropout=net.dropout
        )
    options = _csv_options(a["sep"], a["encoding"], a["decimal"], a["na"])
    ds = _dataset(a["data"], a["dataset"], a["target"], options)
    preset = {**DEFAULTS, **PRESETS.get(ds.name, {})}
    hidden = _int_list(a["layers"], "--layers") or preset["layers"]
    names = _name_list(a["activations"]) or preset["activations"]
    b = dict(
        a,
        drop=_name_list(a["drop"]) or [],
        categorical=_name_list(a["categorical"]) or [],
        numeric=_name_list(a["numeric"]) or [],
        test_split=0.0,
        standardize=preset["standardize"],
        seed=0,
    )
    prep = _Prepared(ds, b, 0)
    out_act, loss_name, n_out = _output(
        prep.task, a["loss"], len(prep.pre.classes or [])
    )
    try:
        acts = [
            get_activation(n)
            for n in [*_hidden_activations(names, len(hidden)), out_act]
        ]
        loss = get_loss(loss_name)
        sizes = [len(prep.pre.inputs), *hidden, n_out]
        check_structure(sizes, acts, loss)
    except (ValueError, TypeError) as e:
        raise ValueError(f"--activations: {e}") from None
    try:
        dropout = check_dropout(_dropout(a["dropout"]), len(hidden))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--dropout") from None
    return _Spec(sizes, acts, loss, a["dtype"], prep=prep, dropout=dropout)


def _model_or_data(f: Callable[..., Any]) -> Callable[..., Any]:
    f = _network_options(_column_options(_data_options(f, "[MODEL | DATA]")))
    return click.option(
        "--dtype",
        type=click.Choice(["float64", "float32"]),
        default="float64",
        show_default=True,
    )(f)


@cli.command()
@_model_or_data
@click.option(
    "--batch-size",
    type=Number(integer=True, lo=1),
    default=32,
    show_default=True,
    help="The batch size m in the shapes.",
)
def summary(**a: Any) -> None:
    """Print the dimension-tracking template of a MODEL file, or of the network
    train would build for DATA --target COLUMN (or --dataset) with --layers and
    --activations (hidden layers; inputs and outputs come from the data).

    Every layer's forward shapes (H, Z, W, b) and backward shapes (dH, dZ, dW,
    db) for a batch of m samples, and the parameter count; for a model, also
    the columns it reads and their encodings, the target and the classes.

    \b
    Examples:
      nlayer summary --dataset seed-squares --batch-size 100
      nlayer summary --dataset digits --layers 64,32 --activations relu,tanh
      nlayer data iris iris.csv
      nlayer summary iris.csv --target species --layers 8
      nlayer train iris.csv --target species --out runs/iris --quiet
      nlayer summary runs/iris/model.safetensors
    """
    _route(a)
    spec = _spec(a)
    out.print(
        template(
            spec.sizes,
            spec.activations,
            spec.loss,
            spec.dtype,
            a["batch_size"],
            spec.dropout,
        )
    )
    model, prep = spec.model, spec.prep
    pre = model.preprocessing if model is not None else (prep.pre if prep else None)
    if pre is None:
        return
    out.print()
    columns = RichTable(
        title=f"columns read ({len(pre.columns)} → {len(pre.inputs)} inputs)"
    )
    columns.add_column("column")
    columns.add_column("encoding")
    for c in pre.columns:
        columns.add_row(c.name, c.describe())
    out.print(columns)
    what = f"classes {quoted(pre.classes, 20)}" if pre.classes else "regression"
    out.print(f"target {pre.target!r}: {what}", markup=False)


def _route(a: dict[str, Any]) -> None:
    """The positional argument is DATA with --target, else a MODEL file."""
    a["model"] = None
    if a["data"] is not None and a["target"] is None:
        a["model"], a["data"] = a["data"], None


@cli.command()
@_model_or_data
@click.option(
    "--samples",
    type=Number(integer=True, lo=1),
    default=8,
    show_default=True,
    help="Samples to check on.",
)
@click.option(
    "--entries",
    type=Number(integer=True, lo=1),
    help="Check this many entries of each W and b, drawn at random.  "
    f"[default: all, or {GRADCHECK_ENTRIES} for networks of more than "
    f"{GRADCHECK_ALL:,} parameters]",
)
@click.option("--seed", type=Number(integer=True, lo=0), default=0, show_default=True)
def gradcheck(samples: int, entries: int | None, **a: Any) -> None:
    """Check the gradients of a MODEL file (or of the network train would
    build for DATA --target COLUMN, or --dataset) against finite differences.

    Prints each layer's relative error for W and b, in float64: on rows of
    the data when there are data, else on random inputs and targets. A new
    network gets small random biases (at 0, a unit can sit on a kink such as
    ReLU's, where no derivative exists); with dropout, one set of masks is held
    fixed. Exits with 1 if any error exceeds 1e-6.

    \b
    Examples:
      nlayer gradcheck --dataset iris --layers 16,8 --activations elu,gelu
      nlayer gradcheck --dataset seed-squares
      nlayer data iris iris.csv
      nlayer train iris.csv --target species --out runs/iris --quiet
      nlayer gradcheck runs/iris/model.safetensors
    """
    _route(a)
    spec = _spec(a)
    net, prep = spec.network().copy("float64"), spec.prep
    rng = np.random.default_rng(a["seed"])
    if spec.model is None:
        # a new network's biases are 0: a unit whose inputs are all dropped or
        # dead then sits exactly on ReLU's kink, where no derivative exists
        for b in net.biases:
            b[...] = rng.normal(scale=0.1, size=b.shape)
    X, Y, where = _gradcheck_data(net, prep, samples, rng)
    if entries is None and net.n_params > GRADCHECK_ALL:
        entries = GRADCHECK_ENTRIES  # two forward passes an entry: sample them
    masks = net.dropout_masks(len(X), rng)  # None without dropout
    if masks is not None:
        where += ", dropout masks held fixed"
    report = gradcheck_layers(net, X, Y, samples=entries, seed=a["seed"], masks=masks)
    _print_gradcheck(report, where, entries)


def _gradcheck_data(
    net: Network, prep: _Prepared | None, samples: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, str]:
    """X, Y to check on (rows of the data, else random ones the loss accepts),
    and what they are."""
    if prep is not None:
        rows = prep.train_table.take(np.arange(min(samples, prep.train_table.n_rows)))
        X = prep.pre.transform(rows)
        Y = prep.pre.encode(rows, net.layer_sizes[-1])
        return X, Y, f"{len(X)} rows of the data"
    X = rng.standard_normal((samples, net.layer_sizes[0]))
    Y = net.loss_function.example_targets(rng, (samples, net.layer_sizes[-1]))
    return X, Y, f"{samples} random samples"


def _print_gradcheck(report: list[dict[str, Any]], where: str, entries: Any) -> None:
    """The per-layer table, and exit 1 when an error exceeds the tolerance."""
    table = RichTable(title=f"finite-difference check, {where}, float64")
    for column in ("layer", "W error", "b error", "entries checked"):
        table.add_column(column, justify="right")
    for r in report:
        checked = (
            f"W {r['W_checked']:,} of {r['W_size']:,}, "
            f"b {r['b_checked']:,} of {r['b_size']:,}"
        )
        table.add_row(str(r["layer"]), f"{r['W']:.2e}", f"{r['b']:.2e}", checked)
    out.print(table)
    if entries is not None:
        out.print(
            f"checked at most {entries} entries of each W and b, drawn at random "
            "(--entries)"
        )
    worst = max(max(r["W"], r["b"]) for r in report)
    if not math.isfinite(worst) or worst > GRADCHECK_TOLERANCE:
        err.print(f"FAILED: max relative error {worst:.2e} > {GRADCHECK_TOLERANCE:g}")
        sys.exit(1)
    out.print(f"passed: max relative error {worst:.2e} ≤ {GRADCHECK_TOLERANCE:g}")


@cli.command()
@click.argument("name", type=click.Choice(list(DATASETS)))
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def data(name: str, file: Path | None) -> None:
    """Write a built-in data set as a CSV file (to standard output without FILE).

    \b
    Examples:
      nlayer data iris iris.csv
      nlayer data diabetes diabetes.csv
    """
    ds = builtin_dataset(name)
    table = ds.table
    lines = [",".join(_csv_cell(n) for n in table.names)]
    columns = [table.columns[n] for n in table.names]
    cells = [c.texts(np.arange(len(c))) for c in columns]
    lines += [",".join(_csv_cell(v) for v in row) for row in zip(*cells, strict=True)]
    text = "\n".join(lines) + "\n"
    if file is None:
        sys.stdout.write(text)
        return
    atomic_write(file, text.encode())
    err.print(
        f"wrote {table.n_rows} rows of {name} ({ds.target!r} is the target) to {file}"
    )


def _csv_cell(text: str) -> str:
    if any(ch in text for ch in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


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
    except (ValueError, OSError, MemoryError) as e:  # the user's to fix
        err.print(f"error: {e}", markup=False)
        return 1
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
