"""Tables as practitioners have them: files and in-memory objects, as columns.

The outer ring's reader. A :class:`Table` is a list of named :class:`Column`
objects, each either numbers (float64, NaN where a cell is missing) or text
(integer codes into a list of distinct values, -1 where a cell is missing):
compact, with no Python object per cell, and the same whatever the source.

Sources: CSV files with a header row (comma, semicolon, tab or bar separated,
detected or given; quoted fields; UTF-8 with or without a BOM, or another
encoding; plain or gzip/bz2/xz/zstd/zip compressed; ``-`` for standard input),
Parquet and Arrow/Feather files, and pandas or Polars DataFrames, pyarrow
tables, dicts of columns and 2-D arrays. Files are parsed by pyarrow, imported
only when a file is read: ``import nlayer`` stays NumPy-only.

Messages name the file, the line and the column. pyarrow's fast parser does
not keep line numbers, so when something is wrong the file is scanned again
with the standard library's CSV reader to find the line: the slow path runs
only on the way to an error.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import io
import lzma
import math
import queue
import re
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np


class DataError(ValueError):
    """Data that cannot be used; the message names the file and the place."""


#: cells read as missing: pandas' default list, so that a table means here
#: what it means to the user's pandas
MISSING = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)
DELIMITERS = (",", ";", "\t", "|")
#: what a sample read for sniffing holds at least, when the file has it
SAMPLE_BYTES = 1 << 20
SAMPLE_LINES = 100
#: pyarrow's block size when a whole CSV file is read
CHUNK_BYTES = 1 << 22
#: bytes per piece when a CSV file is read in pieces (predict, evaluate)
PIECE_BYTES = 1 << 24
#: a Parquet file or folder read in chunks: at most CHUNK_ROWS rows a chunk,
#: fewer for a wide table (about CHUNK_CELLS cells, 32 MiB of numbers)
CHUNK_ROWS = 1 << 16
CHUNK_CELLS = 1 << 22

_MAGIC = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"PK\x03\x04": "zip",
}
_DATE = re.compile(
    r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?"
    r"|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
)


def quoted(names: Sequence[Any], limit: int = 8) -> str:
    """'a', 'b', 'c' and 5 more: names for a message, never a wall of text."""
    shown = ", ".join(repr(str(n)) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def pyarrow() -> Any:
    """The pyarrow module, or a DataError saying how to install it."""
    try:
        import pyarrow as pa
        import pyarrow.csv  # noqa: F401  (submodules used through pa)
    except ImportError:
        raise DataError(
            "reading data files needs pyarrow: pip install 'nlayer[cli]' "
            "(or pip install pyarrow)"
        ) from None
    return pa


# -- columns and tables ------------------------------------------------------------


@dataclass
class Column:
    """One column: ``numbers`` (m,) float64 with NaN for missing cells, or text
    as ``codes`` (m,) int32 into ``levels`` with -1 for missing cells.
    ``kind`` is "number", "text" or "date" (dates are kept as text)."""

    name: str
    kind: str
    numbers: np.ndarray | None = None
    codes: np.ndarray | None = None
    levels: list[str] | None = None

    def __len__(self) -> int:
        data = self.numbers if self.numbers is not None else self.codes
        assert data is not None
        return len(data)

    @property
    def missing(self) -> np.ndarray:
        """(m,) bool: the cells that are empty or a missing marker."""
        if self.numbers is not None:
            return np.isnan(self.numbers)
        assert self.codes is not None
        return self.codes < 0

    def level_numbers(self, decimal: str = ".") -> np.ndarray:
        """Text levels parsed as numbers (NaN where a level is not a number)."""
        assert self.levels is not None
        return parse_numbers(self.levels, decimal)

    def take(self, rows: np.ndarray) -> Column:
        if self.numbers is not None:
            return Column(self.name, self.kind, numbers=self.numbers[rows])
        assert self.codes is not None and self.levels is not None
        codes = self.codes[rows]
        # keep only the levels these rows use: a subset knows its own categories
        used = np.unique(codes[codes >= 0])
        remap = np.full(len(self.levels) + 1, -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        levels = [self.levels[i] for i in used]
        return Column(self.name, self.kind, codes=remap[codes], levels=levels)

    def texts(self, rows: np.ndarray) -> list[str]:
        """The cells at ``rows`` as text, for messages."""
        if self.numbers is not None:
            return [label(v) for v in self.numbers[rows]]
        assert self.codes is not None and self.levels is not None
        return [self.levels[c] if c >= 0 else "" for c in self.codes[rows]]


@dataclass
class Table:
    """Named columns of equal length, in their order in the source.

    ``source`` names where the rows came from, for messages; ``locate`` turns
    row indices into the user's terms ("line 7" of a CSV file, "row 7"
    elsewhere); ``first_row`` is this table's offset when a file is read in
    chunks.
    """

    source: str
    columns: dict[str, Column]
    n_rows: int
    locate: Callable[[Sequence[int]], list[str]] = field(repr=False, default=None)  # type: ignore[assignment]
    first_row: int = 0

    def __post_init__(self) -> None:
        if self.locate is None:
            self.locate = rows_from_one

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def column(self, name: str) -> Column:
        if name not in self.columns:
            raise DataError(
                f"{self.source}: no column {name!r}; the columns are "
                f"{quoted(self.names)}"
            )
        return self.columns[name]

    def where(self, rows: np.ndarray | Sequence[int], limit: int = 3) -> str:
        """'line 7' or 'lines 4, 9, 12 and 30 more': rows in the user's terms."""
        rows = np.asarray(rows, dtype=np.int64)
        shown = self.locate([int(r) + self.first_row for r in rows[:limit]])
        unit, numbers = shown[0].split(" ")[0], [s.split(" ", 1)[1] for s in shown]
        text = f"{unit}{'s' if len(rows) > 1 else ''} {', '.join(numbers)}"
        return text + (f" and {len(rows) - limit} more" if len(rows) > limit else "")

    def take(self, rows: np.ndarray) -> Table:
        """The rows at ``rows`` (a sorted index array); locations stay the file's."""
        picked = {n: c.take(rows) for n, c in self.columns.items()}
        first = self.first_row  # a chunk's rows count from its first row
        table = Table(self.source, picked, len(rows), first_row=first)
        table.locate = lambda r: self.locate([int(rows[i - first]) + first for i in r])
        return table


