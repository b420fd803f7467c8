"""From a table to the network's X and Y, and back: what a saved model applies.

Nothing here is needed by the core. A :class:`Preprocessing` is learned from
training rows and stored in the model file, so that a model predicts from raw
tables exactly as it was trained:

* every feature column gets an :class:`Encoding`: numbers are standardised,
  (X − mean) / scale; true/false columns become 0/1; text columns with few
  distinct values are one-hot encoded (a category not seen in training becomes
  all zeros, with a warning); a column unique per row (an identifier) is left
  out unless asked for;
* missing cells are an error naming the column and the rows, unless an
  imputation strategy gives fill values, which the model keeps;
* the target gives the task (text labels or few distinct integers are
  classes, other numbers are regressed) and, for regression, its own scale.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .backend import check_memory
from .tables import (
    Column,
    DataError,
    Table,
    as_table,
    column_from_values,
    iter_tables,
    label,
    parse_numbers,
    quoted,
)

__all__ = ["DataError", "quoted"]

TASKS = ("classification", "regression")
#: integer targets with at most this many distinct values are taken as classes
MAX_INTEGER_CLASSES = 20
#: text columns with more distinct values than this are not one-hot encoded
MAX_CATEGORIES = 100
IMPUTE = ("mean", "median", "most_frequent")
#: pairs of texts read as false/true (compared in lower case)
BOOLEANS = (("false", "true"), ("no", "yes"), ("f", "t"), ("n", "y"))
ENCODINGS = ("numeric", "boolean", "category")
_ID_NAME = re.compile(
    r"(?i)(id|uuid|guid|key|index|row|unnamed: ?0|.*[ _-]id|id[ _-].*)"
)


class DataWarning(UserWarning):
    """Data that was used, but not as it came (an unseen category, say)."""


@dataclass
class Dataset:
    """A table and the name of its target column; ``task`` None: decide."""

    name: str
    table: Table
    target: str
    task: str | None = None
    #: data read out of core: the file, folder or .npy file, and its columns
    #: (``table`` then holds only the target)
    path: Path | None = None
    names: list[str] = field(default_factory=list)


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
    columns: dict[str, Any] = {
        f: bunch.data[:, j].astype(np.float64) for j, f in enumerate(features)
    }
    if task == "classification":
        names = np.array([str(n) for n in bunch.target_names])
        columns[target] = names[bunch.target]
    else:
        columns[target] = bunch.target.astype(np.float64)
    return Dataset(name, _table(columns, name), target, task)


def _table(columns: dict[str, Any], name: str) -> Table:
    cols = {n: column_from_values(n, v) for n, v in columns.items()}
    return Table(name, cols, len(next(iter(cols.values()))))


def seed_squares(m: int = 100, seed: int = 42) -> Dataset:
    """The seeds' data: x ~ N(0, 1)², y = x₁² + x₂²."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 2))
    table = _table({"x1": X[:, 0], "x2": X[:, 1], "y": np.sum(X**2, axis=1)}, "seed")
    return Dataset("seed-squares", table, "y", "regression")


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


# -- the target ------------------------------------------------------------------


def _first_bad_number(
    table: Table, col: Column, what: str, hint: str = ""
) -> DataError:
    """The error for a text cell in a column of numbers, naming its line."""
    assert col.codes is not None and col.levels is not None
    bad_level = np.isnan(col.level_numbers())
    rows = np.flatnonzero((col.codes >= 0) & bad_level[np.maximum(col.codes, 0)])
    cell = col.levels[col.codes[rows[0]]]
    return DataError(
        f"{table.source}, {table.where(rows[:1])}, {what} {col.name!r}: {cell!r} is "
        f"not a number, but {_share(col):.0%} of the column's cells are; fix the "
        f"cell, or mark it missing (--na {cell!r}){hint}"
    )


def _share(col: Column) -> float:
    """The share of a text column's present cells that are numbers."""
    assert col.codes is not None
    present = col.codes[col.codes >= 0]
    if not len(present):
        return 0.0
    return float(np.mean(~np.isnan(col.level_numbers()[present])))


