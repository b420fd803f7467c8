"""The benchmark scripts keep working (smoke mode: tiny sizes, no timing claims)."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "benchmarks"


def test_speed_script_smoke():
    pytest.importorskip("sklearn")
    r = subprocess.run(
        [sys.executable, str(BENCH / "speed.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
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
        assert heading in r.stdout
    assert "| nlayer |" in r.stdout and "of the GEMM throughput" in r.stdout
    assert "| its GEMMs alone |" in r.stdout


def test_distributed_script_smoke():
    pytest.importorskip("mpi4py")
    r = subprocess.run(
        [sys.executable, str(BENCH / "distributed.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for part in ("### medium", "### wide", "Allgatherv", "projection to a cluster"):
        assert part in r.stdout, part


def test_tables_script_smoke():
    pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pytest.importorskip("sklearn")
    r = subprocess.run(
        [sys.executable, str(BENCH / "tables.py"), "--smoke"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    for case in ("pandas.read_csv", "nlayer predict", "nlayer read_table"):
        assert case in r.stdout


def test_accuracy_script_smoke():
    pytest.importorskip("sklearn")
    r = subprocess.run(
        [sys.executable, str(BENCH / "accuracy.py"), "--smoke", "--no-mnist1d"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "5-fold cross-validation" in r.stdout
    for data in ("| iris |", "| digits |", "| diabetes |"):
        assert data in r.stdout
    assert "nlayer − scikit-learn" in r.stdout
