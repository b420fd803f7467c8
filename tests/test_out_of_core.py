"""Data larger than memory: memory-mapped arrays train as in memory, bit for
bit (validation split, sample weights, resume); ``nlayer train`` on a folder of
Parquet files or a .npy file gives the model it gives in memory; the memory a
file-backed fit takes beyond the model, measured in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from nlayer import Network
from nlayer.cli import main

pd = pytest.importorskip("pandas")
pytest.importorskip("pyarrow")
safetensors = pytest.importorskip("safetensors.numpy")


def run_cli(*args: str, code: int = 0) -> None:
    """``nlayer ARGS`` in this process (faster than a new one)."""
    assert main(list(args)) == code


def _data(m: int = 600, dtype: type = np.float64) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(3)
    X = rng.standard_normal((m, 5)).astype(dtype)
    Y = (np.sin(X[:, :2]) + 0.1 * X[:, 2:4]).astype(dtype)
    w = rng.uniform(0.5, 2.0, m).astype(dtype)
    return X, Y, w


def _mapped(tmp_path: Path, **arrays: np.ndarray) -> list[np.ndarray]:
    out = []
    for name, array in arrays.items():
        np.save(tmp_path / f"{name}.npy", array)
        out.append(np.load(tmp_path / f"{name}.npy", mmap_mode="r"))
    return out


def _net(dtype: type) -> Network:
    return Network([5, 16, 2], ["tanh", "linear"], "mse", seed=7, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"validation_fraction": 0.25}])
def test_memory_mapped_training_equals_in_memory(tmp_path, dtype, options):
    X, Y, w = _data(dtype=dtype)
    Xm, Ym, wm = _mapped(tmp_path, X=X, Y=Y, w=w)
    runs = []
    for data in ((X, Y, w), (Xm, Ym, wm)):
        net = _net(dtype)
        history = net.fit(
            data[0], data[1], sample_weight=data[2], epochs=3, batch_size=64,
            optimizer="adam", lr=0.01, **options,
        )  # fmt: skip
        runs.append((net.params.copy(), history.loss, history.val_loss))
    assert np.array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_memory_mapped_resume_is_exact(tmp_path):
    X, Y, _ = _data(dtype=np.float32)
    Xm, Ym = _mapped(tmp_path, X=X, Y=Y)
    options = {"batch_size": 50, "optimizer": "adam", "lr": 0.01}
    whole = _net(np.float32)
    whole.fit(X, Y, epochs=4, validation_fraction=0.2, **options)
    first = _net(np.float32)
    ck = tmp_path / "ck"
    first.fit(Xm, Ym, epochs=2, validation_fraction=0.2, checkpoint_dir=ck, **options)
    resumed = _net(np.float32)
    resumed.fit(
        Xm, Ym, epochs=4, validation_fraction=0.2, checkpoint_dir=ck, resume=True,
        **options,
    )  # fmt: skip
    assert np.array_equal(whole.params, resumed.params)


def _weights(run: Path) -> dict[str, np.ndarray]:
    return safetensors.load_file(str(run / "model.safetensors"))


def _same_weights(a: Path, b: Path) -> None:
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert np.array_equal(wa[k], wb[k]), k


def _table(m: int = 2400) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "a": rng.standard_normal(m),
            "b": rng.standard_normal(m) * 3 + 1,
            "colour": rng.choice(["red", "green", "blue"], m),
            "y": rng.choice(["p", "q", "r"], m),
        }
    )
    df.loc[[4, 900], "a"] = np.nan  # imputed from the training rows
    df.loc[[7], "y"] = None  # a row without a target, left out
    return df


TRAIN = [
    "--epochs", "3", "--layers", "8", "--val-split", "0.2", "--impute", "mean",
    "--drop-missing-target", "--batch-size", "64", "-q",
]  # fmt: skip


def test_cli_on_a_parquet_folder_equals_one_file_in_memory(tmp_path):
    df = _table()
    df.to_parquet(tmp_path / "one.parquet", index=False)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, len(df), 700)):
        df.iloc[start : start + 700].to_parquet(folder / f"p{i}.parquet", index=False)
    one, parts = tmp_path / "one", tmp_path / "parts-run"
    run_cli(
        "train",
        str(tmp_path / "one.parquet"),
        "--target",
        "y",
        "--out",
        str(one),
        *TRAIN,
    )
    run_cli("train", str(folder), "--target", "y", "--out", str(parts), *TRAIN)
    _same_weights(one, parts)
    results = [json.loads((r / "run.json").read_text())["result"] for r in (one, parts)]
    assert results[0]["test"]["accuracy"] == results[1]["test"]["accuracy"]
    # --out-of-core on the one file: the same model again
    ooc = tmp_path / "ooc"
    run_cli(
        "train", str(tmp_path / "one.parquet"), "--target", "y", "--out", str(ooc),
        "--out-of-core", *TRAIN,
    )  # fmt: skip
    _same_weights(one, ooc)


def test_cli_on_a_npy_file_equals_its_table(tmp_path):
    X, Y, _ = _data(m=900)
    array = np.column_stack([X, Y[:, 0]])
    np.save(tmp_path / "d.npy", array)
    pd.DataFrame(array, columns=[str(j) for j in range(6)]).to_parquet(
        tmp_path / "d.parquet", index=False
    )
    opts = [
        "--target",
        "5",
        "--epochs",
        "2",
        "--layers",
        "6",
        "--val-split",
        "0.1",
        "-q",
    ]
    run_cli("train", str(tmp_path / "d.npy"), "--out", str(tmp_path / "a"), *opts)
    run_cli("train", str(tmp_path / "d.parquet"), "--out", str(tmp_path / "b"), *opts)
    _same_weights(tmp_path / "a", tmp_path / "b")


def test_a_folder_with_other_columns_names_the_file(tmp_path, capsys):
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"a": [1.0, 2.0], "y": [0.0, 1.0]}).to_parquet(folder / "p0.parquet")
    pd.DataFrame({"a": [1.0, 2.0], "z": [0.0, 1.0]}).to_parquet(folder / "p1.parquet")
    run_cli("train", str(folder), "--target", "y", "-q", code=1)
    err = capsys.readouterr().err
    assert "p1.parquet" in err and "same columns" in err


def test_a_npy_file_must_be_a_table_of_numbers(tmp_path, capsys):
    np.save(tmp_path / "v.npy", np.arange(10.0))
    run_cli("train", str(tmp_path / "v.npy"), "--target", "0", "-q", code=1)
    err = capsys.readouterr().err
    assert "v.npy" in err and "2-D array of numbers" in err


# -- the memory bound ---------------------------------------------------------------

#: the size of the .npy file the memory bound is measured on (raise it with
#: NLAYER_OOC_BYTES; the slow test takes 2 GB)
OOC_BYTES = int(os.environ.get("NLAYER_OOC_BYTES", 1 << 30))
#: anonymous memory a file-backed fit may take beyond the model
BOUND = 300 * 2**20

CHILD = textwrap.dedent(
    """
    import sys, threading, time
    import numpy as np
    from nlayer import Network

    def anon():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

    X = np.load(sys.argv[1], mmap_mode="r")
    Y = np.load(sys.argv[2], mmap_mode="r")
    net = Network([X.shape[1], 32, 1], ["relu", "linear"], "mse", seed=0,
                  dtype=np.float32)
    options = {"validation_fraction": 0.1} if sys.argv[3] == "val" else {}
    peak, done = [anon()], threading.Event()
    before = peak[0]

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], anon())
            time.sleep(0.01)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    net.fit(X, Y, epochs=1, batch_size=4096, lr=0.01, **options)
    done.set()
    thread.join()
    print(max(peak[0], anon()) - before)
    """
)


def _peak(tmp_path: Path, n_bytes: int, validation: bool) -> int:
    cols = 64
    rows = n_bytes // (4 * cols)
    X = np.lib.format.open_memmap(tmp_path / "X.npy", "w+", np.float32, (rows, cols))
    rng = np.random.default_rng(0)
    for start in range(0, rows, 1 << 18):  # written in pieces: bounded here too
        stop = min(rows, start + (1 << 18))
        X[start:stop] = rng.standard_normal((stop - start, cols), dtype=np.float32)
    Y = np.lib.format.open_memmap(tmp_path / "Y.npy", "w+", np.float32, (rows, 1))
    Y[:] = X[:, :1]
    X.flush(), Y.flush()
    del X, Y
    try:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(tmp_path / "X.npy"),
             str(tmp_path / "Y.npy"), "val" if validation else "none"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    finally:
        (tmp_path / "X.npy").unlink()
        (tmp_path / "Y.npy").unlink()
    return int(out.stdout.split()[-1])


linux = pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="RssAnon is read from /proc"
)


@linux
@pytest.mark.parametrize("validation", [False, True])
def test_a_file_backed_fit_stays_within_the_memory_bound(tmp_path, validation):
    peak = _peak(tmp_path, OOC_BYTES, validation)
    print(f"peak anonymous memory beyond the model: {peak / 2**20:.0f} MiB")
    assert peak < BOUND


@linux
@pytest.mark.slow
@pytest.mark.parametrize("validation", [False, True])
def test_a_2_gb_npy_trains_within_the_memory_bound(tmp_path, validation):
    assert _peak(tmp_path, 2 << 30, validation) < BOUND
