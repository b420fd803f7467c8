"""Training speed side by side: nlayer, PyTorch (CPU), scikit-learn's MLP and a
hand-written NumPy loop, interleaved in one run, as ratios of medians.

    pip install ".[sklearn]" torch==2.13.0
    python benchmarks/speed.py            # the tables in BENCHMARKS.md (minutes)
    python benchmarks/speed.py --smoke    # tiny sizes, seconds: keeps it working

Cases (the issue that asked for them gives the reasons):
  tiny    seed 001's [2, 10, 8, 5, 1] ReLU/Tanh/ReLU/Linear net, 100 samples,
          1000 full-batch SGD epochs, float64: the overhead of the abstraction
  medium  784-256-128-10 ReLU, softmax cross-entropy, batch 128, 60 000 samples,
          one epoch, float32, Adam and plain SGD; nlayer, PyTorch and the NumPy
          loop start from the same weights (scikit-learn draws its own)
  wide    1024-2048-2048-10, batch 1024, float32: throughput against the GEMMs
          NumPy runs for the same matrix shapes
  tabular the small networks of tabular work: 50 000 rows x 54 features, one
          hidden layer of 100 ReLU units, batches of 200, Adam, 10 epochs,
          float64; 7 classes (nlayer's and scikit-learn's classifiers, PyTorch)
          and its regression twin; time and held-out accuracy / R²
  lbfgs   scikit-learn's ``lbfgs`` solver and nlayer's, the same iterations
          from the same start: time and final loss
  memory  peak resident memory while training the medium case, in a fresh process
  scaling the medium case at 15k/30k/60k samples and with 2/4/8 hidden layers

The medium and wide cases also time the bare matrix products of an epoch
("GEMMs alone"): what no implementation can go below on this BLAS. The report
starts with the BLAS library, its kernel and threads (threadpoolctl) and the
single-precision GEMM peak; when the environment holds OpenBLAS on an older
kernel than it picks for this CPU (OPENBLAS_CORETYPE), the script runs itself
again without it and says so (benchmarks/machine.py).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from machine import blas_here, gemm_peak, run_on_own_kernel
from teacher import teacher_data

import nlayer
from nlayer import kernels

HAVE_TORCH = True
try:
    import torch
except ImportError:  # the PyTorch columns are left out
    HAVE_TORCH = False


def median_times(
    runs: dict[str, Callable[[], float]], repeats: int
) -> dict[str, float]:
    """Each function returns its own elapsed seconds; they take turns, so that a
    busy moment of the machine hits every framework alike."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            time.sleep(0.2)  # let the previous run's thread pools fall idle
            times[name].append(run())
    return {k: float(np.median(v)) for k, v in times.items()}


NUMPY_ONLY = "nlayer, NumPy only"


def numpy_only(run: Callable[[], float]) -> Callable[[], float]:
    """The same run with nlayer's fused kernels turned off: the speed of the
    core install, without the ``fast`` extra (the results are the same bits)."""

    def wrapped() -> float:
        with kernels.use(False):
            return run()

    return wrapped


def with_numpy_only(
    runs: dict[str, Callable[[], float]], run: Callable[[], float]
) -> dict[str, Callable[[], float]]:
    """``runs`` with a NumPy-only twin of nlayer's run after it, when the
    kernels are installed (otherwise nlayer's own row is NumPy only)."""
    if not kernels.available():
        return runs
    out: dict[str, Callable[[], float]] = {}
    for name, r in runs.items():
        out[name] = r
        if name == "nlayer":
            out[NUMPY_ONLY] = numpy_only(run)
    return out


def kernels_here() -> str:
    if not kernels.available():
        return 'fused kernels: off (numba not installed: pip install "nlayer[fast]")'
    import numba

    return (
        f"fused kernels: numba {numba.__version__} in the nlayer rows "
        f"(the {NUMPY_ONLY!r} rows without them)"
    )


# -- data ----------------------------------------------------------------------


def squares() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(42)
    X = rng.standard_normal((100, 2))
    return X, np.sum(X**2, axis=1, keepdims=True)


# -- the tiny case -------------------------------------------------------------

