"""Training that survives faults: divergence, kills, damaged checkpoints."""

import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import nlayer
from nlayer.checkpoints import checkpoints
from seed_reference import squares_data

CHILD = Path(__file__).parent / "faults_child.py"


# -- divergence -------------------------------------------------------------------


def seed_net():
    return nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=0)


def test_a_huge_learning_rate_stops_with_the_last_finite_weights():
    X, Y = squares_data()
    net, after_epoch = seed_net(), []
    with pytest.raises(nlayer.TrainingDiverged) as info:
        net.fit(
            X,
            Y,
            epochs=1000,
            lr=1e3,
            callbacks=[lambda n, e, logs: after_epoch.append(n.params.copy())],
        )
    e = info.value
    assert isinstance(e, ArithmeticError) and e.epoch < 100 and e.step == 1
    assert e.history.epochs == e.epoch - 1 == len(after_epoch)
    assert np.isfinite(net.params).all()
    # full batch: one step an epoch, so the last finite step ended the last epoch
    np.testing.assert_array_equal(net.params, after_epoch[-1])
    message = str(e)
    assert f"training diverged at epoch {e.epoch}, step 1: the loss is inf" in message
    assert "lower the learning rate (lr=1000 now) or clip the gradient" in message


class Exploding:
    """A loss whose value stays finite while its gradient does not."""

    name = "exploding"

    def value(self, Y_hat, Y):
        return float(np.abs(Y_hat - Y).sum() / len(Y))

    def gradient(self, Y_hat, Y):
        return np.where(np.abs(Y_hat - Y) > 1.5, np.inf, np.sign(Y_hat - Y))


def test_a_non_finite_gradient_is_caught_before_the_update(monkeypatch):
    X, Y = squares_data()
    net = nlayer.Network(
        [2, 8, 1], ["tanh", "linear"], loss=Exploding(), seed=0, check=False
    )
    after_step = [net.params.copy()]
    real_step = nlayer.optimizers.SGD.step

    def recording_step(self, params, *args):
        real_step(self, params, *args)
        after_step.append(params.copy())

    monkeypatch.setattr(nlayer.optimizers.SGD, "step", recording_step)
    with pytest.raises(nlayer.TrainingDiverged, match="layer 2's gradient norm is inf"):
        net.fit(X, Y, epochs=5, lr=0.1, batch_size=10, shuffle=False)
    # the offending step was not taken: the weights are the last finite step's
    assert np.isfinite(net.params).all()
    np.testing.assert_array_equal(net.params, after_step[-1])


def test_no_warning_noise_on_the_way_to_divergence():
    X, Y = squares_data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy overflow warning would fail here
        with pytest.raises(nlayer.TrainingDiverged):
            seed_net().fit(X, Y, epochs=1000, lr=1e3)


# -- checkpoints and exact resume, in process ---------------------------------------

DATA = np.random.default_rng(11).standard_normal((240, 4))
TARGET = np.eye(3)[np.argmax(DATA[:, :3], axis=1)]


def net_for(dtype):
    return nlayer.Network(
        [4, 16, 3], ["elu", "softmax"], loss="cross_entropy", seed=5, dtype=dtype
    )


