"""The same network on other array libraries (the array API): NumPy,
array-api-strict on its two devices, PyTorch on the CPU (and CuPy and PyTorch
on a GPU where there is one) train to NumPy's weights, keep their arrays where
they are, refuse arrays from elsewhere, and share checkpoints and model files."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nlayer
from nlayer.backend import device_of, library_of, to_numpy

strict = pytest.importorskip("array_api_strict")
pytest.importorskip("array_api_compat")


def _torch_devices():
    try:
        import torch
    except ImportError:
        return []
    devices = [pytest.param(("torch", "cpu"), id="torch-cpu")]
    cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
    devices.append(pytest.param(("torch", "cuda"), id="torch-cuda", marks=cuda))
    return devices


def _cupy():
    try:
        import cupy

        cupy.zeros(1)  # the first allocation fails without a GPU
        ok = True
    except Exception:  # noqa: BLE001 - any failure: no usable CuPy here
        ok = False
    mark = pytest.mark.skipif(not ok, reason="CuPy with a GPU not available")
    return [pytest.param(("cupy", None), id="cupy", marks=mark)]


BACKENDS = [
    pytest.param(("array_api_strict", None), id="strict"),
    pytest.param(("array_api_strict", strict.Device("device1")), id="strict-device1"),
    *_torch_devices(),
    *_cupy(),
]


def data(dtype="float64", m=160):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, 6)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, m)]
    w = rng.uniform(0.5, 2.0, m).astype(dtype)
    return X, Y, w


def network(dtype="float64", dropout=None):
    return nlayer.Network(
        [6, 16, 8, 3], ["tanh", "relu", "softmax"], loss="cross_entropy", seed=1,
        dtype=dtype, dropout=dropout,
    )  # fmt: skip


def there(net, *arrays):
    return [None if A is None else net.on_device(A) for A in arrays]


def assert_where(A, net):
    assert library_of(A) == net.backend and device_of(A) == net.device


OPTIONS = dict(
    optimizer="adam", lr=0.01, batch_size=32, validation_fraction=0.2,
    early_stopping=True, patience=3,
)  # fmt: skip


@pytest.mark.parametrize("place", BACKENDS)
def test_five_epochs_in_float64_train_to_numpys_weights(place):
    X, Y, w = data()
    ref = network(dropout=0.1)
    ref_history = ref.fit(X, Y, sample_weight=w, epochs=5, **OPTIONS)
    net = network(dropout=0.1).to(*place)
    Xd, Yd, wd = there(net, X, Y, w)
    history = net.fit(Xd, Yd, sample_weight=wd, epochs=5, **OPTIONS)
    assert_where(net.params, net)
    assert_where(net.weights[0], net)
    np.testing.assert_allclose(to_numpy(net.params), ref.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(history.loss, ref_history.loss, rtol=1e-12)
    np.testing.assert_allclose(history.val_loss, ref_history.val_loss, rtol=1e-12)
    assert history.val_metric == ref_history.val_metric


@pytest.mark.parametrize("place", BACKENDS)
def test_one_epoch_in_float32_stays_float32_and_close(place):
    X, Y, _ = data("float32")
    ref = network("float32")
    ref.fit(X, Y, epochs=1, optimizer="sgd", lr=0.05, batch_size=32)
    net = network("float32").to(*place)
    net.fit(*there(net, X, Y), epochs=1, optimizer="sgd", lr=0.05, batch_size=32)
    params = to_numpy(net.params)
    assert params.dtype == np.float32
    np.testing.assert_allclose(params, ref.params, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("place", BACKENDS)
def test_gradients_losses_and_outputs_equal_numpys_where_they_are(place):
    X, Y, w = data()
    ref = network()
    net = network().to(*place)
    Xd, Yd, wd = there(net, X, Y, w)
    Y_hat = net.forward(Xd)
    assert_where(Y_hat, net)
    np.testing.assert_allclose(to_numpy(Y_hat), ref.forward(X), rtol=1e-13)
    assert net.loss(Xd, Yd, wd) == pytest.approx(ref.loss(X, Y, w), rel=1e-13)
    dW, db = net.gradients(Xd, Yd, wd)
    rW, rb = ref.gradients(X, Y, w)
    for l in range(3):
        assert_where(dW[l], net)
        np.testing.assert_allclose(to_numpy(dW[l]), rW[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(to_numpy(db[l]), rb[l], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("place", BACKENDS)
def test_an_array_from_elsewhere_is_refused_naming_both(place):
    X, Y, _ = data()
    net = network().to(*place)
    with pytest.raises(ValueError, match=r"X is a numpy array on cpu, but the network"):
        net.forward(X)
    with pytest.raises(ValueError, match=f"parameters are {place[0]} arrays"):
        net.fit(X, Y, epochs=1)
    numpy_net = network()
    with pytest.raises(ValueError, match=f"X is a {place[0]} array"):
        numpy_net.forward(net.on_device(X))


def test_a_checkpoint_written_from_torch_resumes_in_numpy(tmp_path):
    pytest.importorskip("torch")
    X, Y, _ = data()
    options = dict(epochs=6, optimizer="adam", lr=0.01, batch_size=32)
    whole = network()
    whole.fit(X, Y, **options)
    first = network().to("torch")
    first.fit(*there(first, X, Y), **{**options, "epochs": 3}, checkpoint_dir=tmp_path)
    resumed = network()  # NumPy
    resumed.fit(X, Y, **options, checkpoint_dir=tmp_path, resume=True)
    np.testing.assert_allclose(resumed.params, whole.params, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("place", BACKENDS)
def test_a_numpy_checkpoint_resumes_on_a_backend(tmp_path, place):
    X, Y, _ = data()
    options = dict(epochs=6, optimizer="adam", lr=0.01, batch_size=32)
    whole = network()
    whole.fit(X, Y, **options)
    network().fit(X, Y, **{**options, "epochs": 3}, checkpoint_dir=tmp_path)
    resumed = network().to(*place)
    assert resumed.n_params == whole.n_params
    resumed.fit(*there(resumed, X, Y), **options, checkpoint_dir=tmp_path, resume=True)
    assert_where(resumed.params, resumed)
    np.testing.assert_allclose(
        to_numpy(resumed.params), whole.params, rtol=1e-12, atol=1e-15
    )


@pytest.mark.parametrize("place", BACKENDS)
def test_model_files_load_onto_a_backend(tmp_path, place):
    X, _, _ = data()
    net = network()
    nlayer.save(net, tmp_path / "m.safetensors")
    model = nlayer.load(tmp_path / "m.safetensors", *place)
    assert_where(model.network.params, model.network)
    np.testing.assert_allclose(model.predict(X), net.forward(X), rtol=1e-13)


def test_a_backend_that_is_not_there_is_one_clear_error():
    with pytest.raises(ValueError, match="unknown backend 'jax'"):
        network().to("jax")
    with pytest.raises(ValueError, match="NumPy computes on the cpu"):
        network().to("numpy", "cuda")


DISPATCH = textwrap.dedent(
    """
    import warnings, numpy as np, sklearn, torch
    from sklearn.datasets import load_iris
    from nlayer import NLayerClassifier
    X, y = load_iris(return_X_y=True)
    warnings.simplefilter("ignore")
    kw = dict(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
    ref = NLayerClassifier(**kw).fit(X, y)
    with sklearn.config_context(array_api_dispatch=True):
        clf = NLayerClassifier(**kw).fit(torch.asarray(X), torch.asarray(y))
        P = clf.predict_proba(torch.asarray(X))
        labels = clf.predict(torch.asarray(X))
    assert isinstance(clf.coefs_[0], torch.Tensor), type(clf.coefs_[0])
    assert isinstance(P, torch.Tensor) and isinstance(labels, torch.Tensor)
    np.testing.assert_allclose(P.numpy(), ref.predict_proba(X), rtol=1e-12)
    print("dispatch ok")
    """
)


def test_estimators_follow_scikit_learns_array_api_dispatch(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    script = tmp_path / "dispatch.py"
    script.write_text(DISPATCH)
    # scikit-learn's dispatch needs SciPy's array API mode, set before import
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    r = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env,
        timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    assert "dispatch ok" in r.stdout


def test_the_command_line_says_in_one_line_what_is_missing(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    missing = []
    if not torch.cuda.is_available():
        missing.append((["--backend", "torch", "--device", "cuda:1"], "no CUDA GPU"))
    try:
        import cupy  # noqa: F401
    except ImportError:
        missing.append((["--backend", "cupy", "--device", "cuda"], "not installed"))
    for extra, reason in missing:
        r = subprocess.run(
            [sys.executable, "-m", "nlayer", "train", "--epochs", "1", *extra],
            capture_output=True, text=True, cwd=tmp_path, timeout=300,
        )  # fmt: skip
        assert r.returncode != 0
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and reason in lines[0], r.stderr[-2000:]