TINY_SIZES = [2, 10, 8, 5, 1]
TINY_ACTS = ["relu", "tanh", "relu", "linear"]


def tiny_nlayer(epochs: int) -> Callable[[], float]:
    X, Y = squares()

    def run() -> float:
        net = nlayer.Network(TINY_SIZES, TINY_ACTS, seed=0)
        t = time.perf_counter()
        net.fit(X, Y, epochs=epochs, optimizer="sgd", lr=0.01)
        return time.perf_counter() - t

    return run


def tiny_numpy(epochs: int) -> Callable[[], float]:
    """The seeds' reference loop, written out by hand with NumPy."""
    X, Y = squares()

    def run() -> float:
        net = nlayer.Network(TINY_SIZES, TINY_ACTS, seed=0)
        W = [w.copy() for w in net.weights]
        b = [v.copy() for v in net.biases]
        m = len(X)
        t = time.perf_counter()
        for _ in range(epochs):
            Z1 = X @ W[0] + b[0]
            H1 = np.maximum(Z1, 0)
            Z2 = H1 @ W[1] + b[1]
            H2 = np.tanh(Z2)
            Z3 = H2 @ W[2] + b[2]
            H3 = np.maximum(Z3, 0)
            dZ4 = (H3 @ W[3] + b[3] - Y) / m
            dZ3 = (dZ4 @ W[3].T) * (Z3 > 0)
            dZ2 = (dZ3 @ W[2].T) * (1 - H2**2)
            dZ1 = (dZ2 @ W[1].T) * (Z1 > 0)
            for l, (H, dZ) in enumerate([(X, dZ1), (H1, dZ2), (H2, dZ3), (H3, dZ4)]):
                W[l] -= 0.01 * (H.T @ dZ)
                b[l] -= 0.01 * dZ.sum(axis=0)
        return time.perf_counter() - t

    return run


def tiny_torch(epochs: int) -> Callable[[], float]:
    X, Y = squares()
    Xt, Yt = torch.tensor(X), torch.tensor(Y)

    def run() -> float:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(2, 10),
            torch.nn.ReLU(),
            torch.nn.Linear(10, 8),
            torch.nn.Tanh(),
            torch.nn.Linear(8, 5),
            torch.nn.ReLU(),
            torch.nn.Linear(5, 1),
        ).double()
        opt = torch.optim.SGD(net.parameters(), lr=0.01)
        t = time.perf_counter()
        for _ in range(epochs):
            opt.zero_grad()
            loss = 0.5 * ((net(Xt) - Yt) ** 2).mean()
            loss.backward()
            opt.step()
        return time.perf_counter() - t

    return run


def tiny_sklearn(epochs: int) -> Callable[[], float]:
    from sklearn.neural_network import MLPRegressor

    X, Y = squares()

    def run() -> float:
        model = MLPRegressor(
            hidden_layer_sizes=(10, 8, 5),
            solver="sgd",
            learning_rate_init=0.01,
            momentum=0.0,
            alpha=0.0,
            batch_size=100,
            shuffle=False,
            max_iter=epochs,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            model.fit(X, Y[:, 0])
            return time.perf_counter() - t

    return run


# -- the medium case -----------------------------------------------------------

MEDIUM = [784, 256, 128, 10]


def medium_net(sizes: list[int]) -> nlayer.Network:
    """A ReLU/softmax float32 network; in the medium case every framework starts
    from its initial weights."""
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]
    return nlayer.Network(sizes, acts, loss="cross_entropy", seed=0, dtype="float32")