def rows_from_one(rows: Sequence[int]) -> list[str]:
    return [f"row {r + 1}" for r in rows]


def label(v: Any) -> str:
    """A cell as text: 1, 1.0 and "1" are the same, "1"; a float keeps repr."""
    if isinstance(v, (float, np.floating)):
        if math.isnan(v):
            return ""
        if float(v).is_integer() and abs(v) < 2**63:
            return str(int(v))
        return repr(float(v))
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v).strip()


def parse_numbers(texts: Sequence[str], decimal: str = ".") -> np.ndarray:
    """Each text as a float64, NaN where it is not a number (or is missing).

    Only ASCII numbers count: Python and NumPy would also read "1_000", "１"
    (full width) and "١" (Arabic-Indic) as numbers, which no CSV writer means.
    """
    if decimal != ".":
        texts = [t.replace(decimal, ".") for t in texts]
    joined = "".join(texts)
    if joined.isascii() and "_" not in joined:
        try:
            return np.array(texts, dtype=np.float64)  # fast: every text a number
        except ValueError:
            pass
    out = np.full(len(texts), np.nan)
    for i, t in enumerate(texts):
        if t.isascii() and "_" not in t:
            try:
                out[i] = float(t)
            except ValueError:
                continue
    return out


def text_column(name: str, values: Sequence[Any], kind: str = "text") -> Column:
    """A text column from cells (None or NaN for missing), stripped of spaces."""
    index: dict[str, int] = {}
    codes = np.empty(len(values), dtype=np.int32)
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and math.isnan(v)) or _is_na(v):
            codes[i] = -1
            continue
        codes[i] = index.setdefault(label(v), len(index))
    return _tidy(Column(name, kind, codes=codes, levels=list(index)))


def _is_na(v: Any) -> bool:
    # pandas.NA and NaT are missing; asking them == raises or is not a bool
    return type(v).__name__ in ("NAType", "NaTType")


def _tidy(col: Column) -> Column:
    """Strip the text levels of spaces and merge those that become equal; an
    empty level is a missing cell."""
    assert col.levels is not None and col.codes is not None
    stripped = [s.strip() for s in col.levels]
    if (
        stripped == col.levels
        and len(set(stripped)) == len(stripped)
        and "" not in stripped
    ):
        return col
    index: dict[str, int] = {}
    remap = np.empty(len(stripped) + 1, dtype=np.int32)
    remap[-1] = -1  # code -1 (missing) stays missing
    for i, s in enumerate(stripped):
        remap[i] = -1 if s == "" else index.setdefault(s, len(index))
    return Column(col.name, col.kind, codes=remap[col.codes], levels=list(index))


# -- from Arrow ------------------------------------------------------------------


def _flat(data: Any) -> Any:
    """One pyarrow Array from an Array or a ChunkedArray (dictionaries unified)."""
    pa = pyarrow()
    if isinstance(data, pa.ChunkedArray):
        return data.chunk(0) if data.num_chunks == 1 else data.combine_chunks()
    return data


_NUMPY = {"double": np.float64, "int32": np.int32, "int64": np.int64}


def to_numpy(arr: Any) -> np.ndarray:
    """A pyarrow array of float64 or int32/int64 as a NumPy view of its data,
    nulls as NaN (floats) or -1 (integers). Read from the buffers because
    pyarrow's own conversions import pandas, 0.2 s of every command's time."""
    n, offset = len(arr), arr.offset
    validity, data = arr.buffers()[:2]
    dtype = _NUMPY[str(arr.type)]
    if data is None:  # an array of nulls only
        values = np.zeros(n, dtype)
    else:
        values = np.frombuffer(data, dtype=dtype, count=offset + n)[offset:]
    if arr.null_count:
        bits = np.unpackbits(np.frombuffer(validity, np.uint8), bitorder="little")
        present = bits[offset : offset + n].astype(bool)
        values = np.where(present, values, np.nan if dtype is np.float64 else -1)
    return values


def from_numpy(values: np.ndarray) -> Any:
    """A pyarrow array sharing a NumPy array's memory (see :func:`to_numpy`)."""
    pa = pyarrow()
    values = np.ascontiguousarray(values)
    kind = {np.dtype(np.float64): pa.float64(), np.dtype(np.int32): pa.int32()}
    return pa.Array.from_buffers(
        kind[values.dtype], len(values), [None, pa.py_buffer(values)]
    )


def strings(texts: Sequence[str]) -> Any:
    """A pyarrow string array from Python strings, built from its buffers."""
    pa = pyarrow()
    data = [t.encode() for t in texts]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(data), buffers)


def to_arrow(table: Table, escape: Callable[[str], str] | None = None) -> Any:
    """A pyarrow table of a Table's columns: numbers as float64, text as a
    dictionary array of its levels (``escape``d, when given)."""
    pa = pyarrow()
    arrays = []
    for col in table.columns.values():
        if col.numbers is not None:
            arrays.append(from_numpy(col.numbers))
            continue
        assert col.codes is not None and col.levels is not None
        levels = [escape(v) for v in col.levels] if escape else col.levels
        codes = col.codes.astype(np.int32)
        validity = None
        if (codes < 0).any():  # missing cells: nulls, by a validity bitmap
            bits = np.packbits(codes >= 0, bitorder="little")
            validity, codes = pa.py_buffer(bits), np.maximum(codes, 0)
        indices = pa.Array.from_buffers(
            pa.int32(), len(codes), [validity, pa.py_buffer(codes)]
        )
        arrays.append(pa.DictionaryArray.from_arrays(indices, strings(levels)))
    return pa.table(arrays, names=table.names)


