"""Data-parallel training: several processes, each computing the gradients of
its share of every batch, stepping in lockstep with the same weights.

The design of Horovod and of PyTorch's DistributedDataParallel: the initial
weights are broadcast from rank 0, every process draws the same shuffles, and
the gradients of a global batch are combined before one identical update on
every process. nlayer combines them so that the result does not depend on the
number of processes: each global batch is cut into K **shards** (K a power of
two, 8 by default), each shard's gradient is computed on its own, and the
shards' gradients are summed in one fixed binary tree. A process owns a
contiguous run of shards, sums the complete subtrees it holds, and exchanges
those partial sums (an all-gather); every process then finishes the same tree.
So 1, 2, 4 or 8 processes give bit-identical weights, and they agree with plain
one-process ``fit`` to float64 round-off.

A communicator is a small interface over an existing engine:
:class:`MPICommunicator` (mpi4py; ``mpiexec -n 4 python train.py``),
:class:`TorchCommunicator` (torch.distributed's gloo backend, for torchrun, Ray
or Kubernetes launchers) and :class:`ThreadGroup` (threads in one process,
for tests). A process that fails ends the whole job (``abort``) instead of
leaving the others waiting.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .backend import Array
from .sources import ArrayBatches
from .workspace import Workspace

if TYPE_CHECKING:
    from .network import Network

#: the default number of shards of a global batch: exact across 1 to 8 processes
SHARDS = 8


class Communicator:
    """What data-parallel training needs from a communication engine: its
    ``rank`` and ``size``, an all-gather of rows, broadcasts, and an abort that
    ends every process."""

    rank: int = 0
    size: int = 1

    def allgather(self, rows: Array, counts: Sequence[int]) -> Array:
        """Every process's ``rows`` (counts[r] rows from rank r), stacked in
        rank order, on every process."""
        raise NotImplementedError

    def broadcast(self, array: Array, root: int = 0) -> None:
        """Overwrite ``array`` on every process with ``root``'s, in place."""
        raise NotImplementedError

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        """``root``'s ``obj`` (picklable) on every process."""
        raise NotImplementedError

    def abort(self, message: str, code: int = 1) -> None:
        """End every process of the job with exit ``code``, saying why."""
        self.say(message)
        os._exit(code)

    def say(self, message: str) -> None:
        """``message`` on standard error, naming this process's rank."""
        print(f"nlayer: rank {self.rank} of {self.size}: {message}", file=sys.stderr)
        sys.stderr.flush()


class MPICommunicator(Communicator):
    """MPI through mpi4py (``pip install "nlayer[mpi]"``: mpi4py and the MPICH
    wheel); launch with ``mpiexec -n N``. An uncaught exception on any rank
    aborts the job, naming the rank."""

    def __init__(self, comm: Any = None) -> None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise ImportError(
                'distributed="mpi" needs mpi4py: pip install "nlayer[mpi]"'
            ) from None
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank, self.size = self.comm.Get_rank(), self.comm.Get_size()
        if self.size > 1:
            _abort_on_uncaught(self)

    def allgather(self, rows: Array, counts: Sequence[int]) -> Array:
        width = rows.shape[1]
        out = np.empty((sum(counts), width), dtype=rows.dtype)
        sizes = [c * width for c in counts]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).tolist()
        self.comm.Allgatherv(
            np.ascontiguousarray(rows), [out, sizes, offsets, _mpi_type(self.MPI, rows)]
        )
        return out

    def broadcast(self, array: Array, root: int = 0) -> None:
        self.comm.Bcast(array, root=root)

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.comm.bcast(obj, root=root)

    def abort(self, message: str, code: int = 1) -> None:
        self.say(message)
        self.comm.Abort(code)


def _mpi_type(MPI: Any, rows: Array) -> Any:
    return MPI.DOUBLE if rows.dtype == np.float64 else MPI.FLOAT


class TorchCommunicator(Communicator):
    """torch.distributed with the gloo backend (CPU); launch with torchrun (it
    sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT). Initialises the
    default process group if nothing has."""

    def __init__(self) -> None:
        try:
            import torch
            import torch.distributed as dist
        except ImportError:
            raise ImportError('distributed="torch" needs PyTorch') from None
        if not dist.is_initialized():
            dist.init_process_group("gloo")
            # ours to end: gloo's threads must stop before the interpreter does
            atexit.register(dist.destroy_process_group)
        self.torch, self.dist = torch, dist
        self.rank, self.size = dist.get_rank(), dist.get_world_size()
        if self.size > 1:
            _abort_on_uncaught(self)

    def allgather(self, rows: Array, counts: Sequence[int]) -> Array:
        # gloo gathers equal sizes: pad every process's rows to the largest
        most, width = max(counts), rows.shape[1]
        padded = np.zeros((most, width), dtype=rows.dtype)
        padded[: len(rows)] = rows
        parts = [self.torch.empty((most, width), dtype=_torch_dtype(self.torch, rows))]
        parts = parts + [self.torch.empty_like(parts[0]) for _ in counts[1:]]
        self.dist.all_gather(parts, self.torch.from_numpy(padded))
        return np.concatenate(
            [p.numpy()[:c] for p, c in zip(parts, counts, strict=True)]
        )

    def broadcast(self, array: Array, root: int = 0) -> None:
        self.dist.broadcast(self.torch.from_numpy(array), src=root)

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        box = [obj]
        self.dist.broadcast_object_list(box, src=root)
        return box[0]