def column_numbers(table: Table, col: Column, what: str, hint: str = "") -> np.ndarray:
    """A column as float64 numbers (NaN where missing), or an error naming the
    first cell that is not a number."""
    if col.numbers is not None:
        return col.numbers
    assert col.codes is not None
    numbers = col.level_numbers()
    if np.isnan(numbers[col.codes[col.codes >= 0]]).any():
        raise _first_bad_number(table, col, what, hint)
    return np.where(col.codes >= 0, numbers[np.maximum(col.codes, 0)], np.nan)


def choose_task(table: Table, target: str, task: str | None) -> tuple[str, str]:
    """(task, why): from ``task`` if given, else from the target's values; the
    reason is a line for the user."""
    col = table.column(target)
    if task is not None and task not in TASKS:
        raise DataError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    if col.kind == "date":
        raise DataError(
            f"{table.source}: target {target!r} holds dates; nlayer predicts "
            "classes or numbers"
        )
    if task is not None:
        if task == "regression":
            column_numbers(table, col, "target")  # raises naming the first text cell
        return task, f"target {target!r}: {task} (--task)"
    if col.numbers is None and _share(col) <= 0.5:
        n = len(class_labels(col))
        why = f"{n} distinct text labels → classification"
        return "classification", f"target {target!r}: {why}"
    values = column_numbers(
        table,
        col,
        "target",
        "; or --task classification to take every value as a class",
    )
    present = values[np.isfinite(values)]
    distinct = len(np.unique(present))
    if np.all(present == np.round(present)) and distinct <= MAX_INTEGER_CLASSES:
        chosen, why = "classification", f"{distinct} distinct integers"
    else:
        chosen, why = "regression", f"{distinct} distinct numbers"
    other = "regression" if chosen == "classification" else "classification"
    return chosen, f"target {target!r}: {why} → {chosen} (--task {other} to override)"


def target_rows(table: Table, target: str, task: str, drop_missing: bool) -> np.ndarray:
    """The rows whose target can be learned from: all of them, or an error
    naming the missing and non-finite ones (dropped with ``drop_missing``)."""
    col = table.column(target)
    if task == "regression":
        values = column_numbers(table, col, "target")
        bad = ~np.isfinite(values)
    else:
        bad = col.missing if col.numbers is None else ~np.isfinite(col.numbers)
    rows = np.flatnonzero(bad)
    if len(rows) and not drop_missing:
        raise DataError(
            f"{table.source}: target {target!r} is missing or not finite on "
            f"{len(rows)} row{'s' if len(rows) > 1 else ''} ({table.where(rows)}); "
            "fill them, or give --drop-missing-target to leave those rows out"
        )
    return np.flatnonzero(~bad)


def class_labels(col: Column) -> list[str]:
    """A target's classes as text, sorted as numbers when they all are."""
    if col.numbers is not None:
        present = col.numbers[np.isfinite(col.numbers)]
        return [label(v) for v in np.unique(present)]
    assert col.levels is not None and col.codes is not None
    used = sorted({col.levels[c] for c in np.unique(col.codes[col.codes >= 0])})
    numbers = parse_numbers(used)
    if not np.isnan(numbers).any():
        return [used[i] for i in np.argsort(numbers, kind="stable")]
    return used


def class_codes(col: Column, classes: Sequence[str], where: Table) -> np.ndarray:
    """Each row's index into ``classes``, or an error naming unknown labels."""
    index = {c: j for j, c in enumerate(classes)}
    if col.numbers is not None:
        levels, codes = np.unique(col.numbers, return_inverse=True)
        texts = [label(v) for v in levels]
    else:
        assert col.levels is not None and col.codes is not None
        texts, codes = col.levels, col.codes
    lookup = np.array([index.get(t, -1) for t in texts] + [-1], dtype=np.int64)
    out = lookup[codes]  # a missing cell (-1) looks up the -1 at the end
    bad = np.flatnonzero(out < 0)
    gaps = bad[col.missing[bad]]
    if len(gaps):  # a missing label is no unknown class: say what it is
        raise DataError(
            f"{where.source}: column {col.name!r} has no label in "
            f"{where.where(gaps)}; fill those cells or leave the rows out"
        )
    if len(bad):
        unknown = sorted({t for t in col.texts(bad[:20]) if t})
        raise DataError(
            f"{where.source}: column {col.name!r} holds label(s) "
            f"{quoted(unknown or [''], 5)} ({where.where(bad)}) that the model was "
            f"not trained on; it knows {quoted(list(classes))}"
        )
    return out


