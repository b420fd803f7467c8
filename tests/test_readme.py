"""The README's example runs and prints what the README says it prints."""

import re
from pathlib import Path

import pytest

import nlayer

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_example_runs_and_its_numbers_are_real(capsys):
    use_it = README.split("## Use it", 1)[1].split("\n## ", 1)[0]
    [code] = re.findall(r"```python\n(.*?)```", use_it, re.S)
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    net, history = namespace["net"], namespace["history"]
    X, Y = namespace["X"], namespace["Y"]
    assert [W.shape for W in net.weights] == [(2, 10), (10, 8), (8, 5), (5, 1)]
    # "(2.0793, 0.0421)" as the README shows
    assert round(history.loss[0], 4) == 2.0793 and round(history.loss[-1], 4) == 0.0421
    assert namespace["Y_hat"].shape == Y.shape
    assert "dW1 = H0.T @ dZ1 / m" in capsys.readouterr().out
    fresh = nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=0)
    assert nlayer.gradcheck(fresh, X, Y) < 1e-8  # the README shows 1.9e-10


def test_the_drop_in_import_line_imports():
    section = README.split("## In scikit-learn", 1)[1].split("\n## ", 1)[0]
    [line] = re.findall(r"```python\n(.*?)```", section, re.S)
    pytest.importorskip("sklearn")
    namespace = {}
    exec(line, namespace)
    assert namespace["MLPClassifier"] is nlayer.NLayerClassifier
    assert namespace["MLPRegressor"] is nlayer.NLayerRegressor


def test_quick_start_has_exactly_two_commands():
    block = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```")[0]
    lines = block.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pip install ") and "nlayer train" in lines[0]
    assert "[test]" in lines[1] and "pytest" in lines[1]


def test_readme_cli_transcript_is_what_nlayer_train_prints(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    import re
    import subprocess
    import sys

    transcript = README.split("$ nlayer train\n", 1)[1].split("```")[0]
    run = subprocess.run(
        [sys.executable, "-m", "nlayer", "train", "--out", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    for line in transcript.splitlines()[:5]:  # the header and the start of the template
        assert line in run.stdout
    claim = re.search(r"trained (\d+) epochs .* accuracy: ([\d.]+)%", transcript)
    real = re.search(r"trained (\d+) epochs .* accuracy: ([\d.]+)%", run.stdout)
    # the same run; allow for another BLAS summing in another order
    assert abs(int(claim[1]) - int(real[1])) <= 5
    assert abs(float(claim[2]) - float(real[2])) <= 1.5
