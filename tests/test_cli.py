"""The nlayer command end to end, through a subprocess as a user runs it."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import nlayer
from helpers import load_model, nlayer_cmd, one_line_error, write_csv

pytest.importorskip("sklearn", reason="the built-in data sets need scikit-learn")
pytest.importorskip("matplotlib", reason="nlayer train draws plots with matplotlib")

RUN_FILES = {
    "model.safetensors",
    "run.json",
    "history.json",
    "history.csv",
    "loss.png",
    "gradients.png",
}


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """A classification and a regression CSV file with known structure."""
    d = tmp_path_factory.mktemp("tables")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 3))
    label = np.where(
        X[:, 0] + X[:, 1] > 0.3, "high", np.where(X[:, 2] > 0, "mid", "low")
    )
    price = 3 * X[:, 0] - X[:, 1] + 0.5 * X[:, 2] + rng.normal(scale=0.05, size=240)
    cls = write_csv(
        d / "flowers.csv",
        ["id", "a", "b", "c", "kind"],
        [[i, *X[i], label[i]] for i in range(240)],
    )
    reg = write_csv(
        d / "houses.csv",
        ["a", "b", "c", "price"],
        [[*X[i], price[i]] for i in range(240)],
    )
    return cls, reg


def test_default_train_on_digits(tmp_path):
    r = nlayer_cmd("train", "--epochs", "3", "--no-early-stopping", cwd=tmp_path)
    assert (
        "nlayer train: digits (1797 rows, 64 feature columns → 64 inputs, 10 classes)"
        in r.stdout
    )
    assert "dW1 = H0.T @ dZ1 / m" in r.stdout  # the dimension-tracking summary
    assert "epoch 1/3" in r.stdout  # progress as plain lines: stdout is not a terminal
    assert "\x1b[" not in r.stdout  # and no terminal escape codes
    accuracy = float(r.stdout.split("held-out accuracy: ")[1].split("%")[0])
    assert accuracy > 80
    [run] = list((tmp_path / "runs").iterdir())
    assert run.name.startswith("digits-") and RUN_FILES <= {
        p.name for p in run.iterdir()
    }
    record = json.loads((run / "run.json").read_text())
    assert len(json.loads((run / "history.json").read_text())["loss"]) == 3
    assert record["status"] == "finished"
    test = record["result"]["test"]
    assert test["accuracy"] == pytest.approx(accuracy / 100, abs=5e-5)
    with open(run / "history.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(row["epoch"]) for row in rows] == [1, 2, 3]
    assert set(rows[0]) >= {"loss", "val_loss", "val_accuracy", "grad_norm_layer3"}
    net, pre = load_model(run / "model.safetensors")
    assert net.layer_sizes == (64, 128, 64, 10) and pre.classes == [
        str(k) for k in range(10)
    ]
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_seed_example_reproduces_the_seeds(tmp_path):
    r = nlayer_cmd(
        "train", "--dataset", "seed-squares", "--quiet", "--out", "s", cwd=tmp_path
    )
    # seed 001's 4-layer network, full-batch SGD, lr 0.01, 1000 epochs, as in
    # examples/seed_001_networks.py and the README
    assert "trained 1000 epochs" in r.stdout
    assert "final training loss: 0.0421" in r.stdout
    net, _ = load_model(tmp_path / "s" / "model.safetensors")
    assert [a.name for a in net.activations] == ["relu", "tanh", "relu", "linear"]
    # and its 2-layer sigmoid example: Final Loss 0.2787 in seed_001_networks.py
    r = nlayer_cmd(
        "train",
        "--dataset",
        "seed-squares",
        "--layers",
        "15",
        "--activations",
        "sigmoid",
        "--lr",
        "0.1",
        "-q",
        "--out",
        "s2",
        cwd=tmp_path,
    )
    assert "final training loss: 0.2787" in r.stdout


def test_classification_csv_train_predict_evaluate(tmp_path, tables):
    cls, _ = tables
    r = nlayer_cmd(
        "train",
        cls,
        "--target",
        "kind",
        "--drop",
        "id",
        "--layers",
        "16",
        "--epochs",
        "80",
        "--out",
        "m",
        "-q",
        cwd=tmp_path,
    )
    assert "held-out accuracy" in r.stdout
    assert RUN_FILES <= {p.name for p in (tmp_path / "m").iterdir()}
    model = tmp_path / "m" / "model.safetensors"
    net, pre = load_model(model)
    assert pre.features == ["a", "b", "c"] and pre.classes == ["high", "low", "mid"]

    r = nlayer_cmd("predict", model, cls, cwd=tmp_path)
    rows = list(csv.reader(r.stdout.splitlines()))
    assert rows[0] == ["kind", "p_high", "p_low", "p_mid"] and len(rows) == 241
    probabilities = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    predicted = [row[0] for row in rows[1:]]
    with open(cls) as f:
        truth = [row["kind"] for row in csv.DictReader(f)]
    agreement = np.mean(np.array(predicted) == np.array(truth))
    assert agreement > 0.85

    r = nlayer_cmd("evaluate", model, cls, cwd=tmp_path)
    assert f"{agreement:.2%}" in r.stdout  # evaluate agrees with predict
    assert "log loss" in r.stdout and "confusion matrix" in r.stdout


def test_regression_csv_train_predict_evaluate(tmp_path, tables):
    _, reg = tables
    r = nlayer_cmd(
        "train",
        reg,
        "--target",
        "price",
        "--layers",
        "32,16",
        "--activations",
        "relu,tanh",
        "--epochs",
        "150",
        "--out",
        "m",
        "-q",
        cwd=tmp_path,
    )
    r2 = float(r.stdout.split("held-out R²: ")[1].split()[0])
    assert r2 > 0.9
    model = tmp_path / "m" / "model.safetensors"
    r = nlayer_cmd("predict", model, reg, "--out", "predicted.csv", cwd=tmp_path)
    assert r.stdout == "" and "wrote 240 predictions" in r.stderr
    with open(tmp_path / "predicted.csv") as f:
        predicted = np.array([float(row["price"]) for row in csv.DictReader(f)])
    with open(reg) as f:
        truth = np.array([float(row["price"]) for row in csv.DictReader(f)])
    assert np.corrcoef(predicted, truth)[0, 1] > 0.95  # values in the target's units
    r = nlayer_cmd("evaluate", model, reg, cwd=tmp_path)
    for metric in ("r2", "mse", "mae"):
        assert metric in r.stdout


def test_summary_and_gradcheck(tmp_path, tables):
    # the seeds' network: inputs and outputs from the data, hidden layers as train
    r = nlayer_cmd(
        "summary", "--dataset", "seed-squares", "--batch-size", "100", cwd=tmp_path
    )
    assert r.stdout.startswith("Network 2 -> 10 -> 8 -> 5 -> 1  loss=mse")
    assert "total: 169" in r.stdout
    net = nlayer.Network([3, 6, 2], ["elu", "softmax"], loss="cross_entropy", seed=0)
    nlayer.save(net, tmp_path / "plain.safetensors")
    r = nlayer_cmd("summary", "plain.safetensors", "--batch-size", "7", cwd=tmp_path)
    assert "dZ2 = Y_hat - Y" in r.stdout and "(7, 6)" in r.stdout
    r = nlayer_cmd("gradcheck", "plain.safetensors", cwd=tmp_path)
    assert "passed: max relative error" in r.stdout and "W error" in r.stdout
    r = nlayer_cmd(
        "gradcheck",
        "--dataset",
        "iris",
        "--layers",
        "5",
        "--activations",
        "gelu",
        "--loss",
        "cross_entropy",
        cwd=tmp_path,
    )
    assert "passed" in r.stdout and "8 rows of the data" in r.stdout


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["train"],
        ["predict"],
        ["evaluate"],
        ["export"],
        ["summary"],
        ["gradcheck"],
        ["data"],
    ],
)
def test_help_everywhere_with_examples(tmp_path, command):
    r = nlayer_cmd(*command, "--help", cwd=tmp_path)
    assert "Example" in r.stdout and r.stdout.startswith("Usage: nlayer")


def test_bad_input_gets_one_line_and_a_non_zero_exit(tmp_path, tables):
    cls, _ = tables
    write_csv(
        tmp_path / "text.csv",
        ["a", "size", "y"],
        [[1, 3, 0], [2, "big", 1], *[[i, i + 2, i % 2] for i in range(3, 20)]],
    )
    write_csv(
        tmp_path / "nan.csv",
        ["a", "y"],
        [[1, 0], ["", 1], *[[i, i % 2] for i in range(3, 20)]],
    )
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "header.csv").write_text("a,y\n")
    (tmp_path / "ragged.csv").write_text("a,b,y\n1,2,0\n3,1\n")
    from safetensors.numpy import save_file

    save_file({"x": np.zeros(3)}, str(tmp_path / "other.safetensors"))
    cases = [
        (["train", "missing.csv", "--target", "y"], "missing.csv: no such file"),
        (["train", cls, "--target", "colour"], "no column 'colour'"),
        (
            ["train", "text.csv", "--target", "y"],
            "text.csv, line 3, column 'size': 'big' is not a number",
        ),
        (["train", "empty.csv", "--target", "y"], "empty.csv is empty"),
        (["train", "header.csv", "--target", "y"], "header but no data rows"),
        (
            ["train", "nan.csv", "--target", "y"],
            "nan.csv: column 'a' has 1 missing cell (line 3); fill them, or give "
            "--impute mean|median|most_frequent",
        ),
        (["train", "ragged.csv", "--target", "y"], "ragged.csv, line 3: 2 cells"),
        (["predict", cls, cls], "not a readable nlayer model file"),
        (["predict", "other.safetensors", cls], "not one written by nlayer"),
        (["evaluate", "missing.safetensors", cls], "missing.safetensors: no such file"),
        (
            ["summary", "--dataset", "iris", "--layers", "10", "--activations", "relx"],
            "unknown activation 'relx'",
        ),
    ]
    for args, fragment in cases:
        one_line_error(nlayer_cmd(*args, cwd=tmp_path, check_rc=None), fragment)


def test_dropout_and_lbfgs_from_the_command_line(tmp_path, tables):
    cls, _ = tables
    r = nlayer_cmd(
        "train", cls, "--target", "kind", "--layers", "16,8", "--dropout", "0.3,0.1",
        "--epochs", "20", "--quiet", "--out", "drop", cwd=tmp_path,
    )  # fmt: skip
    net, _ = load_model(tmp_path / "drop" / "model.safetensors")
    assert net.dropout == (0.3, 0.1)
    run = json.loads((tmp_path / "drop" / "run.json").read_text())
    assert run["network"]["dropout"] == [0.3, 0.1]
    r = nlayer_cmd("summary", "drop/model.safetensors", cwd=tmp_path)
    assert "H1 = relu(Z1) * M1" in r.stdout and "dH1 = (dZ2 @ W2.T) * M1" in r.stdout
    r = nlayer_cmd("gradcheck", "drop/model.safetensors", cwd=tmp_path)
    assert "dropout masks held fixed" in r.stdout and "passed" in r.stdout
    r = nlayer_cmd(
        "gradcheck", "--dataset", "iris", "--layers", "8,8", "--dropout", "0.5",
        cwd=tmp_path,
    )  # fmt: skip
    assert "passed" in r.stdout
    # L-BFGS works on the whole training set: no batches, no early stopping
    nlayer_cmd(
        "train", cls, "--target", "kind", "--optimizer", "lbfgs", "--epochs", "30",
        "--quiet", "--out", "lbfgs", cwd=tmp_path,
    )  # fmt: skip
    run = json.loads((tmp_path / "lbfgs" / "run.json").read_text())
    assert run["options"]["batch_size"] is None
    assert run["options"]["early_stopping"] is False
    assert run["status"] == "finished"


def test_usage_errors_exit_2(tmp_path):
    r = nlayer_cmd("train", "--layers", "10,x", cwd=tmp_path, check_rc=2)
    assert "Invalid value for --layers" in r.stderr and "Traceback" not in r.stderr
    for dropout, message in [
        ("x", "expected rates in [0, 1) separated by commas"),
        ("1.0", "dropout of hidden layer 1 must be in [0, 1), got 1.0"),
        ("0.1,0.2,0.3", "dropout needs one rate or one per hidden layer (2), got 3"),
    ]:
        r = nlayer_cmd("train", "--dropout", dropout, cwd=tmp_path, check_rc=2)
        assert f"Invalid value for --dropout: {message}" in r.stderr
    r = nlayer_cmd("train", "data.csv", cwd=tmp_path, check_rc=2)
    assert "DATA needs --target COLUMN" in r.stderr


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_ctrl_c_keeps_the_best_model(tmp_path):
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
            "16",
            "--out",
            "run",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    for _ in range(100):  # wait until the first epoch has finished
        if p.stdout.readline().startswith("epoch 1/"):
            break
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=60)
    assert p.returncode == 130, stderr
    assert (
        "interrupted after epoch" in stderr and "kept the best model so far" in stderr
    )
    assert "Traceback" not in stderr
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert record["status"] == "interrupted"
    epochs = record["stopped_after_epoch"]
    assert epochs == len(history["loss"]) >= 1
    load_model(tmp_path / "run" / "model.safetensors")  # a complete, valid file
    best = int(np.argmin(history["val_loss"]))
    assert f"(epoch {best + 1})" in stderr


def test_divergence_is_one_line_and_keeps_the_best_model(tmp_path):
    r = nlayer_cmd(
        "train",
        "--dataset",
        "seed-squares",
        "--lr",
        "1000",
        "-q",
        "--out",
        "d",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(
        r,
        "error: training diverged at epoch",
        "the loss is inf",
        "lower the learning rate",
        "kept the best model so far",
    )
    net, _ = load_model(tmp_path / "d" / "model.safetensors")
    assert np.isfinite(net.params).all()


def test_checkpoints_and_resume_from_the_command_line(tmp_path):
    args = ["train", "--dataset", "seed-squares", "-q"]
    nlayer_cmd(*args, "--epochs", "40", "--out", "full", cwd=tmp_path)
    r = nlayer_cmd(
        *args,
        "--epochs",
        "25",
        "--checkpoint-dir",
        "ck",
        "--checkpoint-every",
        "5",
        "--out",
        "part",
        cwd=tmp_path,
    )
    assert sorted(p.name for p in (tmp_path / "ck").glob("checkpoint-*")) == [
        "checkpoint-000015.safetensors",
        "checkpoint-000020.safetensors",
        "checkpoint-000025.safetensors",
    ]
    r = nlayer_cmd(
        *args,
        "--epochs",
        "40",
        "--checkpoint-dir",
        "ck",
        "--resume",
        "--out",
        "resumed",
        cwd=tmp_path,
    )
    assert "trained 40 epochs" in r.stdout
    full, _ = load_model(tmp_path / "full" / "model.safetensors")
    resumed, _ = load_model(tmp_path / "resumed" / "model.safetensors")
    assert full.params.tobytes() == resumed.params.tobytes()
    r = nlayer_cmd(*args, "--resume", cwd=tmp_path, check_rc=2)
    assert "--resume needs --checkpoint-dir" in r.stderr
