"""Data for the command line: CSV tables, built-in data sets, preprocessing.

Nothing here is needed by the core. A CSV file is read with the standard
library and checked cell by cell: a problem is reported with the file, the
line and the column, and nothing is coerced silently (no imputation, no
guessing at text in numeric columns). Features are standardised and class
labels one-hot encoded; :class:`Preprocessing` records both so that a saved
model applies the same transformation when it predicts.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

TASKS = ("classification", "regression")
#: cells read as a missing value
MISSING = ("", "nan", "na", "n/a", "null", "none")
#: integer targets with at most this many distinct values are taken as classes
MAX_INTEGER_CLASSES = 20


class DataError(ValueError):
    """Data that cannot be trained on; the message names the file and the place."""


def quoted(names: Sequence[Any], limit: int = 8) -> str:
    """'a', 'b', 'c' and 5 more: names for a message, never a wall of text."""
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


@dataclass
class Dataset:
    """Features X (m, n_features) float64 and raw targets y (m,), as read."""

    name: str
    X: np.ndarray
    y: np.ndarray  # strings for labels read from text, numbers otherwise
    features: list[str]
    target: str
    task: str | None = None  # None: decide from the target's values


# -- CSV -----------------------------------------------------------------------


@dataclass
class Table:
    """A CSV file's header and cells (as text), with each row's line number."""

    path: str
    columns: list[str]
    rows: list[list[str]]
    lines: list[int] = field(repr=False)

    def column(self, name: str) -> list[str]:
        if name not in self.columns:
            raise DataError(
                f"{self.path}: no column {name!r}; "
                f"the columns are {quoted(self.columns)}"
            )
        j = self.columns.index(name)
        return [row[j] for row in self.rows]

    def numeric(self, name: str) -> np.ndarray:
        """Column ``name`` as float64, or a DataError naming the bad cell."""
        cells = self.column(name)
        try:
            values = np.array(cells, dtype=np.float64)  # fast path: all numbers
            if np.isfinite(values).all():
                return values
        except ValueError:
            pass
        for i, cell in enumerate(cells):  # find the first bad cell to name it
            where = f"{self.path}, line {self.lines[i]}, column {name!r}"
            if cell.strip().lower() in MISSING:
                raise DataError(
                    f"{where}: missing value {cell!r}; nlayer does not impute, "
                    "so fill or drop the missing cells first"
                )
            try:
                value = float(cell)
            except ValueError:
                raise DataError(
                    f"{where}: {cell!r} is not a number; feature columns must be "
                    "numeric (encode the column, or leave it out with --drop)"
                ) from None
            if not math.isfinite(value):
                raise DataError(f"{where}: {cell!r} is not a finite number")
        raise AssertionError("unreachable: some cell failed the fast path")


def read_csv(path: str | Path) -> Table:
    """Read a CSV file with a header row; refuse empty, ragged or unreadable ones."""
    name = str(path)
    p = Path(path)
    if not p.exists():
        raise DataError(f"{name}: no such file")
    if p.is_dir():
        raise DataError(f"{name} is a directory, not a CSV file")
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with p.open(newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue  # blank lines separate nothing in a CSV table
                if header is not None and len(row) != len(header):
                    raise DataError(
                        f"{name}, line {reader.line_num}: {len(row)} cells, but the "
                        f"header has {len(header)} columns"
                    )
                rows.append(row)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise DataError(f"{name} is not a UTF-8 text file") from None
    except csv.Error as e:
        raise DataError(f"{name}: not a readable CSV file ({e})") from None
    except OSError as e:
        raise DataError(f"{name}: cannot read it ({e.strerror})") from None
    if header is None or not any(cell.strip() for cell in header):
        raise DataError(f"{name} is empty")
    columns = [c.strip() for c in header]
    for j, c in enumerate(columns):
        if not c:
            raise DataError(f"{name}: column {j + 1} of the header has no name")
        if columns.index(c) != j:
            raise DataError(f"{name}: the header names column {c!r} twice")
    if not rows:
        raise DataError(f"{name} has a header but no data rows")
    return Table(name, columns, rows, lines)


def dataset_from_csv(
    path: str | Path, target: str, drop: Sequence[str] = ()
) -> Dataset:
    """Features (every column but ``target`` and ``drop``) and the target column."""
    table = read_csv(path)
    for name in [target, *drop]:
        table.column(name)  # raises naming the known columns
    features = [c for c in table.columns if c != target and c not in drop]
    if not features:
        raise DataError(f"{table.path}: no feature columns are left besides {target!r}")
    X = np.column_stack([table.numeric(c) for c in features])
    return Dataset(Path(path).stem, X, np.array(table.column(target)), features, target)


def dataset_for_prediction(
    path: str | Path, features: Sequence[str]
) -> tuple[Table, np.ndarray]:
    """The model's feature columns of a CSV file, in the model's order."""
    table = read_csv(path)
    missing = [c for c in features if c not in table.columns]
    if missing:
        raise DataError(
            f"{table.path}: the model needs column(s) {quoted(missing)}, "
            "which the file does not have"
        )
    return table, np.column_stack([table.numeric(c) for c in features])


# -- built-in data sets ----------------------------------------------------------


def _sklearn(loader: str, name: str, task: str, target: str) -> Dataset:
    try:
        from sklearn import datasets
    except ImportError:  # pragma: no cover - depends on the installation
        raise DataError(
            f"the built-in {name!r} data set comes with scikit-learn: "
            "pip install scikit-learn"
        ) from None
    bunch = getattr(datasets, loader)()
    features = [str(f) for f in getattr(bunch, "feature_names", [])]
    if len(features) != bunch.data.shape[1]:
        features = [f"x{j}" for j in range(bunch.data.shape[1])]
    if task == "classification":
        names = [str(n) for n in bunch.target_names]
        y = np.array([names[i] for i in bunch.target])
    else:
        y = bunch.target.astype(np.float64)
    return Dataset(name, bunch.data.astype(np.float64), y, features, target, task)


def seed_squares(m: int = 100, seed: int = 42) -> Dataset:
    """The seeds' data: x ~ N(0, 1)², y = x₁² + x₂²."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    return Dataset(
        "seed-squares", X, np.sum(X**2, axis=1), ["x1", "x2"], "y", "regression"
    )


