"""Accuracy against the anchors: nlayer's default estimator, scikit-learn's
default MLP and a PyTorch MLP of the same architecture and training budget,
side by side on scikit-learn's bundled data sets and MNIST-1D.

    pip install ".[cli,bench]" torch==2.13.0
    python benchmarks/accuracy.py              # the table in BENCHMARKS.md
    python benchmarks/accuracy.py --smoke      # a few seconds: keeps the script working

Every data set is split the same way for every model (stratified 25 % test for
the small sets; MNIST-1D's own 4000/1000 split), features are standardised on
the training part, and each cell is the mean ± standard deviation over seeds of
the test accuracy (R² for diabetes), with the mean fit time.
"""

from __future__ import annotations

import argparse
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
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
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


def bundled(name: str, loader: str, task: str, seed: int, limit: int | None) -> Split:
    X, y = getattr(datasets, loader)(return_X_y=True)
    if limit:
        X, y = X[:limit], y[:limit]
    strat = y if task == "classification" else None
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=strat, random_state=seed
    )
    scaler = StandardScaler().fit(Xtr)
    return Split(name, task, scaler.transform(Xtr), ytr, scaler.transform(Xte), yte)


_MNIST1D: dict[str, np.ndarray] = {}


def mnist1d(seed: int, limit: int | None) -> Split:
    """MNIST-1D generated offline (Greydanus & Kobak): 4000 train, 1000 test,
    the data set's seed 42 whatever the model's seed; never its download path."""
    if not _MNIST1D:
        from mnist1d.data import get_dataset_args, make_dataset

        state = np.random.get_state()  # make_dataset seeds NumPy's global RNG
        data = make_dataset(get_dataset_args())
        np.random.set_state(state)
        _MNIST1D.update({k: data[k] for k in ("x", "y", "x_test", "y_test")})
    d = _MNIST1D
    n = limit or len(d["x"])
    return Split(
        "MNIST-1D",
        "classification",
        d["x"][:n],
        d["y"][:n],
        d["x_test"][: limit or None],
        d["y_test"][: limit or None],
    )


DATASETS: dict[str, Callable[[int, int | None], Split]] = {
    "digits": lambda s, n: bundled("digits", "load_digits", "classification", s, n),
    "iris": lambda s, n: bundled("iris", "load_iris", "classification", s, n),
    "wine": lambda s, n: bundled("wine", "load_wine", "classification", s, n),
    "breast cancer": lambda s, n: bundled(
        "breast cancer", "load_breast_cancer", "classification", s, n
    ),
    "diabetes (R²)": lambda s, n: bundled(
        "diabetes", "load_diabetes", "regression", s, n
    ),
    "MNIST-1D": mnist1d,
}


def score(model: object, split: Split) -> float:
    pred = model.predict(split.X_test)  # type: ignore[attr-defined]
    if split.task == "regression":
        return float(r2_score(split.y_test, pred))
    return float(np.mean(pred == split.y_test))


