"""What an adversarial audit tried: hostile output paths, declared sizes, header
floods, files cut short while read, concurrent runs, edited checkpoints,
numbers at the edge, sizes that cannot fit, odd API inputs, and small ones."""

import json
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import nlayer
from helpers import nlayer_cmd, one_line_error, write_csv
from nlayer import checkpoints, safefile
from nlayer.safefile import InUseError, atomic_write, locked

# -- 1. output paths -------------------------------------------------------------------


def test_a_fifo_is_written_into_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, b"hello through a pipe")
    reader.join(timeout=10)
    assert got == [b"hello through a pipe"]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)  # still a FIFO


def test_a_character_device_is_written_into_not_replaced(tmp_path):
    dev = tmp_path / "null"
    try:  # a device node like /dev/null, made here, never the system's own
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")
    atomic_write(dev, b"into the void")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)
    assert os.listdir(tmp_path) == ["null"]  # no temporary file left


def test_a_symlink_keeps_pointing_and_its_target_is_replaced(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    atomic_write(link, b"new")
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "made.csv")
    atomic_write(dangling, b"made")  # the file it names is created
    assert (tmp_path / "made.csv").read_bytes() == b"made" and dangling.is_symlink()


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(OSError, match="a directory"):
        atomic_write(tmp_path / "d", b"x")


def test_predict_into_a_fifo_from_the_command_line(tmp_path):
    nlayer_cmd(
        "train", "--dataset", "iris", "--epochs", "2", "-q", "--out", "m", cwd=tmp_path
    )
    nlayer_cmd("data", "iris", "iris.csv", cwd=tmp_path)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    nlayer_cmd(
        "predict", "m/model.safetensors", "iris.csv", "--out", fifo, cwd=tmp_path
    )
    reader.join(timeout=30)
    assert got and len(got[0].splitlines()) == 151
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


# -- 2, 3, 4. declared sizes, header floods, files cut short ---------------------------


def container(header, data=b""):
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + data


def peak_mb_of(code, path):
    """Run ``code`` (which reads PATH) in a fresh process: its peak RSS in MB."""
    script = (
        "import sys, nlayer\n"
        f"path = {str(path)!r}\n"
        f"{code}\n"
        # VmHWM: this process's own peak (ru_maxrss would include the parent's)
        "status = open('/proc/self/status').read()\n"
        "print(int(status.split('VmHWM:')[1].split()[0]) // 1024)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stderr
    return int(r.stdout.split()[-1]), r.stdout


LOAD = (
    "try:\n    nlayer.load(path)\n"
    "except nlayer.ModelFileError as e:\n    print('refused:', e)"
)


def test_a_small_file_declaring_16_gib_is_refused_before_allocating(tmp_path):
    path = tmp_path / "sparse.safetensors"
    header = {
        "__metadata__": {"nlayer": "{}"},
        "W1": {"dtype": "F64", "shape": [65536, 32768], "data_offsets": [0, 2**34]},
    }
    path.write_bytes(container(header, bytes(4000)))
    with pytest.raises(nlayer.ModelFileError, match="declares 17,179,869,184 bytes"):
        nlayer.load(path)
    peak, out = peak_mb_of(LOAD, path)
    assert "refused" in out and peak < 200


def test_a_sparse_2_gib_file_is_refused_by_its_description_not_read(tmp_path):
    path = tmp_path / "big.safetensors"
    n = 2**28  # 2 GiB of float64, declared and (sparsely) there
    desc = nlayer.io.describe(nlayer.Network([2, 2], ["linear"]))
    header = {
        "__metadata__": {"nlayer": json.dumps(desc)},
        "W1": {"dtype": "F64", "shape": [n], "data_offsets": [0, 8 * n]},
    }
    head = container(header)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + 8 * n)  # a hole: no disk used
    peak, out = peak_mb_of(LOAD, path)
    assert "refused" in out and "tensors do not match" in out and peak < 200


def test_a_header_flood_is_refused_quickly_and_small(tmp_path):
    path = tmp_path / "flood.safetensors"
    keys = ",".join(f'"k{i}":"v"' for i in range(3_000_000))  # ~30 MB of keys
    text = ('{"__metadata__":{' + keys + "}}").encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(len(text).to_bytes(8, "little") + text)
    started = time.perf_counter()
    with pytest.raises(nlayer.ModelFileError, match="more than 100,000 keys"):
        nlayer.load(path)
    assert time.perf_counter() - started < 5
    peak, out = peak_mb_of(LOAD, path)
    assert "refused" in out and peak < 300
    huge = tmp_path / "huge-header.safetensors"
    with open(huge, "wb") as f:  # a header longer than nlayer reads: not read
        f.write((2**27).to_bytes(8, "little"))
        f.truncate(8 + 2**27)
    with pytest.raises(nlayer.ModelFileError, match="nlayer reads at most"):
        nlayer.load(huge)


