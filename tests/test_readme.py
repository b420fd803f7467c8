"""The README's example runs and prints what the README says it prints."""

import re
from pathlib import Path

import nlayer

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_readme_example_runs_and_its_numbers_are_real(capsys):
    [code] = re.findall(r"```python\n(.*?)```", README, re.S)
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


def test_quick_start_has_exactly_two_commands():
    block = README.split("## Quick start", 1)[1].split("```sh\n", 1)[1].split("```")[0]
    lines = block.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pip install ") and "python" in lines[0]
    assert "[test]" in lines[1] and "pytest" in lines[1]
