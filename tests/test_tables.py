"""Reading the tables users have: CSV dialects, compression, Parquet, Arrow,
DataFrames; every problem named with its file, line and column."""

import bz2
import gzip
import io
import lzma
import zipfile

import numpy as np
import pytest

from nlayer import tables
from nlayer.tables import CsvOptions, DataError, as_table, iter_tables, read_table

pa = pytest.importorskip("pyarrow", reason="files are read with pyarrow")


def write(tmp_path, text, name="data.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def values(table, name):
    col = table.column(name)
    if col.numbers is not None:
        return col.numbers.tolist()
    return col.texts(np.arange(len(col)))


PLAIN = "a,b,label\n1,2.5,x\n3,4.5,y\n"


@pytest.mark.parametrize(
    "text",
    [
        PLAIN,
        PLAIN.replace(",", ";"),
        PLAIN.replace(",", "\t"),
        PLAIN.replace(",", "|"),
        PLAIN.replace("\n", "\r\n"),
        "\ufeff" + PLAIN,
        "\ufeff" + PLAIN.replace(",", ";").replace("\n", "\r\n"),
        PLAIN + "\n\n",  # blank lines separate nothing
    ],
    ids=[
        "comma",
        "semicolon",
        "tab",
        "bar",
        "crlf",
        "bom",
        "bom-semicolon-crlf",
        "blank",
    ],
)
def test_delimiters_line_ends_and_bom(tmp_path, text):
    t = read_table(write(tmp_path, text))
    assert t.names == ["a", "b", "label"] and t.n_rows == 2
    assert values(t, "a") == [1, 3] and values(t, "b") == [2.5, 4.5]
    assert values(t, "label") == ["x", "y"]


def test_quoted_fields_and_line_numbers(tmp_path):
    text = 'a,"b, quoted",label\n1,2,"x\ny"\n\n3,4,z\n5,oops,w\n6,7,v\n8,9,u\n'
    path = write(tmp_path, text)
    t = read_table(path)
    assert t.names == ["a", "b, quoted", "label"]
    assert values(t, "label")[:2] == ["x\ny", "z"]
    # after a quoted line break and a blank line, the second row is on line 5
    assert t.where([2]) == "line 6" and t.where([1]) == "line 5"
    assert t.where([0, 1, 2, 3]) == "lines 2, 5, 6 and 1 more"


def test_a_separator_can_be_given(tmp_path):
    path = write(tmp_path, "a:b\n1:2\n")
    assert read_table(path, CsvOptions(sep=":")).names == ["a", "b"]
    with pytest.raises(DataError, match="one character"):
        CsvOptions(sep="::")


@pytest.mark.parametrize("codec", ["gzip", "bz2", "xz", "zip", "zstd"])
def test_compressed_files(tmp_path, codec):
    raw = PLAIN.encode()
    if codec == "gzip":
        data = gzip.compress(raw)
    elif codec == "bz2":
        data = bz2.compress(raw)
    elif codec == "xz":
        data = lzma.compress(raw)
    elif codec == "zstd":
        buf = pa.BufferOutputStream()
        with pa.CompressedOutputStream(buf, "zstd") as out:
            out.write(raw)
        data = buf.getvalue().to_pybytes()
    else:
        mem = io.BytesIO()
        with zipfile.ZipFile(mem, "w") as z:
            z.writestr("inner.csv", raw)
        data = mem.getvalue()
    path = write(tmp_path, data, name="data.csv.bin")  # found by content, not name
    t = read_table(path)
    assert values(t, "label") == ["x", "y"]
    chunks = list(iter_tables(path, {"a": "number", "label": "text"}))
    assert sum(c.n_rows for c in chunks) == 2


def test_zip_files_that_are_not_one_table(tmp_path):
    mem = io.BytesIO()
    with zipfile.ZipFile(mem, "w") as z:
        z.writestr("a.csv", PLAIN)
        z.writestr("b.csv", PLAIN)
    with pytest.raises(DataError, match="exactly one table; it holds 2"):
        read_table(write(tmp_path, mem.getvalue(), "two.zip"))
    mem = io.BytesIO()
    with zipfile.ZipFile(mem, "w") as z:
        z.writestr("[Content_Types].xml", "<x/>")
        z.writestr("xl/workbook.xml", "<x/>")
    with pytest.raises(DataError, match="spreadsheet .* save it as CSV"):
        read_table(write(tmp_path, mem.getvalue(), "book.xlsx"))


def arrow_table():
    return pa.table(
        {
            "a": pa.array([1, None, 3], pa.int64()),
            "b": pa.array([2.5, 4.5, float("nan")]),
            "flag": pa.array([True, False, None]),
            "label": pa.array(["x", "y", None]),
            "cat": pa.array(["p", "q", "p"]).dictionary_encode(),
        }
    )


@pytest.mark.parametrize("fmt", ["parquet", "feather", "arrow-stream"])
def test_parquet_and_arrow_files(tmp_path, fmt):
    path = tmp_path / f"data.{fmt}"
    data = arrow_table()
    if fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(data, path)
    elif fmt == "feather":
        import pyarrow.feather as feather

        feather.write_feather(data, path)
    else:
        with (
            pa.OSFile(str(path), "wb") as sink,
            pa.ipc.new_stream(sink, data.schema) as w,
        ):
            w.write_table(data)
    t = read_table(path)
    assert t.names == ["a", "b", "flag", "label", "cat"]
    np.testing.assert_array_equal(t.column("a").missing, [False, True, False])
    np.testing.assert_array_equal(t.column("b").missing, [False, False, True])
    assert values(t, "flag") == ["true", "false", ""]
    assert values(t, "label") == ["x", "y", ""] and values(t, "cat") == ["p", "q", "p"]
    chunks = list(iter_tables(path, {"b": "number", "cat": "text"}))
    assert [c.names for c in chunks] == [["b", "cat"]]


def test_missing_markers_are_pandas_and_can_be_added(tmp_path):
    text = "a,b\n1,x\nNA,\nnan,NULL\n#N/A,None\n-,y\n"
    t = read_table(write(tmp_path, text))
    np.testing.assert_array_equal(t.column("b").missing, [0, 1, 1, 1, 0])
    assert t.column("a").levels is not None  # '-' is text among numbers
    t = read_table(write(tmp_path, text), CsvOptions(na=("-",)))
    np.testing.assert_array_equal(t.column("a").missing, [0, 1, 1, 1, 1])
    assert t.column("a").numbers is not None


def test_a_column_numeric_at_first_and_text_later(tmp_path):
    rows = [f"{i},{i}" for i in range(3000)] + ["x,late", "3001,3001"]
    t = read_table(write(tmp_path, "a,b\n" + "\n".join(rows) + "\n"))
    assert t.column("a").numbers is None and "x" in t.column("a").levels
    assert t.column("b").levels is not None


def test_decimal_comma(tmp_path):
    path = write(tmp_path, "a;b\n1,5;2\n3,25;4\n")
    t = read_table(path, CsvOptions(decimal=","))
    assert values(t, "a") == [1.5, 3.25]


def test_other_encodings(tmp_path):
    text = "name;y\ncafé;1\nthé;2\n"
    path = write(tmp_path, text, encoding="latin-1")
    with pytest.raises(DataError, match="line 2: not utf-8 text .* --encoding"):
        read_table(path)
    t = read_table(path, CsvOptions(encoding="latin-1"))
    assert values(t, "name") == ["café", "thé"]
    t = read_table(
        write(tmp_path, text, "u16.csv", "utf-16"), CsvOptions(encoding="utf-16")
    )
    assert values(t, "name") == ["café", "thé"]
    chunks = list(
        iter_tables(
            tmp_path / "u16.csv", {"name": "text"}, CsvOptions(encoding="utf-16")
        )
    )
    assert values(chunks[0], "name") == ["café", "thé"]
    with pytest.raises(DataError, match="unknown encoding"):
        CsvOptions(encoding="klingon")


def test_bad_utf8_after_the_sample_names_its_line(tmp_path):
    rows = [f"{i},ok" for i in range(20000)]
    data = ("a,b\n" + "\n".join(rows) + "\n").encode() + b"7,caf\xe9\n"
    with pytest.raises(DataError, match="line 20002: not utf-8 text"):
        read_table(write(tmp_path, data))


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "is empty"),
        ("\n\n", "is empty"),
        ("a,b\n", "has a header but no data rows"),
        ("a,b\n1,2\n3,4,5\n", "line 3: 3 cells, but the header has 2 columns"),
        ("a,,b\n1,2,3\n", "column 2 of the header has no name"),
        ("a,b,a\n1,2,3\n", "names column 'a' twice"),
    ],
)
def test_refuses_malformed_files(tmp_path, text, message):
    with pytest.raises(DataError, match=message):
        read_table(write(tmp_path, text))


