"""The training loop: batches, shuffling, validation, early stopping, history."""

import numpy as np
import pytest

import nlayer
from seed_reference import squares_data


def seed_net(**kw):
    return nlayer.Network(
        [2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=0, **kw
    )


def test_history_records_every_epoch():
    X, Y = squares_data()
    net = seed_net()
    h = net.fit(X, Y, epochs=30, lr=0.01, validation_fraction=0.2)
    assert h.epochs == 30
    assert len(h.loss) == len(h.val_loss) == len(h.val_metric) == len(h.lr) == 30
    assert np.array(h.grad_norms).shape == (30, net.n_layers)
    assert np.all(np.array(h.grad_norms) > 0)
    assert h.metric == "r2" and h.best_epoch is not None
    assert set(h.as_dict()) >= {"loss", "val_loss", "grad_norms", "lr"}


def test_grad_norms_are_the_layer_gradient_norms():
    X, Y = squares_data()
    net = seed_net()
    dW, db = net.gradients(X, Y)
    expected = [
        np.sqrt(np.sum(w**2) + np.sum(b**2)) for w, b in zip(dW, db, strict=True)
    ]
    h = net.fit(X, Y, epochs=1, lr=0.01)
    np.testing.assert_allclose(h.grad_norms[0], expected, rtol=1e-12)


def test_minibatches_visit_every_sample_once_per_epoch(monkeypatch):
    X, Y = squares_data(m=50)
    X[:, 0] = np.arange(50)  # mark each sample by its row
    net = seed_net()
    seen = []
    original = net.forward_pass  # the one maths path every step takes

    def spy(Xb, *args):
        seen.append(Xb[:, 0].copy())
        return original(Xb, *args)

    monkeypatch.setattr(net, "forward_pass", spy)
    net.fit(X, Y, epochs=2, lr=1e-3, batch_size=16)
    sizes = [len(s) for s in seen]
    assert sizes == [16, 16, 16, 2] * 2
    epoch1, epoch2 = np.concatenate(seen[:4]), np.concatenate(seen[4:])
    assert sorted(epoch1) == sorted(epoch2) == list(range(50))
    assert not np.array_equal(epoch1, epoch2)  # reshuffled
    assert not np.array_equal(epoch1, np.arange(50))


def test_minibatch_loss_is_the_mean_over_batches():
    X, Y = squares_data(m=40)
    net = seed_net()
    batch_losses = []
    for start in range(0, 40, 10):  # each batch's loss before its own step
        Xb, Yb = X[start : start + 10], Y[start : start + 10]
        batch_losses.append(net.loss(Xb, Yb))
        dW, db = net.gradients(Xb, Yb)
        for W, b, gW, gb in zip(net.weights, net.biases, dW, db, strict=True):
            W -= 0.01 * gW
            b -= 0.01 * gb
    trained = net.params.copy()
    net = seed_net()
    h = net.fit(X, Y, epochs=1, lr=0.01, batch_size=10, shuffle=False)
    assert h.loss[0] == pytest.approx(np.mean(batch_losses), rel=1e-12)
    np.testing.assert_allclose(net.params, trained, rtol=1e-12)


def test_same_seed_same_weights_bitwise():
    X, Y = squares_data()
    runs = []
    for _ in range(2):
        net = seed_net()
        net.fit(
            X,
            Y,
            epochs=20,
            optimizer="adam",
            lr=0.01,
            batch_size=16,
            validation_fraction=0.1,
        )
        runs.append(net.params.copy())
    np.testing.assert_array_equal(runs[0], runs[1])
    other = nlayer.Network([2, 10, 8, 5, 1], ["relu", "tanh", "relu", "linear"], seed=1)
    assert not np.array_equal(other.params, runs[0])


def test_early_stopping_restores_the_best_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    Y = X @ rng.normal(size=(3, 1))
    X_val, Y_val = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))  # pure noise
    net = nlayer.Network([3, 32, 1], ["tanh", "linear"], seed=0)
    snapshots = []
    h = net.fit(
        X,
        Y,
        epochs=500,
        optimizer="adam",
        lr=0.01,
        early_stopping=True,
        patience=5,
        validation_data=(X_val, Y_val),
        callbacks=[lambda net, epoch, logs: snapshots.append(net.params.copy())],
    )
    assert h.stopped_early and h.epochs < 500
    assert h.epochs == h.best_epoch + 1 + 5  # stopped after `patience` bad epochs
    assert h.val_loss[h.best_epoch] == min(h.val_loss)
    np.testing.assert_array_equal(net.params, snapshots[h.best_epoch])
    assert net.loss(X_val, Y_val) == pytest.approx(min(h.val_loss), rel=1e-12)


def test_early_stopping_without_validation_monitors_training_loss():
    X, Y = squares_data()
    net = seed_net()
    snapshots = []
    # with an absurd min_delta no epoch after the first counts as an improvement
    h = net.fit(
        X,
        Y,
        epochs=50,
        lr=0.01,
        early_stopping=True,
        patience=3,
        min_delta=1e9,
        callbacks=[lambda net, epoch, logs: snapshots.append(net.params.copy())],
    )
    assert h.stopped_early and h.epochs == 4 and h.best_epoch == 0
    np.testing.assert_array_equal(net.params, snapshots[0])