def balanced_weights(codes: np.ndarray, n_classes: int) -> np.ndarray:
    """scikit-learn's class_weight="balanced": n / (k · n_c) for a sample of class c."""
    counts = np.bincount(codes, minlength=n_classes).astype(np.float64)
    per_class = np.where(
        counts > 0, len(codes) / (n_classes * np.maximum(counts, 1)), 0
    )
    return per_class[codes]


# -- features --------------------------------------------------------------------


@dataclass
class Encoding:
    """How one input column becomes network inputs.

    ``kind``: "numeric" (one input, standardised), "boolean" (one input, 0/1;
    ``categories`` holds the false and true texts) or "category" (one input
    per category, one-hot). ``fill`` replaces a missing cell (None: a missing
    cell is an error).
    """

    name: str
    kind: str = "numeric"
    categories: list[str] | None = None
    fill: float | str | None = None

    @property
    def inputs(self) -> list[str]:
        """The names of this column's network inputs."""
        if self.kind == "category":
            assert self.categories is not None
            return [f"{self.name}={c}" for c in self.categories]
        return [self.name]

    def describe(self) -> str:
        if self.kind == "category":
            assert self.categories is not None
            text = f"one-hot over {len(self.categories)} categories"
        elif self.kind == "boolean":
            assert self.categories is not None
            text = f"0/1 ({self.categories[0]}/{self.categories[1]})"
        else:
            text = "standardised number"
        return text + ("" if self.fill is None else f", missing → {self.fill!r}")


def _is_id(col: Column, values: np.ndarray | None) -> bool:
    """An identifier: text unique per row, or integers unique per row that
    count the rows from 0 or 1 or sit in a column named like an id."""
    n = len(col)
    if n < 3 or col.missing.any():
        return False
    if values is None:
        assert col.levels is not None
        return len(col.levels) == n
    if not np.all(values == np.round(values)) or len(np.unique(values)) != n:
        return False
    # row numbers (a saved index counts from 0 or 1), or an id by its name
    counting = values[0] in (0, 1) and bool(np.all(np.diff(values) == 1))
    return counting or bool(_ID_NAME.fullmatch(col.name.strip()))


def _boolean_pair(col: Column) -> tuple[str, str] | None:
    assert col.levels is not None
    lower = {s.lower() for s in col.levels}
    for pair in BOOLEANS:
        if lower and lower <= set(pair):
            found = {s.lower(): s for s in col.levels}
            return found.get(pair[0], pair[0]), found.get(pair[1], pair[1])
    return None


def plan_column(
    table: Table,
    col: Column,
    forced: str | None,
    max_categories: int,
) -> tuple[Encoding | None, str]:
    """An Encoding for a feature column (None: leave it out), and a note on it."""
    name = col.name
    if col.kind == "date" and forced is None:
        raise DataError(
            f"{table.source}: column {name!r} holds dates; nlayer does not encode "
            f"dates: derive numbers from it (year, day of year) or leave it out "
            f"with --drop {name!r}"
        )
    if forced == "numeric":
        column_numbers(table, col, "column")
        return Encoding(name), f"{name!r}: numbers (--numeric)"
    if forced == "category":
        levels = class_labels(col)
        return Encoding(name, "category", levels), (
            f"{name!r}: one-hot over {len(levels)} categories (--categorical)"
        )
    if col.numbers is not None:
        if _is_id(col, col.numbers):
            return None, (
                f"left out {name!r}: unique per row, an identifier "
                f"(--numeric {name!r} to use it)"
            )
        return Encoding(name), ""
    assert col.levels is not None
    pair = _boolean_pair(col)
    if pair is not None:
        return Encoding(
            name, "boolean", list(pair)
        ), f"{name!r}: 0/1 ({'/'.join(pair)})"
    if _share(col) > 0.5:
        raise _first_bad_number(table, col, "column")
    comma = [s for s in col.levels if "," in s]
    if comma and not np.isnan(parse_numbers(col.levels, ",")).any():
        raise DataError(
            f"{table.source}: column {name!r} holds numbers with a decimal comma "
            f"({comma[0]!r}); give --decimal ',' (or --categorical {name!r} to "
            "treat them as categories)"
        )
    if _is_id(col, None):
        return None, (
            f"left out {name!r}: text unique per row, an identifier "
            f"(--categorical {name!r} to use it)"
        )
    if len(col.levels) > max_categories:
        raise DataError(
            f"{table.source}: column {name!r} has {len(col.levels)} distinct text "
            f"values, too many to one-hot encode (--max-categories "
            f"{max_categories}); leave it out with --drop {name!r}, or raise "
            "--max-categories"
        )
    levels = class_labels(col)
    return Encoding(name, "category", levels), (
        f"{name!r}: one-hot over {len(levels)} categories"
    )