def train(dtype, epochs, **kw):
    net = net_for(dtype)
    X, Y = DATA.astype(dtype), TARGET.astype(dtype)
    history = net.fit(
        X,
        Y,
        epochs=epochs,
        optimizer="adam",
        lr=0.01,
        batch_size=32,
        validation_fraction=0.25,
        early_stopping=True,
        patience=50,
        **kw,
    )
    return net, history


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, dtype):
    reference, ref_history = train(dtype, 12)
    train(dtype, 5, checkpoint_dir=tmp_path)  # the first five epochs, then "stopped"
    assert [p.name for p in checkpoints(tmp_path)] == [
        "checkpoint-000005.safetensors",
        "checkpoint-000004.safetensors",
        "checkpoint-000003.safetensors",
    ]  # the newest three are kept
    resumed, history = train(dtype, 12, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(resumed.params, reference.params)
    assert history.loss == ref_history.loss and history.epochs == 12
    assert history.val_loss == ref_history.val_loss


def test_resume_with_nothing_to_resume_starts_from_the_beginning(tmp_path):
    reference, _ = train("float64", 3)
    net, _ = train("float64", 3, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(net.params, reference.params)
    # and a finished run resumed again does nothing more
    again, history = train("float64", 3, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(again.params, reference.params)
    assert history.epochs == 3


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous(tmp_path, damage):
    reference, _ = train("float64", 8)
    train("float64", 5, checkpoint_dir=tmp_path)
    newest = checkpoints(tmp_path)[0]
    data = bytearray(newest.read_bytes())
    if damage == "truncate":
        data = data[: len(data) - 100]
    else:
        data[-50] ^= 0x01  # one bit of one weight: still a number, a wrong one
    newest.write_bytes(bytes(data))
    with pytest.warns(
        nlayer.CheckpointWarning,
        match=r"checkpoint-000005.*; resuming from the checkpoint before",
    ):
        net, history = train("float64", 8, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_array_equal(net.params, reference.params)


def test_resume_refuses_other_data_networks_and_optimizers(tmp_path):
    train("float64", 2, checkpoint_dir=tmp_path)
    other = nlayer.Network([4, 8, 3], ["elu", "softmax"], loss="cross_entropy")
    with pytest.raises(ValueError, match="written for the network"):
        other.fit(DATA, TARGET, epochs=3, checkpoint_dir=tmp_path, resume=True)
    net = net_for("float64")
    with pytest.raises(ValueError, match="by a fit with other X, Y"):
        net.fit(
            DATA[::-1].copy(),
            TARGET[::-1].copy(),
            epochs=3,
            optimizer="adam",
            lr=0.01,
            batch_size=32,
            validation_fraction=0.25,
            early_stopping=True,
            patience=50,
            checkpoint_dir=tmp_path,
            resume=True,
        )
    with pytest.raises(ValueError, match="written with the optimizer"):
        train("float64", 3, checkpoint_dir=tmp_path, resume=True, weight_decay=0.1)
    with pytest.raises(ValueError, match="resume=True needs the checkpoint_dir"):
        net.fit(DATA, TARGET, epochs=1, resume=True)


def test_same_seed_same_weights_in_fresh_processes(tmp_path):
    outs = []
    for k in range(2):
        out = tmp_path / f"run{k}.npy"
        subprocess.run(
            [sys.executable, str(CHILD), str(out), "-", "float64", "0", "0"],
            check=True,
            timeout=300,
        )
        outs.append(np.load(out))
    assert outs[0].tobytes() == outs[1].tobytes()


# -- killed with SIGKILL, then resumed ----------------------------------------------


def run_child(out, ck_dir, dtype, resume=False, kill_at_write=0, kill_after=None):
    """Run the child; with ``kill_after`` = k, SIGKILL it a moment after its k-th
    checkpoint appears, in the middle of the next epoch."""
    cmd = [
        sys.executable,
        str(CHILD),
        str(out),
        str(ck_dir),
        dtype,
        "1" if resume else "0",
        str(kill_at_write),
    ]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if kill_after is not None:
        target = Path(ck_dir) / f"checkpoint-{kill_after:06d}.safetensors"
        deadline = time.monotonic() + 120
        while not target.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.03)  # an epoch takes about 60 ms: land inside the next one
        p.send_signal(signal.SIGKILL)
    _, err = p.communicate(timeout=300)
    return p.returncode, err.decode()


@pytest.fixture(scope="module")
def reference_runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("reference")
    runs = {}
    for dtype in ("float64", "float32"):
        out = d / f"{dtype}.npy"
        rc, err = run_child(out, "-", dtype)
        assert rc == 0, err
        runs[dtype] = np.load(out).tobytes()
    return runs


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
@pytest.mark.parametrize(
    "dtype, kill_at_write, kill_after",
    [
        ("float64", 0, 2),  # in the middle of an epoch, after the 2nd checkpoint
        ("float64", 0, 11),
        ("float32", 0, 6),
        ("float64", 4, None),  # halfway through writing the 4th checkpoint
        ("float32", 9, None),
    ],
    ids=["f64-epoch3", "f64-epoch12", "f32-epoch7", "f64-write4", "f32-write9"],
)
def test_killed_and_resumed_equals_uninterrupted(
    tmp_path, reference_runs, dtype, kill_at_write, kill_after
):
    out, ck_dir = tmp_path / "out.npy", tmp_path / "checkpoints"
    rc, _ = run_child(
        out, ck_dir, dtype, kill_at_write=kill_at_write, kill_after=kill_after
    )
    if rc == 0:  # finished before the kill landed: nothing was interrupted
        pytest.skip("the run finished before the kill")
    assert rc == -signal.SIGKILL and not out.exists()
    if kill_at_write:
        assert any(p.name.endswith(".tmp") for p in ck_dir.iterdir())  # half a file
    rc, err = run_child(out, ck_dir, dtype, resume=True)
    assert rc == 0, err
    assert np.load(out).tobytes() == reference_runs[dtype]
    assert not any(p.name.endswith(".tmp") for p in ck_dir.iterdir())
