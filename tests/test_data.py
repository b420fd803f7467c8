"""From tables to X and Y: task choice, column encodings, missing cells, splits."""

import numpy as np
import pytest

from nlayer.data import (
    DataError,
    DataWarning,
    Encoding,
    Preprocessing,
    balanced_weights,
    choose_task,
    class_labels,
    seed_squares,
    split,
    target_rows,
)
from nlayer.tables import as_table


def table(**columns):
    return as_table(columns)


def test_task_and_labels():
    def task(y):
        return choose_task(table(y=np.asarray(y)), "y", None)[0]

    assert task(["cat", "dog"]) == "classification"
    assert task(["0", "1", "1", "2"]) == "classification"
    assert task(np.arange(21.0)) == "regression"  # too many distinct integers
    assert task(["0.5", "1.5"]) == "regression"
    assert task(np.array([True, False])) == "classification"
    t = table(y=np.array(["10", "9", "1.0", "1"]))
    assert class_labels(t.column("y")) == ["1", "1.0", "9", "10"]  # text, as given
    assert class_labels(table(y=np.array([10.0, 9.0, 1.0])).column("y")) == [
        "1",
        "9",
        "10",
    ]
    assert class_labels(table(y=np.array(["b", "a", "b"])).column("y")) == ["a", "b"]


def test_the_task_choice_says_why():
    _, why = choose_task(table(price=np.linspace(1, 99, 352)), "price", None)
    assert why == (
        "target 'price': 352 distinct numbers → regression "
        "(--task classification to override)"
    )
    _, why = choose_task(table(d=np.arange(40.0) % 10), "d", None)
    assert "10 distinct integers → classification (--task regression" in why
    assert choose_task(table(d=np.arange(40.0) % 10), "d", "regression")[0] == (
        "regression"
    )


def test_a_bad_target_cell_never_switches_the_task():
    # one text cell among numbers: an error naming its row, not a classifier
    y = np.array([str(v) for v in np.linspace(0, 1, 50)] + ["oops"], dtype=object)
    with pytest.raises(DataError, match=r"row 51, target 'y': 'oops' is not a number"):
        choose_task(table(y=y), "y", None)
    # but --task classification takes every value as a class label
    assert choose_task(table(y=y), "y", "classification")[0] == "classification"
    # a missing or infinite number does not switch it either
    values = np.linspace(0, 10, 50)
    values[[3, 7]] = [np.nan, np.inf]
    t = table(y=values)
    assert choose_task(t, "y", None)[0] == "regression"
    with pytest.raises(
        DataError, match=r"'y' is missing or not finite on 2 rows \(rows 4, 8\)"
    ):
        target_rows(t, "y", "regression", drop_missing=False)
    kept = target_rows(t, "y", "regression", drop_missing=True)
    assert len(kept) == 48 and 3 not in kept and 7 not in kept


def test_missing_class_labels_are_named():
    t = table(y=np.array(["a", None, "b", ""], dtype=object))
    with pytest.raises(DataError, match=r"missing or not finite on 2 rows \(rows 2, 4"):
        target_rows(t, "y", "classification", drop_missing=False)


def fit(columns, target="y", task="classification", **options):
    t = table(**columns)
    return Preprocessing.fit(t, target, task, **options), t


def test_preprocessing_classification_round_trip():
    X = {"u": np.arange(4.0), "v": np.arange(4.0) * 2}
    pre, _ = fit({**X, "y": np.array(["b", "a", "c", "a"])})
    assert pre.classes == ["a", "b", "c"]
    Y = pre.encode(np.array(["c", "a"]), 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0]])
    assert list(pre.decode(Y)) == ["c", "a"]
    Xs = pre.transform(X)
    np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(axis=0), 1)
    with pytest.raises(DataError, match="label\\(s\\) 'd' .* not trained on"):
        pre.encode(np.array(["d"]), 3)
    binary, _ = fit({**X, "y": np.array(["no", "yes", "no", "yes"])})
    np.testing.assert_array_equal(binary.encode(np.array(["yes", "no"]), 1), [[1], [0]])
    np.testing.assert_allclose(binary.probabilities(np.array([[0.8]])), [[0.2, 0.8]])
    with pytest.raises(DataError, match="a single class"):
        fit({**X, "y": np.array(["a"] * 4)})