def _fill(col: Column, kind: str, values: np.ndarray | None, how: str) -> Any:
    """The value a missing cell of ``col`` becomes under imputation ``how``."""
    if kind == "numeric":
        assert values is not None
        present = values[~np.isnan(values)]
        if how == "mean":
            return float(np.mean(present))
        if how == "median":
            return float(np.median(present))
        uniques, counts = np.unique(present, return_counts=True)
        return float(uniques[np.argmax(counts)])
    # categories and booleans: the most frequent text, whatever ``how`` says
    codes = col.codes if col.codes is not None else None
    if codes is None:
        texts = col.texts(np.flatnonzero(~col.missing))
        uniques_t, counts = np.unique(texts, return_counts=True)
        return str(uniques_t[np.argmax(counts)])
    assert col.levels is not None
    counts = np.bincount(codes[codes >= 0], minlength=len(col.levels))
    # ties go to the smallest text, as scikit-learn's SimpleImputer does
    return min(col.levels[i] for i in np.flatnonzero(counts == counts.max()))


def _forced(
    names: Sequence[str],
    source: str,
    target: str,
    drop: Sequence[str],
    categorical: Sequence[str],
    numeric: Sequence[str],
) -> dict[str, str]:
    """Column name -> the encoding asked for ("category", "numeric"), after
    checking that every column named exists."""
    known = set(names)
    for name in [target, *drop, *categorical, *numeric]:
        if name not in known:
            raise DataError(
                f"{source}: no column {name!r}; the columns are {quoted(list(names))}"
            )
    both = set(categorical) & set(numeric)
    if both:
        raise DataError(
            f"{quoted(sorted(both))}: given as both categorical and numeric"
        )
    return {**{c: "category" for c in categorical}, **{c: "numeric" for c in numeric}}


def one_column(table: Table, name: str, rows: np.ndarray | None = None) -> Table:
    """The table of ``table``'s column ``name`` alone (at ``rows``: None, all),
    rows located as ``table``'s."""
    col = table.column(name)
    one = Table(table.source, {name: col}, table.n_rows, table.locate, table.first_row)
    return one if rows is None else one.take(rows)


@dataclass
class _Learned:
    """What one feature column gave: its encoding (None: left out), a note,
    its missing cells (rows of the whole table) and (mean, scale) when it is
    standardised."""

    encoding: Encoding | None
    note: str
    table: Table
    gaps: np.ndarray
    scale: tuple[float, float] | None = None


def _learn_column(
    table: Table,
    name: str,
    rows: np.ndarray | None,
    forced: str | None,
    max_categories: int,
    impute: str | None,
    standardize: bool,
) -> _Learned:
    """One feature column's encoding, checked on every row of ``table``; its
    statistics (categories, fill value, scale) from the training ``rows``."""
    enc, note = plan_column(table, table.columns[name], forced, max_categories)
    gaps = np.flatnonzero(table.columns[name].missing)
    learned = _Learned(enc, note, table, gaps)
    if enc is None or (len(gaps) and impute is None):
        return learned  # left out, or an error once every column is planned
    train = one_column(table, name, rows)
    col = train.columns[name]
    if enc.kind == "category":  # the categories training saw
        enc.categories = class_labels(col) or enc.categories
    numbers = column_numbers(train, col, "column") if enc.kind == "numeric" else None
    if impute is not None:
        if col.missing.all():
            raise DataError(
                f"{table.source}: column {name!r} has no values in the "
                "training rows to impute from"
            )
        enc.fill = _fill(col, enc.kind, numbers, impute)
    if standardize and numbers is not None:
        learned.scale = _moments(_filled(train, col, numbers, enc), train, name)
    return learned