def column_from_arrow(name: str, data: Any, where: str) -> Column:
    """A Column from a pyarrow (Chunked)Array; refuse what is not a table cell."""
    pa = pyarrow()
    data = _flat(data)
    t = data.type
    if pa.types.is_float64(t):
        return Column(name, "number", numbers=np.asarray(to_numpy(data), np.float64))
    if pa.types.is_dictionary(t) and pa.types.is_string(t.value_type):
        indices = data.indices
        if str(indices.type) not in _NUMPY:
            indices = indices.cast(pa.int32())
        codes = to_numpy(indices).astype(np.int32)
        return _tidy(
            Column(name, "text", codes=codes, levels=data.dictionary.to_pylist())
        )
    import pyarrow.compute as pc  # the rarer types, from Parquet or DataFrames

    if pa.types.is_dictionary(t):
        data = pc.cast(data, t.value_type)  # a dictionary of numbers, say
        t = data.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        return column_from_arrow(name, pc.cast(data, pa.float64()), where)
    if pa.types.is_boolean(t):
        codes = to_numpy(pc.cast(data, pa.int32()))
        return Column(name, "text", codes=codes, levels=["false", "true"])
    kind = "text"
    if any(
        f(t) for f in (pa.types.is_date, pa.types.is_timestamp, pa.types.is_time)
    ) or pa.types.is_duration(t):
        data, kind = pc.cast(data, pa.string()), "date"
        t = data.type
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        data = pc.cast(data, pa.string())
        t = data.type
    if not pa.types.is_string(t):
        raise DataError(
            f"{where}: column {name!r} holds {t}; nlayer reads numbers, text and "
            "true/false columns"
        )
    col = column_from_arrow(name, pc.dictionary_encode(data), where)
    col.kind = kind
    return col


def table_from_arrow(data: Any, source: str) -> Table:
    pa = pyarrow()
    if isinstance(data, pa.RecordBatch):
        data = pa.Table.from_batches([data])
    data = data.unify_dictionaries() if hasattr(data, "unify_dictionaries") else data
    names = [str(n) for n in data.column_names]
    _check_names(names, source)
    columns = {
        n: column_from_arrow(n, data.column(i), source) for i, n in enumerate(names)
    }
    return Table(source, columns, data.num_rows)


def _check_names(names: Sequence[str], source: str) -> None:
    seen: set[str] = set()
    for j, c in enumerate(names):
        if not c.strip():
            raise DataError(f"{source}: column {j + 1} of the header has no name")
        if c in seen:
            raise DataError(f"{source}: the header names column {c!r} twice")
        seen.add(c)


# -- from objects in memory ----------------------------------------------------------


def as_table(data: Any, names: Sequence[str] | None = None) -> Table:
    """A Table from a path, a DataFrame (pandas, Polars), a pyarrow table, a
    dict of columns, or a 2-D array whose columns are ``names`` in order."""
    if isinstance(data, Table):
        return data
    if isinstance(data, (str, Path)):
        return read_table(data)
    module = type(data).__module__.split(".")[0]
    if module == "pandas" and hasattr(data, "columns"):
        return _from_pandas(data)
    if module in ("pyarrow", "polars") or hasattr(data, "__arrow_c_stream__"):
        pa = pyarrow()
        table = data if module == "pyarrow" else pa.table(data)
        return table_from_arrow(table, f"the {type(data).__name__}")
    if isinstance(data, Mapping):
        return _from_columns(
            {str(k): v for k, v in data.items()}, "the dict of columns"
        )
    if isinstance(data, np.ma.MaskedArray):
        raise DataError(
            "masked arrays are not read: their mask would be ignored; pass "
            "data.filled(np.nan) to mark the masked cells as missing"
        )
    A = np.asarray(data, dtype=object if _has_text(data) else None)
    if A.ndim != 2:
        raise DataError(
            f"a table must be 2-D (rows, columns), got an array of shape {A.shape}"
        )
    if names is None:
        names = [f"x{j}" for j in range(A.shape[1])]
    if A.shape[1] != len(names):
        raise DataError(
            f"the array has {A.shape[1]} columns, but the model reads "
            f"{len(names)}: {quoted(names)}"
        )
    return _from_columns({n: A[:, j] for j, n in enumerate(names)}, "the array")


def _has_text(data: Any) -> bool:
    return isinstance(data, np.ndarray) and data.dtype.kind in "OUS"


def _from_columns(columns: Mapping[str, Any], source: str) -> Table:
    out: dict[str, Column] = {}
    n_rows = None
    for name, values in columns.items():
        col = column_from_values(name, values)
        if n_rows is not None and len(col) != n_rows:
            raise DataError(
                f"{source}: column {name!r} has {len(col)} values, "
                f"the columns before it {n_rows}"
            )
        n_rows = len(col)
        out[name] = col
    if n_rows is None:
        raise DataError(f"{source} has no columns")
    return Table(source, out, n_rows)


def column_from_values(name: str, values: Any) -> Column:
    """A Column from a 1-D sequence of numbers, booleans or text."""
    if isinstance(values, np.ma.MaskedArray):
        raise DataError(
            f"column {name!r} is a masked array: its mask would be ignored; pass "
            "values.filled(np.nan) to mark the masked cells as missing"
        )
    A = np.asarray(values)
    if A.ndim != 1:
        raise DataError(f"column {name!r} must be 1-D, got shape {A.shape}")
    if A.dtype.kind == "b":
        return Column(name, "text", codes=A.astype(np.int32), levels=["false", "true"])
    if A.dtype.kind in "iuf":
        return Column(name, "number", numbers=A.astype(np.float64))
    if A.dtype.kind == "M":
        return text_column(name, [str(v) for v in A], kind="date")
    if A.dtype.kind not in "OUS":
        raise DataError(
            f"column {name!r} holds {A.dtype}; nlayer reads numbers and text"
        )
    cells = A.tolist()
    present = [v for v in cells if not _missing_cell(v)]
    if present and all(_is_number(v) for v in present):
        return Column(
            name,
            "number",
            numbers=np.array(
                [np.nan if _missing_cell(v) else float(v) for v in cells], np.float64
            ),
        )
    return text_column(name, cells)


