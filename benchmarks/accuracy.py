"""Accuracy against the anchors: nlayer's estimators with their defaults beside
scikit-learn's MLP with its defaults and a PyTorch MLP of the same
architecture and training budget, under cross-validation on scikit-learn's
bundled data sets, and on MNIST-1D's own split.

    pip install ".[cli,bench]" torch==2.13.0
    python benchmarks/accuracy.py              # the tables in BENCHMARKS.md
    python benchmarks/accuracy.py --smoke      # seconds: keeps the script working

Cross-validation: repeated 5-fold (stratified for classes), the same folds for
every model; features are standardised on each training part (a Pipeline).
Each cell is the mean ± standard deviation over the folds of the held-out
accuracy (R² for regression), and the mean fit time. ``nlayer − sklearn`` is
the mean paired difference over the same folds with its standard error.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import RepeatedKFold, RepeatedStratifiedKFold
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import nlayer
from nlayer.estimators import NLayerClassifier, NLayerRegressor


@dataclass
class Split:
    name: str
    task: str  # "classification" | "regression"
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


#: scikit-learn's bundled data sets: (loader, task)
BUNDLED = {
    "iris": ("load_iris", "classification"),
    "wine": ("load_wine", "classification"),
    "breast cancer": ("load_breast_cancer", "classification"),
    "digits": ("load_digits", "classification"),
    "diabetes": ("load_diabetes", "regression"),
}


def folds(name: str, repeats: int, limit: int | None) -> list[Split]:
    loader, task = BUNDLED[name]
    X, y = getattr(datasets, loader)(return_X_y=True)
    if limit:
        X, y = X[:limit], y[:limit]
    kind = RepeatedStratifiedKFold if task == "classification" else RepeatedKFold
    splitter = kind(n_splits=5, n_repeats=repeats, random_state=0)
    return [
        Split(name, task, X[tr], y[tr], X[te], y[te]) for tr, te in splitter.split(X, y)
    ]


_MNIST1D: dict[str, np.ndarray] = {}


def mnist1d(limit: int | None) -> Split:
    """MNIST-1D generated offline (Greydanus & Kobak): 4000 train, 1000 test,
    the data set's seed 42; never its download path."""
    if not _MNIST1D:
        from mnist1d.data import get_dataset_args, make_dataset

        state = np.random.get_state()  # make_dataset seeds NumPy's global RNG
        data = make_dataset(get_dataset_args())
        np.random.set_state(state)
        _MNIST1D.update({k: data[k] for k in ("x", "y", "x_test", "y_test")})
    d, n = _MNIST1D, limit or None
    return Split(
        "MNIST-1D", "classification", d["x"][:n], d["y"][:n], d["x_test"][:n],
        d["y_test"][:n],
    )  # fmt: skip


def score(predict: Callable[[np.ndarray], np.ndarray], split: Split) -> float:
    pred = predict(split.X_test)
    if split.task == "regression":
        return float(r2_score(split.y_test, pred))
    return float(np.mean(pred == split.y_test))


