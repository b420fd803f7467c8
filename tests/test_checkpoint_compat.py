"""A checkpoint written by nlayer 0.1 before the training loop was split into
pieces resumes with the current code, and the run ends bit for bit where a
run never interrupted ends.

The fixture (tests/data/checkpoint_0.1/) was written by the earlier code with
the recipe below, stopped after 3 of 6 epochs.
"""

import shutil
from pathlib import Path

import numpy as np

import nlayer

FIXTURE = Path(__file__).parent / "data" / "checkpoint_0.1"


def recipe():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(90, 3))
    Y = np.eye(3)[rng.integers(0, 3, 90)]
    net = nlayer.Network([3, 8, 3], ["tanh", "softmax"], loss="cross_entropy", seed=3)
    options = dict(
        optimizer="adam", lr=0.01, batch_size=16, validation_fraction=0.2,
        early_stopping=True, patience=50,
    )  # fmt: skip
    return net, X, Y, options


def test_an_earlier_versions_checkpoint_resumes_bit_for_bit(tmp_path):
    net, X, Y, options = recipe()
    whole = net.fit(X, Y, epochs=6, **options)
    resumed_net, X, Y, options = recipe()
    shutil.copytree(FIXTURE, tmp_path / "ck")
    resumed = resumed_net.fit(
        X, Y, epochs=6, checkpoint_dir=tmp_path / "ck", resume=True,
        checkpoint_every=3, **options,
    )  # fmt: skip
    np.testing.assert_array_equal(resumed_net.params, net.params)
    got, want = resumed.as_dict(), whole.as_dict()
    assert resumed.epochs == 6 and got.keys() == want.keys()
    for key in got:
        # epochs 1-3 come from the earlier version's checkpoint, which summed
        # the cross-entropy in another order: its losses may differ in the last
        # bit (the weights may not); epochs 4-6 were computed by this version
        if key in ("loss", "val_loss"):
            np.testing.assert_allclose(got[key][:3], want[key][:3], rtol=1e-15)
            assert got[key][3:] == want[key][3:]
        else:
            assert got[key] == want[key], key
