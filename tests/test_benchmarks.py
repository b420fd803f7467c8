"""The benchmark scripts keep working (smoke mode: tiny sizes, no timing claims)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks"


def smoke(script, *args):
    """The script's smoke run: it succeeds, and its output is returned."""
    r = subprocess.run(
        [sys.executable, str(BENCH / script), "--smoke", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_speed_script_smoke():
    pytest.importorskip("sklearn")
    out = smoke("speed.py")
    for heading in (
        "BLAS: ",
        "### tabular classification",
        "### tabular regression",
        "### L-BFGS",
        "### tiny",
        "### medium, adam",
        "### medium, sgd",
        "### wide",
        "### scaling",
    ):
        assert heading in out
    assert "| nlayer |" in out and "of the GEMM throughput" in out
    assert "| its GEMMs alone |" in out


def test_distributed_script_smoke():
    pytest.importorskip("mpi4py")
    out = smoke("distributed.py")
    for part in ("### medium", "### wide", "Allgatherv", "projection to a cluster"):
        assert part in out, part


def test_tables_script_smoke():
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pytest.importorskip("sklearn")
    out = smoke("tables.py")
    for case in ("pandas.read_csv", "nlayer predict", "nlayer read_table"):
        assert case in out


def test_accuracy_script_smoke():
    pytest.importorskip("sklearn")
    out = smoke("accuracy.py", "--no-mnist1d")
    assert "5-fold cross-validation" in out
    for data in ("| iris |", "| digits |", "| diabetes |"):
        assert data in out
    assert "nlayer − scikit-learn" in out
