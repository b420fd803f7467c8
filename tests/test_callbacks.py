"""Callbacks around the training loop: their hooks and order, stopping, and the
one EarlyStopping that fit, the estimators and the command line share."""

import numpy as np
import pytest

import nlayer
from nlayer.callbacks import (
    Callback,
    EarlyStopping,
    ProgressPrinter,
    StopTraining,
    as_callbacks,
)


def problem(seed=0, m=120):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 3))
    Y = (X[:, :1] * X[:, 1:2] + 0.1 * rng.normal(size=(m, 1))) * 2
    net = nlayer.Network([3, 16, 1], ["tanh", "linear"], seed=seed)
    return net, X, Y


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, net, state):
        self.calls.append(("begin", state.epoch))

    def on_epoch_end(self, net, state, logs):
        # the state counts the epoch as completed; the logs count from 0
        assert state.epoch == logs["epoch"] + 1
        assert state.history.loss[-1] == logs["loss"]
        self.calls.append(("epoch", logs["epoch"]))

    def on_train_end(self, net, state):
        self.calls.append(("end", state.epoch))


def test_hooks_run_once_around_every_epoch():
    net, X, Y = problem()
    rec = Recorder()
    net.fit(X, Y, epochs=3, lr=0.05, callbacks=[rec])
    assert rec.calls == [("begin", 0), ("epoch", 0), ("epoch", 1), ("epoch", 2)] + [
        ("end", 3)
    ]


def test_functions_and_objects_mix_and_run_in_the_order_given():
    net, X, Y = problem()
    order = []

    class Second(Callback):
        def on_epoch_end(self, net, state, logs):
            order.append("object")

    net.fit(X, Y, epochs=1, callbacks=[lambda n, e, logs: order.append("fn"), Second()])
    assert order == ["fn", "object"]


def test_setting_state_stop_or_raising_stop_training_ends_after_that_epoch():
    for stopper in ("flag", "raise"):
        net, X, Y = problem()

        class Stop(Callback):
            def on_epoch_end(self, net, state, logs, how=stopper):
                if logs["epoch"] == 4:
                    if how == "raise":
                        raise StopTraining
                    state.stop = True

        history = net.fit(X, Y, epochs=50, callbacks=[Stop()])
        assert history.epochs == 5 and not history.stopped_early


def test_no_end_hook_after_a_divergence():
    net, X, Y = problem()
    rec = Recorder()
    with pytest.raises(nlayer.TrainingDiverged):
        net.fit(X, Y * 1e200, epochs=5, lr=1e10, callbacks=[rec])
    assert ("end", 0) not in rec.calls and rec.calls[0] == ("begin", 0)


def test_fits_early_stopping_is_the_early_stopping_callback():
    """early_stopping=True and the same EarlyStopping given as a callback stop
    at the same epoch with the same weights: one implementation."""
    net, X, Y = problem(1)
    twin = net.copy()
    options = dict(epochs=300, lr=0.3, batch_size=16, validation_fraction=0.25)
    built_in = net.fit(X, Y, early_stopping=True, patience=5, **options)
    given = twin.fit(X, Y, callbacks=[EarlyStopping(patience=5)], **options)
    assert built_in.stopped_early and given.stopped_early
    assert built_in.epochs == given.epochs < 300
    np.testing.assert_array_equal(net.params, twin.params)


def test_early_stopping_on_a_score_restores_its_best_epoch():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    Y = np.eye(2)[(X[:, 0] + 0.8 * rng.normal(size=200) > 0).astype(int)]
    net = nlayer.Network([4, 32, 2], ["relu", "softmax"], loss="cross_entropy", seed=0)
    stop = EarlyStopping(patience=4, key="val_accuracy", mode="max")
    seen = {}
    h = net.fit(
        X, Y, epochs=200, lr=0.5, batch_size=8, validation_fraction=0.3,
        callbacks=[stop, lambda n, e, logs: seen.setdefault(e, n.params.copy())],
    )  # fmt: skip
    assert h.stopped_early and h.epochs < 200
    best = stop.monitor.best_epoch
    assert h.val_metric[best] == max(h.val_metric)
    np.testing.assert_array_equal(net.params, seen[best])


def test_on_plateau_can_keep_training_going():
    net, X, Y = problem()
    plateaus = []

    def halve_lr():
        plateaus.append(len(plateaus))
        return len(plateaus) < 3  # go on twice, then stop

    stop = EarlyStopping(patience=2, min_delta=10.0, on_plateau=halve_lr)
    h = net.fit(X, Y, epochs=100, callbacks=[stop])
    # min_delta 10 is never met after the first epoch: a plateau every 2 epochs
    assert plateaus == [0, 1, 2] and h.epochs == 7 and h.stopped_early


def test_progress_lines(capsys):
    net, X, Y = problem()
    net.fit(X, Y, epochs=4, validation_fraction=0.2, callbacks=[ProgressPrinter(2)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[1] for line in lines] == ["1/4", "2/4", "4/4"]
    assert "val_loss" in lines[0] and "val_r2" in lines[0]


def test_what_is_not_a_callback_is_refused():
    with pytest.raises(TypeError, match="a callback is a function"):
        as_callbacks([42])