def _torch_dtype(torch: Any, rows: Array) -> Any:
    return torch.float64 if rows.dtype == np.float64 else torch.float32


def _abort_on_uncaught(comm: Communicator) -> None:
    """An exception no one catches on one process ends the job, instead of
    leaving the others waiting in a collective forever."""
    previous = sys.excepthook

    def hook(kind: Any, value: Any, tb: Any) -> None:
        previous(kind, value, tb)
        code = 130 if issubclass(kind, KeyboardInterrupt) else 1
        comm.abort(f"{kind.__name__}: {value}", code)

    sys.excepthook = hook


class ThreadGroup:
    """``size`` communicators for threads of one process: the same exchanges
    as MPI's, for tests and for trying data-parallel code on one machine."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.barrier = threading.Barrier(size)
        self.slots: list[Any] = [None] * size
        self.failed: list[BaseException] = []

    def communicators(self) -> list[Communicator]:
        return [_ThreadCommunicator(self, r) for r in range(self.size)]

    def run(self, fn: Callable[[Communicator], Any]) -> list[Any]:
        """``fn(comm)`` in one thread per rank; every rank's result."""
        results: list[Any] = [None] * self.size

        def target(comm: Communicator) -> None:
            try:
                results[comm.rank] = fn(comm)
            except BaseException as e:  # noqa: BLE001 - reported below
                self.failed.append(e)
                self.barrier.abort()  # release the others

        threads = [
            threading.Thread(target=target, args=(c,)) for c in self.communicators()
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.failed:
            raise self.failed[0]
        return results


class _ThreadCommunicator(Communicator):
    def __init__(self, group: ThreadGroup, rank: int) -> None:
        self.group, self.rank, self.size = group, rank, group.size

    def _exchange(self, value: Any) -> list[Any]:
        g = self.group
        g.barrier.wait()  # everyone has read the previous exchange
        g.slots[self.rank] = value
        g.barrier.wait()  # everyone has written
        return list(g.slots)

    def allgather(self, rows: Array, counts: Sequence[int]) -> Array:
        return np.concatenate([r.copy() for r in self._exchange(rows)])

    def broadcast(self, array: Array, root: int = 0) -> None:
        array[...] = self._exchange(array.copy())[root]

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self._exchange(obj)[root]

    def abort(self, message: str, code: int = 1) -> None:
        raise RuntimeError(f"rank {self.rank} of {self.size}: {message}")


_ENGINES: dict[str, Communicator] = {}  # one per process and engine


def get_communicator(spec: Any) -> Communicator | None:
    """None for one process; "mpi", "torch" (this process's, made once) or a
    Communicator object."""
    if spec is None or spec is False:
        return None
    if spec in ("mpi", "torch"):
        if spec not in _ENGINES:
            _ENGINES[spec] = MPICommunicator() if spec == "mpi" else TorchCommunicator()
        return _ENGINES[spec]
    if isinstance(spec, Communicator):
        return spec
    raise ValueError(
        f"distributed must be None, 'mpi', 'torch' or a Communicator, got {spec!r}"
    )


# -- the shards and their fixed sum -------------------------------------------------


class ShardPlan:
    """K shards per global batch, contiguous runs of them per process, and the
    fixed binary tree their gradients are summed in.

    ``pieces[r]``: the complete, aligned subtrees (first leaf, leaves) that
    process r sums itself; every process finishes the tree from all of them.
    """

    def __init__(self, size: int, rank: int, shards: int = SHARDS) -> None:
        k = max(shards, size)
        self.shards = 1 << (k - 1).bit_length()  # a power of two
        self.size, self.rank = size, rank
        bounds = [r * self.shards // size for r in range(size + 1)]
        self.owned = [(bounds[r], bounds[r + 1]) for r in range(size)]
        self.pieces = [_aligned(a, b) for a, b in self.owned]
        self.counts = [len(p) for p in self.pieces]

    def split(self, n: int) -> list[tuple[int, int]]:
        """(start, stop) of each shard of a batch of n rows (sizes differ by at
        most one, the larger first)."""
        base, extra = divmod(n, self.shards)
        stops = np.cumsum([base + (s < extra) for s in range(self.shards)])
        return list(zip([0, *stops[:-1].tolist()], stops.tolist(), strict=True))

    def tree_sum(self, leaf: Callable[[int], Array], first: int, leaves: int) -> Array:
        """The subtree over ``leaves`` leaves from ``first``: left + right, down
        to ``leaf(s)``."""
        if leaves == 1:
            return leaf(first)
        half = leaves // 2
        left = self.tree_sum(leaf, first, half)
        left += self.tree_sum(leaf, first + half, half)
        return left

    def finish(self, gathered: Array) -> Array:
        """The root, from every process's pieces (stacked in rank order)."""
        known = {}
        for i, piece in enumerate(p for pieces in self.pieces for p in pieces):
            known[piece] = gathered[i]
        return self._node(known, 0, self.shards)

    def _node(
        self, known: dict[tuple[int, int], Array], first: int, leaves: int
    ) -> Array:
        # a method, not a nested function that calls itself: such a closure is
        # a reference cycle, and the gathered rows it holds (hundreds of MB a
        # step for a wide network) would wait for the garbage collector
        if (first, leaves) in known:
            return known[(first, leaves)].copy()
        half = leaves // 2
        out = self._node(known, first, half)
        out += self._node(known, first + half, half)
        return out


def _aligned(a: int, b: int) -> list[tuple[int, int]]:
    """[a, b) as the fewest complete, aligned subtrees (first, leaves)."""
    pieces = []
    while a < b:
        size = a & -a if a else 1 << (b - 1).bit_length()
        while a + size > b:
            size //= 2
        pieces.append((a, size))
        a += size
    return pieces


# -- one step's gradient over the shards -----------------------------------------------


class ShardedGradient:
    """One global batch's gradient and loss, exact whatever the number of
    processes: this process gathers and differentiates only its shards.

    ``__call__(net, pos, grads_flat, grads_views, dropout)`` returns (loss,
    weight) of the global batch (None when it weighs nothing) with the
    gradient in ``grads_flat``; every process gets the same numbers.
    """

    def __init__(self, comm: Communicator, source: ArrayBatches, shards: int) -> None:
        self.comm, self.source = comm, source
        self.plan = ShardPlan(comm.size, comm.rank, shards)
        self.work: dict[int, Workspace] = {}

    def __call__(
        self, net: Network, pos: Any, flat: Array, views: Any, dropout: bool
    ) -> tuple[float, float] | None:
        plan, n_params = self.plan, net.n_params
        idx = _as_index(pos)
        cuts = plan.split(len(idx))
        w_all = self.source.weights(idx)
        shard_w = [
            float(b - a) if w_all is None else float(w_all[a:b].sum()) for a, b in cuts
        ]
        total = float(
            plan.tree_sum(lambda s: np.array([shard_w[s]]), 0, plan.shards)[0]
        )
        if not total > 0:
            return None
        masks = net.dropout_masks(len(idx)) if dropout else None  # the global draw

        def leaf(s: int) -> Array:
            out = np.zeros(n_params + 1, dtype=net.dtype)
            a, b = cuts[s]
            if b > a and shard_w[s] > 0:
                out[-1] = self._shard(net, idx[a:b], (a, b), masks, flat, views)
                out[:-1] = flat
                out *= net.dtype.type(shard_w[s] / total)  # this shard's share
            return out

        mine = plan.pieces[plan.rank]
        rows = (
            np.stack([plan.tree_sum(leaf, f, n) for f, n in mine])
            if mine
            else (np.zeros((0, n_params + 1), dtype=net.dtype))
        )
        root = plan.finish(self.comm.allgather(rows, plan.counts))
        flat[...] = root[:-1]
        return float(root[-1]), total

    def _shard(
        self, net: Network, idx: Array, cut: tuple[int, int], masks: Any, flat: Array,
        views: Any,
    ) -> float:  # fmt: skip
        """One shard's mean loss, its mean gradient left in ``flat``."""
        n = len(idx)
        work = self.work.get(n) or self.work.setdefault(
            n, Workspace(net, n, self.source.Y.shape[1])
        )
        X, Y, w, _ = self.source.gather(idx, work)
        a, b = cut
        shard_masks = None if masks is None else [
            None if M is None else M[a:b] for M in masks
        ]  # fmt: skip
        Z, H = net.forward_pass(X, shard_masks, work)
        loss = net.loss_from(Z, H, Y, w)
        net.backward(Z, H, Y, views, w, shard_masks, work)
        return loss


def _as_index(pos: Any) -> Array:
    return np.arange(pos.start, pos.stop) if isinstance(pos, slice) else pos


def check_same_data(comm: Communicator, X: Array, Y: Array) -> None:
    """Refuse to train when the processes were given different data: shapes,
    dtypes and the first and last rows must agree."""
    ends = [np.asarray(E).tobytes() for A in (X, Y) for E in (A[:1], A[-1:])]
    mine = (X.shape, str(X.dtype), Y.shape, str(Y.dtype), ends)
    same = comm.broadcast_object(mine, 0) == mine
    oks = comm.allgather(np.array([[1.0 if same else 0.0]]), [1] * comm.size)
    if not oks.all():
        bad = [r for r in range(comm.size) if not oks[r, 0]]
        raise ValueError(
            f"the processes hold different data (ranks {bad} differ from rank 0): "
            "every process must pass the same X and Y"
        )
