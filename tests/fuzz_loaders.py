"""Shared by the fuzz tests: hostile inputs for the model and checkpoint loaders.

The coverage-guided harness is tests/fuzz_atheris.py.
"""

from pathlib import Path

import numpy as np

import nlayer
from nlayer import checkpoints, safefile

NET = nlayer.Network([3, 4, 2], ["tanh", "softmax"], loss="cross_entropy", seed=0)


def seeds(directory: Path) -> dict[str, bytes]:
    """Valid files to mutate: a model file and a checkpoint of NET."""
    model = nlayer.save(NET, directory / "seed-model.safetensors")
    X = np.random.default_rng(0).standard_normal((8, 3))
    Y = np.eye(2)[[0, 1] * 4]
    ck_dir = directory / "seed-checkpoints"
    NET.copy().fit(X, Y, epochs=2, optimizer="adam", checkpoint_dir=ck_dir)
    [ck] = checkpoints.checkpoints(ck_dir)[:1]
    return {"model": model.read_bytes(), "checkpoint": ck.read_bytes()}


def load_both(path: Path) -> None:
    """Read ``path`` as a model and as a checkpoint: only the documented error,
    ModelFileError (or WrongFileError for an intact checkpoint of another
    network), may come out."""
    for read in (nlayer.load, lambda p: checkpoints.load_checkpoint(p, NET)):
        try:
            read(path)
        except (nlayer.ModelFileError, safefile.WrongFileError):
            pass
