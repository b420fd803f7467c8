"""A trained model: the network and everything between a raw table and its answers.

``nlayer.load(path)`` returns a :class:`Model`. Its ``predict`` takes the table
as the user has it (a file, a pandas or Polars DataFrame, a dict of columns, or
an array in the stored column order), applies the stored encodings, fill
values and scaling, runs the network and turns its outputs back into class
labels or values in the target's units. ``nlayer predict`` calls the same
code, so the command line and Python give identical predictions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .backend import to_numpy
from .data import DataError, Preprocessing
from .network import Network
from .tables import Column, Table, as_table
from .workspace import Workspace

#: rows per forward pass when predicting (see Model._forward)
BLOCK = 8192
#: Network attributes that a Model does not pass through, and why
_NETWORK_ONLY = {
    "forward",
    "forward_pass",
    "gradients",
    "loss",
    "fit",
    "weights",
    "biases",
    "params",
    "layer_sizes",
    "activations",
    "summary",
}


class Model:
    """A :class:`~nlayer.network.Network` with the preprocessing it was trained
    behind (None for a bare network saved with ``nlayer.save(net, path)``).

    ``features``: the columns ``predict`` reads (None for a bare network:
    its n_0 inputs, in order); ``classes``: the class labels (None for
    regression); ``task``, ``target``: as trained.
    """

    def __init__(self, network: Network, preprocessing: Preprocessing | None = None):
        if not isinstance(network, Network):
            raise TypeError(
                f"a Model wraps an nlayer.Network, got {type(network).__name__}"
            )
        if (
            preprocessing is not None
            and len(preprocessing.x_mean) != network.layer_sizes[0]
        ):
            raise ValueError(
                f"the preprocessing gives {len(preprocessing.x_mean)} inputs, the "
                f"network takes {network.layer_sizes[0]}"
            )
        self.network = network
        self.preprocessing = preprocessing

    @property
    def features(self) -> list[str] | None:
        return None if self.preprocessing is None else self.preprocessing.features

    @property
    def classes(self) -> list[str] | None:
        return None if self.preprocessing is None else self.preprocessing.classes

    @property
    def task(self) -> str | None:
        return None if self.preprocessing is None else self.preprocessing.task

    @property
    def target(self) -> str | None:
        return None if self.preprocessing is None else self.preprocessing.target

    def outputs(
        self, data: Any, unseen: dict[str, set[str]] | None = None
    ) -> np.ndarray:
        """The network's outputs Ŷ (m, n_L), float64, for a raw table.

        Raises a ``DataError`` naming the rows where an output is not finite
        (inputs far outside what the network was trained on), never a silent NaN.
        """
        net, pre = self.network, self.preprocessing
        if pre is None:
            table = as_table(data, [f"x{j}" for j in range(net.layer_sizes[0])])
            X = np.column_stack(
                [
                    c.numbers if c.numbers is not None else _not_numbers(c.name)
                    for c in table.columns.values()
                ]
            )
            bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
            if len(bad):
                raise DataError(
                    f"{table.source}: {table.where(bad)} hold missing or "
                    "non-finite inputs"
                )
        else:
            table = as_table(data, pre.features)
            X = pre.inputs_for(table, net.dtype, unseen)
        Y_hat = self._forward(X.astype(net.dtype, copy=False))
        bad = np.flatnonzero(~np.isfinite(Y_hat).all(axis=1))
        if len(bad):
            raise DataError(
                f"{table.source}: the network's output is not finite for "
                f"{table.where(bad)}; their inputs are far outside the range it was "
                "trained on"
            )
        return Y_hat

    def _forward(self, X: np.ndarray) -> np.ndarray:
        """Ŷ (m, n_L) float64, BLOCK rows at a time in one reused workspace.

        BLAS computes a row at the edge of a matrix with other kernels than a
        row inside it, so the last bits of a row's output depend on where the
        matrix it sits in starts and ends. Blocks of BLOCK rows counted from
        the table's first row make every row's output the same however the
        table is read (whole, or in chunks of a multiple of BLOCK rows, as
        ``nlayer predict`` reads it), and the workspace is allocated once a call.
        """
        net = self.network
        Y_hat = np.empty((len(X), net.layer_sizes[-1]))
        if net.backend != "numpy":  # a table is the host's: each block there and back
            for start in range(0, len(X), BLOCK):
                block = net.on_device(X[start : start + BLOCK])
                Y_hat[start : start + BLOCK] = to_numpy(net.forward(block))
            return Y_hat
        # one workspace per call: a Model may predict in several threads at once
        work = Workspace(net, max(1, min(BLOCK, len(X))), net.layer_sizes[-1])
        with np.errstate(over="ignore", invalid="ignore"):
            for start in range(0, len(X), BLOCK):
                block = X[start : start + BLOCK]
                Y_hat[start : start + BLOCK] = net.forward(block, work)
        return Y_hat

    def predict(self, data: Any) -> np.ndarray:
        """Class labels (m,), or values in the target's units ((m,) for one
        target, else (m, k)); a bare network gives its outputs (m, n_L)."""
        Y_hat = self.outputs(data)
        pre = self.preprocessing
        if pre is None:
            return Y_hat
        out = pre.decode(Y_hat)
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, data: Any) -> np.ndarray:
        """Class probabilities (m, n_classes), columns in ``classes`` order."""
        if self.classes is None:
            raise ValueError(
                "this model has no classes (it is a regression model or a bare "
                "network); predict() gives its outputs"
            )
        assert self.preprocessing is not None
        return self.preprocessing.probabilities(self.outputs(data))

    def predictions(
        self, data: Any, unseen: dict[str, set[str]] | None = None
    ) -> Table:
        """What ``nlayer predict`` writes, as a Table: the prediction (named
        after the target) and, for classes, one probability per class
        (p_<class>); the labels as codes into ``classes``, no string per row."""
        Y_hat = self.outputs(data, unseen)
        pre = self.preprocessing
        columns: dict[str, Column] = {}

        def number(name: str, values: np.ndarray) -> None:
            columns[name] = Column(name, "number", numbers=values)

        if pre is None:
            for i in range(Y_hat.shape[1]):
                number(f"output{i + 1}", Y_hat[:, i])
        elif pre.classes is not None:
            P = pre.probabilities(Y_hat)
            codes = P.argmax(axis=1).astype(np.int32)
            columns[pre.target] = Column(
                pre.target, "text", codes=codes, levels=list(pre.classes)
            )
            for i, c in enumerate(pre.classes):
                number(f"p_{c}", np.ascontiguousarray(P[:, i]))
        else:
            values = pre.decode(Y_hat)
            for i in range(values.shape[1]):
                name = pre.target if values.shape[1] == 1 else f"{pre.target}{i + 1}"
                number(name, np.ascontiguousarray(values[:, i]))
        return Table("the predictions", columns, len(Y_hat))

    def __getattr__(self, name: str) -> Any:
        if name in _NETWORK_ONLY:
            raise AttributeError(
                f"a loaded Model has no {name!r}: model.predict(table) goes from a "
                f"raw table to answers; model.network.{name} is the bare network's "
                "(whose inputs are the preprocessed ones)"
            )
        raise AttributeError(f"'Model' object has no attribute {name!r}")

    def __repr__(self) -> str:
        if self.preprocessing is None:
            return f"Model({self.network!r})"
        p = self.preprocessing
        what = f"{len(p.classes)} classes" if p.classes else "regression"
        return (
            f"Model({len(p.features)} columns -> {p.target!r}, {what}, "
            f"network={self.network!r})"
        )


def _not_numbers(name: str) -> Any:
    raise DataError(f"column {name!r} holds text; a bare network reads numbers only")