def test_defaults_change_nothing():
    """No weight decay, clipping or early stopping unless asked."""
    X, Y = squares_data()
    a, b = seed_net(), seed_net()
    a.fit(X, Y, epochs=5, lr=0.01)
    b.fit(
        X,
        Y,
        epochs=5,
        lr=0.01,
        optimizer="sgd",
        weight_decay=0.0,
        momentum=0.0,
        clip_norm=None,
        early_stopping=False,
        schedule="constant",
    )
    np.testing.assert_array_equal(a.params, b.params)


def test_clip_norm_limits_each_step():
    X, Y = squares_data()
    net = seed_net()
    before = net.params.copy()
    net.fit(X, Y, epochs=1, lr=1.0, clip_norm=0.5)
    assert np.linalg.norm(net.params - before) == pytest.approx(0.5)


def test_callbacks_and_stop_training():
    X, Y = squares_data()
    calls = []

    def stop_at_three(net, epoch, logs):
        calls.append((epoch, logs["loss"]))
        if epoch == 2:
            raise nlayer.StopTraining

    h = seed_net().fit(X, Y, epochs=100, lr=0.01, callbacks=[stop_at_three])
    assert h.epochs == 3 and [e for e, _ in calls] == [0, 1, 2]
    assert [loss for _, loss in calls] == h.loss


def test_verbose_prints_progress_and_silent_by_default(capsys):
    X, Y = squares_data()
    seed_net().fit(X, Y, epochs=100, lr=0.01, validation_fraction=0.2)
    assert capsys.readouterr().out == ""
    seed_net().fit(X, Y, epochs=100, lr=0.01, validation_fraction=0.2, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 11  # epoch 1, then every 10th
    assert lines[-1].startswith("epoch 100/100  loss ") and "val_r2" in lines[-1]
    seed_net().fit(X, Y, epochs=100, lr=0.01, verbose=50)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3  # 1, 50, 100


def test_float32_trains_in_float32():
    X, Y = squares_data()
    X32, Y32 = X.astype(np.float32), Y.astype(np.float32)
    net = seed_net(dtype="float32")
    h = net.fit(X32, Y32, epochs=300, optimizer="adam", lr=0.01, batch_size=32)
    assert net.params.dtype == np.float32
    assert all(W.dtype == np.float32 for W in net.weights)
    assert net.forward(X32).dtype == np.float32
    dW, db = net.gradients(X32, Y32)
    assert dW[0].dtype == np.float32
    assert h.loss[-1] < 0.2 * h.loss[0]
    # the same network in float64 learns the same function
    net64 = seed_net()
    net64.fit(X, Y, epochs=300, optimizer="adam", lr=0.01, batch_size=32)
    np.testing.assert_allclose(net.forward(X32), net64.forward(X), rtol=0.05, atol=0.05)
    with pytest.raises(
        ValueError, match="X is float64 but the network computes in float32"
    ):
        net.forward(X)


def test_integer_data_is_accepted():
    X = np.array([[0, 1], [1, 0], [1, 1], [0, 0]])
    Y = np.array([[1], [1], [0], [0]])
    net = nlayer.Network(
        [2, 4, 1], ["tanh", "sigmoid"], loss="binary_cross_entropy", seed=0
    )
    h = net.fit(X, Y, epochs=5, lr=0.1)
    assert h.metric == "accuracy"


def test_weights_are_views_of_one_buffer():
    net = seed_net()
    net.weights[0][0, 0] = 42.0
    assert net.params[0] == 42.0
    net.weights[1] = np.ones((10, 8))  # copies in, keeps the view
    assert np.shares_memory(net.weights[1], net.params) and net.params[20] == 1.0
    with pytest.raises(ValueError, match=r"layer 2 weights have shape \(10, 8\)"):
        net.weights[1] = np.ones((8, 10))
    with pytest.raises(TypeError, match="number of layers is fixed"):
        net.weights.append(np.ones(3))


def test_ctrl_c_in_a_step_restores_the_last_completed_epoch(monkeypatch):
    X, Y = squares_data()
    net = seed_net()
    after_epoch = []
    opt = nlayer.optimizers.SGD(lr=0.01)
    real_step, calls = opt.step, []

    def step(params, grads, n_weights, lr=None):
        calls.append(1)
        if len(calls) == 3 * 4 + 2:  # epoch 4 (index 3), third batch
            params[:5] = 1e6  # half an update: the state Ctrl-C can leave behind
            raise KeyboardInterrupt
        real_step(params, grads, n_weights, lr)

    monkeypatch.setattr(opt, "step", step)
    with pytest.raises(nlayer.TrainingInterrupted) as info:
        net.fit(
            X,
            Y,
            epochs=10,
            optimizer=opt,
            batch_size=25,
            callbacks=[lambda net, e, logs: after_epoch.append(net.params.copy())],
        )
    assert isinstance(info.value, KeyboardInterrupt)  # scripts still stop on Ctrl-C
    assert info.value.history.epochs == 3
    np.testing.assert_array_equal(net.params, after_epoch[-1])
    assert "after 3 completed epoch(s)" in str(info.value)


def test_ctrl_c_in_a_callback_keeps_that_epoch():
    X, Y = squares_data()
    net = seed_net()

    def interrupt(net, epoch, logs):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(nlayer.TrainingInterrupted) as info:
        net.fit(X, Y, epochs=10, lr=0.01, callbacks=[interrupt])
    assert info.value.history.epochs == 2
    reference = seed_net()
    reference.fit(X, Y, epochs=2, lr=0.01)
    np.testing.assert_array_equal(net.params, reference.params)