@dataclass
class Preprocessing:
    """What a model does to raw tables before and after the network.

    Features: each of ``columns`` (an :class:`Encoding`, or a name for a plain
    numeric column) gives one or more inputs; then X_std = (X − x_mean) /
    x_scale over the n_0 inputs (mean 0 and scale 1 for 0/1 and one-hot
    inputs). Classification: one-hot rows over ``classes`` (one sigmoid
    output for two classes with binary cross-entropy). Regression:
    Y_std = (y − y_mean) / y_scale, undone on prediction.
    """

    columns: list[Any]
    x_mean: np.ndarray
    x_scale: np.ndarray
    task: str
    target: str
    classes: list[str] | None = None
    y_mean: np.ndarray | None = None
    y_scale: np.ndarray | None = None
    impute: str | None = None
    notes: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.columns = [
            c if isinstance(c, Encoding) else Encoding(str(c)) for c in self.columns
        ]
        self.x_mean = np.asarray(self.x_mean, np.float64)
        self.x_scale = np.asarray(self.x_scale, np.float64)

    @property
    def features(self) -> list[str]:
        """The table columns the model reads."""
        return [c.name for c in self.columns]

    @property
    def inputs(self) -> list[str]:
        """The network's n_0 inputs, by name (one-hot inputs as "column=value")."""
        return [name for c in self.columns for name in c.inputs]

    @property
    def n_outputs(self) -> int:
        if self.classes is None:
            assert self.y_mean is not None
            return len(self.y_mean)
        return len(self.classes)

    # -- learning it ---------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        table: Table,
        target: str,
        task: str,
        *,
        rows: np.ndarray | None = None,
        drop: Sequence[str] = (),
        impute: str | None = None,
        categorical: Sequence[str] = (),
        numeric: Sequence[str] = (),
        max_categories: int = MAX_CATEGORIES,
        standardize: bool = True,
        columns: tuple[Sequence[str], Callable[[str], Table]] | None = None,
    ) -> Preprocessing:
        """Learn the preprocessing of ``table``: every column but ``target`` and
        ``drop`` is a feature. The checks and the choice of each column's
        encoding look at every row; the statistics (scales, fill values,
        categories, classes) come from the training ``rows`` only (default:
        all). ``standardize=False`` keeps numbers (features and regression
        targets) as they are.

        Columns are learned one at a time: ``columns``, (the names, a function
        giving one column's table of all of ``table``'s rows), reads data too
        large for memory a column at a time (``table`` then needs only the
        target); the same code, so the same preprocessing."""
        if task not in TASKS:
            raise DataError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if impute is not None and impute not in IMPUTE:
            raise DataError(
                f"impute must be one of {', '.join(IMPUTE)}, got {impute!r}"
            )
        names, read = columns or (table.names, lambda name: table)
        forced = _forced(names, table.source, target, drop, categorical, numeric)
        learned = [
            _learn_column(
                read(name),
                name,
                rows,
                forced.get(name),
                max_categories,
                impute,
                standardize,
            )  # fmt: skip
            for name in names
            if name != target and name not in drop
        ]
        encodings = [c.encoding for c in learned if c.encoding is not None]
        if not encodings:
            raise DataError(
                f"{table.source}: no feature columns are left besides {target!r}"
            )
        _check_missing([c for c in learned if c.encoding is not None], impute)
        pre = cls._learned(learned, target, task, impute)
        pre._fit_target(one_column(table, target, rows), standardize)
        return pre

    @classmethod
    def _learned(
        cls, learned: list[_Learned], target: str, task: str, impute: str | None
    ) -> Preprocessing:
        """The preprocessing of the learned columns (the target's still to fit)."""
        encodings = [c.encoding for c in learned if c.encoding is not None]
        n = sum(len(e.inputs) for e in encodings)
        pre = cls(encodings, np.zeros(n), np.ones(n), task, target, impute=impute)
        pre.notes = [c.note for c in learned if c.note]
        j = 0
        for c in learned:
            if c.encoding is None:
                continue
            if c.scale is not None:
                pre.x_mean[j], pre.x_scale[j] = c.scale
            j += len(c.encoding.inputs)
        return pre

    def _fit_target(self, train: Table, standardize: bool) -> None:
        col = train.column(self.target)
        if self.task == "classification":
            self.classes = class_labels(col)
            if len(self.classes) < 2:
                raise DataError(
                    f"target {self.target!r} has a single class "
                    f"{quoted(self.classes) or 'and no values'}; a classifier needs "
                    "at least two"
                )
            return
        y = column_numbers(train, col, "target")
        mean, scale = _moments(y, train, self.target) if standardize else (0.0, 1.0)
        self.y_mean, self.y_scale = np.array([mean]), np.array([scale])

    # -- applying it ----------------------------------------------------------------

    def transform(
        self, data: Any, unseen: dict[str, set[str]] | None = None
    ) -> np.ndarray:
        """Standardised inputs X (m, n_0), float64, from a table (or anything
        :func:`~nlayer.tables.as_table` reads; an array in ``features`` order).

        A category the model was not trained on becomes all zeros: it is added
        to ``unseen`` (column -> values) when given, else warned about.
        """
        table = as_table(data, self.features)
        X = self._encode(table, unseen)
        X -= self.x_mean
        X /= self.x_scale
        return X

    def inputs_for(
        self,
        data: Any,
        dtype: Any,
        unseen: dict[str, set[str]] | None = None,
    ) -> np.ndarray:
        """:meth:`transform` in the network's ``dtype``: a value that the dtype
        cannot hold (1e200 in float32) is an error naming the column and rows,
        never an infinity handed to the network."""
        table = as_table(data, self.features)
        X = self.transform(table, unseen)
        with np.errstate(over="ignore"):
            cast = X.astype(dtype, copy=False)
        bad = ~np.isfinite(cast)
        if bad.any():
            rows, cols = np.nonzero(bad)
            r, j = rows[0], cols[0]
            value = X[r, j] * self.x_scale[j] + self.x_mean[j]
            raise DataError(
                f"{table.source}, {table.where(rows[:1])}, column "
                f"{self.inputs[j]!r}: {value:g} is too large for the model's "
                f"{np.dtype(dtype).name} inputs"
            )
        return cast

    def _encode(
        self, table: Table, unseen: dict[str, set[str]] | None = None
    ) -> np.ndarray:
        """The inputs before standardisation (m, n_0): numbers, 0/1, one-hot."""
        missing = [c for c in self.features if c not in table.columns]
        if missing:
            raise DataError(
                f"{table.source}: the model needs the column"
                f"{'s' if len(missing) > 1 else ''} {quoted(missing)}, which "
                f"{'are' if len(missing) > 1 else 'is'} not there"
            )
        check_memory(
            table.n_rows * len(self.x_mean) * 8,
            f"the inputs ({table.n_rows:,} rows × {len(self.x_mean):,} inputs)",
        )
        X = np.zeros((table.n_rows, len(self.x_mean)))
        report = {} if unseen is None else unseen
        j = 0
        for enc in self.columns:
            col = table.columns[enc.name]
            width = len(enc.inputs)
            if enc.kind == "numeric":
                values = column_numbers(table, col, "column")
                X[:, j] = _filled(table, col, values, enc)
            elif enc.kind == "boolean":
                X[:, j] = _booleans(table, col, enc)
            else:
                codes = _category_codes(table, col, enc, report)
                rows = np.flatnonzero(codes >= 0)
                X[rows, j + codes[rows]] = 1.0
            j += width
        if unseen is None:
            for name, new in report.items():
                warnings.warn(
                    f"{table.source}: column {name!r} holds categories the model was "
                    f"not trained on ({quoted(sorted(new), 5)}); they are encoded "
                    "as all zeros",
                    DataWarning,
                    stacklevel=3,
                )
        return X

    def encode(
        self, data: Any, n_outputs: int, column: str | None = None
    ) -> np.ndarray:
        """Targets as the network's Y (m, n_outputs), float64, from the table's
        ``column`` (default: the training target) or an array of values."""
        column = column or self.target
        if isinstance(data, Table):
            table, col = data, data.column(column)
        else:
            col = column_from_values(column, np.asarray(data).reshape(-1))
            table = Table("the targets", {column: col}, len(col))
        if self.classes is None:
            assert self.y_mean is not None and self.y_scale is not None
            y = column_numbers(table, col, "target")
            bad = np.flatnonzero(~np.isfinite(y))
            if len(bad):
                raise DataError(
                    f"{table.source}: target {column!r} is missing or not finite "
                    f"({table.where(bad)})"
                )
            return (y.reshape(-1, 1) - self.y_mean) / self.y_scale
        codes = class_codes(col, self.classes, table)
        if n_outputs == 1:  # one sigmoid output: the probability of classes[1]
            return (codes == 1).astype(np.float64).reshape(-1, 1)
        check_memory(
            len(codes) * len(self.classes) * 8,
            f"the one-hot targets ({len(codes):,} rows × "
            f"{len(self.classes):,} classes)",
        )
        Y = np.zeros((len(codes), len(self.classes)))
        Y[np.arange(len(codes)), codes] = 1.0
        return Y

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