def _missing_cell(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or _is_na(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(
        v, (bool, np.bool_)
    )


def _from_pandas(df: Any) -> Table:
    names = [str(c) for c in df.columns]
    _check_names(names, "the DataFrame")
    columns: dict[str, Column] = {}
    for name, (_, series) in zip(names, df.items(), strict=True):
        dtype = series.dtype
        kind = getattr(dtype, "kind", "O")
        if str(dtype) == "category":
            codes = np.asarray(series.cat.codes, dtype=np.int32)
            levels = [label(c) for c in series.cat.categories]
            columns[name] = _tidy(Column(name, "text", codes=codes, levels=levels))
        elif str(dtype) in ("bool", "boolean"):
            values = series.to_numpy(dtype=object)
            codes = np.array(
                [-1 if _missing_cell(v) else int(bool(v)) for v in values], np.int32
            )
            columns[name] = Column(name, "text", codes=codes, levels=["false", "true"])
        elif kind in "iuf":  # numpy and nullable (Int64, Float64) numbers
            numbers = series.to_numpy(dtype=np.float64, na_value=np.nan)
            columns[name] = Column(name, "number", numbers=numbers)
        elif kind in "mM":
            columns[name] = text_column(name, [str(v) for v in series], kind="date")
        else:
            columns[name] = column_from_values(name, series.to_numpy(dtype=object))
    table = Table("the DataFrame", columns, len(df))
    index = df.index
    if not (index.dtype.kind in "iu" and index.equals(type(index)(range(len(df))))):
        table.locate = lambda rows: [f"index {_index_label(index[r])}" for r in rows]
    return table


def _index_label(v: Any) -> str:
    return repr(v) if isinstance(v, str) else str(v)


# -- files -----------------------------------------------------------------------


@dataclass(frozen=True)
class CsvOptions:
    """How to read a CSV file: ``sep`` (None: detect), ``encoding`` (None:
    UTF-8, with or without a BOM), ``decimal`` mark, extra ``na`` markers."""

    sep: str | None = None
    encoding: str | None = None
    decimal: str = "."
    na: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.sep is not None and (len(self.sep) != 1 or self.sep in '"\r\n'):
            raise DataError(
                f"the separator must be one character (not a quote or a line "
                f"break), got {self.sep!r}; for tab give --sep '\\t'"
            )
        if self.decimal not in (".", ","):
            raise DataError(
                f"the decimal mark must be '.' or ',', got {self.decimal!r}"
            )
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise DataError(f"unknown encoding {self.encoding!r}") from None

    @property
    def missing(self) -> list[str]:
        return [*MISSING, *self.na]


class _Source:
    """A file (or standard input) opened as bytes: its format, compression and
    a way to read it from the start again."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.name = "standard input" if self.path == "-" else self.path
        self._stdin_head = b""
        if self.path == "-":
            self.compression, head = None, self._peek_stdin()
        else:
            p = Path(path)
            if not p.exists():
                raise DataError(f"{self.name}: no such file")
            if p.is_dir():
                raise DataError(f"{self.name} is a directory, not a data file")
            try:
                with p.open("rb") as f:
                    head = f.read(8)
            except OSError as e:
                raise DataError(f"{self.name}: cannot read it ({e.strerror})") from None
            self.compression = next(
                (c for m, c in _MAGIC.items() if head.startswith(m)), None
            )
        self.format = "csv"
        if head.startswith(b"PAR1"):
            self.format = "parquet"
        elif head.startswith(b"ARROW1") or head.startswith(b"FEA1"):
            self.format = "feather"
        elif head.startswith(b"\xff\xff\xff\xff"):
            self.format = "arrow-stream"
        if self.compression == "zip":
            self._zip_member()

    def _peek_stdin(self) -> bytes:
        self._stdin = sys.stdin.buffer
        self._stdin_head, self._stdin_whole = _read_head(self._stdin)
        self._opened = False
        head = self._stdin_head[:8]
        for m, c in _MAGIC.items():
            if head.startswith(m):
                raise DataError(
                    f"standard input is {c}-compressed; decompress it first "
                    f"(or give the file's name)"
                )
        return head

    def _zip_member(self) -> None:
        try:
            with zipfile.ZipFile(self.path) as z:
                names = [n for n in z.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile as e:
            raise DataError(f"{self.name}: not a readable zip file ({e})") from None
        if any(n.startswith("xl/") or n == "[Content_Types].xml" for n in names):
            raise DataError(
                f"{self.name} is a spreadsheet (xlsx); nlayer reads CSV, Parquet "
                "and Arrow files: save it as CSV first"
            )
        if len(names) != 1:
            raise DataError(
                f"{self.name}: a zip file must hold exactly one table; it holds "
                f"{len(names)}: {quoted(names)}"
            )
        self.member = names[0]

    def open(self) -> BinaryIO:
        """A fresh binary stream of the (decompressed) content."""
        if self.path == "-":
            if self._opened:
                raise DataError("standard input can be read only once")
            self._opened = True
            return _Prefixed(self._stdin_head, self._stdin)  # type: ignore[return-value]
        c = self.compression
        if c == "gzip":
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        if c == "bz2":
            return bz2.open(self.path, "rb")  # type: ignore[return-value]
        if c == "xz":
            return lzma.open(self.path, "rb")  # type: ignore[return-value]
        if c == "zip":
            z = zipfile.ZipFile(self.path)
            return z.open(self.member)  # type: ignore[return-value]
        if c == "zstd":
            pa = pyarrow()
            return pa.input_stream(self.path, compression="zstd")
        return open(self.path, "rb")  # noqa: SIM115

    def for_arrow(self) -> Any:
        """What pyarrow reads fastest: the path itself when it is a plain file."""
        pa = pyarrow()
        if self.path == "-" or self.compression in ("xz", "zip"):
            return self.open()
        if self.compression in ("gzip", "bz2", "zstd"):
            return pa.input_stream(self.path, compression=self.compression)
        return self.path


class _Prefixed(io.RawIOBase):
    """Bytes already read (a sniffed head), then the rest of a stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        if len(self._head):
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._rest.read(len(b))
        b[: len(data)] = data
        return len(data)


@dataclass
class _Csv:
    """What sniffing a CSV file found: the separator, the header, the kind of
    each column in the first rows, the encoding, and the longest line."""

    sep: str
    header: list[str]
    kinds: list[str]
    encoding: str
    line_bytes: int


def _read_head(stream: BinaryIO) -> tuple[bytes, bool]:
    """The first bytes of a stream, enough for sniffing; and whether that is all."""
    chunks: list[bytes] = []
    size = lines = 0
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)
        size += len(chunk)
        lines += chunk.count(b"\n")
        if lines > 2 and (size >= SAMPLE_BYTES or lines > SAMPLE_LINES):
            return b"".join(chunks), False


def _sample(source: _Source) -> tuple[bytes, bool]:
    """The first lines of the content (whole lines), and whether that is all."""
    if source.path == "-":
        data, whole = source._stdin_head, source._stdin_whole
    else:
        with source.open() as f:
            data, whole = _read_head(f)
    return (data, True) if whole else (data[: data.rfind(b"\n") + 1], False)


def _sniff(source: _Source, options: CsvOptions) -> _Csv:
    raw, whole = _sample(source)
    encoding = options.encoding or "utf-8-sig"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{source.name}, line {line}: not {_encoding_name(encoding)} text "
            f"(byte 0x{raw[e.start]:02x}); give the file's encoding, e.g. "
            "--encoding latin-1"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise DataError(f"{source.name} is empty")
    sep = options.sep or _detect_separator(text)
    with _long_fields():
        rows = [r for r in csv.reader(io.StringIO(text), delimiter=sep) if r]
    header = [c.strip() for c in rows[0]]
    _check_names(header, source.name)
    if len(rows) == 1 and whole:
        raise DataError(f"{source.name} has a header but no data rows")
    kinds = []
    missing = set(options.missing)
    for j in range(len(header)):
        cells = [r[j].strip() for r in rows[1:] if j < len(r)]
        cells = [c for c in cells if c not in missing]
        if cells and all(_DATE.fullmatch(c) for c in cells):
            kinds.append("date")
        elif not np.isnan(parse_numbers(cells, options.decimal)).any():
            kinds.append("number")  # every sampled cell a number (or none sampled)
        else:
            kinds.append("text")
    longest = max(len(line) for line in raw.split(b"\n"))
    return _Csv(sep, header, kinds, options.encoding or "utf8", longest)


def _encoding_name(encoding: str) -> str:
    """'utf-8' for utf8, utf-8-sig, UTF8: the name a user recognises."""
    return codecs.lookup(encoding).name.replace("-sig", "").replace("utf_8", "utf-8")


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """The standard library's CSV reader without its 128 KiB limit on a field:
    a line of 10⁵ cells is one field under a wrong separator. Restored after."""
    old = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _detect_separator(text: str) -> str:
    """The delimiter that splits the first lines into equally many fields, the
    most; failing that, the one that splits the header the most."""
    lines = text.splitlines()[:50]
    best, best_fields, widest, widest_fields = None, 1, ",", 1
    for sep in DELIMITERS:
        with _long_fields():
            counts = [len(r) for r in csv.reader(lines, delimiter=sep) if r]
        if len(set(counts)) == 1 and counts[0] > best_fields:
            best, best_fields = sep, counts[0]
        if counts and counts[0] > widest_fields:
            widest, widest_fields = sep, counts[0]
    return best or widest


def _csv_options(sniffed: _Csv, options: CsvOptions, types: dict[str, Any]) -> dict:
    pa = pyarrow()
    import pyarrow.csv as pcsv

    n = len(sniffed.header)
    return {
        "read_options": pcsv.ReadOptions(
            column_names=sniffed.header,
            skip_rows=1,
            encoding=sniffed.encoding.replace("-sig", ""),
            # pyarrow's cost per block grows with the columns: a wide file gets
            # blocks of many lines (10⁵ columns read in seconds, not minutes)
            block_size=int(min(1 << 28, max(CHUNK_BYTES, 64 * sniffed.line_bytes))),
            # and one thread: faster there (measured 1.0 s against 1.5 s)
            use_threads=n <= 10_000,
        ),
        "parse_options": pcsv.ParseOptions(
            delimiter=sniffed.sep, newlines_in_values=True
        ),
        "convert_options": pcsv.ConvertOptions(
            column_types={
                k: (
                    pa.float64()
                    if v == "number"
                    else pa.dictionary(pa.int32(), pa.string())
                )
                for k, v in types.items()
            },
            include_columns=list(types),
            null_values=options.missing,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            decimal_point=options.decimal,
        ),
    }


_CONVERSION = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+)")


