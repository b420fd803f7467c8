"""Learning: the seeds' examples and the digits data set."""

import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

import nlayer
from seed_reference import squares_data

EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    "sizes, acts, lr, ratio",
    [
        ([2, 10, 5, 1], ["tanh", "tanh", "linear"], 0.01, 0.5),  # seed 000
        ([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], 0.01, 0.05),  # seed 001
        ([2, 15, 1], ["sigmoid", "linear"], 0.1, 0.2),  # seed 001, second example
    ],
    ids=["seed000-tanh", "seed001-4layer", "seed001-sigmoid"],
)
@pytest.mark.parametrize("seed", range(3))
def test_seed_examples_learn(sizes, acts, lr, ratio, seed):
    X, Y = squares_data()
    h = nlayer.Network(sizes, acts, seed=seed).fit(X, Y, epochs=1000, lr=lr)
    assert h.loss[-1] < ratio * h.loss[0]
    # and it keeps falling, as in the seeds' printouts every 100 epochs
    checkpoints = h.loss[99::100]
    assert all(b < a for a, b in pairwise(checkpoints))


@pytest.mark.parametrize("seed", range(3))
def test_digits_reaches_97_percent(seed):
    load_digits = pytest.importorskip("sklearn.datasets").load_digits
    train_test_split = pytest.importorskip("sklearn.model_selection").train_test_split
    digits = load_digits()
    X_train, X_test, y_train, y_test = train_test_split(
        digits.data / 16.0,
        digits.target,
        test_size=0.25,
        stratify=digits.target,
        random_state=seed,
    )
    net = nlayer.Network(
        [64, 128, 64, 10], ["relu", "relu", "softmax"], loss="cross_entropy", seed=seed
    )
    net.fit(
        X_train,
        np.eye(10)[y_train],
        epochs=40,
        optimizer="adam",
        lr=1e-3,
        batch_size=32,
    )
    accuracy = np.mean(net.forward(X_test).argmax(axis=1) == y_test)
    assert accuracy >= 0.97


def run_example(name):
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def final_and_first(line):
    # "Final Loss: 0.2787  (first epoch: 1.7639)"
    final = float(line.split(":")[1].split()[0])
    first = float(line.rsplit(":", 1)[1].rstrip(")"))
    return final, first


def test_example_seed_001():
    out = run_example("seed_001_networks.py")
    finals = [
        final_and_first(line) for line in out.splitlines() if line.startswith("Final")
    ]
    assert len(finals) == 2 and all(final < 0.2 * first for final, first in finals)
    assert "dW1 = H0.T @ dZ1 / m        (2, 10)" in out
    assert "total: 169" in out


def test_example_seed_000():
    out = run_example("seed_000_three_layer.py")
    [(final, first)] = [
        final_and_first(x) for x in out.splitlines() if x.startswith("Final")
    ]
    assert final < 0.5 * first


def test_example_custom_activation():
    out = run_example("custom_activation.py")
    assert "caught: layer 1: activation 'swish'" in out


def test_example_digits():
    pytest.importorskip("sklearn")
    out = run_example("digits.py")
    accuracy = float(out.strip().splitlines()[-1].split()[2].rstrip("%"))
    assert accuracy >= 97.0