DATASETS = {
    "digits": lambda: _sklearn("load_digits", "digits", "classification", "digit"),
    "iris": lambda: _sklearn("load_iris", "iris", "classification", "species"),
    "wine": lambda: _sklearn("load_wine", "wine", "classification", "cultivar"),
    "breast-cancer": lambda: _sklearn(
        "load_breast_cancer", "breast-cancer", "classification", "diagnosis"
    ),
    "diabetes": lambda: _sklearn(
        "load_diabetes", "diabetes", "regression", "progression"
    ),
    "seed-squares": seed_squares,
}


def builtin_dataset(name: str) -> Dataset:
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; built in: {', '.join(DATASETS)}")
    return DATASETS[name]()


# -- targets and preprocessing -----------------------------------------------------


def _as_numbers(y: np.ndarray) -> np.ndarray | None:
    try:
        values = np.asarray(y, dtype=np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def infer_task(y: np.ndarray) -> str:
    """Classification for text labels or few distinct integers, else regression."""
    values = _as_numbers(y)
    if values is None:
        return "classification"
    integral = bool(np.all(values == np.round(values)))
    if integral and len(np.unique(values)) <= MAX_INTEGER_CLASSES:
        return "classification"
    return "regression"


def _label(v: Any) -> str:
    """A class label as text: 1, 1.0 and "1" are the same class, "1"."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v).strip()


def class_labels(y: np.ndarray) -> list[str]:
    values = _as_numbers(y)
    if values is not None:  # numeric labels sort as numbers, not as text
        return [_label(v) for v in np.unique(values)]
    return sorted({_label(v) for v in y})


@dataclass
class Preprocessing:
    """What a model does to raw data before and after the network.

    Features: X_std = (X − x_mean) / x_scale. Classification: one-hot rows over
    ``classes`` (one sigmoid output for two classes with binary cross-entropy).
    Regression: Y_std = (y − y_mean) / y_scale, undone on prediction.
    """

    features: list[str]
    x_mean: np.ndarray
    x_scale: np.ndarray
    task: str
    target: str
    classes: list[str] | None = None
    y_mean: np.ndarray | None = None
    y_scale: np.ndarray | None = None

    @classmethod
    def fit(cls, data: Dataset, task: str, standardize: bool = True) -> Preprocessing:
        """Learn the preprocessing from training data; ``standardize=False``
        keeps features and regression targets as they are."""
        if task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        n = data.X.shape[1]
        x_mean = data.X.mean(axis=0) if standardize else np.zeros(n)
        x_scale = _scale(data.X) if standardize else np.ones(n)
        if task == "classification":
            classes = class_labels(data.y)
            if len(classes) < 2:
                raise DataError(
                    f"target {data.target!r} has a single class {classes[0]!r}; "
                    "a classifier needs at least two"
                )
            return cls(data.features, x_mean, x_scale, task, data.target, classes)
        values = _as_numbers(data.y)
        if values is None:
            raise DataError(
                f"target {data.target!r} is not numeric, so it cannot be regressed; "
                "use --task classification"
            )
        y = values.reshape(len(values), -1)
        k = y.shape[1]
        y_mean = y.mean(axis=0) if standardize else np.zeros(k)
        y_scale = _scale(y) if standardize else np.ones(k)
        return cls(
            data.features, x_mean, x_scale, task, data.target, None, y_mean, y_scale
        )

    @property
    def n_outputs(self) -> int:
        if self.classes is None:
            assert self.y_mean is not None
            return len(self.y_mean)
        return len(self.classes)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Standardised features (m, n_features), float64."""
        return (X - self.x_mean) / self.x_scale

    def encode(
        self, y: np.ndarray, n_outputs: int, column: str | None = None
    ) -> np.ndarray:
        """Targets as the network's Y (m, n_outputs), float64; ``column`` names
        where ``y`` came from, for messages (default: the training target)."""
        if self.classes is None:
            values = _as_numbers(y)
            if values is None:
                raise DataError(
                    f"target {self.target!r} holds values that are not numbers"
                )
            assert self.y_mean is not None and self.y_scale is not None
            return (values.reshape(len(values), -1) - self.y_mean) / self.y_scale
        index = {c: j for j, c in enumerate(self.classes)}
        labels = [_label(v) for v in y]
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise DataError(
                f"column {column or self.target!r} holds label(s) "
                f"{quoted(unknown, 5)} that the model was not "
                f"trained on; it knows {', '.join(self.classes)}"
            )
        codes = np.array([index[label] for label in labels])
        if n_outputs == 1:  # one sigmoid output: the probability of classes[1]
            return (codes == 1).astype(np.float64).reshape(-1, 1)
        return np.eye(len(self.classes))[codes]

    def probabilities(self, Y_hat: np.ndarray) -> np.ndarray:
        """Class probabilities (m, n_classes) from the network's output."""
        if Y_hat.shape[1] == 1:
            return np.hstack([1 - Y_hat, Y_hat])
        return Y_hat

    def decode(self, Y_hat: np.ndarray) -> np.ndarray:
        """Predictions: class labels (m,) or values (m, n_outputs)."""
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            return Y_hat * self.y_scale + self.y_mean
        return np.array(self.classes)[self.probabilities(Y_hat).argmax(axis=1)]


def _scale(A: np.ndarray) -> np.ndarray:
    s = A.std(axis=0)
    return np.where(s > 0, s, 1.0)  # a constant column stays constant (zero)


def split(
    n: int, fraction: float, rng: np.random.Generator, strata: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (rest, held_out), ``fraction`` of them held out, per stratum."""
    if not 0 <= fraction < 1:
        raise DataError(f"a split fraction must be in [0, 1), got {fraction}")
    if fraction == 0:
        return np.arange(n), np.arange(0)
    groups = (
        [np.arange(n)]
        if strata is None
        else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    )
    held: list[np.ndarray] = []
    for g in groups:
        g = rng.permutation(g)
        held.append(g[: int(round(fraction * len(g)))])
    out = np.sort(np.concatenate(held))
    if len(out) == 0 or len(out) == n:
        raise DataError(
            f"holding out {fraction:.0%} of {n} samples leaves "
            f"{'nothing to hold out' if len(out) == 0 else 'nothing to train on'}"
        )
    return np.setdiff1d(np.arange(n), out), out