def torch_mlp(
    split: Split,
    sizes: list[int],
    epochs: int,
    batch: int,
    lr: float,
    weight_decay: float,
    seed: int,
) -> Callable[[np.ndarray], np.ndarray]:
    """PyTorch: the same layers, ReLU, Adam, batch and epochs as nlayer's model."""
    import torch

    torch.manual_seed(seed)
    classes = np.unique(split.y_train) if split.task == "classification" else None
    X = torch.tensor(split.X_train, dtype=torch.float64)
    if classes is not None:
        y = torch.tensor(np.searchsorted(classes, split.y_train))
        loss_fn: Callable = torch.nn.CrossEntropyLoss()
    else:
        y = torch.tensor(split.y_train, dtype=torch.float64).reshape(-1, 1)
        loss_fn = torch.nn.MSELoss()
    if classes is not None:  # softmax over every class (nlayer: one sigmoid for two)
        sizes = [*sizes[:-1], len(classes)]
    layers: list[torch.nn.Module] = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [torch.nn.Linear(a, b, dtype=torch.float64), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1], dtype=torch.float64))
    net = torch.nn.Sequential(*layers)
    decay = [p for p in net.parameters() if p.ndim == 2]
    rest = [p for p in net.parameters() if p.ndim == 1]
    opt = torch.optim.Adam(
        [
            {"params": decay, "weight_decay": weight_decay},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=lr,
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
            out = net(torch.tensor(X_new, dtype=torch.float64)).numpy()
        return classes[out.argmax(axis=1)] if classes is not None else out[:, 0]

    return predict


class _Predictor:
    def __init__(self, fn: Callable[[np.ndarray], np.ndarray]) -> None:
        self.predict = fn


def run(
    names: list[str], seeds: int, limit: int | None, with_torch: bool, tuned: bool
) -> list[dict]:
    rows = []
    for name in names:
        cells: dict[str, list[tuple[float, float]]] = {}
        for seed in range(seeds):
            split = DATASETS[name](seed, limit)
            reg = split.task == "regression"
            models: dict[str, object] = {
                "nlayer": (NLayerRegressor if reg else NLayerClassifier)(
                    random_state=seed
                ),
                "scikit-learn": (MLPRegressor if reg else MLPClassifier)(
                    random_state=seed
                ),
            }
            if tuned and name == "MNIST-1D":
                models["nlayer, tuned"] = NLayerClassifier(
                    hidden_layer_sizes=(200, 200),
                    learning_rate=1e-2,
                    batch_size=100,
                    max_epochs=150,
                    n_iter_no_change=150,
                    alpha=0.1,
                    random_state=seed,
                )
            fitted = {}
            for label, model in models.items():
                t = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.fit(split.X_train, split.y_train)  # type: ignore[attr-defined]
                cells.setdefault(label, []).append(
                    (score(model, split), time.perf_counter() - t)
                )
                fitted[label] = model
            if with_torch:
                nl = fitted["nlayer"]
                net = nl.network_  # type: ignore[attr-defined]
                batch = (
                    min(64, len(split.X_train))
                    if nl.batch_size == "auto"
                    else (nl.batch_size or len(split.X_train))
                )  # type: ignore[attr-defined]
                t = time.perf_counter()
                predict = torch_mlp(
                    split,
                    list(net.layer_sizes),
                    nl.n_iter_,
                    batch,
                    nl.learning_rate,
                    nl.alpha / batch,
                    seed,
                )
                cells.setdefault("PyTorch", []).append(
                    (score(_Predictor(predict), split), time.perf_counter() - t)
                )
        rows.append({"data": name, **cells})
    return rows


def table(rows: list[dict]) -> str:
    labels = [k for k in rows[0] if k != "data"]
    for row in rows[1:]:
        labels += [k for k in row if k != "data" and k not in labels]
    out = ["| data | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for row in rows:
        cells = []
        for label in labels:
            if label not in row:
                cells.append("")
                continue
            acc = np.array([a for a, _ in row[label]]) * 100
            secs = np.mean([t for _, t in row[label]])
            cells.append(f"{acc.mean():.1f} ± {acc.std():.1f} ({secs:.2f} s)")
        out.append(f"| {row['data']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes and one seed: checks that the script runs",
    )
    parser.add_argument("--no-torch", action="store_true")
    parser.add_argument(
        "--data", nargs="*", default=list(DATASETS), choices=list(DATASETS)
    )
    args = parser.parse_args(argv)
    seeds = 1 if args.smoke else args.seeds
    limit = 120 if args.smoke else None
    with_torch = not args.no_torch
    if with_torch:
        try:
            import torch

            torch.set_num_threads(max(1, torch.get_num_threads()))
        except ImportError:
            print(
                "PyTorch is not installed: its column is left out "
                "(pip install torch==2.13.0)",
                file=sys.stderr,
            )
            with_torch = False
    rows = run(args.data, seeds, limit, with_torch, tuned=True)
    print(
        f"nlayer {nlayer.__version__}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, {seeds} seed(s); cells: test accuracy % "
        "(diabetes: R² × 100), mean ± std, and mean fit time\n"
    )
    print(table(rows))


if __name__ == "__main__":
    main()
