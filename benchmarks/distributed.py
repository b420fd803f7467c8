"""Data-parallel training: steps per second on 1, 2 and 4 processes, where a
step's time goes (computation, waiting, the Allgatherv), the cost of exactness
(the shards) and a cost model projected to cluster networks.

    pip install ".[mpi]"
    python benchmarks/distributed.py            # the tables in BENCHMARKS.md (minutes)
    python benchmarks/distributed.py --smoke    # tiny sizes, seconds: keeps it working

Without ``--worker`` this script is the driver: it launches ``mpiexec -n P``
runs of itself (P = 1, 2, 4; more processes than cores are marked
oversubscribed), each with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from
its environment and OPENBLAS_NUM_THREADS = max(1, cores // P): plain `fit`
on one process uses every core (2 threads on 2 cores). Data-parallel `fit`
runs BLAS on one thread in every process whatever the environment says (a
product's bits depend on the thread count), so P processes use P cores (P = 4
on 2 cores: two processes per core). Then it prints markdown tables.

Cases, as in benchmarks/speed.py (the same teacher data, float32):
  medium  784-256-128-10 ReLU/softmax, Adam, batch 128, 60 000 samples
  wide    1024-2048-2048-10 ReLU/softmax, SGD, batch 1024, 16 384 samples

Measured in each run (rank 0 reports; times are the slowest rank's):
  - one epoch of ``fit(..., distributed="mpi")`` after a warm-up, median of
    ``--repeats``; on one process also plain ``fit`` (no communicator), with
    2 and with 1 BLAS thread, and the distributed run with one shard (K = 1);
  - one more epoch through a communicator wrapped to time every exchange of
    the gradient: a Barrier first (the time waiting for the slowest process),
    then the Allgatherv (the transfer); computation is the rest of the step;
  - a hash of the weights after the epoch: equal hashes are bit-identical;
  - the Allgatherv alone at several message sizes, for its latency and
    bandwidth on this machine;
  - on one process: the step time with K = 1 … 256 shards, the optimiser and
    gradient-norm time, and the cost of copying and adding one gradient row
    (what finishing the tree costs per gathered row) — the cost model's inputs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from machine import blas_here, unforced_env
from teacher import teacher_data

import nlayer
from nlayer.distributed import Communicator, MPICommunicator, ShardPlan
from nlayer.optimizers import get_optimizer
from nlayer.training import Gradients

PROCS = (1, 2, 4)
#: assumed cluster networks for the projection: (name, latency s, bytes/s)
NETWORKS = (
    ("25 GbE", 10e-6, 3e9),
    ("InfiniBand HDR", 2e-6, 20e9),
)
PROJECT_P = (8, 16, 32, 64, 128, 256)


# -- the cases -------------------------------------------------------------------


def cases(smoke: bool) -> dict[str, dict[str, Any]]:
    """Each case: layer sizes, optimiser, learning rate, batch, samples."""
    if smoke:
        return {
            "medium": dict(sizes=[32, 16, 8, 10], opt="adam", lr=1e-3, batch=64,
                           m=512),
            "wide": dict(sizes=[64, 128, 128, 10], opt="sgd", lr=1e-3, batch=128,
                         m=512),
        }  # fmt: skip
    return {
        "medium": dict(sizes=[784, 256, 128, 10], opt="adam", lr=1e-3, batch=128,
                       m=60_000),
        "wide": dict(sizes=[1024, 2048, 2048, 10], opt="sgd", lr=1e-3, batch=1024,
                     m=16_384),
    }  # fmt: skip


def make_net(sizes: list[int]) -> nlayer.Network:
    acts = ["relu"] * (len(sizes) - 2) + ["softmax"]
    return nlayer.Network(sizes, acts, loss="cross_entropy", seed=0, dtype="float32")


def steps_of(m: int, batch: int) -> int:
    return -(-m // batch)


def shards_for(P: int, shards: int = 8) -> int:
    """The K that ShardPlan uses: max(shards, P) rounded up to a power of two."""
    return 1 << (max(shards, P) - 1).bit_length()


# -- the wrapped communicator -------------------------------------------------------


class TimedCommunicator(Communicator):
    """An MPICommunicator whose gradient exchanges (rows of ``width`` numbers)
    are timed: a Barrier first (waiting for the slowest process), then the
    Allgatherv (the transfer). Other exchanges pass through untimed."""

    def __init__(self, inner: MPICommunicator, width: int) -> None:
        self.inner, self.width = inner, width
        self.rank, self.size = inner.rank, inner.size
        self.wait = self.transfer = 0.0
        self.calls = 0

    def allgather(self, rows: np.ndarray, counts: Sequence[int]) -> np.ndarray:
        if rows.shape[1] != self.width:
            return self.inner.allgather(rows, counts)
        t0 = time.perf_counter()
        self.inner.comm.Barrier()
        t1 = time.perf_counter()
        out = self.inner.allgather(rows, counts)
        t2 = time.perf_counter()
        self.wait += t1 - t0
        self.transfer += t2 - t1
        self.calls += 1
        return out

    def broadcast(self, array: np.ndarray, root: int = 0) -> None:
        self.inner.broadcast(array, root)

    def broadcast_object(self, obj: Any, root: int = 0) -> Any:
        return self.inner.broadcast_object(obj, root)

    def abort(self, message: str, code: int = 1) -> None:
        self.inner.abort(message, code)


# -- the worker (under mpiexec) -------------------------------------------------------


class Worker:
    def __init__(self, smoke: bool, repeats: int) -> None:
        from mpi4py import MPI

        self.MPI, self.comm = MPI, MPI.COMM_WORLD
        self.P, self.rank = self.comm.Get_size(), self.comm.Get_rank()
        self.smoke, self.repeats = smoke, repeats

    def slowest(self, seconds: float) -> float:
        return float(self.comm.allreduce(seconds, op=self.MPI.MAX))

    def mean(self, value: float) -> float:
        return float(self.comm.allreduce(value, op=self.MPI.SUM)) / self.P

    def fit(self, case: dict[str, Any], X: np.ndarray, Y: np.ndarray,
            **kw: Any) -> tuple[float, nlayer.Network]:  # fmt: skip
        """One epoch from the same initial weights; the slowest rank's time."""
        net = make_net(case["sizes"])
        self.comm.Barrier()
        t = time.perf_counter()
        net.fit(X, Y, epochs=1, optimizer=case["opt"], lr=case["lr"],
                batch_size=case["batch"], **kw)  # fmt: skip
        return self.slowest(time.perf_counter() - t), net

    def median_fit(self, case: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                   **kw: Any) -> tuple[float, nlayer.Network]:  # fmt: skip
        times, net = [], None
        for _ in range(self.repeats):
            t, net = self.fit(case, X, Y, **kw)
            times.append(t)
        assert net is not None
        return float(np.median(times)), net

    def case(self, name: str, case: dict[str, Any]) -> dict[str, Any]:
        X, y = teacher_data(case["m"], case["sizes"][0], case["sizes"][-1])
        Y = np.eye(case["sizes"][-1], dtype=np.float32)[y]
        warm = 4 * case["batch"]
        self.fit(case, X[:warm], Y[:warm], distributed="mpi")  # warm-up
        out: dict[str, Any] = {"steps": steps_of(case["m"], case["batch"])}
        if self.P == 1:
            out.update(self.references(case, X, Y))
        t, net = self.median_fit(case, X, Y, distributed="mpi")
        out["distributed_s"] = t
        out["hash"] = weights_hash(net)
        if self.P == 1:
            out["max_abs_diff_plain"] = float(
                np.abs(net.params - out.pop("_plain_params")).max()
            )
        out.update(self.instrumented(case, X, Y, net.n_params))
        if self.P == 1:
            out["sweep"] = self.sweep(case, X, Y)
            out.update(fixed_costs(case))
        return out

    def references(self, case: dict[str, Any], X: np.ndarray,
                   Y: np.ndarray) -> dict[str, Any]:  # fmt: skip
        """One process: plain fit (2 and 1 BLAS threads), distributed K = 1."""
        from threadpoolctl import threadpool_limits

        self.fit(case, X[: 4 * case["batch"]], Y[: 4 * case["batch"]])
        t, net = self.median_fit(case, X, Y)
        with threadpool_limits(1, user_api="blas"):
            t1, _ = self.median_fit(case, X, Y)
        k1, _ = self.median_fit(case, X, Y, distributed="mpi", shards=1)
        return {"plain_s": t, "plain_1thread_s": t1, "k1_s": k1,
                "plain_hash": weights_hash(net),
                "_plain_params": net.params.copy()}  # fmt: skip

    def instrumented(self, case: dict[str, Any], X: np.ndarray, Y: np.ndarray,
                     n_params: int) -> dict[str, Any]:  # fmt: skip
        timed = TimedCommunicator(MPICommunicator(), n_params + 1)
        t, _ = self.fit(case, X, Y, distributed=timed)
        steps = timed.calls
        return {
            "timed_s": t,
            "wait_per_step": self.mean(timed.wait) / steps,
            "transfer_per_step": self.mean(timed.transfer) / steps,
            "n_params": n_params,
        }

    def sweep(self, case: dict[str, Any], X: np.ndarray,
              Y: np.ndarray) -> dict[int, float]:  # fmt: skip
        """Step time on one process with K shards (K = 1 … 256)."""
        n_steps = 8 if self.smoke else (40 if case["batch"] < 512 else 3)
        rows = n_steps * case["batch"]
        Xs, Ys = X[:rows], Y[:rows]
        ks = (1, 8, 16) if self.smoke else tuple(2**i for i in range(9))
        out = {}
        for k in ks:
            self.fit(case, Xs[: case["batch"]], Ys[: case["batch"]],
                     distributed="mpi", shards=k)  # fmt: skip
            times = [
                self.fit(case, Xs, Ys, distributed="mpi", shards=k)[0] for _ in range(2)
            ]
            out[k] = min(times) / n_steps
        return out

    def allgather(self) -> list[tuple[int, float]]:
        """Median time of the Allgatherv alone, per piece size (bytes)."""
        from mpi4py import MPI

        sizes = [1, 256, 4096, 65536, 262144, 1 << 20, 1 << 22]
        if self.smoke:
            sizes = [1, 4096, 65536]
        out = []
        for n in sizes:
            rows = np.ones((1, n), dtype=np.float32)
            counts = [1] * self.P
            comm = MPICommunicator()
            reps = max(5, min(200, (1 << 24) // n)) if not self.smoke else 5
            times = []
            for _ in range(reps):
                self.comm.Barrier()
                t = time.perf_counter()
                comm.allgather(rows, counts)
                times.append(self.slowest(time.perf_counter() - t))
            out.append((4 * n, float(np.median(times))))
        del MPI
        return out


def weights_hash(net: nlayer.Network) -> str:
    return hashlib.sha256(net.params.tobytes()).hexdigest()[:12]


def fixed_costs(case: dict[str, Any]) -> dict[str, float]:
    """Per step, on one process: the optimiser and gradient norms (every process
    does them whatever P), and copying and adding one (n_params + 1) row (the
    tree's finish costs P copies and P − 1 adds on every process)."""
    net = make_net(case["sizes"])
    grads = Gradients(net)
    grads.flat[...] = 1e-3
    opt = get_optimizer(case["opt"], lr=case["lr"])
    opt.step(net.params, grads.flat, net.n_weights, case["lr"])
    reps = 20 if net.n_params > 1 << 20 else 200

    def per_call(fn: Any) -> float:
        t = time.perf_counter()
        for _ in range(reps):
            fn()
        return (time.perf_counter() - t) / reps

    serial = per_call(
        lambda: (
            grads.squared_norms(),
            opt.step(net.params, grads.flat, net.n_weights, case["lr"]),
        )
    )
    a = np.ones(net.n_params + 1, dtype=np.float32)
    b = np.ones_like(a)
    copy = per_call(lambda: a.copy())
    add = per_call(lambda: np.add(a, b, out=a))
    return {"serial_s": serial, "copy_row_s": copy, "add_row_s": add}


def worker_main(args: argparse.Namespace) -> None:
    w = Worker(args.smoke, args.repeats)
    result: dict[str, Any] = {"P": w.P, "cases": {}}
    for name, case in cases(args.smoke).items():
        result["cases"][name] = w.case(name, case)
    if w.P > 1:
        result["allgather"] = w.allgather()
    if w.rank == 0:
        result["blas"] = blas_here()
        from mpi4py import MPI

        result["mpi"] = " ".join(MPI.Get_library_version().split()[:3])
        with open(args.out, "w") as f:
            json.dump(result, f)


# -- the driver ---------------------------------------------------------------------


def cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def find_mpiexec() -> str:
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    found = here if os.path.exists(here) else shutil.which("mpiexec")
    if found is None:
        sys.exit('mpiexec not found: pip install "nlayer[mpi]" (mpi4py, MPICH)')
    return found


def launch(P: int, args: argparse.Namespace, out: str) -> dict[str, Any]:
    threads = max(1, cores() // P)
    env = unforced_env()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    cmd = [find_mpiexec(), "-n", str(P), sys.executable, os.path.abspath(__file__),
           "--worker", "--out", out, "--repeats", str(args.repeats)]  # fmt: skip
    if args.smoke:
        cmd.append("--smoke")
    t = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    with open(out) as f:
        result = json.load(f)
    result["threads"], result["wall_s"] = threads, time.perf_counter() - t
    return result


def fmt_ms(s: float) -> str:
    return f"{s * 1e3:.0f} ms" if s >= 0.1 else f"{s * 1e3:.2f} ms"


def fmt_bytes(b: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= size:
            return f"{b / size:.3g} {unit}"
    return f"{b:.0f} B"


def label(P: int, n_cores: int) -> str:
    return f"{P} (oversubscribed)" if P > n_cores else str(P)


def report_speed(runs: dict[int, dict[str, Any]], name: str,
                 case: dict[str, Any], n_cores: int) -> None:  # fmt: skip
    one = runs[1]["cases"][name]
    steps, plain = one["steps"], one["plain_s"]
    print(
        f"### {name}: {case['sizes']}, {case['opt']}, batch {case['batch']}, "
        f"{case['m']} samples ({steps} steps), float32, one epoch\n"
    )
    print("| run | processes | BLAS threads each | epoch | steps/s | "
          "speed-up over plain fit | weights (sha256) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    t2 = runs[1]["threads"]

    def row(what: str, P: Any, threads: int, s: float, h: str = "") -> None:
        print(f"| {what} | {P} | {threads} | {fmt_ms(s)} | {steps / s:.1f} | "
              f"{plain / s:.2f} | {h} |")  # fmt: skip

    row("plain `fit`", 1, t2, plain, one["plain_hash"])
    row("plain `fit`", 1, 1, one["plain_1thread_s"])
    # data-parallel training runs BLAS on one thread in every process
    row('`distributed="mpi"`, `shards=1`', 1, 1, one["k1_s"])
    for P, r in runs.items():
        c = r["cases"][name]
        row('`distributed="mpi"`', label(P, n_cores), 1,
            c["distributed_s"], c["hash"])  # fmt: skip
    same = len({r["cases"][name]["hash"] for r in runs.values()}) == 1
    print(
        f"\nDistributed weights bit-identical across {', '.join(map(str, runs))} "
        f"processes: {'yes' if same else 'NO'}; largest difference from plain "
        f"`fit`: {one['max_abs_diff_plain']:.2g}.\n"
    )


def report_split(runs: dict[int, dict[str, Any]], name: str,
                 n_cores: int) -> None:  # fmt: skip
    print(f"Where a step goes ({name}; one more epoch through the timed "
          "communicator; a Barrier before each Allgatherv separates waiting for "
          "the slowest process from the transfer):\n")  # fmt: skip
    print("| processes | step | computation | waiting | Allgatherv | "
          "gathered per process |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for P, r in runs.items():
        c = r["cases"][name]
        step = c["timed_s"] / c["steps"]
        wait, xfer = c["wait_per_step"], c["transfer_per_step"]
        comp = step - wait - xfer
        gathered = ShardPlan(P, 0).counts
        print(f"| {label(P, n_cores)} | {fmt_ms(step)} | {fmt_ms(comp)} | "
              f"{fmt_ms(wait)} | {fmt_ms(xfer)} | "
              f"{fmt_bytes(sum(gathered) * (c['n_params'] + 1) * 4)} |")  # fmt: skip
    print()


def report_sweep(runs: dict[int, dict[str, Any]], all_cases: dict[str, Any]) -> None:
    print("### the cost of exactness: one process, K shards per batch\n")
    names = list(all_cases)
    print("| K | " + " | ".join(f"{n}: rows per shard | step | ÷ K = 1" for n in names)
          + " |")  # fmt: skip
    print("|---|" + "---|---|---|" * len(names))
    ks = sorted({int(k) for n in names for k in runs[1]["cases"][n]["sweep"]})
    for k in ks:
        cells = []
        for n in names:
            sweep = {int(a): b for a, b in runs[1]["cases"][n]["sweep"].items()}
            per = all_cases[n]["batch"] / k
            cells.append(f"{per:g} | {fmt_ms(sweep[k])} | {sweep[k] / sweep[1]:.2f}")
        print(f"| {k} | " + " | ".join(cells) + " |")
    print()


def fit_alpha_beta(points: list[tuple[int, float]], P: int) -> tuple[float, float]:
    """T = a + (P − 1)·s / BW by least squares, relative errors: (a, BW)."""
    s = np.array([p[0] for p in points], dtype=float)
    t = np.array([p[1] for p in points])
    A = np.stack([np.ones_like(s), (P - 1) * s], axis=1) / t[:, None]
    (a, inv_bw), *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    return float(max(a, 0.0)), float(1 / inv_bw) if inv_bw > 0 else math.inf


def report_allgather(runs: dict[int, dict[str, Any]],
                     n_cores: int) -> dict[int, tuple[float, float]]:  # fmt: skip
    print("### the Allgatherv alone on this machine\n")
    multi = [P for P in runs if "allgather" in runs[P]]
    print("| piece per process | " + " | ".join(
        f"{label(P, n_cores)} processes" for P in multi) + " |")  # fmt: skip
    print("|---|" + "---|" * len(multi))
    sizes = [p[0] for p in runs[multi[0]]["allgather"]]
    for i, size in enumerate(sizes):
        cells = [fmt_ms(runs[P]["allgather"][i][1]) for P in multi]
        print(f"| {fmt_bytes(size)} | " + " | ".join(cells) + " |")
    fits = {P: fit_alpha_beta(runs[P]["allgather"], P) for P in multi}
    print("\nFitted T = α + (P − 1)·s / BW (s: bytes per process): " + "; ".join(
        f"P = {P}: α = {a * 1e6:.0f} µs, BW = {bw / 1e9:.1f} GB/s"
        for P, (a, bw) in fits.items()) + ".\n")  # fmt: skip
    return fits


def report_pieces(all_cases: dict[str, Any],
                  runs: dict[int, dict[str, Any]]) -> None:  # fmt: skip
    print("### what the exchange moves (K = 8)\n")
    print("| processes | pieces per process | rows gathered | " + " | ".join(
        f"{n}: received per process | all-reduce 2(P−1)/P·n" for n in all_cases)
        + " |")  # fmt: skip
    print("|---|---|---|" + "---|---|" * len(all_cases))
    for P in range(1, 9):
        plan = ShardPlan(P, 0)
        pieces = "/".join(str(c) for c in sorted(set(plan.counts)))
        cells = []
        for n in all_cases:
            row = (runs[1]["cases"][n]["n_params"] + 1) * 4
            received = max(sum(plan.counts) - c for c in plan.counts) * row
            ring = 2 * (P - 1) / P * (row - 4)
            cells.append(f"{fmt_bytes(received)} | {fmt_bytes(ring)}")
        print(f"| {P} | {pieces} | {sum(plan.counts)} | " + " | ".join(cells) + " |")
    print()


def model_step(c: dict[str, Any], batch: int, P: int, alpha: float, bw: float,
               allreduce: bool = False) -> dict[str, float]:  # fmt: skip
    """Projected seconds per step on P processes (see BENCHMARKS.md)."""
    K = shards_for(P)
    sweep = {int(k): v for k, v in c["sweep"].items()}
    k_known = max(k for k in sweep if k <= K)
    row = (c["n_params"] + 1) * 4
    # a row's copies besides the finish: the stack, the Allgatherv, into flat
    local = 3 * c["copy_row_s"]
    at_one = c["serial_s"] + local + c["copy_row_s"]  # the finish copies one row
    shards = (sweep[k_known] - at_one) / P
    if allreduce:  # reduce-scatter + allgather in the tree's order
        finish = (P - 1) / P * c["add_row_s"] + c["copy_row_s"]
        comm = 2 * (P - 1) * alpha + 2 * (P - 1) / P * row / bw
    else:
        finish = P * c["copy_row_s"] + (P - 1) * c["add_row_s"]
        comm = (P - 1) * (alpha + row / bw)
    step = shards + c["serial_s"] + local + finish + comm
    return {"K": K, "compute": shards + c["serial_s"] + local + finish,
            "comm": comm, "step": step, "rows": batch / K}  # fmt: skip


def report_projection(runs: dict[int, dict[str, Any]], all_cases: dict[str, Any],
                      fits: dict[int, tuple[float, float]]) -> None:  # fmt: skip
    print("### projection to a cluster (a model, not a measurement)\n")
    print(
        "Assumed networks: "
        + "; ".join(
            f"{n}: α = {a * 1e6:g} µs, BW = {b / 1e9:g} GB/s" for n, a, b in NETWORKS
        )  # fmt: skip
        + ". Each process computes as fast as one process on this machine "
        "(its measured K-shard step / P); the global batch stays fixed "
        "(strong scaling), K = max(8, P) rounded up to a power of two. "
        "Efficiency = plain one-process step ÷ (P × projected step).\n"
    )
    for name, case in all_cases.items():
        c = runs[1]["cases"][name]
        plain = c["plain_s"] / c["steps"]
        if 2 in fits:  # the model against this machine's own measurement
            a, bw = fits[2]
            m = model_step(c, case["batch"], 2, a, bw)
            measured = runs[2]["cases"][name]["transfer_per_step"]
            print(f"{name}: the model's Allgatherv on 2 processes here "
                  f"{fmt_ms(m['comm'])}, measured in `fit` "
                  f"{fmt_ms(measured)}.\n")  # fmt: skip
        heads = " | ".join(f"{n}: exchange | efficiency" for n, _, _ in NETWORKS)
        print(f"{name} ({case['sizes']}, batch {case['batch']}, plain step "
              f"{fmt_ms(plain)}):\n")  # fmt: skip
        print(f"| P | K | rows per shard | gathered per process | compute + finish "
              f"| {heads} | efficiency with an all-reduce's volume, "
              f"{NETWORKS[-1][0]} |")  # fmt: skip
        print("|---|---|---|---|---|" + "---|---|" * len(NETWORKS) + "---|")
        for P in PROJECT_P:
            cells = []
            for _, a, bw in NETWORKS:
                m = model_step(c, case["batch"], P, a, bw)
                cells.append(f"{fmt_ms(m['comm'])} | {plain / (P * m['step']):.0%}")
            _, a, bw = NETWORKS[-1]
            ar = model_step(c, case["batch"], P, a, bw, allreduce=True)
            gathered = P * (c["n_params"] + 1) * 4
            print(f"| {P} | {m['K']} | {m['rows']:g} | {fmt_bytes(gathered)} | "
                  f"{fmt_ms(m['compute'])} | " + " | ".join(cells)
                  + f" | {plain / (P * ar['step']):.0%} |")  # fmt: skip
        print()


def driver(args: argparse.Namespace) -> None:
    n_cores = cores()
    procs = (1, 2) if args.smoke else PROCS
    t0 = time.perf_counter()
    runs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for P in procs:
            runs[P] = launch(P, args, os.path.join(tmp, f"p{P}.json"))
    all_cases = cases(args.smoke)
    import mpi4py

    print(
        f"nlayer {nlayer.__version__}, Python {platform.python_version()}, NumPy "
        f"{np.__version__}, mpi4py {mpi4py.__version__}, {runs[1]['mpi']}; "
        f"{n_cores} cores\n"
    )
    print("BLAS, per process: " + "; ".join(
        f"P = {P}: {r['blas']}" for P, r in runs.items()) + "\n")  # fmt: skip
    for name, case in all_cases.items():
        report_speed(runs, name, case, n_cores)
        report_split(runs, name, n_cores)
    report_sweep(runs, all_cases)
    fits = report_allgather(runs, n_cores)
    report_pieces(all_cases, runs)
    report_projection(runs, all_cases, fits)
    print(f"({time.perf_counter() - t0:.0f} s in all)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({str(P): r for P, r in runs.items()}, f, indent=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="nlayer data-parallel training")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, seconds")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="also write the raw measurements here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeats = 1
    (worker_main if args.worker else driver)(args)


if __name__ == "__main__":
    main()
