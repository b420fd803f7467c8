"""scikit-learn's own MLP tests, run against nlayer's estimators.

The installed scikit-learn ships ``neural_network/tests/test_mlp.py``. This
test copies it into a temporary folder with one line changed — the import of
``MLPClassifier, MLPRegressor`` now takes ``NLayerClassifier`` and
``NLayerRegressor`` under those names — runs it in a separate pytest, and
reads the outcome of every case from the JUnit report. Nothing of
scikit-learn's is copied into nlayer: the file is read from the user's own
installation at run time, so the drop-in claim is checked against whatever
scikit-learn version is installed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

sklearn = pytest.importorskip("sklearn")

IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SWAPPED = (
    "from nlayer import NLayerClassifier as MLPClassifier\n"
    "from nlayer import NLayerRegressor as MLPRegressor"
)

# scikit-learn's suite draws seeds from this fixture (its own conftest, which
# is not installed, offers it); one seed, as scikit-learn's CI uses by default
CONFTEST = """
import pytest


@pytest.fixture
def global_random_seed():
    return 42
"""

# Cases that look at scikit-learn's private internals rather than behaviour,
# with the reason each is allowed to fail. Empty: every case passes.
KNOWN_DIFFERENCES: dict[str, str] = {}


def _suite() -> Path:
    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    if not path.is_file():
        pytest.skip(f"this scikit-learn {sklearn.__version__} ships without its tests")
    return path


def test_scikit_learns_mlp_suite_passes_on_nlayer(tmp_path: Path) -> None:
    source = _suite().read_text()
    assert IMPORT in source, (
        f"scikit-learn {sklearn.__version__}'s test_mlp.py no longer imports "
        f"'{IMPORT}': update this test's swap"
    )
    (tmp_path / "test_mlp_nlayer.py").write_text(source.replace(IMPORT, SWAPPED))
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not nlayer's settings
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"--junitxml={report}", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=1800,
    )  # fmt: skip
    assert report.is_file(), run.stdout[-4000:] + run.stderr[-4000:]
    cases = ET.parse(report).getroot().iter("testcase")
    passed, failed, skipped = [], {}, []
    for case in cases:
        name = case.get("name", "?")
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            failed[name] = (problem.get("message") or "")[:300]
        elif case.find("skipped") is not None:
            skipped.append(name)
        else:
            passed.append(name)
    unexpected = {k: v for k, v in failed.items() if k not in KNOWN_DIFFERENCES}
    assert not unexpected, "\n".join(f"{k}: {v}" for k, v in unexpected.items())
    # the whole suite ran: every parametrised case, not a collection error
    assert len(passed) >= 50, run.stdout[-4000:]