def _check_missing(learned: list[_Learned], impute: str | None) -> None:
    """An error naming the first column with missing cells (and the others),
    unless ``impute`` fills them."""
    gaps = [c for c in learned if len(c.gaps)]
    if impute is not None or not gaps:
        return
    first, rows = gaps[0], gaps[0].gaps
    assert first.encoding is not None
    name = first.encoding.name
    others = [c.encoding.name for c in gaps[1:] if c.encoding is not None]
    more = f"; so do {quoted(others, 3)}" if others else ""
    raise DataError(
        f"{first.table.source}: column {name!r} has {len(rows)} missing "
        f"cell{'s' if len(rows) > 1 else ''} ({first.table.where(rows)}){more}; "
        "fill them, or give --impute mean|median|most_frequent"
    )


def _moments(values: np.ndarray, table: Table, name: str) -> tuple[float, float]:
    """(mean, standard deviation) for standardising; a constant column keeps
    scale 1 (it stays constant: zero)."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean, std = float(np.mean(values)), float(np.std(values))
    if not (np.isfinite(mean) and np.isfinite(std)):
        big = values[np.argmax(np.abs(values))]
        raise DataError(
            f"{table.source}: column {name!r} holds numbers too large to standardise "
            f"(up to {big:g}); rescale the column (e.g. to thousands or a log scale)"
        )
    return mean, std if std > 0 else 1.0


def _filled(table: Table, col: Column, values: np.ndarray, enc: Encoding) -> np.ndarray:
    """Numbers with missing cells filled, or an error naming them; infinity is
    refused (it cannot be standardised)."""
    bad = np.flatnonzero(np.isinf(values))
    if len(bad):
        raise DataError(
            f"{table.source}, {table.where(bad)}, column {col.name!r}: "
            f"{values[bad[0]]} is not a finite number"
        )
    gaps = np.isnan(values)
    if gaps.any():
        if enc.fill is None:
            raise _missing_error(table, col, np.flatnonzero(gaps))
        values = np.where(gaps, float(enc.fill), values)
    return values


def _missing_error(table: Table, col: Column, rows: np.ndarray) -> DataError:
    return DataError(
        f"{table.source}: column {col.name!r} has {len(rows)} missing "
        f"cell{'s' if len(rows) > 1 else ''} ({table.where(rows)}), and the model "
        "has no fill value for it (train with --impute to have one)"
    )


def _booleans(table: Table, col: Column, enc: Encoding) -> np.ndarray:
    assert enc.categories is not None
    false, true = (s.lower() for s in enc.categories)
    if col.numbers is not None:
        texts, codes = [label(v) for v in np.unique(col.numbers)], None
        levels_codes = np.unique(col.numbers, return_inverse=True)[1]
        codes = np.where(np.isnan(col.numbers), -1, levels_codes)
    else:
        assert col.levels is not None and col.codes is not None
        texts, codes = col.levels, col.codes
    value = {false: 0.0, "false": 0.0, "0": 0.0, true: 1.0, "true": 1.0, "1": 1.0}
    lookup = np.array([value.get(t.lower(), np.nan) for t in texts] + [np.inf])
    out = lookup[codes]  # missing (-1) looks up the inf at the end
    bad = np.flatnonzero(np.isnan(out))
    if len(bad):
        raise DataError(
            f"{table.source}, {table.where(bad)}, column {col.name!r}: "
            f"{col.texts(bad[:1])[0]!r} is neither {enc.categories[0]!r} nor "
            f"{enc.categories[1]!r}"
        )
    gaps = np.isinf(out)
    if gaps.any():
        if enc.fill is None:
            raise _missing_error(table, col, np.flatnonzero(gaps))
        out[gaps] = 1.0 if str(enc.fill).lower() == true else 0.0
    return out


def _category_codes(
    table: Table, col: Column, enc: Encoding, unseen: dict[str, set[str]]
) -> np.ndarray:
    """Each row's category index (-1: unseen, all zeros), missing cells filled."""
    assert enc.categories is not None
    index = {c: j for j, c in enumerate(enc.categories)}
    if col.numbers is not None:
        uniques, inverse = np.unique(col.numbers, return_inverse=True)
        texts = [label(v) for v in uniques]
        codes = np.where(np.isnan(col.numbers), -1, inverse)
    else:
        assert col.levels is not None and col.codes is not None
        texts, codes = col.levels, col.codes
    fill = -2 if enc.fill is None else index[str(enc.fill)]
    lookup = np.array([index.get(t, -1) for t in texts] + [fill], dtype=np.int64)
    out = lookup[codes]
    gaps = np.flatnonzero(out == -2)
    if len(gaps):
        raise _missing_error(table, col, gaps)
    new = {texts[c] for c in np.unique(codes[(out == -1) & (codes >= 0)])}
    if new:
        unseen.setdefault(col.name, set()).update(new)
    return out


