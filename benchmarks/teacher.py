"""The benchmarks' learnable stand-in for MNIST's shape (no download), in a
module of its own so that scripts which must not import PyTorch (each process
of benchmarks/distributed.py) share it with benchmarks/speed.py."""

from __future__ import annotations

import numpy as np


def teacher_data(
    m: int, n_in: int, classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Float32 features (m, n_in) and labels (m,) from a fixed random two-layer
    teacher network."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in), dtype=np.float32)
    T1 = rng.standard_normal((n_in, 64), dtype=np.float32) / np.sqrt(n_in)
    T2 = rng.standard_normal((64, classes), dtype=np.float32)
    y = np.argmax(np.tanh(X @ T1) @ T2, axis=1)
    return X, y
