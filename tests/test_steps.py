"""The pieces of the training loop on their own: one step is the seeds' loop
body, an epoch is its steps over a batch source, and the seams (the batch
source, how a step combines its gradient) can be replaced without touching the
rest."""

import numpy as np
import pytest

import nlayer
from nlayer.distributed import ShardedGradient, ThreadGroup
from nlayer.history import History
from nlayer.optimizers import SGD
from nlayer.sources import ArrayBatches
from nlayer.state import TrainingState
from nlayer.training import (
    DistributedStep,
    Gradients,
    Step,
    _NonFinite,
    run_epoch,
    train_step,
)


def problem(seed=0, m=64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 4))
    Y = np.sin(X[:, :2]) + X[:, 2:] ** 2
    net = nlayer.Network([4, 8, 6, 2], ["tanh", "relu", "linear"], seed=seed)
    for b in net.biases:
        b[...] = rng.normal(scale=0.1, size=b.shape)
    return net, X, Y


def test_one_step_is_forward_loss_backward_update():
    net, X, Y = problem()
    twin = net.copy()
    source = ArrayBatches(net, X, Y, None, None, shuffle=False)
    [batch] = list(source.epoch(net.rng))
    step = Step(SGD(lr=0.1), Gradients(net))
    loss, weight, squares = train_step(net, batch, step, 0.1)
    # the seeds: L, then W ← W − α·∂L/∂W with the gradients before the update
    dW, db = twin.gradients(X, Y)
    assert loss == twin.loss(X, Y) and weight == len(X)
    for l in range(3):
        np.testing.assert_allclose(net.weights[l], twin.weights[l] - 0.1 * dW[l])
        np.testing.assert_allclose(net.biases[l], twin.biases[l] - 0.1 * db[l])
    expected = [np.vdot(g, g) for g in (*dW, *db)]
    np.testing.assert_allclose(squares, expected, rtol=1e-12)


def test_a_non_finite_step_changes_no_weight():
    net, X, Y = problem()
    before = net.params.copy()
    source = ArrayBatches(net, X, Y * np.inf, None, None, shuffle=False)
    [batch] = list(source.epoch(net.rng))
    # fit's loop silences NumPy's overflow warnings: it reports divergence itself
    with pytest.raises(_NonFinite), np.errstate(all="ignore"):
        train_step(net, batch, Step(SGD(lr=0.1), Gradients(net)), 0.1)
    np.testing.assert_array_equal(net.params, before)


def test_an_epoch_is_its_steps_and_logs_their_weighted_mean():
    net, X, Y = problem()
    twin = net.copy()
    state = TrainingState(epochs=1, history=History())
    source = ArrayBatches(net, X, Y, None, 16, shuffle=False)
    logs = run_epoch(net, state, source, Step(SGD(lr=0.05), Gradients(net)), 0.05)
    losses = []
    for start in range(0, 64, 16):  # the same four steps, by hand
        Xb, Yb = X[start : start + 16], Y[start : start + 16]
        losses.append(twin.loss(Xb, Yb))
        dW, db = twin.gradients(Xb, Yb)
        twin.params[: twin.n_weights] -= 0.05 * np.concatenate([g.ravel() for g in dW])
        twin.params[twin.n_weights :] -= 0.05 * np.concatenate(db)
    np.testing.assert_allclose(net.params, twin.params, rtol=1e-12, atol=1e-15)
    assert logs["loss"] == pytest.approx(np.mean(losses), rel=1e-12)
    assert state.step == 4 and logs["epoch"] == 0 and len(logs["grad_norms"]) == 3


class ListBatches:
    """A batch source of precomputed batches: what a file reader would give."""

    def __init__(self, net, batches):
        self.batches = batches
        self.n_samples = sum(len(b[0]) for b in batches)
        self.total_weight = float(self.n_samples)
        self.work = {
            len(b[0]): nlayer.workspace.Workspace(net, len(b[0]), 2) for b in batches
        }

    def epoch(self, rng):
        for X, Y in self.batches:
            yield X, Y, None, self.work[len(X)]


def test_any_batch_source_plugs_in():
    net, X, Y = problem()
    twin = net.copy()
    state = TrainingState(epochs=1, history=History())
    step = Step(SGD(lr=0.05), Gradients(net))
    halves = ListBatches(net, [(X[:32], Y[:32]), (X[32:], Y[32:])])
    run_epoch(net, state, halves, step, 0.05)
    arrays = ArrayBatches(twin, X, Y, None, 32, shuffle=False)
    run_epoch(
        twin,
        TrainingState(1, History()),
        arrays,
        Step(SGD(lr=0.05), Gradients(twin)),
        0.05,
    )
    np.testing.assert_array_equal(net.params, twin.params)


def test_the_gradients_combination_is_the_steps_to_choose():
    """Two "processes" (threads) each differentiate half of the batch's shards;
    the fixed-order sum gives the same step on both, and the same as one
    process computing every shard; the plain one-process step agrees to
    round-off."""
    net, X, Y = problem()

    def one_step(comm):
        twin = net.copy()
        source = ArrayBatches(twin, X, Y, None, None, shuffle=False)
        plain = Step(SGD(lr=0.1), Gradients(twin))
        step = DistributedStep(plain, ShardedGradient(comm, source, shards=8))
        [pos] = list(step.batches(source, twin.rng))
        loss, weight, _ = train_step(twin, pos, step, 0.1)
        return twin.params, loss, weight

    two = ThreadGroup(2).run(one_step)
    [one] = ThreadGroup(1).run(one_step)
    for params, loss, weight in two:
        np.testing.assert_array_equal(params, one[0])
        assert loss == one[1] and weight == 64
    full = net.copy()
    src = ArrayBatches(full, X, Y, None, None, shuffle=False)
    [whole] = list(src.epoch(full.rng))
    full_loss, _, _ = train_step(full, whole, Step(SGD(lr=0.1), Gradients(full)), 0.1)
    np.testing.assert_allclose(one[0], full.params, rtol=1e-12, atol=1e-15)
    assert one[1] == pytest.approx(full_loss, rel=1e-12)
