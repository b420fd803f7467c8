"""Batch sources: where the rows of each training step come from.

A batch source gives ``n_samples``, ``total_weight`` (the samples, or the sum
of their weights), ``positions(rng)`` — each step's rows as positions into the
training rows, in the epoch's order — and ``gather(positions, work)``, those
rows as one batch in a workspace's reused buffers. ``epoch(rng)`` is both at
once. Data-parallel training asks each process's shard of a step's positions
(:mod:`nlayer.distributed`); a process gathers only its rows.

:class:`ArrayBatches` reads arrays: in memory, or memory-mapped from ``.npy``
files (``np.load(path, mmap_mode="r")``), whose training rows are read where
they lie (``rows``: an index, no copy), so data larger than memory trains with
only a batch in memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import Array, n_rows, take_rows, total
from .workspace import Workspace

if TYPE_CHECKING:
    from .network import Network

#: One step's rows: (X (b, n_0), Y (b, n_L), weights (b,) or None, the
#: workspace whose buffers the step computes in). A plain tuple: thousands are
#: made a second.
Batch = tuple[Array, Array, "Array | None", "Workspace | None"]


class ArrayBatches:
    """An epoch's batches of ``batch_size`` rows (None: all of them) of X, Y and
    the weights, reshuffled every epoch when ``shuffle``, gathered into reused
    buffers. ``rows``: the training rows of the arrays (an index; None: all),
    so that a validation split need not copy them."""

    def __init__(
        self,
        net: Network,
        X: Array,
        Y: Array,
        w: Array | None,
        batch_size: int | None,
        shuffle: bool,
        rows: Array | None = None,
    ) -> None:
        self.X, self.Y, self.w, self.rows = X, Y, w, rows
        m = self.n_samples = n_rows(X) if rows is None else len(rows)
        self.batch_size = bs = m if batch_size is None else min(batch_size, m)
        # one full batch: order cannot change the sum, so keep X as it is (no copy)
        self.shuffle = shuffle and bs < m
        # buffers reused by every step: at most two batch sizes (full, last);
        # NumPy's alone (other libraries make new arrays)
        fast = net.backend == "numpy"
        self.workspaces = {
            k: Workspace(net, k, Y.shape[1]) if fast else None
            for k in {bs, m % bs or bs}
        }
        weights = None if w is None else (w if rows is None else take_rows(w, rows))
        self.total_weight = float(m) if weights is None else total(weights)
        whole = bs == m and not self.shuffle and rows is None
        self.whole = [(X, Y, w, self.workspaces[m])] if whole else None

    def epoch(self, rng: np.random.Generator) -> Iterable[Batch]:
        """The batches of one epoch (a permutation drawn from ``rng`` first)."""
        if self.whole is not None:  # the seeds' full batch, as it is
            return self.whole
        return (
            self.gather(pos, self.workspaces[_length(pos)])
            for pos in self.positions(rng)
        )

    def positions(self, rng: np.random.Generator) -> Iterator[Any]:
        """Each step's positions among the training rows: slices in order, or
        the epoch's permutation cut into batches."""
        m, bs = self.n_samples, self.batch_size
        order = rng.permutation(m) if self.shuffle else None
        for start in range(0, m, bs):
            stop = min(start + bs, m)
            yield slice(start, stop) if order is None else order[start:stop]

    def weights(self, pos: Any) -> Array | None:
        """The sample weights at ``pos`` (None without weights)."""
        if self.w is None:
            return None
        return take_rows(self.w, pos if self.rows is None else self.rows[pos])

    def gather(self, pos: Any, work: Workspace | None) -> Batch:
        """The rows at ``pos``: views for a slice of in-memory rows, else read
        into ``work``'s buffers (which must hold them)."""
        X, Y, w = self.X, self.Y, self.w
        if self.rows is None and isinstance(pos, slice):
            return X[pos], Y[pos], None if w is None else w[pos], work
        idx = pos if self.rows is None else self.rows[pos]
        n = len(idx)
        if work is None:  # another library: new arrays on its device
            wb = None if w is None else take_rows(w, idx)
            return take_rows(X, idx), take_rows(Y, idx), wb, work
        Xb = take_rows(X, idx, out=work.X[:n] if n < len(work.X) else work.X)
        Yb = take_rows(Y, idx, out=work.Y[:n] if n < len(work.Y) else work.Y)
        return Xb, Yb, None if w is None else w[idx], work


def _length(pos: Any) -> int:
    return pos.stop - pos.start if isinstance(pos, slice) else len(pos)