def torch_mlp(
    split: Split, sizes: list[int], epochs: int, batch: int, lr: float, alpha: float,
    seed: int,
) -> Callable[[np.ndarray], np.ndarray]:  # fmt: skip
    """PyTorch: nlayer's layers (ReLU, softmax over every class), Adam with its
    learning rate, batch size and L2 (α/2·‖W‖² per batch, as scikit-learn
    scales it), for as many epochs as nlayer ran; on standardised features, and
    for regression on a standardised target, as nlayer's regressor learns it."""
    import torch

    torch.manual_seed(seed)
    scaler = StandardScaler().fit(split.X_train)
    X = torch.tensor(scaler.transform(split.X_train), dtype=torch.float64)
    classes = np.unique(split.y_train) if split.task == "classification" else None
    if classes is not None:
        y = torch.tensor(np.searchsorted(classes, split.y_train))
        loss_fn: Callable = torch.nn.CrossEntropyLoss()
        sizes = [*sizes[:-1], len(classes)]
    else:
        Y = split.y_train.reshape(len(split.y_train), -1)
        mean, std = Y.mean(axis=0), Y.std(axis=0)
        y = torch.tensor((Y - mean) / std, dtype=torch.float64)
        loss_fn = lambda out, t: 0.5 * ((out - t) ** 2).sum(1).mean()  # noqa: E731
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [torch.nn.Linear(a, b, dtype=torch.float64), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1], dtype=torch.float64))
    net = torch.nn.Sequential(*layers)
    decay = [p for p in net.parameters() if p.ndim == 2]
    rest = [p for p in net.parameters() if p.ndim == 1]
    opt = torch.optim.Adam(
        [{"params": decay, "weight_decay": alpha / batch}, {"params": rest}], lr=lr
    )
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(X), generator=gen)
        for start in range(0, len(X), batch):
            idx = order[start : start + batch]
            opt.zero_grad()
            loss_fn(net(X[idx]), y[idx]).backward()
            opt.step()

    def predict(X_new: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            Xt = torch.tensor(scaler.transform(X_new), dtype=torch.float64)
            out = net(Xt).numpy()
        if classes is not None:
            return classes[out.argmax(axis=1)]
        out = out * std + mean
        return out[:, 0] if split.y_test.ndim == 1 else out

    return predict


def fit_all(split: Split, seed: int, with_torch: bool, tuned: bool) -> dict:
    """{model: (score, fit seconds)} on one split."""
    reg = split.task == "regression"
    models = {
        "nlayer": (NLayerRegressor if reg else NLayerClassifier)(random_state=seed),
        "scikit-learn": (MLPRegressor if reg else MLPClassifier)(random_state=seed),
    }
    if tuned:
        models["nlayer, tuned"] = NLayerClassifier(
            hidden_layer_sizes=(200, 200), learning_rate_init=1e-2, batch_size=100,
            max_iter=150, n_iter_no_change=150, alpha=0.1, random_state=seed,
        )  # fmt: skip
    cells, fitted = {}, {}
    for label, model in models.items():
        pipe = make_pipeline(StandardScaler(), model)
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            pipe.fit(split.X_train, split.y_train)
        cells[label] = (score(pipe.predict, split), time.perf_counter() - t)
        fitted[label] = model
    if with_torch:
        nl = fitted["nlayer"]
        n = len(split.X_train)
        batch = min(200, n) if nl.batch_size == "auto" else min(nl.batch_size, n)
        t = time.perf_counter()
        predict = torch_mlp(
            split, list(nl.network_.layer_sizes), nl.n_iter_, batch,
            nl.learning_rate_init, nl.alpha, seed,
        )  # fmt: skip
        cells["PyTorch"] = (score(predict, split), time.perf_counter() - t)
    return cells


def cross_validated(
    names: list[str], repeats: int, limit: int | None, with_torch: bool
) -> list[dict]:
    rows = []
    for name in names:
        cells: dict[str, list[tuple[float, float]]] = {}
        for k, split in enumerate(folds(name, repeats, limit)):
            for label, cell in fit_all(split, k, with_torch, tuned=False).items():
                cells.setdefault(label, []).append(cell)
        rows.append({"data": name, **cells})
    return rows


def table(rows: list[dict], paired: bool) -> str:
    labels: list[str] = []
    for row in rows:
        labels += [k for k in row if k != "data" and k not in labels]
    head = [*labels, "nlayer − scikit-learn"] if paired else labels
    out = ["| data | " + " | ".join(head) + " |", "|---|" + "---|" * len(head)]
    for row in rows:
        cells = []
        for label in labels:
            if label not in row:
                cells.append("")
                continue
            acc = np.array([a for a, _ in row[label]]) * 100
            secs = np.mean([t for _, t in row[label]])
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f} ({secs:.2f} s)")
        if paired:
            d = 100 * (
                np.array([a for a, _ in row["nlayer"]])
                - np.array([a for a, _ in row["scikit-learn"]])
            )
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else 0.0
            cells.append(f"{d.mean():+.2f} ± {se:.2f}")
        out.append(f"| {row['data']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def blas() -> str:
    """The BLAS kernels NumPy runs on (OPENBLAS_CORETYPE in the environment
    forces older ones: run this script with it unset)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS unknown (threadpoolctl not installed)"
    libs = [lib for lib in threadpool_info() if lib.get("user_api") == "blas"]
    text = "; ".join(
        f"{lib['internal_api']} {lib['version']} ({lib.get('architecture')} kernels, "
        f"{lib['num_threads']} threads)"
        for lib in libs
    )
    forced = [v for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    return text + (f"; forced by {', '.join(forced)}" if forced else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="of 5-fold CV")
    parser.add_argument("--seeds", type=int, default=5, help="MNIST-1D runs")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: checks that the script runs"
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument("--no-mnist1d", action="store_true")
    parser.add_argument(
        "--data", nargs="*", default=list(BUNDLED), choices=list(BUNDLED)
    )
    args = parser.parse_args(argv)
    repeats, seeds = (1, 1) if args.smoke else (args.repeats, args.seeds)
    limit = 150 if args.smoke else None
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch  # noqa: F401
        except ImportError:
            print(
                "PyTorch is not installed: its column is left out "
                "(pip install torch==2.13.0)",
                file=sys.stderr,
            )
            with_torch = False
    print(
        f"nlayer {nlayer.__version__}, scikit-learn "
        f"{__import__('sklearn').__version__}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {blas()}\n"
    )
    print(f"### {repeats} × 5-fold cross-validation\n")
    rows = cross_validated(args.data, repeats, limit, with_torch)
    print(table(rows, paired=True))
    if args.no_mnist1d:
        return
    print(f"\n### MNIST-1D, its own 4000/1000 split, {seeds} seed(s)\n")
    cells: dict[str, list[tuple[float, float]]] = {}
    for seed in range(seeds):
        split = mnist1d(limit)
        for label, cell in fit_all(split, seed, with_torch, tuned=True).items():
            cells.setdefault(label, []).append(cell)
    print(table([{"data": "MNIST-1D", **cells}], paired=True))


if __name__ == "__main__":
    main()