def flops_per_epoch(sizes: list[int], m: int) -> float:
    """Forward Z = HW, backward dW = HᵀdZ and dH = dZWᵀ (none for the input)."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    forward = sum(2 * m * a * b for a, b in pairs)
    return 2 * forward + sum(2 * m * a * b for a, b in pairs[1:])


def medium_nlayer(
    X: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    opt: str,
    lr: float,
    batch: int,
    result: dict[str, Any],
    name: str = "nlayer",
) -> Callable[[], float]:
    Y = np.eye(sizes[-1], dtype=np.float32)[y]

    def run() -> float:
        net = medium_net(sizes)
        t = time.perf_counter()
        h = net.fit(X, Y, epochs=1, optimizer=opt, lr=lr, batch_size=batch)
        elapsed = time.perf_counter() - t
        result[name] = h.loss[-1]
        result[f"{name}_net"] = net
        return elapsed

    return run


def medium_torch(
    X: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    opt: str,
    lr: float,
    batch: int,
    result: dict[str, Any],
) -> Callable[[], float]:
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def run() -> float:
        torch.manual_seed(0)
        layers: list[torch.nn.Module] = []
        for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
            layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-2], sizes[-1]))
        start_from = medium_net(sizes)  # the same initial weights as nlayer's
        linears = [layer for layer in net if isinstance(layer, torch.nn.Linear)]
        with torch.no_grad():
            for lin, W, b in zip(
                linears, start_from.weights, start_from.biases, strict=True
            ):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(b.copy()))
        optim = (torch.optim.Adam if opt == "adam" else torch.optim.SGD)(
            net.parameters(), lr=lr
        )
        loss_fn = torch.nn.CrossEntropyLoss()
        t = time.perf_counter()
        order = torch.randperm(len(Xt))
        total = 0.0
        for start in range(0, len(Xt), batch):
            idx = order[start : start + batch]
            optim.zero_grad()
            loss = loss_fn(net(Xt[idx]), yt[idx])
            loss.backward()
            optim.step()
            total += loss.item() * len(idx)
        elapsed = time.perf_counter() - t
        result["PyTorch"] = total / len(Xt)
        result["PyTorch_net"] = net
        return elapsed

    return run


def medium_sklearn(
    X: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    lr: float,
    batch: int,
    result: dict[str, Any],
) -> Callable[[], float]:
    from sklearn.neural_network import MLPClassifier

    def run() -> float:
        model = MLPClassifier(
            hidden_layer_sizes=tuple(sizes[1:-1]),
            solver="adam",
            learning_rate_init=lr,
            batch_size=batch,
            max_iter=1,
            alpha=0.0,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = time.perf_counter()
            model.fit(X, y)
            elapsed = time.perf_counter() - t
        result["scikit-learn"] = model.loss_curve_[-1]
        result["scikit-learn_net"] = model
        return elapsed

    return run


def medium_numpy(
    X: np.ndarray,
    y: np.ndarray,
    sizes: list[int],
    opt: str,
    lr: float,
    batch: int,
    result: dict[str, Any],
) -> Callable[[], float]:
    """The same epoch written by hand in NumPy, float32, no library around it."""
    Y = np.eye(sizes[-1], dtype=np.float32)[y]

    def run() -> float:
        net = medium_net(sizes)
        W = [w.copy() for w in net.weights]
        b = [v.copy() for v in net.biases]
        params = W + b
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in params]
        rng = np.random.default_rng(0)
        t = time.perf_counter()
        order = rng.permutation(len(X))
        for step, start in enumerate(range(0, len(X), batch), start=1):
            idx = order[start : start + batch]
            Hs = [X[idx]]
            for l in range(len(W)):
                Z = Hs[-1] @ W[l] + b[l]
                Hs.append(np.maximum(Z, 0) if l < len(W) - 1 else Z)
            Z = Hs[-1]
            P = np.exp(Z - Z.max(axis=1, keepdims=True))
            P /= P.sum(axis=1, keepdims=True)
            dZ = (P - Y[idx]) / len(idx)
            grads_W, grads_b = [None] * len(W), [None] * len(W)
            for l in reversed(range(len(W))):
                grads_W[l] = Hs[l].T @ dZ
                grads_b[l] = dZ.sum(axis=0)
                if l:
                    dZ = (dZ @ W[l].T) * (Hs[l] > 0)
            for p, g, (mo, ve) in zip(params, grads_W + grads_b, moments, strict=True):
                if opt == "adam":
                    mo *= 0.9
                    mo += 0.1 * g
                    ve *= 0.999
                    ve += 0.001 * g * g
                    p -= (
                        (lr / (1 - 0.9**step))
                        * mo
                        / (np.sqrt(ve / (1 - 0.999**step)) + 1e-8)
                    )
                else:
                    p -= lr * g
        return time.perf_counter() - t

    return run


def accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> float:
    if isinstance(model, nlayer.Network):
        return float(np.mean(model.forward(X).argmax(axis=1) == y))
    if HAVE_TORCH and isinstance(model, torch.nn.Module):
        with torch.no_grad():
            return float(np.mean(model(torch.from_numpy(X)).numpy().argmax(1) == y))
    return float(model.score(X, y))


# -- the wide case -------------------------------------------------------------


def gemms_alone(sizes: list[int], batch: int, steps: int) -> Callable[[], float]:
    """The matrix products of ``steps`` training steps and nothing else:
    forward Z = HW per layer, backward dW = HᵀdZ per layer and dH = dZWᵀ for all
    but the first, on float32 buffers of the training shapes."""
    pairs = list(zip(sizes[:-1], sizes[1:], strict=True))
    rng = np.random.default_rng(0)
    Hs = [rng.standard_normal((batch, a), dtype=np.float32) for a, _ in pairs]
    Zs = [np.empty((batch, b_), dtype=np.float32) for _, b_ in pairs]
    Ws = [rng.standard_normal((a, b_), dtype=np.float32) for a, b_ in pairs]
    dWs = [np.empty_like(W) for W in Ws]
    dHs = [np.empty_like(H) for H in Hs]

    def run() -> float:
        t = time.perf_counter()
        for _ in range(steps):
            for H, W, Z in zip(Hs, Ws, Zs, strict=True):
                np.matmul(H, W, out=Z)
            for l in reversed(range(len(Ws))):
                np.matmul(Hs[l].T, Zs[l], out=dWs[l])
                if l:
                    np.matmul(Zs[l], Ws[l].T, out=dHs[l])
        return time.perf_counter() - t

    return run


def wide(m: int, sizes: list[int], batch: int, repeats: int) -> dict[str, float]:
    """nlayer's training step against the bare GEMMs of the same shapes."""
    X, y = teacher_data(m, sizes[0], sizes[-1])
    Y = np.eye(sizes[-1], dtype=np.float32)[y]
    net = medium_net(sizes)

    def train() -> float:
        t = time.perf_counter()
        net.fit(X, Y, epochs=1, optimizer="sgd", lr=1e-3, batch_size=batch)
        return time.perf_counter() - t

    gemms = gemms_alone(sizes, batch, m // batch)
    runs = with_numpy_only({"GEMMs alone": gemms, "nlayer": train}, train)
    times = median_times(runs, repeats)
    flops = flops_per_epoch(sizes, m)
    return {name: flops / t / 1e9 for name, t in times.items()} | {
        "times": times,
        "fraction": times["GEMMs alone"] / times["nlayer"],
    }


# -- the tabular case ------------------------------------------------------------

TABULAR = dict(m=50_000, n=54, classes=7, hidden=100, batch=200, epochs=10)


def tabular_data(
    m: int, n: int, classes: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A stand-in for a forest-cover-like table (no download): 10 standardised
    numeric columns and 44 0/1 columns, float64; labels (``classes``) and a
    regression target from a fixed random teacher, with noise."""
    rng = np.random.default_rng(seed)
    numeric = rng.standard_normal((m, 10))
    binary = (rng.random((m, n - 10)) < 0.2).astype(np.float64)
    X = np.hstack([numeric, binary])
    T1 = rng.standard_normal((n, 32)) / np.sqrt(n)
    hidden = np.tanh(X @ T1 * 2)
    logits = hidden @ rng.standard_normal((32, classes)) * 2
    y = np.argmax(logits + rng.gumbel(size=logits.shape) * 0.5, axis=1)
    target = hidden @ rng.standard_normal(32) + 0.1 * rng.standard_normal(m)
    return X, y, target


def tabular_estimators(
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    result: dict[str, Any],
    nlayer_name: str = "nlayer",
) -> dict[str, Callable[[], float]]:
    """nlayer's and scikit-learn's estimators with the same settings (every
    other parameter at its default), each fit timed as a whole."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from nlayer import NLayerClassifier, NLayerRegressor

    settings = dict(
        hidden_layer_sizes=(TABULAR["hidden"],), batch_size=TABULAR["batch"],
        max_iter=TABULAR["epochs"], solver="adam", random_state=0,
    )  # fmt: skip
    pairs = {
        nlayer_name: NLayerClassifier if task == "classification" else NLayerRegressor,
        "scikit-learn": MLPClassifier if task == "classification" else MLPRegressor,
    }

    def timed(name: str, cls: type) -> Callable[[], float]:
        def run() -> float:
            model = cls(**settings)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # max_iter reached: by design
                t = time.perf_counter()
                model.fit(X, y)
                elapsed = time.perf_counter() - t
            result[name] = model
            return elapsed

        return run

    return {name: timed(name, cls) for name, cls in pairs.items()}


def tabular_torch(
    task: str, X: np.ndarray, y: np.ndarray, result: dict[str, Any]
) -> Callable[[], float]:
    """The same network in PyTorch's own loop (float64, Adam, the same L2 as
    scikit-learn's alpha = 1e-4 through weight_decay)."""
    Xt = torch.from_numpy(X)
    yt = torch.from_numpy(y if task == "classification" else y[:, None].copy())
    n_out = TABULAR["classes"] if task == "classification" else 1
    batch = TABULAR["batch"]

    def run() -> float:
        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(X.shape[1], TABULAR["hidden"]),
            torch.nn.ReLU(),
            torch.nn.Linear(TABULAR["hidden"], n_out),
        ).double()
        optim = torch.optim.Adam(net.parameters(), lr=1e-3, weight_decay=1e-4)
        loss_fn = (
            torch.nn.CrossEntropyLoss()
            if task == "classification"
            else torch.nn.MSELoss()
        )
        t = time.perf_counter()
        for _ in range(TABULAR["epochs"]):
            order = torch.randperm(len(Xt))
            for start in range(0, len(Xt), batch):
                idx = order[start : start + batch]
                optim.zero_grad()
                loss = loss_fn(net(Xt[idx]), yt[idx])
                loss.backward()
                optim.step()
        elapsed = time.perf_counter() - t
        result["PyTorch"] = net
        return elapsed

    return run


def tabular_score(model: Any, task: str, X: np.ndarray, y: np.ndarray) -> float:
    """Held-out accuracy (classification) or R² (regression)."""
    if HAVE_TORCH and isinstance(model, torch.nn.Module):
        with torch.no_grad():
            out = model(torch.from_numpy(X)).numpy()
        if task == "classification":
            return float(np.mean(out.argmax(axis=1) == y))
        return float(1 - np.sum((out[:, 0] - y) ** 2) / np.sum((y - y.mean()) ** 2))
    return float(model.score(X, y))


# -- L-BFGS ----------------------------------------------------------------------


def lbfgs_runs(
    X: np.ndarray, y: np.ndarray, iterations: int, result: dict[str, Any]
) -> dict[str, Callable[[], float]]:
    """scikit-learn's MLPClassifier and nlayer's with solver="lbfgs": the same
    start (scikit-learn's initialisation from the same random state) and the
    same SciPy optimiser, so the same iterations; each records its final loss."""
    from sklearn.neural_network import MLPClassifier

    from nlayer import NLayerClassifier

    def timed(name: str, cls: type) -> Callable[[], float]:
        def run() -> float:
            model = cls(
                hidden_layer_sizes=(TABULAR["hidden"],), solver="lbfgs",
                max_iter=iterations, random_state=0, tol=0.0,
            )  # fmt: skip
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = time.perf_counter()
                model.fit(X, y)
                elapsed = time.perf_counter() - t
            result[name] = (model.loss_, model.n_iter_)
            return elapsed

        return run

    runs = {"nlayer": timed("nlayer", NLayerClassifier),
            "scikit-learn": timed("scikit-learn", MLPClassifier)}  # fmt: skip
    runs = with_numpy_only(runs, timed(NUMPY_ONLY, NLayerClassifier))
    # scikit-learn as nlayer runs it: SciPy's own BLAS pool on one thread (the
    # fix a user of scikit-learn could apply by hand with threadpoolctl)
    sklearn_1 = timed(SCIPY_ONE_THREAD, MLPClassifier)
    return runs | {SCIPY_ONE_THREAD: lambda: scipy_blas_one_thread(sklearn_1)}


SCIPY_ONE_THREAD = "scikit-learn, SciPy's BLAS on one thread"


def scipy_blas_one_thread(run: Callable[[], float]) -> float:
    """``run`` inside the context nlayer's L-BFGS runs in: SciPy's own OpenBLAS
    pool held to one thread (threadpoolctl)."""
    from nlayer.training import _scipy_blas_on_one_thread

    with _scipy_blas_on_one_thread():
        return run()


# -- memory --------------------------------------------------------------------


MEMORY_CHILD = r"""
import json, sys, numpy as np
sys.path.insert(0, sys.argv[1])
from speed import teacher_data, MEDIUM
import nlayer
from nlayer import kernels
def status(field):  # kB figures from the kernel's view of this process
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
baseline = status("VmRSS")  # the interpreter and NumPy, before any data
m = int(sys.argv[2])
X, y = teacher_data(m, MEDIUM[0], MEDIUM[-1])
Y = np.eye(MEDIUM[-1], dtype=np.float32)[y]
del y
# the fused kernels, when installed: numba, LLVM and the compiled loops, once a
# process (a fit of a tiny network of the same kinds loads every loop the
# medium one runs, and allocates next to nothing)
anon, file = status("RssAnon"), status("RssFile")
tiny = nlayer.Network([4, 3, 3, 2], ["relu", "relu", "softmax"],
                      loss="cross_entropy", seed=0, dtype="float32")
tiny.fit(np.ones((8, 4), np.float32), np.eye(2, dtype=np.float32)[[0, 1] * 4],
         epochs=1, optimizer="adam", lr=1e-3, batch_size=4)
del tiny
kernels = [status("RssAnon") - anon, status("RssFile") - file]
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # resets the peak (VmHWM) to the current resident size
before = status("VmRSS")
net = nlayer.Network(MEDIUM, ["relu", "relu", "softmax"], loss="cross_entropy",
                     seed=0, dtype="float32")
net.fit(X, Y, epochs=2, optimizer="adam", lr=1e-3, batch_size=128)
print(json.dumps({"data_bytes": X.nbytes + Y.nbytes, "baseline": baseline,
                  "before": before, "peak": status("VmHWM"), "kernels": kernels}))
"""


def memory(m: int, fused: bool) -> dict[str, Any]:
    """Peak resident memory of a fresh process training the medium case: the
    peak is reset once the data are built, so training's own share shows."""
    if sys.platform != "linux":
        return {}
    env = {**os.environ, "NLAYER_KERNELS": "1" if fused else "0"}
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            MEMORY_CHILD,
            os.path.dirname(os.path.abspath(__file__)),
            str(m),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    r = json.loads(out)
    return {
        "data_mb": r["data_bytes"] / 2**20,
        "peak_over_baseline_mb": (r["peak"] - r["baseline"]) / 2**20,
        "training_extra_mb": (r["peak"] - r["before"]) / 2**20,
        "kernels_mb": [b / 2**20 for b in r["kernels"]],
    }


# -- the report ----------------------------------------------------------------


def fmt_s(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 10 else f"{s:.1f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="nlayer training speed, side by side")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cases",
        nargs="*",
        default=["tiny", "tabular", "lbfgs", "medium", "wide", "memory", "scaling"],
    )
    args = parser.parse_args(argv)
    run_on_own_kernel(os.path.abspath(__file__), sys.argv[1:] if argv is None else argv)
    smoke = args.smoke
    repeats = 1 if smoke else args.repeats
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 2
    if HAVE_TORCH:
        torch.set_num_threads(threads)  # the same threads as NumPy's BLAS
    print(
        f"nlayer {nlayer.__version__}, Python {platform.python_version()}, NumPy "
        f"{np.__version__}"
        + (f", PyTorch {torch.__version__}" if HAVE_TORCH else "")
        + f"; {threads} threads; medians of {repeats} interleaved runs"
    )
    print(kernels_here())
    print(
        f"BLAS: {blas_here()}; one {2048 if not smoke else 512}² GEMM: "
        f"{gemm_peak('float32', 512 if smoke else 2048):.0f} GFLOP/s in float32, "
        f"{gemm_peak('float64', 512 if smoke else 2048):.0f} in float64\n"
    )
    if "tabular" in args.cases:
        tabular_report(smoke, repeats)
    if "lbfgs" in args.cases:
        lbfgs_report(smoke, repeats)

    if "tiny" in args.cases:
        epochs = 50 if smoke else 1000
        runs = {
            "nlayer": tiny_nlayer(epochs),
            "NumPy by hand": tiny_numpy(epochs),
            "scikit-learn": tiny_sklearn(epochs),
        }
        runs = with_numpy_only(runs, tiny_nlayer(epochs))
        if HAVE_TORCH:
            runs["PyTorch"] = tiny_torch(epochs)
        t = median_times(runs, repeats)
        print(
            f"### tiny: {TINY_SIZES}, 100 samples, {epochs} full-batch SGD epochs, "
            "float64\n"
        )
        print("| | time | nlayer ÷ it |\n|---|---|---|")
        for name, s in t.items():
            print(f"| {name} | {fmt_s(s)} | {t['nlayer'] / s:.3f} |")
        print()

    if "medium" in args.cases:
        m = 2000 if smoke else 60_000
        X, y = teacher_data(m + 10_000 // (30 if smoke else 1), MEDIUM[0], MEDIUM[-1])
        X, X_test, y, y_test = X[:m], X[m:], y[:m], y[m:]
        flops = flops_per_epoch(MEDIUM, m)
        for opt, lr in (("adam", 1e-3), ("sgd", 0.1)):
            result: dict[str, Any] = {}
            runs = {
                "nlayer": medium_nlayer(X, y, MEDIUM, opt, lr, 128, result),
                "NumPy by hand": medium_numpy(X, y, MEDIUM, opt, lr, 128, result),
            }
            if HAVE_TORCH:
                runs["PyTorch"] = medium_torch(X, y, MEDIUM, opt, lr, 128, result)
            if opt == "adam":
                runs["scikit-learn"] = medium_sklearn(X, y, MEDIUM, lr, 128, result)
            runs["its GEMMs alone"] = gemms_alone(MEDIUM, 128, -(-m // 128))
            twin = medium_nlayer(X, y, MEDIUM, opt, lr, 128, result, NUMPY_ONLY)
            t = median_times(with_numpy_only(runs, twin), repeats)
            print(
                f"### medium, {opt}: {MEDIUM} ReLU/softmax, batch 128, {m} samples, "
                "1 epoch, float32\n"
            )
            print("| | time | nlayer ÷ it | GFLOP/s | epoch loss | test accuracy |")
            print("|---|---|---|---|---|---|")
            for name, s in t.items():
                loss = result.get(name)
                acc = (
                    accuracy(result[f"{name}_net"], X_test, y_test)
                    if (f"{name}_net" in result)
                    else None
                )
                print(
                    f"| {name} | {fmt_s(s)} | {t['nlayer'] / s:.3f} | "
                    f"{flops / s / 1e9:.0f} | "
                    + (f"{loss:.4f}" if loss is not None else "")
                    + " | "
                    + (f"{acc:.2%}" if acc is not None else "")
                    + " |"
                )
            print()

    if "wide" in args.cases:
        sizes = [256, 512, 512, 10] if smoke else [1024, 2048, 2048, 10]
        batch = 128 if smoke else 1024
        m = batch * (4 if smoke else 16)
        w = wide(m, sizes, batch, repeats)
        print(f"### wide: {sizes}, batch {batch}, {m} samples, SGD, float32\n")
        print("| | time per epoch | GFLOP/s |\n|---|---|---|")
        for name, s in w["times"].items():
            label = "NumPy GEMMs of the same shapes" if name == "GEMMs alone" else name
            print(f"| {label} | {fmt_s(s)} | {w[name]:.0f} |")
        print(f"\nnlayer reaches {w['fraction']:.0%} of the GEMM throughput.\n")

    if "memory" in args.cases:
        memory_report(2000 if smoke else 60_000)

    if "scaling" in args.cases:
        print("### scaling: medium case, Adam, one epoch, float32\n")
        print("| samples | time | | hidden layers (256 wide), 30k samples | time |")
        print("|---|---|---|---|---|")
        full = 4000 if smoke else 60_000
        X, y = teacher_data(full, MEDIUM[0], MEDIUM[-1])
        rows = []
        for frac, depth in ((0.25, 2), (0.5, 4), (1.0, 8)):
            n = int(full * frac)
            r1: dict[str, Any] = {}
            t1 = median_times(
                {"n": medium_nlayer(X[:n], y[:n], MEDIUM, "adam", 1e-3, 128, r1)},
                repeats,
            )["n"]
            sizes = [784] + [256] * depth + [10]
            half = full // 2
            t2 = median_times(
                {"d": medium_nlayer(X[:half], y[:half], sizes, "adam", 1e-3, 128, r1)},
                repeats,
            )["d"]
            rows.append(f"| {n} | {fmt_s(t1)} | | {depth} | {fmt_s(t2)} |")
        print("\n".join(rows) + "\n")


def memory_report(m: int) -> None:
    runs = [(False, memory(m, False))]
    if kernels.available():
        runs.append((True, memory(m, True)))
    if not runs[0][1]:
        return  # not Linux
    print("### memory: medium case, Adam, 2 epochs, fresh process\n")
    for fused, r in runs:
        print(
            ("- with the fused kernels: " if fused else "- NumPy only: ")
            + f"data set (X and one-hot Y) {r['data_mb']:.0f} MB; while training, "
            f"the peak resident memory stood {r['peak_over_baseline_mb']:.0f} MB "
            "above the bare interpreter with NumPy, of which "
            f"{r['training_extra_mb']:.1f} MB beyond the data: the network, "
            "its optimiser and its work buffers"
            + (
                "; the kernels (numba, LLVM, the compiled loops), loaded before "
                f"that, take {r['kernels_mb'][0]:.0f} MB of the process's own "
                f"memory and map {r['kernels_mb'][1]:.0f} MB of shared library "
                "files, once a process"
                if fused
                else ""
            )
        )
    print()


def tabular_report(smoke: bool, repeats: int) -> None:
    m = 5000 if smoke else TABULAR["m"]
    X, y, target = tabular_data(m + m // 5, TABULAR["n"], TABULAR["classes"])
    for task, labels in (("classification", y), ("regression", target)):
        result: dict[str, Any] = {}
        runs = tabular_estimators(task, X[:m], labels[:m], result)
        twin = tabular_estimators(task, X[:m], labels[:m], result, NUMPY_ONLY)
        runs = with_numpy_only(runs, twin[NUMPY_ONLY])
        if HAVE_TORCH:
            runs["PyTorch"] = tabular_torch(task, X[:m], labels[:m], result)
        t = median_times(runs, repeats)
        score = "accuracy" if task == "classification" else "R²"
        print(
            f"### tabular {task}: {m} × {TABULAR['n']}, hidden "
            f"({TABULAR['hidden']},) ReLU, batch {TABULAR['batch']}, Adam, "
            f"{TABULAR['epochs']} epochs, float64\n"
        )
        print(f"| | time | nlayer ÷ it | held-out {score} |\n|---|---|---|---|")
        for name, s in t.items():
            held_out = tabular_score(result[name], task, X[m:], labels[m:])
            print(f"| {name} | {fmt_s(s)} | {t['nlayer'] / s:.3f} | {held_out:.4f} |")
        print()


def lbfgs_report(smoke: bool, repeats: int) -> None:
    m, iterations = (2000, 20) if smoke else (10_000, 200)
    X, y, _ = tabular_data(m, TABULAR["n"], TABULAR["classes"])
    result: dict[str, Any] = {}
    t = median_times(lbfgs_runs(X, y, iterations, result), repeats)
    print(
        f"### L-BFGS: {m} × {TABULAR['n']}, hidden ({TABULAR['hidden']},), "
        f"{TABULAR['classes']} classes, up to {iterations} iterations, float64\n"
    )
    print("| | time | nlayer ÷ it | final loss | iterations |\n|---|---|---|---|---|")
    for name, s in t.items():
        loss, n_iter = result[name]
        print(
            f"| {name} | {fmt_s(s)} | {t['nlayer'] / s:.3f} | {loss:.6f} | {n_iter} |"
        )
    print()


if __name__ == "__main__":
    main()