def read_table(
    path: str | Path,
    options: CsvOptions | None = None,
    columns: Sequence[str] | None = None,
) -> Table:
    """A whole table file (CSV, Parquet, Arrow/Feather); with ``columns``,
    only those."""
    options = options or CsvOptions()
    source = _Source(path)
    if source.format != "csv":
        return _read_arrow_file(source, columns)
    sniffed = _sniff(source, options)
    wanted = sniffed.header if columns is None else list(columns)
    _require(wanted, sniffed.header, source.name)
    kinds = dict(zip(sniffed.header, sniffed.kinds, strict=True))
    types = {c: kinds[c] for c in wanted}
    pa = pyarrow()
    import pyarrow.csv as pcsv

    try:
        data = pcsv.read_csv(
            source.for_arrow(), **_csv_options(sniffed, options, types)
        )
    except pa.ArrowInvalid as e:
        if not _CONVERSION.search(str(e)) or "double" not in str(e):
            _explain(source, sniffed, options, e)
        # a column that looked numeric in the first rows is not: read every
        # such column as text, and turn those that are numbers back below
        types = {c: "text" if t == "number" else t for c, t in types.items()}
        try:
            data = pcsv.read_csv(
                source.for_arrow(), **_csv_options(sniffed, options, types)
            )
        except pa.ArrowInvalid as e2:
            _explain(source, sniffed, options, e2)
    table = _csv_table(data, source, sniffed, options, kinds)
    return table