def test_a_file_cut_short_while_it_is_read_is_an_error_not_a_crash(
    tmp_path, monkeypatch
):
    net = nlayer.Network([3, 50, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    path = nlayer.save(net, tmp_path / "m.safetensors")
    full = path.stat().st_size
    real_stat = os.stat

    def stale_stat(p, *args, **kwargs):  # the size seen before another process cut it
        result = real_stat(p, *args, **kwargs)
        if Path(p) == path:
            values = list(result)
            values[stat.ST_SIZE] = full
            return os.stat_result(values)
        return result

    with open(path, "r+b") as f:
        f.truncate(full - 100)
    monkeypatch.setattr(safefile.os, "stat", stale_stat)
    with pytest.raises(nlayer.ModelFileError, match="changed size while it was read"):
        nlayer.load(path)


def test_saving_twice_gives_the_same_bytes_in_any_process(tmp_path):
    code = (
        "import nlayer, sys\n"
        "net = nlayer.Network([3, 5, 2], ['relu', 'softmax'], 'cross_entropy', "
        "seed=1)\n"
        "nlayer.save(net, sys.argv[1])\n"
    )
    paths = [tmp_path / f"m{i}.safetensors" for i in range(3)]
    for p in paths:  # hash seeds differ between processes
        subprocess.run([sys.executable, "-c", code, p], check=True)
    assert paths[0].read_bytes() == paths[1].read_bytes() == paths[2].read_bytes()
    from safetensors import safe_open  # and safetensors itself reads them

    with safe_open(str(paths[0]), framework="np") as f:
        assert set(f.keys()) == {"W1", "b1", "W2", "b2"}


# -- 5. concurrent runs ----------------------------------------------------------------


def test_a_second_holder_of_a_folder_is_refused_with_the_pid(tmp_path):
    with locked(tmp_path, "--out"):
        code = (
            "import sys\nfrom nlayer.safefile import locked\n"
            "with locked(sys.argv[1], '--out'): pass\n"
        )
        r = subprocess.run(
            [sys.executable, "-c", code, tmp_path], capture_output=True, text=True
        )
        assert r.returncode != 0 and f"pid {os.getpid()}" in r.stderr
    with locked(tmp_path, "--out"):  # released: free again
        pass


def long_run(tmp_path, *extra):
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nlayer",
            "train",
            "--dataset",
            "digits",
            "--epochs",
            "100000",
            "--no-early-stopping",
            "--layers",
            "8",
            *extra,
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_an_epoch(p):
    for _ in range(200):
        if p.stdout.readline().startswith("epoch "):
            return
    raise AssertionError("no epoch finished")


def test_concurrent_runs_on_one_checkpoint_folder_or_run_folder_are_refused(tmp_path):
    p = long_run(tmp_path, "--checkpoint-dir", "ck", "--out", "a")
    try:
        wait_for_an_epoch(p)
        (tmp_path / "ck" / ".checkpoint-000009.safetensors.1.tmp").write_bytes(b"x")
        r = nlayer_cmd(
            "train",
            "--dataset",
            "digits",
            "--epochs",
            "3",
            "--checkpoint-dir",
            "ck",
            "--resume",
            "--out",
            "b",
            "-q",
            cwd=tmp_path,
            check_rc=1,
        )
        one_line_error(r, "ck: in use by another nlayer process", f"(pid {p.pid})")
        # the live run's files were left alone
        assert (tmp_path / "ck" / ".checkpoint-000009.safetensors.1.tmp").exists()
        r = nlayer_cmd(
            "train",
            "--dataset",
            "digits",
            "--epochs",
            "3",
            "--out",
            "a",
            "--overwrite",
            "-q",
            cwd=tmp_path,
            check_rc=1,
        )
        one_line_error(r, "a: in use by another nlayer process", f"(pid {p.pid})")
    finally:
        p.kill()
        p.communicate()
    # the holder is gone (killed): the folder is free, its stale temporary removed
    done = int(max(p.name for p in (tmp_path / "ck").glob("checkpoint-*"))[11:17])
    nlayer_cmd(
        "train",
        "--dataset",
        "digits",
        "--epochs",
        done + 1,
        "--checkpoint-dir",
        "ck",
        "--resume",
        "--out",
        "c",
        "-q",
        "--layers",
        "8",
        "--no-early-stopping",
        cwd=tmp_path,
    )
    assert not list((tmp_path / "ck").glob(".checkpoint-*.tmp"))


def test_fit_holds_its_checkpoint_folder(tmp_path):
    net = nlayer.Network([2, 3, 1], ["tanh", "linear"], seed=0)
    X, Y = np.zeros((4, 2)), np.zeros((4, 1))
    (tmp_path / "ck").mkdir()
    with locked(tmp_path / "ck", "checkpoint_dir"):  # as another process would
        with pytest.raises(InUseError, match="in use by another nlayer process"):
            net.fit(X, Y, epochs=1, checkpoint_dir=tmp_path / "ck")
    net.fit(X, Y, epochs=1, checkpoint_dir=tmp_path / "ck")  # free again


# -- 6. edited checkpoints -------------------------------------------------------------


def checkpoint_parts(tmp_path):
    net = nlayer.Network([3, 4, 2], ["tanh", "softmax"], "cross_entropy", seed=0)
    X = np.random.default_rng(0).standard_normal((8, 3))
    Y = np.eye(2)[[0, 1] * 4]
    net.copy().fit(X, Y, epochs=2, optimizer="adam", checkpoint_dir=tmp_path / "ck")
    [path] = checkpoints.checkpoints(tmp_path / "ck")[:1]
    d, t = safefile.read_file(path, lambda d: checkpoints._expected(net, path)(d), True)
    return net, path, d, {k: v.copy() for k, v in t.items()}


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda d: d["optimizer"].update(t=-1), "optimizer.t"),
        (lambda d: d["optimizer"].update(t=-12), "optimizer.t"),
        (lambda d: d["optimizer"].update(t=10**400), "optimizer.t"),
        (lambda d: d["optimizer"].update(t=0), "optimizer.t"),
        (lambda d: d["optimizer"].update(t=1.5), "optimizer.t"),
        (lambda d: d["optimizer"].update(state=["M", "M"]), "optimizer.state"),
        (lambda d: d["optimizer"].update(state=["velocity"]), "optimizer.state"),
        (lambda d: d["optimizer"].update(name="lbfgs2"), "optimizer.name"),
        (
            lambda d: d["optimizer"]["settings"].update(lr="0.1"),
            "optimizer.settings.lr",
        ),
        (lambda d: d["optimizer"]["settings"].pop("beta1"), "optimizer.settings"),
        (lambda d: d.update(epoch=-1), "epoch"),
        (lambda d: d.update(epoch=10**20), "epoch"),
        (lambda d: d["early_stopping"].update(waited=-3), "early_stopping.waited"),
        (lambda d: d["early_stopping"].update(best="x"), "early_stopping.best"),
        (lambda d: d["history"].update(loss=[1.0]), "history.loss"),
        (lambda d: d["history"].update(best_epoch=7), "history.best_epoch"),
        (
            lambda d: d["history"].update(grad_norms=[[1.0], [2.0]]),
            "history.grad_norms",
        ),
        (lambda d: d["history"].update(val_loss=[1.0]), "history.val_loss"),
        (lambda d: d.update(has_best_params="yes"), "has_best_params"),
        (lambda d: d.update(rng={"state": 1}), "rng"),
        (lambda d: d.pop("data"), "lacks data"),
    ],
)
def test_edited_checkpoints_name_the_file_and_the_field(tmp_path, edit, field):
    net, path, d, tensors = checkpoint_parts(tmp_path)
    edit(d)
    safefile.write_file(path, tensors, d)  # with fresh, valid checksums
    with pytest.raises(nlayer.ModelFileError) as info:
        checkpoints.load_checkpoint(path, net)
    assert str(info.value).startswith(f"{path}: ") and field in str(info.value)