def test_preprocessing_regression_round_trip_and_constant_columns():
    X = {"u": np.array([1.0, 3.0, 5.0]), "v": np.array([5.0, 5.0, 5.0])}
    pre, _ = fit({**X, "y": np.array([10.0, 20.0, 30.0])}, task="regression")
    np.testing.assert_allclose(pre.transform(X)[:, 1], 0)  # constant: no division by 0
    Y = pre.encode(np.array([10.0, 30.0]), 1)
    np.testing.assert_allclose(pre.decode(Y)[:, 0], [10.0, 30.0])
    raw, _ = fit(
        {**X, "y": np.array([10.0, 20.0, 30.0])}, task="regression", standardize=False
    )
    np.testing.assert_array_equal(raw.transform(X), np.column_stack(list(X.values())))
    with pytest.raises(DataError, match="'a' is not a number"):
        Preprocessing.fit(table(**X, y=np.array(["a", "b", "c"])), "y", "regression")


def test_columns_are_encoded_by_what_they_hold():
    n = 12
    rng = np.random.default_rng(0)
    columns = {
        "id": np.arange(n) + 100.0,  # unique integers named id: left out
        "row": np.arange(n) + 1.0,  # counts the rows from 1: left out too
        "year": np.arange(n) + 2000.0,  # unique integers, but a feature
        "name": np.array([f"n{i}" for i in range(n)]),  # text unique per row
        "age": rng.normal(40, 5, n),
        "colour": np.array(["red", "blue", "green"] * 4),
        "smoker": np.array(["Yes", "no"] * 6),
        "member": np.array([True, False, False] * 4),
        "y": np.array(["a", "b"] * 6),
    }
    pre, t = fit(columns)
    kinds = {c.name: c.kind for c in pre.columns}
    assert kinds == {
        "year": "numeric",
        "age": "numeric",
        "colour": "category",
        "smoker": "boolean",
        "member": "boolean",
    }
    assert pre.inputs == [
        "year",
        "age",
        "colour=blue",
        "colour=green",
        "colour=red",
        "smoker",
        "member",
    ]
    assert any("left out 'id'" in n for n in pre.notes)
    assert any("left out 'row'" in n for n in pre.notes)
    assert any("left out 'name'" in n for n in pre.notes)
    X = pre.transform(t)
    np.testing.assert_array_equal(X[:3, 2:5], [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(X[:2, 5], [1, 0])  # Yes -> 1, no -> 0
    np.testing.assert_array_equal(X[:3, 6], [1, 0, 0])
    assert pre.x_mean[2:].tolist() == [0] * 5 and pre.x_scale[2:].tolist() == [1] * 5
    # asked for, an identifier is used
    pre, _ = fit(columns, numeric=["id"], categorical=["smoker"], drop=["name"])
    kinds = {c.name: c.kind for c in pre.columns}
    assert kinds["id"] == "numeric" and kinds["smoker"] == "category"


def test_an_unseen_category_is_zeros_with_one_warning():
    pre, _ = fit(
        {"colour": np.array(["red", "blue"] * 3), "y": np.array(["a", "b", "c"] * 2)}
    )
    with pytest.warns(DataWarning, match="column 'colour' holds categories .*'teal'"):
        X = pre.transform({"colour": np.array(["red", "teal", "teal"])})
    np.testing.assert_array_equal(X, [[0, 1], [0, 0], [0, 0]])
    unseen = {}
    pre.transform({"colour": np.array(["mauve"])}, unseen)  # collected, not warned
    assert unseen == {"colour": {"mauve"}}


def test_missing_cells_are_an_error_unless_imputed():
    age = np.array([30.0, np.nan, 50.0, 60.0, np.nan])
    colour = np.array(["red", None, "red", "blue", "blue"], dtype=object)
    y = np.array(["a", "b", "a", "b", "a"])
    with pytest.raises(
        DataError,
        match=r"column 'age' has 2 missing cells \(rows 2, 5\); so do 'colour'; "
        "fill them, or give --impute",
    ):
        fit({"age": age, "colour": colour, "y": y})
    for how, fill in (("mean", 140 / 3), ("median", 50.0), ("most_frequent", 30.0)):
        pre, t = fit({"age": age, "colour": colour, "y": y}, impute=how)
        assert pre.columns[0].fill == pytest.approx(fill)
        assert pre.columns[1].fill == "blue"  # text: the most frequent, always
        X = pre.transform(t) * pre.x_scale + pre.x_mean
        assert X[1, 0] == pytest.approx(fill) and X[1, 1:].tolist() == [1, 0]
    # a model without fill values names the missing cells at prediction
    pre, _ = fit({"age": np.array([1.0, 2.0, 4.0]), "y": np.array(["a", "b", "a"])})
    with pytest.raises(DataError, match=r"'age' has 1 missing cell \(row 2\)"):
        pre.transform({"age": np.array([1.0, np.nan])})


def test_text_in_a_numeric_column_names_its_row():
    values = np.array(["1.5", "2", "oops", "4", "5"], dtype=object)
    with pytest.raises(
        DataError, match=r"row 3, column 'a': 'oops' is not a number, but 80%"
    ):
        fit({"a": values, "y": np.array(["x", "y"] * 2 + ["x"])})


def test_decimal_commas_and_too_many_categories_are_explained():
    commas = np.array(["1,5", "2,25", "3,0", "1,5"], dtype=object)
    with pytest.raises(DataError, match="decimal comma .*--decimal ','"):
        fit({"a": commas, "y": np.array(["x", "y"] * 2)})
    many = np.array([f"c{i % 150}" for i in range(300)])
    with pytest.raises(DataError, match="150 distinct text values, too many"):
        fit({"a": many, "y": np.array(["x", "y"] * 150)})
    pre, _ = fit({"a": many, "y": np.array(["x", "y"] * 150)}, max_categories=200)
    assert len(pre.inputs) == 150


def test_infinite_and_huge_features_are_refused_with_the_column():
    with pytest.raises(DataError, match="row 2, column 'a': inf is not a finite"):
        fit({"a": np.array([1.0, np.inf, 2.0]), "y": np.array(["x", "y", "x"])})
    with pytest.raises(DataError, match="'a' holds numbers too large to standardise"):
        fit({"a": np.array([1.0, 1e200, -1e200]), "y": np.array(["x", "y", "x"])})


def test_statistics_come_from_the_training_rows():
    a = np.array([0.0, 2.0, 100.0, 4.0])
    colour = np.array(["red", "blue", "teal", "red"])
    t = table(a=a, colour=colour, y=np.array(["x", "y", "x", "y"]))
    pre = Preprocessing.fit(t, "y", "classification", rows=np.array([0, 1, 3]))
    assert pre.x_mean[0] == pytest.approx(2.0)
    assert pre.columns[1].categories == ["blue", "red"]  # 'teal' was held out


def test_encoding_inputs_and_descriptions():
    assert Encoding("a").inputs == ["a"]
    assert Encoding("c", "category", ["x", "y"]).inputs == ["c=x", "c=y"]
    assert Encoding("b", "boolean", ["no", "yes"], "no").describe() == (
        "0/1 (no/yes), missing → 'no'"
    )


def test_balanced_weights_are_scikit_learns():
    from sklearn.utils.class_weight import compute_sample_weight

    codes = np.array([0, 0, 0, 1, 2, 2])
    np.testing.assert_allclose(
        balanced_weights(codes, 3), compute_sample_weight("balanced", codes)
    )


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
    x1, x2 = ds.table.column("x1").numbers, ds.table.column("x2").numbers
    np.testing.assert_array_equal(ds.table.column("y").numbers, x1**2 + x2**2)
    assert ds.table.n_rows == 100 and ds.task == "regression"