def _csv_table(
    data: Any, source: _Source, sniffed: _Csv, options: CsvOptions, kinds: dict
) -> Table:
    out = {}
    for i, name in enumerate(data.column_names):
        col = column_from_arrow(name, data.column(i), source.name)
        if kinds[name] == "date":
            col.kind = "date"
        elif col.codes is not None and kinds[name] == "number":
            numbers = col.level_numbers(options.decimal)
            if not np.isnan(numbers).any():  # every level a number after all
                codes = col.codes
                values = np.where(codes >= 0, numbers[np.maximum(codes, 0)], np.nan)
                col = Column(name, "number", numbers=values)
        out[name] = col
    table = Table(source.name, out, data.num_rows)
    table.locate = _line_finder(source, sniffed)
    return table


def _require(wanted: Sequence[str], header: Sequence[str], name: str) -> None:
    known = set(header)  # a set: a header of 10⁵ columns is checked at once
    missing = [c for c in wanted if c not in known]
    if missing:
        raise DataError(
            f"{name}: no column{'s' if len(missing) > 1 else ''} {quoted(missing)}; "
            f"the columns are {quoted(list(header))}"
        )


def _read_arrow_file(source: _Source, columns: Sequence[str] | None) -> Table:
    pa = pyarrow()
    try:
        if source.format == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(source.path)
            if columns is not None:
                _require(columns, schema.names, source.name)
            data = pq.read_table(source.path, columns=columns)
        else:
            data = _read_ipc(source)
            if columns is not None:
                _require(columns, data.column_names, source.name)
                data = data.select(list(columns))
    except (pa.ArrowException, OSError) as e:
        raise DataError(
            f"{source.name}: not a readable {source.format} file ({e})"
        ) from None
    return table_from_arrow(data, source.name)


def _read_ipc(source: _Source) -> Any:
    pa = pyarrow()
    import pyarrow.feather as feather

    with source.open() as f:
        if source.format == "arrow-stream":
            with pa.ipc.open_stream(f) as reader:
                return reader.read_all()
        return feather.read_table(f if source.path == "-" else source.path)


def iter_tables(
    path: str | Path,
    columns: Mapping[str, str],
    options: CsvOptions | None = None,
    rows_multiple: int = 1,
) -> Iterator[Table]:
    """A table file, or a folder of Parquet files (a data set, its files in
    the order of their paths), in chunks of rows, with only ``columns`` (name
    -> "number" or "text"): memory that does not grow with the file. Every
    chunk but the last holds a multiple of ``rows_multiple`` rows; each
    chunk's ``first_row`` is its place in the whole."""
    options = options or CsvOptions()
    if is_dataset(path):
        yield from _dataset_chunks(Path(path), columns, rows_multiple)
        return
    if is_npy(path):
        yield from _npy_chunks(path, columns)
        return
    source = _Source(path)
    if source.format == "parquet":
        yield from _parquet_chunks(source, columns, rows_multiple)
    elif source.format != "csv":
        yield _read_arrow_file(source, list(columns))
    else:
        yield from _csv_chunks(source, columns, options, rows_multiple)


