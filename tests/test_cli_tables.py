"""A zoo of the tables practitioners have, each through train -> predict ->
evaluate -> nlayer.load(...).predict, with the expected result or the expected
one-line error; and runs that never overwrite each other or lose their model."""

import bz2
import gzip
import json
import lzma
import os
import re
import shlex
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

import nlayer
from helpers import nlayer_cmd, one_line_error, write_csv

pytest.importorskip("sklearn", reason="the built-in data sets need scikit-learn")
pytest.importorskip("matplotlib", reason="nlayer train draws plots with matplotlib")
pa = pytest.importorskip("pyarrow", reason="files are read with pyarrow")

QUICK = ["--layers", "16", "--epochs", "40", "--quiet"]


def messy_rows(n=240, seed=0):
    """Rows with an id, a name, a number with gaps, a text category, yes/no and
    true/false columns, and a label that depends on them."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n).round(1)
    colour = rng.choice(["blue", "red", "green"], n)
    smoker = rng.choice(["yes", "no"], n)
    member = rng.choice(["true", "false"], n)
    score = (age - 40) / 10 + 1.5 * (colour == "red") - (smoker == "yes")
    label = np.where(score > 0.4, "high", "low")
    price = 1000 * score + 20000 + rng.normal(0, 50, n)
    rows = []
    for i in range(n):
        cell = "" if i % 23 == 5 else str(age[i])
        rows.append(
            [i, f"cust{i:04d}", cell, colour[i], smoker[i], member[i], label[i]]
            + [round(price[i], 2)]
        )
    return ["id", "name", "age", "colour", "smoker", "member", "label", "price"], rows


@pytest.fixture(scope="module")
def zoo(tmp_path_factory):
    d = tmp_path_factory.mktemp("zoo")
    header, rows = messy_rows()
    files = {"csv": write_csv(d / "messy.csv", header, rows)}
    files["semicolon-bom-crlf"] = write_csv(
        d / "semi.csv",
        header,
        rows,
        delimiter=";",
        lineterminator="\r\n",
        encoding="utf-8-sig",
    )
    files["tab"] = write_csv(d / "tab.tsv", header, rows, delimiter="\t")
    text = files["csv"].read_bytes()
    files["gz"] = d / "messy.csv.gz"
    files["gz"].write_bytes(gzip.compress(text))
    files["bz2"] = d / "messy.csv.bz2"
    files["bz2"].write_bytes(bz2.compress(text))
    files["xz"] = d / "messy.csv.xz"
    files["xz"].write_bytes(lzma.compress(text))
    files["zip"] = d / "messy.zip"
    with zipfile.ZipFile(files["zip"], "w") as z:
        z.writestr("messy.csv", text)
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    pq.write_table(pcsv.read_csv(files["csv"]), d / "messy.parquet")
    files["parquet"] = d / "messy.parquet"
    return files


@pytest.fixture(scope="module")
def trained(zoo, tmp_path_factory):
    """A model trained on the messy table, imputing the gaps."""
    d = tmp_path_factory.mktemp("trained")
    r = nlayer_cmd(
        "train",
        zoo["csv"],
        "--target",
        "label",
        "--drop",
        "price",
        "--impute",
        "median",
        "--layers",
        "16",
        "--epochs",
        "60",
        "--out",
        "run",
        cwd=d,
    )
    return d / "run" / "model.safetensors", r


def test_train_explains_what_it_did_with_every_column(trained):
    model, r = trained
    out = r.stdout
    assert "target 'label': 2 distinct text labels → classification" in out
    assert "left out 'id': unique per row, an identifier" in out
    assert "left out 'name': text unique per row, an identifier" in out
    assert "'colour': one-hot over 3 categories" in out
    assert "'smoker': 0/1 (no/yes)" in out and "'member': 0/1 (false/true)" in out
    assert "samples/s" in out and "left" in out  # progress: speed and time left
    m = nlayer.load(model)
    assert m.features == ["age", "colour", "smoker", "member"]
    assert m.classes == ["high", "low"]
    kinds = [(c.name, c.kind, c.fill) for c in m.preprocessing.columns]
    assert kinds[0][:2] == ("age", "numeric") and kinds[0][2] is not None
    assert kinds[1] == ("colour", "category", "blue") or kinds[1][1] == "category"
    record = json.loads((model.parent / "run.json").read_text())
    assert record["status"] == "finished" and record["task"] == "classification"
    assert record["data"]["sha256"] and record["data"]["rows"] == 240
    assert record["command"][:2] == ["nlayer", "train"]
    assert record["result"]["test"]["accuracy"] > 0.8


def test_missing_cells_are_refused_by_default_with_the_column_and_lines(zoo, tmp_path):
    r = nlayer_cmd("train", zoo["csv"], "--target", "label", cwd=tmp_path, check_rc=1)
    one_line_error(
        r,
        "messy.csv: column 'age' has 11 missing cells (lines 7, 30, 53 and 8 more)",
        "--impute mean|median|most_frequent",
    )
    assert not (tmp_path / "runs").exists()  # refused before any run folder


FORMATS = ["csv", "semicolon-bom-crlf", "tab", "gz", "bz2", "xz", "zip", "parquet"]


@pytest.mark.parametrize("kind", FORMATS)
def test_each_format_end_to_end(zoo, tmp_path, kind):
    """train -> predict -> evaluate -> nlayer.load(...).predict, on every format."""
    args = ["--target", "label", "--drop", "price", "--impute", "mean", *QUICK]
    nlayer_cmd("train", zoo[kind], *args, "--out", "run", cwd=tmp_path)
    model = tmp_path / "run" / "model.safetensors"
    m = nlayer.load(model)
    assert m.features == ["age", "colour", "smoker", "member"]
    r = nlayer_cmd("predict", model, zoo[kind], cwd=tmp_path)
    labels = [line.split(",")[0] for line in r.stdout.splitlines()[1:]]
    assert labels == list(m.predict(zoo[kind]))
    report = json.loads(
        nlayer_cmd("evaluate", model, zoo[kind], "--json", cwd=tmp_path).stdout
    )
    truth = [row[6] for row in messy_rows()[1]]
    assert report["accuracy"] == pytest.approx(np.mean(np.array(labels) == truth))
    assert report["accuracy"] > 0.8


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_predicts_identically_to_python(zoo, trained, tmp_path, kind):
    model, _ = trained
    r = nlayer_cmd("predict", model, zoo[kind], "--out", "p.csv", cwd=tmp_path)
    assert "wrote 240 predictions" in r.stderr
    import pyarrow.csv as pcsv

    written = pcsv.read_csv(tmp_path / "p.csv")
    m = nlayer.load(model)
    P = m.predict_proba(zoo[kind])
    # the same code, the same bits: what predict wrote reads back exactly
    assert np.array_equal(written.column("p_high").to_numpy(), P[:, 0])
    assert written.column("label").to_pylist() == list(m.predict(zoo[kind]))


def test_python_predicts_from_frames_dicts_and_arrays(zoo, trained):
    pd = pytest.importorskip("pandas")
    pl = pytest.importorskip("polars")
    model, _ = trained
    m = nlayer.load(model)
    expected = m.predict_proba(zoo["csv"])
    df = pd.read_csv(zoo["csv"])
    assert np.array_equal(m.predict_proba(df), expected)
    assert np.array_equal(m.predict_proba(pl.read_csv(zoo["csv"])), expected)
    columns = {c: df[c].to_numpy() for c in m.features}
    assert np.array_equal(m.predict_proba(columns), expected)
    array = df[m.features].to_numpy(dtype=object)  # the stored column order
    assert np.array_equal(m.predict_proba(array), expected)
    # the network alone expects preprocessed inputs, and says so when misused
    with pytest.raises(AttributeError, match="model.predict\\(table\\)"):
        m.forward(df)
    assert isinstance(m.network, nlayer.Network)


def test_predict_keeps_columns_writes_json_and_parquet_and_reads_stdin(
    zoo, trained, tmp_path
):
    model, _ = trained
    r = nlayer_cmd(
        "predict",
        model,
        zoo["csv"],
        "--keep",
        "id,name",
        "--keep",
        "label",
        cwd=tmp_path,
    )
    lines = r.stdout.splitlines()
    assert lines[0] == "id,name,label,predicted_label,p_high,p_low"
    assert lines[1].startswith("0,cust0000,")
    r = nlayer_cmd("predict", model, zoo["csv"], "--format", "json", cwd=tmp_path)
    records = json.loads(r.stdout)
    assert len(records) == 240 and set(records[0]) == {"label", "p_high", "p_low"}
    nlayer_cmd("predict", model, zoo["csv"], "--out", "p.parquet", cwd=tmp_path)
    import pyarrow.parquet as pq

    assert pq.read_table(tmp_path / "p.parquet").num_rows == 240
    text = Path(zoo["csv"]).read_text()
    r = nlayer_cmd("predict", model, "-", cwd=tmp_path, stdin=text)
    assert r.stdout == nlayer_cmd("predict", model, zoo["csv"], cwd=tmp_path).stdout


def test_an_unseen_category_is_zeros_and_one_warning(trained, tmp_path):
    model, _ = trained
    path = write_csv(
        tmp_path / "new.csv",
        ["age", "colour", "smoker", "member"],
        [
            [30, "purple", "no", "true"],
            [50, "teal", "yes", "false"],
            [41, "red", "no", "true"],
        ],
    )
    r = nlayer_cmd("predict", model, path, cwd=tmp_path)
    assert len(r.stdout.splitlines()) == 4
    warning = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1
    assert "column 'colour' holds categories the model was not trained on" in warning[0]
    assert "'purple', 'teal'" in warning[0]


def test_evaluate_reports_every_figure(zoo, trained, tmp_path):
    from sklearn import metrics

    model, _ = trained
    r = nlayer_cmd("evaluate", model, zoo["csv"], "--json", cwd=tmp_path)
    report = json.loads(r.stdout)
    m = nlayer.load(model)
    P = m.predict_proba(zoo["csv"])
    truth = np.array([row[6] for row in messy_rows()[1]])
    codes = (truth == "low").astype(int)
    assert report["accuracy"] == pytest.approx(
        metrics.accuracy_score(codes, P.argmax(1))
    )
    assert report["roc_auc"] == pytest.approx(metrics.roc_auc_score(codes, P[:, 1]))
    assert report["log_loss"] == pytest.approx(metrics.log_loss(codes, P))
    assert (
        report["confusion_matrix"]
        == metrics.confusion_matrix(codes, P.argmax(1)).tolist()
    )
    r = nlayer_cmd("evaluate", model, zoo["csv"], cwd=tmp_path)
    for words in (
        "balanced accuracy",
        "roc auc",
        "log loss",
        "precision",
        "recall",
        "f1",
        "confusion matrix",
        "high",
        "low",
    ):
        assert words in r.stdout


def test_evaluate_names_rows_without_a_label(trained, tmp_path):
    model, _ = trained
    header, rows = messy_rows()
    rows[2][6] = ""  # the label column, left empty
    path = write_csv(tmp_path / "gap.csv", header, rows)
    r = nlayer_cmd("evaluate", model, path, cwd=tmp_path, check_rc=1)
    one_line_error(r, "column 'label' has no label in line 4")


def test_regression_targets_with_gaps(zoo, tmp_path):
    header, rows = messy_rows()
    rows[3][7] = ""
    rows[9][7] = "inf"
    path = write_csv(tmp_path / "prices.csv", header, rows)
    r = nlayer_cmd(
        "train",
        path,
        "--target",
        "price",
        "--impute",
        "mean",
        *QUICK,
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(
        r,
        "target 'price' is missing or not finite on 2 rows (lines 5, 11)",
        "--drop-missing-target",
    )
    r = nlayer_cmd(
        "train",
        path,
        "--target",
        "price",
        "--impute",
        "mean",
        "--drop-missing-target",
        "--layers",
        "16",
        "--epochs",
        "40",
        "--out",
        "reg",
        cwd=tmp_path,
    )
    assert "left out 2 rows whose target is missing or not finite" in r.stdout
    assert re.search(r"target 'price': 23\d distinct numbers → regression", r.stdout)
    # the regression loss in the target's units, and the held-out error in them too
    assert "(RMSE " in r.stdout and "in 'price' units" in r.stdout
    r = nlayer_cmd(
        "evaluate", "reg/model.safetensors", path, "--json", cwd=tmp_path, check_rc=1
    )
    assert "'price' is missing or not finite" in r.stderr
    r = nlayer_cmd("predict", "reg/model.safetensors", path, cwd=tmp_path)
    values = [float(v) for v in r.stdout.splitlines()[1:]]
    assert 15000 < np.median(values) < 25000  # in the target's units


def test_a_bad_cell_in_a_numeric_target_never_switches_the_task(tmp_path):
    rows = [[i, float(i) * 1.5 + 0.25] for i in range(60)]
    rows[17][1] = "n.a."
    path = write_csv(tmp_path / "t.csv", ["x", "y"], rows)
    r = nlayer_cmd("train", path, "--target", "y", *QUICK, cwd=tmp_path, check_rc=1)
    one_line_error(
        r, "t.csv, line 19, target 'y': 'n.a.' is not a number", "--na 'n.a.'"
    )


def test_one_class_many_classes_and_blank_labels(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 3))
    one = write_csv(
        tmp_path / "one.csv", ["a", "b", "c", "y"], [[*x, "same"] for x in X]
    )
    one_line_error(
        nlayer_cmd("train", one, "--target", "y", *QUICK, cwd=tmp_path, check_rc=1),
        "a single class 'same'",
    )
    labels = [f"k{i % 30}" for i in range(len(X))]
    many = write_csv(
        tmp_path / "many.csv",
        ["a", "b", "c", "y"],
        [[*x, y] for x, y in zip(X, labels, strict=False)],
    )
    nlayer_cmd(
        "train",
        many,
        "--target",
        "y",
        "--test-split",
        "0",
        *QUICK,
        "--out",
        "m",
        cwd=tmp_path,
    )
    assert len(nlayer.load(tmp_path / "m" / "model.safetensors").classes) == 30
    rows = [[*x, "" if i == 4 else "a" if x[0] > 0 else "b"] for i, x in enumerate(X)]
    blank = write_csv(tmp_path / "blank.csv", ["a", "b", "c", "y"], rows)
    one_line_error(
        nlayer_cmd("train", blank, "--target", "y", *QUICK, cwd=tmp_path, check_rc=1),
        "target 'y' is missing or not finite on 1 row (line 6)",
    )


def test_drop_takes_several_columns(zoo, tmp_path):
    args = ["--target", "label", "--impute", "mean", *QUICK]
    for drop in (["--drop", "price", "--drop", "colour"], ["--drop", "price,colour"]):
        r = nlayer_cmd(
            "train", zoo["csv"], *args, *drop, "--out", "d", "--overwrite", cwd=tmp_path
        )
        assert nlayer.load(tmp_path / "d" / "model.safetensors").features == [
            "age",
            "smoker",
            "member",
        ], r.stdout


def test_formula_cells_are_escaped_in_csv_output(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 2))
    labels = np.where(X[:, 0] > 0, "=HYPERLINK(1)", "@evil")
    path = write_csv(
        tmp_path / "f.csv",
        ["a", "b", "kind"],
        [[*x, y] for x, y in zip(X, labels, strict=False)],
    )
    nlayer_cmd("train", path, "--target", "kind", *QUICK, "--out", "f", cwd=tmp_path)
    r = nlayer_cmd(
        "predict", "f/model.safetensors", path, "--keep", "kind", cwd=tmp_path
    )
    first = r.stdout.splitlines()[0]
    assert first == "kind,predicted_kind,p_=HYPERLINK(1),p_@evil" or first.startswith(
        "kind,predicted_kind,'"
    )
    for line in r.stdout.splitlines()[1:]:
        kept, predicted = line.split(",")[:2]
        assert kept in ("'=HYPERLINK(1)", "'@evil") and predicted in (
            "'=HYPERLINK(1)",
            "'@evil",
        )


def test_a_wide_header(tmp_path):
    n = 2000
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, n))
    y = (X[:, 0] > 0).astype(int)
    path = write_csv(
        tmp_path / "wide.csv",
        [*(f"c{j}" for j in range(n)), "y"],
        [[*map("{:.3f}".format, x), t] for x, t in zip(X, y, strict=False)],
    )
    nlayer_cmd(
        "train",
        path,
        "--target",
        "y",
        "--test-split",
        "0",
        "--val-split",
        "0",
        *QUICK,
        "--out",
        "w",
        cwd=tmp_path,
    )
    r = nlayer_cmd("predict", "w/model.safetensors", path, cwd=tmp_path)
    assert len(r.stdout.splitlines()) == 61


def test_runs_never_overwrite_each_other(tmp_path):
    args = [
        sys.executable,
        "-m",
        "nlayer",
        "train",
        "--dataset",
        "iris",
        "--epochs",
        "3",
        "-q",
    ]
    procs = [
        subprocess.Popen(
            args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    runs = sorted((tmp_path / "runs").iterdir())
    assert len(runs) == 4  # four runs started together: four folders
    assert all((r / "model.safetensors").is_file() for r in runs)
    nlayer_cmd(
        "train",
        "--dataset",
        "iris",
        "--epochs",
        "2",
        "-q",
        "--out",
        "mine",
        cwd=tmp_path,
    )
    before = (tmp_path / "mine" / "model.safetensors").read_bytes()
    r = nlayer_cmd(
        "train",
        "--dataset",
        "iris",
        "--epochs",
        "3",
        "-q",
        "--out",
        "mine",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(r, "--out mine already holds", "give --overwrite")
    assert (tmp_path / "mine" / "model.safetensors").read_bytes() == before
    nlayer_cmd(
        "train",
        "--dataset",
        "iris",
        "--epochs",
        "3",
        "-q",
        "--out",
        "mine",
        "--overwrite",
        cwd=tmp_path,
    )
    assert (tmp_path / "mine" / "model.safetensors").read_bytes() != before


def test_the_run_folder_and_the_best_model_exist_while_training(tmp_path):
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nlayer",
            "train",
            "--epochs",
            "100000",
            "--no-early-stopping",
            "--layers",
            "8",
            "--out",
            "run",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(200):
            if p.stdout.readline().startswith("epoch "):
                break
        record = json.loads((tmp_path / "run" / "run.json").read_text())
        assert record["status"] == "running" and record["data"]["name"] == "digits"
        # the best model so far is on disk after the first epoch, complete
        model = nlayer.load(tmp_path / "run" / "model.safetensors")
        assert model.classes == [str(k) for k in range(10)]
    finally:
        p.kill()
        p.communicate()


def test_a_failed_final_write_names_the_path_and_keeps_the_best_model(
    tmp_path, monkeypatch, capsys
):
    from nlayer import cli, safefile

    monkeypatch.chdir(tmp_path)
    real = safefile.atomic_writer
    calls = {"n": 0}

    def full_disk(path):
        calls["n"] += 1
        if Path(path).name == "history.json":  # the disk fills late in the run
            raise OSError(28, "cannot write it (No space left on device)", str(path))
        return real(path)

    monkeypatch.setattr(
        cli, "atomic_write", lambda path, data: _write_with(full_disk, path, data)
    )
    code = cli.main(
        ["train", "--dataset", "iris", "--epochs", "20", "-q", "--out", "run"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "No space left on device" in err and "history.json" in err
    # the model written before the disk filled is whole and loads
    assert nlayer.load(tmp_path / "run" / "model.safetensors").classes


def _write_with(opener, path, data):
    with opener(path) as f:
        f.write(data)
    return Path(path)


def test_summary_of_a_model_shows_its_columns(trained, tmp_path):
    model, _ = trained
    r = nlayer_cmd("summary", model, cwd=tmp_path)
    assert "Network 6 -> 16 -> 2" in r.stdout
    assert "colour" in r.stdout and "one-hot over 3 categories" in r.stdout
    assert "target 'label': classes 'high', 'low'" in r.stdout
    r = nlayer_cmd(
        "summary", "--dataset", "diabetes", "--layers", "32,16", cwd=tmp_path
    )
    assert r.stdout.startswith("Network 10 -> 32 -> 16 -> 1  loss=mse")


def test_training_options_reach_fit(tmp_path):
    r = nlayer_cmd(
        "train",
        "--dataset",
        "wine",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--weight-decay",
        "0.001",
        "--schedule",
        "cosine",
        "--clip-norm",
        "1",
        "--class-weight",
        "balanced",
        "--epochs",
        "5",
        "-q",
        "--out",
        "w",
        cwd=tmp_path,
    )
    assert "trained 5 epochs" in r.stdout
    r = nlayer_cmd(
        "train",
        "--dataset",
        "wine",
        "--class-weight",
        "nope=2",
        "-q",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(r, "--class-weight names 'nope', not classes of the target")


def test_resume_says_where_it_resumed(tmp_path):
    args = ["train", "--dataset", "seed-squares", "--checkpoint-dir", "ck"]
    nlayer_cmd(*args, "--epochs", "20", "-q", "--out", "a", cwd=tmp_path)
    r = nlayer_cmd(*args, "--epochs", "30", "--resume", "--out", "b", cwd=tmp_path)
    assert "resumed from epoch 20" in r.stdout
    assert "trained 30 epochs (10 in this run)" in r.stdout


def help_examples(command):
    text = nlayer_cmd(*command, "--help", cwd=Path.cwd()).stdout
    block = text.split("Examples:", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if not line.startswith("    nlayer") and not line.startswith("  nlayer"):
            if lines:
                break
            continue
        lines.append(line.split("  #")[0].strip())
    return lines


@pytest.mark.parametrize(
    "command",
    [[], ["train"], ["predict"], ["evaluate"], ["summary"], ["gradcheck"], ["data"]],
    ids=lambda c: " ".join(c) or "nlayer",
)
def test_every_help_example_runs_when_pasted(tmp_path, command):
    examples = help_examples(command)
    assert examples, "no examples"
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    for line in examples:
        assert shlex.split(line)[0] == "nlayer"
        run = subprocess.run(
            line,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, f"{line}\n{run.stdout}\n{run.stderr}"


def test_version_1_models_still_load_and_predict_the_same():
    data = Path(__file__).parent / "data" / "v1"
    iris = nlayer.load(data / "iris.safetensors")
    assert iris.features == [
        "sepal length",
        "sepal width",
        "petal length",
        "petal width",
    ]
    assert np.array_equal(
        iris.predict_proba(data / "iris.csv"), np.load(data / "iris-expected.npy")
    )
    diabetes = nlayer.load(data / "diabetes.safetensors")
    assert np.array_equal(
        diabetes.predict(data / "diabetes.csv"),
        np.load(data / "diab-expected.npy")[:, 0],
    )
    bare = nlayer.load(data / "bare.safetensors")
    assert bare.preprocessing is None
    X = np.linspace(-1, 1, 15).reshape(5, 3)
    assert np.array_equal(bare.predict(X), np.load(data / "bare-out.npy"))


def test_threads_predicting_from_one_model_agree(trained, zoo):
    model, _ = trained
    m = nlayer.load(model)
    expected = m.predict_proba(zoo["csv"])
    results = []

    def work():
        results.append(m.predict_proba(zoo["csv"]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(np.array_equal(r, expected) for r in results)