# -- splits ------------------------------------------------------------------------


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


# -- data larger than memory -------------------------------------------------------


def rows_by_chunk(
    path: str | Path, columns: Sequence[str], rows: np.ndarray
) -> Iterator[tuple[Table, np.ndarray]]:
    """The file rows ``rows`` (m,) of a table file read in chunks: for each
    chunk, those of its rows that are wanted (a Table of ``columns``) and their
    places in ``rows``. The index of places is one int64 per row of the file."""
    if not len(rows):
        return
    place = np.full(int(rows.max()) + 1, -1, dtype=np.int64)
    place[rows] = np.arange(len(rows))
    for chunk in iter_tables(path, dict.fromkeys(columns, "number")):
        local = place[chunk.first_row : chunk.first_row + chunk.n_rows]
        picked = np.flatnonzero(local >= 0)
        if len(picked):
            yield chunk.take(picked), local[picked]


def write_rows(
    path: str | Path,
    pre: Preprocessing,
    rows: np.ndarray,
    n_outputs: int,
    dtype: Any,
    folder: Path,
) -> tuple[np.ndarray, np.ndarray]:
    """The network's X (m, n_0) and Y (m, n_outputs) of the file rows ``rows``
    (m,), in that order, encoded chunk by chunk into ``folder``/X.npy and
    Y.npy and memory-mapped read only. Each row is encoded as in memory (the
    encoding works row by row), so the arrays hold the same bits."""
    shapes = {"X": (len(rows), len(pre.x_mean)), "Y": (len(rows), n_outputs)}
    out = {
        k: np.lib.format.open_memmap(folder / f"{k}.npy", "w+", dtype, shape)
        for k, shape in shapes.items()
    }
    for table, places in rows_by_chunk(path, [*pre.features, pre.target], rows):
        out["X"][places] = pre.inputs_for(table, dtype)
        out["Y"][places] = pre.encode(table, n_outputs)
    for array in out.values():
        array.flush()
    del out  # written: read back without the pages written
    X, Y = (np.load(folder / f"{k}.npy", mmap_mode="r") for k in shapes)
    return X, Y