def chunk_rows(n_columns: int, multiple: int = 1) -> int:
    """Rows per chunk of a Parquet file or folder of ``n_columns`` columns: at
    most CHUNK_ROWS, about CHUNK_CELLS cells, a multiple of ``multiple``."""
    rows = min(CHUNK_ROWS, max(1024, CHUNK_CELLS // max(1, n_columns)))
    return multiple * max(1, rows // multiple)


def is_dataset(path: str | Path) -> bool:
    """Whether ``path`` is a folder, read as a data set of Parquet files."""
    return str(path) != "-" and Path(path).is_dir()


def data_bytes(path: str | Path) -> int:
    """The bytes a data file, or every file in a folder, holds on disk."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
    return p.stat().st_size


def is_npy(path: str | Path) -> bool:
    """Whether ``path`` is a NumPy ``.npy`` file (by its first bytes)."""
    if str(path) == "-" or not Path(path).is_file():
        return False
    with open(path, "rb") as f:
        return f.read(6) == b"\x93NUMPY"


def open_npy(path: str | Path) -> np.ndarray:
    """A ``.npy`` file of a 2-D array of numbers, memory-mapped (read only)."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as e:
        raise DataError(f"{path}: not a readable .npy file ({e})") from None
    if array.ndim != 2 or array.dtype.kind not in "biuf":
        raise DataError(
            f"{path}: a .npy file must hold a 2-D array of numbers (rows × "
            f"columns), not a {array.ndim}-D array of {array.dtype}"
        )
    return array


def column_names(path: str | Path) -> list[str]:
    """The columns of a Parquet file, a folder of Parquet files or a ``.npy``
    file (named "0", "1", …), without reading the rows."""
    if is_npy(path):
        return [str(j) for j in range(open_npy(path).shape[1])]
    if is_dataset(path):
        return [str(n) for n in _parquet_dataset(Path(path)).schema.names]
    source = _Source(path)
    if source.format != "parquet":
        raise DataError(
            f"{source.name} is a {source.format} file; data are read out of core "
            "from Parquet files, folders of them and .npy files: convert it"
        )
    import pyarrow.parquet as pq

    try:
        return [str(n) for n in pq.read_schema(source.path).names]
    except (pyarrow().ArrowException, OSError) as e:
        raise DataError(f"{source.name}: not a readable parquet file ({e})") from None


def read_column(path: str | Path, name: str) -> Table:
    """One column of a Parquet file, a folder of Parquet files or a ``.npy``
    file, whole, the other columns never read: the Column that reading the
    whole table gives (the same conversion)."""
    if is_npy(path):
        array = open_npy(path)
        j = int(name)
        values = np.empty(len(array))
        for start in range(0, len(array), CHUNK_ROWS):  # bounded reads
            values[start : start + CHUNK_ROWS] = array[start : start + CHUNK_ROWS, j]
        return Table(
            str(path), {name: Column(name, "number", numbers=values)}, len(array)
        )
    if is_dataset(path):
        dataset = _parquet_dataset(Path(path))
        _require([name], dataset.schema.names, str(path))
        data = _dataset_read(dataset, [name], str(path))
        table = table_from_arrow(data, str(path))
    else:
        table = read_table(path, columns=[name])
    # pyarrow's allocator keeps what a column needed while read; one column
    # after another, that would grow the process by a column's size each time
    # (measured: 210 MB instead of 67 MB after 16 columns of 2·10⁶ rows)
    pyarrow().default_memory_pool().release_unused()
    return table


def _parquet_dataset(path: Path) -> Any:
    """A folder of Parquet files as a pyarrow data set, its files in the order
    of their paths; every file must have the first one's columns and types."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    pa = pyarrow()
    files = sorted(str(f) for f in path.rglob("*.parquet") if f.is_file())
    if not files:
        raise DataError(f"{path}: a folder with no .parquet files in it")
    try:
        schema = pq.read_schema(files[0])
        for f in files[1:]:
            other = pq.read_schema(f)
            if not other.equals(schema, check_metadata=False):
                raise DataError(
                    f"{f}: its columns ({', '.join(map(str, other))}) differ from "
                    f"those of {files[0]} ({', '.join(map(str, schema))}); every "
                    "file of a data set needs the same columns and types"
                )
        return ds.dataset(files, schema=schema, format="parquet")
    except (pa.ArrowException, OSError) as e:
        raise DataError(
            f"{path}: not a readable folder of Parquet files ({e})"
        ) from None


def _dataset_read(dataset: Any, columns: list[str], where: str) -> Any:
    """Some columns of a Parquet data set, whole, as a pyarrow Table."""
    pa = pyarrow()
    try:
        return dataset.to_table(columns=columns)
    except (pa.ArrowException, OSError) as e:
        raise DataError(
            f"{where}: not a readable folder of Parquet files ({e})"
        ) from None


def _dataset_chunks(
    path: Path, columns: Mapping[str, str], rows_multiple: int
) -> Iterator[Table]:
    """A folder of Parquet files in record batches of a bounded size, the files
    in the order of their paths, one after the other."""
    pa = pyarrow()
    dataset = _parquet_dataset(path)
    _require(list(columns), dataset.schema.names, str(path))
    first, size = 0, chunk_rows(len(columns), rows_multiple)
    try:
        batches: Iterator[Any] = (
            batch
            for fragment in dataset.get_fragments()
            for batch in fragment.to_batches(
                columns=list(columns), batch_size=size, use_threads=False
            )
        )
        if rows_multiple > 1:
            batches = _aligned(batches, rows_multiple)
        for batch in batches:
            if not batch.num_rows:
                continue
            table = table_from_arrow(batch, str(path))
            table.first_row = first
            first += table.n_rows
            yield table
    except (pa.ArrowException, OSError) as e:
        raise DataError(
            f"{path}: not a readable folder of Parquet files ({e})"
        ) from None


def _npy_chunks(path: str | Path, columns: Mapping[str, str]) -> Iterator[Table]:
    """A ``.npy`` file's rows in chunks, its columns named "0", "1", …"""
    array = open_npy(path)
    _require(list(columns), [str(j) for j in range(array.shape[1])], str(path))
    picked = [int(c) for c in columns]
    step = chunk_rows(array.shape[1])
    for first in range(0, len(array), step):
        block = np.asarray(array[first : first + step], dtype=np.float64)
        cols = {
            c: Column(c, "number", numbers=block[:, j])
            for c, j in zip(columns, picked, strict=True)
        }
        yield Table(str(path), cols, len(block), first_row=first)


def _parquet_chunks(
    source: _Source, columns: Mapping[str, str], rows_multiple: int
) -> Iterator[Table]:
    """A Parquet file's row groups, re-cut into chunks of a multiple of
    ``rows_multiple`` rows."""
    import pyarrow.parquet as pq

    pa = pyarrow()
    try:
        pf = pq.ParquetFile(source.path)
        _require(list(columns), pf.schema_arrow.names, source.name)
        first = 0
        batch_rows = chunk_rows(len(columns), rows_multiple)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=list(columns)):
            table = table_from_arrow(batch, source.name)
            table.first_row = first
            first += table.n_rows
            yield table
    except (pa.ArrowException, OSError) as e:
        raise DataError(f"{source.name}: not a readable parquet file ({e})") from None


def _csv_chunks(
    source: _Source,
    columns: Mapping[str, str],
    options: CsvOptions,
    rows_multiple: int,
) -> Iterator[Table]:
    """A CSV file parsed by pyarrow in pieces, as chunks of Tables (errors
    name the line)."""
    import pyarrow.csv as pcsv

    pa = pyarrow()
    sniffed = _sniff(source, options)
    _require(list(columns), sniffed.header, source.name)
    kinds = dict(zip(sniffed.header, sniffed.kinds, strict=True))
    types = {c: "text" if kinds[c] == "date" else t for c, t in columns.items()}
    locate = _line_finder(source, sniffed)
    csv_options = _csv_options(sniffed, options, types)
    if _ascii_compatible(sniffed.encoding):
        # pieces cut at line breaks, each parsed by pyarrow on every core:
        # faster than its one-block-at-a-time streaming reader
        read_options = csv_options["read_options"]
        csv_options["read_options"] = pcsv.ReadOptions(
            column_names=sniffed.header,
            encoding=read_options.encoding,
            block_size=max(read_options.block_size // 4, 1 << 20),
        )
        batches = (
            pcsv.read_csv(pa.BufferReader(piece), **csv_options)
            for piece in _pieces(source)
        )
    else:  # UTF-16 and the like: no byte is a line break on its own
        batches = pcsv.open_csv(source.for_arrow(), **csv_options)
    first = 0
    try:
        for batch in _aligned(_prefetched(batches), rows_multiple):
            table = _csv_table(batch, source, sniffed, options, kinds)
            table.locate, table.first_row = locate, first
            first += table.n_rows
            yield table
    except pa.ArrowInvalid as e:
        _explain(source, sniffed, options, e, first_row=first, types=types)


def _aligned(batches: Iterator[Any], multiple: int) -> Iterator[Any]:
    """pyarrow tables of a multiple of ``multiple`` rows (the last one may be
    shorter): rows left over are carried into the next table (slices, no copy)."""
    pa = pyarrow()
    carry = None
    for batch in batches:
        if not isinstance(batch, pa.Table):
            batch = pa.Table.from_batches([batch])
        if carry is not None:
            batch = pa.concat_tables([carry, batch])
        n = batch.num_rows - batch.num_rows % multiple
        carry = batch.slice(n)
        if n:
            yield batch.slice(0, n)
    if carry is not None and carry.num_rows:
        yield carry


def _ascii_compatible(encoding: str) -> bool:
    try:
        return '\n,;"'.encode(encoding.replace("-sig", "")) == b'\n,;"'
    except (LookupError, UnicodeError):
        return False


def _line_breaks(data: bytes) -> tuple[int, int]:
    """(first, last): offsets just past the first and the last line break of
    ``data`` that lie outside quoted fields (0 where there is none); ``data``
    starts at the beginning of a line. Inside a quoted field the number of
    quotes seen so far is odd (a doubled quote counts twice)."""
    if b'"' not in data:
        return data.find(b"\n") + 1, data.rfind(b"\n") + 1
    b = np.frombuffer(data, dtype=np.uint8)
    quotes = np.cumsum(b == ord('"'))
    breaks = np.flatnonzero(b == ord("\n"))
    free = breaks[quotes[breaks] % 2 == 0]
    if not len(free):
        return 0, 0
    return int(free[0]) + 1, int(free[-1]) + 1


def _pieces(source: _Source) -> Iterator[bytes]:
    """The data rows of a CSV file (after its header line) in pieces of about
    PIECE_BYTES, each ending at a line break outside quotes."""
    carry, header = b"", True
    with source.open() as f:
        while True:
            block = f.read(PIECE_BYTES)
            data = carry + block
            if header:
                first, _ = _line_breaks(data)
                if not first:
                    if not block:
                        return
                    carry = data
                    continue
                data, header = data[first:], False
            _, last = _line_breaks(data)
            if not block:
                if data.strip():
                    yield data
                return
            if last:
                yield data[:last]
            carry = data[last:]


def _prefetched(reader: Any) -> Iterator[Any]:
    """The reader's batches, the next one parsed in a thread while the caller
    works on this one: pyarrow parses without the GIL, so on two cores reading
    and predicting overlap."""
    batches: queue.Queue[Any] = queue.Queue(maxsize=2)

    def read() -> None:
        try:
            for batch in reader:
                batches.put(batch)
        except BaseException as e:  # handed to the caller, raised there
            batches.put(e)
        batches.put(None)

    threading.Thread(target=read, daemon=True).start()
    while (item := batches.get()) is not None:
        if isinstance(item, BaseException):
            raise item
        yield item


# -- the slow path: finding the line of a problem -----------------------------------


def _scan(source: _Source, sniffed: _Csv) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every data row, by the standard library."""
    stream = io.TextIOWrapper(
        source.open(),
        encoding=sniffed.encoding.replace("utf8", "utf-8-sig"),
        newline="",
    )
    with stream, _long_fields():
        reader = csv.reader(stream, delimiter=sniffed.sep)
        next(reader, None)  # the header
        line = reader.line_num
        for row in reader:
            start, line = line + 1, reader.line_num
            if row:
                yield start, row


def _line_finder(
    source: _Source, sniffed: _Csv
) -> Callable[[Sequence[int]], list[str]]:
    def locate(rows: Sequence[int]) -> list[str]:
        if source.path == "-":
            return rows_from_one(rows)  # standard input cannot be read twice
        wanted = set(rows)
        lines: dict[int, int] = {}
        for i, (line, _) in enumerate(_scan(source, sniffed)):
            if i in wanted:
                lines[i] = line
                if len(lines) == len(wanted):
                    break
        return [f"line {lines[r]}" if r in lines else f"row {r + 1}" for r in rows]

    return locate


def _explain(
    source: _Source,
    sniffed: _Csv,
    options: CsvOptions,
    error: Exception,
    first_row: int = 0,
    types: Mapping[str, str] | None = None,
) -> None:
    """Raise a DataError naming the line of what pyarrow refused."""
    message = str(error)
    n = len(sniffed.header)
    conversion = _CONVERSION.search(message)
    if source.path != "-":
        try:
            for line, row in _scan(source, sniffed):
                if len(row) != n:
                    raise DataError(
                        f"{source.name}, line {line}: {len(row)} cells, but the "
                        f"header has {n} columns"
                    )
                if conversion and conversion[2] == "double" and types:
                    for name, kind in types.items():
                        if kind != "number":
                            continue
                        cell = row[sniffed.header.index(name)].strip()
                        if cell in options.missing:
                            continue
                        if np.isnan(parse_numbers([cell], options.decimal)[0]):
                            raise DataError(
                                f"{source.name}, line {line}, column {name!r}: "
                                f"{cell!r} is not a number, but the model reads "
                                "this column as numbers"
                            )
        except UnicodeDecodeError:
            pass  # reported below
        except csv.Error as e:
            raise DataError(f"{source.name}: not a readable CSV file ({e})") from None
    if "UTF8" in message or "decode" in message.lower():
        where = source.name
        if source.path != "-":
            decoder = codecs.getincrementaldecoder(sniffed.encoding)()
            with source.open() as f:
                for number, raw in enumerate(f, start=1):
                    try:
                        decoder.decode(raw)
                    except UnicodeDecodeError:
                        where += f", line {number}"
                        break
        raise DataError(
            f"{where}: not {_encoding_name(sniffed.encoding)} text; give the "
            "file's encoding, e.g. --encoding latin-1"
        ) from None
    raise DataError(f"{source.name}: not a readable CSV file ({message})") from None


def csv_text(cell: str) -> str:
    """A cell made safe to open in a spreadsheet: text that a spreadsheet would
    run as a formula (=, +, -, @, tab, carriage return first) gets a leading
    apostrophe (OWASP's advice); numbers stay as they are."""
    if cell and cell[0] in "=+-@\t\r":
        try:
            float(cell)
        except ValueError:
            return "'" + cell
    return cell
