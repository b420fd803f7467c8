"""CSV reading, task inference, preprocessing and splits."""

import numpy as np
import pytest

from nlayer.data import (
    DataError,
    Dataset,
    Preprocessing,
    class_labels,
    dataset_from_csv,
    infer_task,
    read_csv,
    seed_squares,
    split,
)


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_reads_quoted_cells_blank_lines_and_a_bom(tmp_path):
    path = write(tmp_path, '\ufeffa,"b, quoted",label\n1,2,"x y"\n\n3,4,z\n')
    table = read_csv(path)
    assert table.columns == ["a", "b, quoted", "label"]
    assert table.column("label") == ["x y", "z"] and table.lines == [2, 4]
    np.testing.assert_array_equal(table.numeric("b, quoted"), [2.0, 4.0])


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
        read_csv(write(tmp_path, text))


def test_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_csv(tmp_path / "missing.csv")
    with pytest.raises(DataError, match="is a directory"):
        read_csv(tmp_path)
    (tmp_path / "latin1.csv").write_bytes("a,b\n\xe9,1\n".encode("latin-1"))
    with pytest.raises(DataError, match="not a UTF-8 text file"):
        read_csv(tmp_path / "latin1.csv")


@pytest.mark.parametrize(
    "cell, message",
    [
        ("", "line 3, column 'a': missing value ''"),
        ("NaN", "missing value 'NaN'; nlayer does not impute"),
        ("n/a", "missing value 'n/a'"),
        ("inf", "'inf' is not a finite number"),
        ("1,5", None),  # quoted decimal comma: not a number
        ("red", "'red' is not a number; feature columns must be numeric"),
    ],
)
def test_numeric_columns_name_the_bad_cell(tmp_path, cell, message):
    path = write(tmp_path, f'a,y\n1,0\n"{cell}",1\n')
    with pytest.raises(DataError, match=message or "is not a number"):
        dataset_from_csv(path, "y")


def test_dataset_from_csv_drops_and_orders_columns(tmp_path):
    path = write(tmp_path, "id,b,y,a\n7,1.5,cat,2\n8,2.5,dog,3\n")
    ds = dataset_from_csv(path, "y", drop=["id"])
    assert ds.features == ["b", "a"]
    np.testing.assert_array_equal(ds.X, [[1.5, 2], [2.5, 3]])
    assert list(ds.y) == ["cat", "dog"]
    with pytest.raises(DataError, match="no column 'z'; the columns are 'id', 'b'"):
        dataset_from_csv(path, "z")
    with pytest.raises(DataError, match="no feature columns are left"):
        dataset_from_csv(path, "y", drop=["id", "a", "b"])


def test_task_and_labels():
    assert infer_task(np.array(["cat", "dog"])) == "classification"
    assert infer_task(np.array(["0", "1", "1", "2"])) == "classification"
    assert infer_task(np.arange(21.0)) == "regression"  # too many distinct integers
    assert infer_task(np.array(["0.5", "1.5"])) == "regression"
    assert class_labels(np.array(["10", "9", "1.0", "1"])) == ["1", "9", "10"]
    assert class_labels(np.array(["b", "a", "b"])) == ["a", "b"]


def dataset(y, X=None, task=None):
    X = np.arange(2.0 * len(y)).reshape(len(y), 2) if X is None else X
    return Dataset("t", X, np.asarray(y), ["u", "v"], "y", task)


def test_preprocessing_classification_round_trip():
    pre = Preprocessing.fit(dataset(["b", "a", "c", "a"]), "classification")
    assert pre.classes == ["a", "b", "c"]
    Y = pre.encode(np.array(["c", "a"]), 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0]])
    assert list(pre.decode(Y)) == ["c", "a"]
    X = pre.transform(dataset(["a"] * 4).X)
    np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(axis=0), 1)
    with pytest.raises(
        DataError, match="label\\(s\\) 'd' that the model was not trained"
    ):
        pre.encode(np.array(["d"]), 3)
    binary = Preprocessing.fit(dataset(["no", "yes", "no", "yes"]), "classification")
    np.testing.assert_array_equal(binary.encode(np.array(["yes", "no"]), 1), [[1], [0]])
    np.testing.assert_allclose(binary.probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    with pytest.raises(DataError, match="a single class"):
        Preprocessing.fit(dataset(["a", "a"]), "classification")


def test_preprocessing_regression_round_trip_and_constant_columns():
    X = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    pre = Preprocessing.fit(dataset([10.0, 20.0, 30.0], X), "regression")
    np.testing.assert_allclose(pre.transform(X)[:, 1], 0)  # constant: no division by 0
    Y = pre.encode(np.array([10.0, 30.0]), 1)
    np.testing.assert_allclose(pre.decode(Y)[:, 0], [10.0, 30.0])
    raw = Preprocessing.fit(
        dataset([10.0, 20.0, 30.0], X), "regression", standardize=False
    )
    np.testing.assert_array_equal(raw.transform(X), X)
    with pytest.raises(DataError, match="is not numeric, so it cannot be regressed"):
        Preprocessing.fit(dataset(["a", "b", "c"], X), "regression")


def test_split_is_stratified_and_disjoint():
    rng = np.random.default_rng(0)
    y = np.array(["a"] * 80 + ["b"] * 20)
    rest, held = split(100, 0.25, rng, y)
    assert len(set(rest) & set(held)) == 0 and len(rest) + len(held) == 100
    assert sum(y[held] == "a") == 20 and sum(y[held] == "b") == 5
    rest, held = split(10, 0.0, rng)
    assert len(held) == 0 and len(rest) == 10
    with pytest.raises(DataError, match="leaves nothing to hold out"):
        split(3, 0.1, rng)


def test_seed_squares_is_the_seeds_data():
    ds = seed_squares()
    np.testing.assert_array_equal(ds.y, (ds.X**2).sum(axis=1))
    assert ds.X.shape == (100, 2) and ds.task == "regression"