def test_a_ragged_row_far_down_is_named(tmp_path):
    rows = [f"{i},{i}" for i in range(50000)]
    rows[41234] = "1,2,3"
    path = write(tmp_path, "a,b\n" + "\n".join(rows) + "\n")
    for read in (read_table, lambda p: list(iter_tables(p, {"a": "number"}))):
        with pytest.raises(DataError, match="line 41236: 3 cells, but the header"):
            read(path)


def test_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_table(tmp_path)
    with pytest.raises(DataError, match="no column 'z'; the columns are 'a', 'b'"):
        read_table(write(tmp_path, PLAIN), columns=["z"])


def test_dates_are_recognised(tmp_path):
    t = read_table(write(tmp_path, "when,y\n2024-01-05,1\n2024-02-05,2\n"))
    assert t.column("when").kind == "date"


def test_chunks_equal_the_whole_table_across_piece_boundaries(tmp_path, monkeypatch):
    # pieces much smaller than the file, with quoted line breaks and commas
    rng = np.random.default_rng(0)
    lines = ["num,text,label"]
    for i in range(3000):
        text = f'"line {i}\nwith, comma"' if i % 7 == 0 else f"t{i % 13}"
        lines.append(f"{rng.normal():.6f},{text},{'ab'[i % 2]}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    monkeypatch.setattr(tables, "PIECE_BYTES", 4096)
    whole = read_table(path)
    chunks = list(
        iter_tables(
            path, {"num": "number", "text": "text", "label": "text"}, rows_multiple=64
        )
    )
    assert len(chunks) > 10
    assert all(c.n_rows % 64 == 0 for c in chunks[:-1])
    assert sum(c.n_rows for c in chunks) == whole.n_rows == 3000
    for name in ("num", "text", "label"):
        joined = [v for c in chunks for v in values(c, name)]
        assert joined == values(whole, name)
    # a chunk's rows are located in the file as the whole table's are
    last = chunks[-1]
    assert last.where([last.n_rows - 1]) == whole.where([2999])


def test_a_wide_header_reads_quickly(tmp_path):
    n = 20000
    header = ",".join(f"c{j}" for j in range(n)) + ",y\n"
    row = ",".join("1.5" for _ in range(n))
    path = write(tmp_path, header + "".join(f"{row},{i % 2}\n" for i in range(5)))
    t = read_table(path)
    assert len(t.names) == n + 1 and t.n_rows == 5


# -- in memory -------------------------------------------------------------------


def test_pandas_frames_with_nullable_and_categorical_columns():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(
        {
            "i": pd.array([1, 2, None], dtype="Int64"),
            "f": pd.array([1.5, None, 3.0], dtype="Float64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "c": pd.Categorical(["x", None, "y"]),
            "s": ["u", None, "v"],
            "n": [1, 2, 3],
        },
        index=[10, 20, 30],
    )
    t = as_table(df)
    np.testing.assert_array_equal(t.column("i").missing, [0, 0, 1])
    assert values(t, "i")[:2] == [1, 2] and values(t, "n") == [1, 2, 3]
    np.testing.assert_array_equal(t.column("f").missing, [0, 1, 0])
    assert values(t, "b") == ["true", "", "false"]
    assert values(t, "c") == ["x", "", "y"] and values(t, "s") == ["u", "", "v"]
    assert t.where([1]) == "index 20"  # the frame's own index labels the rows
    dates = pd.DataFrame({"d": pd.to_datetime(["2024-01-01"])})
    assert as_table(dates).column("d").kind == "date"


def test_polars_dicts_and_arrays():
    pl = pytest.importorskip("polars")
    t = as_table(pl.DataFrame({"a": [1.0, None], "s": ["x", "y"]}))
    assert values(t, "s") == ["x", "y"]
    np.testing.assert_array_equal(t.column("a").missing, [False, True])
    t = as_table({"a": [1, 2], "s": ["x", None]})
    assert values(t, "a") == [1, 2] and values(t, "s") == ["x", ""]
    t = as_table(np.array([[1.0, 2.0], [3.0, 4.0]]), names=["p", "q"])
    assert values(t, "q") == [2.0, 4.0]
    t = as_table(np.array([[1.5, "red"], [2.5, "blue"]], dtype=object), ["a", "c"])
    assert values(t, "a") == [1.5, 2.5] and values(t, "c") == ["red", "blue"]
    with pytest.raises(
        DataError, match="the array has 2 columns, but the model reads 3"
    ):
        as_table(np.zeros((2, 2)), names=["a", "b", "c"])
    with pytest.raises(DataError, match="masked arrays are not read"):
        as_table(np.ma.masked_array(np.zeros((2, 2)), mask=[[0, 1], [0, 0]]))
    with pytest.raises(DataError, match="column 's' has 1 values, the columns before"):
        as_table({"a": [1, 2], "s": ["x"]})


def test_formula_cells_are_escaped_for_spreadsheets():
    assert tables.csv_text("=1+2") == "'=1+2"
    assert tables.csv_text("+cmd") == "'+cmd"
    assert tables.csv_text("@SUM(A1)") == "'@SUM(A1)"
    assert tables.csv_text("\tx") == "'\tx"
    assert tables.csv_text("-2.5") == "-2.5"  # a number stays a number
    assert tables.csv_text("-x") == "'-x"
    assert tables.csv_text("plain") == "plain"


def test_only_ascii_numbers_are_numbers():
    got = tables.parse_numbers(["1.5", "1_000", "１", "١", " 2 ", "-inf", "x"])
    np.testing.assert_array_equal(
        got, [1.5, np.nan, np.nan, np.nan, 2.0, -np.inf, np.nan]
    )