def test_a_checkpoint_of_another_dtype_or_activation_says_what_differs(tmp_path):
    args = ["train", "--dataset", "seed-squares", "--checkpoint-dir", "ck", "-q"]
    nlayer_cmd(*args, "--epochs", "3", "--out", "a", cwd=tmp_path)
    r = nlayer_cmd(
        *args,
        "--epochs",
        "5",
        "--resume",
        "--dtype",
        "float32",
        "--out",
        "b",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(r, "dtype 'float64' there, 'float32' here")
    r = nlayer_cmd(
        *args,
        "--epochs",
        "5",
        "--resume",
        "--activations",
        "tanh",
        "--out",
        "c",
        cwd=tmp_path,
        check_rc=1,
    )
    assert "activations" in r.stderr and "layer sizes" not in r.stderr


def test_fewer_epochs_than_the_checkpoint_holds_is_refused(tmp_path):
    args = ["train", "--dataset", "seed-squares", "--checkpoint-dir", "ck", "-q"]
    nlayer_cmd(*args, "--epochs", "10", "--out", "a", cwd=tmp_path)
    r = nlayer_cmd(
        *args, "--epochs", "5", "--resume", "--out", "b", cwd=tmp_path, check_rc=1
    )
    one_line_error(r, "holds 10 epochs, more than epochs=5")


# -- 7. numbers at the edge ------------------------------------------------------------


def test_a_huge_feature_is_refused_at_training_naming_the_column(tmp_path):
    rows = [[float(i), i % 2] for i in range(40)]
    rows[7][0] = 1e200
    path = write_csv(tmp_path / "huge.csv", ["size", "y"], rows)
    r = nlayer_cmd("train", path, "--target", "y", "-q", cwd=tmp_path, check_rc=1)
    one_line_error(r, "column 'size' holds numbers too large to standardise")
    rows[7][0] = 1e39  # fine in float64, not in float32, unscaled
    path = write_csv(tmp_path / "f32.csv", ["size", "y"], rows)
    r = nlayer_cmd(
        "train",
        path,
        "--target",
        "y",
        "--dtype",
        "float32",
        "--no-standardize",
        "-q",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(
        r, "column 'size': 1e+39 is too large for the model's float32 inputs"
    )


def test_huge_inputs_at_prediction_name_the_rows(tmp_path):
    rows = [[float(i % 7), i % 2] for i in range(60)]
    write_csv(tmp_path / "ok.csv", ["a", "y"], rows)
    nlayer_cmd(
        "train",
        "ok.csv",
        "--target",
        "y",
        "-q",
        "--out",
        "m",
        "--epochs",
        "5",
        "--dtype",
        "float32",
        cwd=tmp_path,
    )
    write_csv(tmp_path / "new.csv", ["a"], [[1.0], [1e300], [2.0]])
    r = nlayer_cmd(
        "predict", "m/model.safetensors", "new.csv", cwd=tmp_path, check_rc=1
    )
    one_line_error(
        r, "new.csv, line 3, column 'a'", "too large for the model's float32"
    )
    # a network whose sums overflow on some inputs: named, never a silent NaN
    rows = [[float(i % 7), i * 1.37] for i in range(60)]
    write_csv(tmp_path / "reg.csv", ["a", "y"], rows)
    nlayer_cmd("train", "reg.csv", "--target", "y", "-q", "--out", "r", cwd=tmp_path)
    model = nlayer.load(tmp_path / "r" / "model.safetensors")
    for W in model.network.weights:
        W *= 1e150  # huge but finite weights
    nlayer.save(model, tmp_path / "r" / "model.safetensors")
    write_csv(tmp_path / "far.csv", ["a"], [[1.0], [1e10], [2.0]])
    r = nlayer_cmd(
        "predict", "r/model.safetensors", "far.csv", cwd=tmp_path, check_rc=1
    )
    one_line_error(r, "far.csv: the network's output is not finite for line")


def test_estimators_refuse_what_they_cannot_represent():
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    with pytest.raises(ValueError, match="y holds values too large to standardise"):
        nlayer.NLayerRegressor(max_iter=2).fit(X, rng.normal(size=50) * 1e200)
    w = np.ones(50)
    w[3:5] = 1e308  # each finite, their sum not
    with pytest.raises(ValueError, match="sample_weight sums to more than the largest"):
        nlayer.NLayerRegressor(max_iter=2).fit(X, rng.normal(size=50), sample_weight=w)


# -- 8. sizes that cannot fit ----------------------------------------------------------


def test_sizes_that_cannot_fit_are_refused_with_the_figures(tmp_path):
    with pytest.raises(MemoryError, match=r"needs 74\.5 GiB, but this machine has"):
        nlayer.Network([100_000, 100_000, 1], ["relu", "linear"])
    r = nlayer_cmd(
        "train",
        "--dataset",
        "iris",
        "--layers",
        "100000,100000",
        cwd=tmp_path,
        check_rc=1,
    )
    one_line_error(r, "needs", "GiB, but this machine has")
    # the template needs no network: it is printed, not allocated
    r = nlayer_cmd(
        "summary", "--dataset", "iris", "--layers", "100000,100000", cwd=tmp_path
    )
    total = 4 * 100_000 + 100_000 + 100_000**2 + 100_000 + 100_000 * 3 + 3
    assert f"total: {total:,}" in r.stdout


def test_a_hundred_thousand_classes_are_refused_before_allocating(tmp_path):
    n = 100_000
    rows = ([i % 10, f"c{i}"] for i in range(n))
    write_csv(tmp_path / "many.csv", ["x", "y"], rows)
    started = time.perf_counter()
    r = nlayer_cmd(
        "train",
        "many.csv",
        "--target",
        "y",
        "--test-split",
        "0",
        "--val-split",
        "0",
        "-q",
        cwd=tmp_path,
        check_rc=1,
        timeout=300,
    )
    one_line_error(r, "needs", "GiB, but this machine has")
    assert time.perf_counter() - started < 60


def test_a_long_gradcheck_samples_and_says_so(tmp_path):
    started = time.perf_counter()
    r = nlayer_cmd(
        "gradcheck",
        "--dataset",
        "iris",
        "--layers",
        "1000,1000",
        "--activations",
        "tanh",
        cwd=tmp_path,
    )
    assert time.perf_counter() - started < 60
    assert "W 64 of 1,000,000" in r.stdout and "drawn at random" in r.stdout
    report = nlayer.gradcheck_layers(
        nlayer.Network([3, 40, 2], ["tanh", "linear"], seed=0),
        np.ones((4, 3)),
        np.zeros((4, 2)),
        samples=10,
    )
    assert report[0]["W_checked"] == 10 and report[0]["W_size"] == 120
    assert report[1]["b_checked"] == 2 and max(r["W"] for r in report) < 1e-6


# -- 9. API inputs ---------------------------------------------------------------------


def test_nullable_pandas_columns_and_masked_arrays():
    pd = pytest.importorskip("pandas")
    net = nlayer.Network([2, 3, 1], ["tanh", "linear"], seed=0)
    frame = pd.DataFrame(
        {
            "a": pd.array([1, 2, 3], dtype="Int64"),
            "b": pd.array([0.5, 1.5, 2.5], dtype="Float64"),
        }
    )
    plain = np.array([[1, 0.5], [2, 1.5], [3, 2.5]])
    assert np.array_equal(net.forward(frame), net.forward(plain))
    net.fit(
        frame, pd.DataFrame({"y": pd.array([1.0, 2.0, 3.0], dtype="Float64")}), epochs=2
    )
    frame.loc[1, "a"] = pd.NA
    with pytest.raises(ValueError, match="X: column 'a' holds 1 missing value"):
        net.forward(frame)
    with pytest.raises(ValueError, match="masked array"):
        net.forward(np.ma.masked_array(plain, mask=plain > 2))


def test_ctrl_c_in_an_estimators_first_epoch_leaves_it_unfitted(monkeypatch):
    pytest.importorskip("sklearn")
    from sklearn.exceptions import NotFittedError

    from nlayer import network

    X = np.random.default_rng(0).normal(size=(200, 3))
    y = (X[:, 0] > 0).astype(int)
    calls = {"n": 0}
    real = network.Network._backward

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == calls["at"]:
            raise KeyboardInterrupt
        return real(self, *args, **kwargs)

    monkeypatch.setattr(network.Network, "_backward", interrupted)
    clf = nlayer.NLayerClassifier(batch_size=20, max_iter=5, random_state=0)
    calls["at"] = 3  # in the first epoch (10 steps)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "n_iter_") and not hasattr(clf, "classes_")
    calls["n"], calls["at"] = 0, 25  # in the third epoch: fitted on two, and says so
    with pytest.warns(UserWarning, match="interrupted by the user after 2 epoch"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 2
    assert clf.predict(X).shape == (200,)


# -- 10. small ones --------------------------------------------------------------------


def test_history_json_is_strict_json(tmp_path):
    from nlayer.history import History

    h = History(
        loss=[1.0, float("inf")],
        val_loss=[float("-inf"), 2.0],
        metric="r2",
        val_metric=[float("nan"), 0.5],
        grad_norms=[[1.0], [2.0]],
        lr=[0.1, 0.1],
    )
    text = h.to_json().decode()
    assert "Infinity" not in text and "NaN" not in text
    assert json.loads(text)["val_loss"] == [None, 2.0]


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--seed", "-1"], "Invalid value for '--seed'"),
        (["--epochs", "1_000"], "'1_000' is not an integer"),
        (["--epochs", "１"], "is not an integer"),
        (["--epochs", "١"], "is not an integer"),
        (["--lr", "1_0"], "'1_0' is not a number"),
        (["--layers", "1_0"], "Invalid value for --layers"),
        (["--patience", "٣"], "is not an integer"),
        (["--val-split", "1"], "'1' is not in [0, 1)"),
    ],
)
def test_numbers_on_the_command_line_are_ascii_and_in_range(tmp_path, args, fragment):
    r = nlayer_cmd("train", "--dataset", "iris", *args, cwd=tmp_path, check_rc=2)
    assert fragment in r.stderr and "Traceback" not in r.stderr
