"""Data-parallel training: the same weights bit for bit on any number of
processes, agreement with one-process fit, failures that end the job, resume
across process counts — with threads (fast) and with real MPI and torchrun
processes (subprocesses, seconds each)."""

import gc
import os
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

import nlayer
from nlayer.distributed import ShardPlan, ThreadGroup, _aligned

MPIEXEC = shutil.which("mpiexec") or str(Path(sys.executable).parent / "mpiexec")
HAS_MPI = (
    Path(MPIEXEC).exists()
    and subprocess.run(
        [sys.executable, "-c", "import mpi4py"], capture_output=True
    ).returncode
    == 0
)
needs_mpi = pytest.mark.skipif(not HAS_MPI, reason='needs pip install "nlayer[mpi]"')


def data(dtype="float64", m=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, m)]
    w = rng.uniform(0.5, 2.0, m).astype(dtype)
    return X, Y, w


def network(dtype="float64", dropout=None):
    acts = ["tanh", "relu", "softmax"]
    return nlayer.Network(
        [5, 16, 8, 3], acts, loss="cross_entropy", seed=1, dtype=dtype, dropout=dropout
    )


OPTIONS = dict(
    epochs=4, optimizer="adam", lr=0.01, batch_size=37, validation_fraction=0.2,
    early_stopping=True, patience=2,
)  # fmt: skip


def train(comm, dtype="float64", **extra):
    X, Y, w = data(dtype)
    net = network(dtype, extra.pop("dropout", None))
    history = net.fit(X, Y, sample_weight=w, distributed=comm, **{**OPTIONS, **extra})
    return net.params.copy(), history.as_dict()


# -- the shard tree ---------------------------------------------------------------


@pytest.mark.parametrize("size", range(1, 9))
def test_every_process_count_covers_the_tree_once(size):
    plan = ShardPlan(size, 0, shards=8)
    covered = []
    for pieces in plan.pieces:
        for first, leaves in pieces:
            assert leaves & (leaves - 1) == 0 and first % leaves == 0  # aligned
            covered += range(first, first + leaves)
    assert covered == list(range(8))


def test_aligned_runs_and_splits():
    assert _aligned(0, 8) == [(0, 8)]
    assert _aligned(2, 5) == [(2, 2), (4, 1)]
    assert _aligned(5, 8) == [(5, 1), (6, 2)]
    plan = ShardPlan(3, 0)
    assert plan.split(10) == [
        (0, 2),
        (2, 4),
        (4, 5),
        (5, 6),
        (6, 7),
        (7, 8),
        (8, 9),
        (9, 10),
    ]
    assert ShardPlan(16, 0, shards=8).shards == 16  # never fewer shards than processes


# -- threads: exactness and agreement -----------------------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_any_number_of_processes_gives_the_same_weights_bit_for_bit(dtype):
    runs = {
        n: ThreadGroup(n).run(lambda c: train(c, dtype, dropout=0.2))
        for n in (1, 2, 3, 4, 8)
    }
    params, history = runs[1][0]
    for n, results in runs.items():
        for rank_params, rank_history in results:  # every rank holds the same
            np.testing.assert_array_equal(rank_params, params, err_msg=f"{n} processes")
            assert rank_history == history


def test_one_process_fit_agrees_to_round_off():
    [(sharded, history)] = ThreadGroup(1).run(lambda c: train(c))
    plain, plain_history = train(None)
    np.testing.assert_allclose(sharded, plain, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history["loss"], plain_history["loss"], rtol=1e-10)


@pytest.mark.parametrize("comm", [None, "thread"])
def test_training_leaves_no_reference_cycles(comm):
    # A cycle holding a step's arrays waits for the garbage collector, which
    # counts objects, not bytes: the gathered gradients of a wide network
    # piled up by hundreds of MB a step before this was fixed.
    train(None, epochs=1)  # first calls (imports, signatures) make their own
    gc.collect()
    gc.disable()
    try:
        train(ThreadGroup(1).communicators()[0] if comm else None, epochs=2)
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        ours = [
            o
            for o in gc.garbage
            if str(getattr(o, "__module__", "") or "").startswith("nlayer")
        ]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert not ours, f"reference cycles through {ours[:5]}"


def test_data_parallel_training_runs_blas_on_one_thread():
    # a product's bits depend on the number of BLAS threads computing it: one
    # thread in every process keeps the weights the same on any process count
    threadpoolctl = pytest.importorskip("threadpoolctl")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 64))
    Y = np.eye(3)[rng.integers(0, 3, 300)]
    comm = ThreadGroup(1).communicators()[0]  # in this thread, as under MPI

    def threads(distributed):
        seen = []

        def watch(net, epoch, logs):
            infos = threadpoolctl.threadpool_info()  # NumPy's BLAS (not torch's)
            seen.extend(
                i["num_threads"]
                for i in infos
                if i["user_api"] == "blas" and "numpy" in i["filepath"]
            )

        # products of 300 × 64 × 256: large enough for two threads in one process
        net = nlayer.Network([64, 256, 3], ["relu", "softmax"], loss="cross_entropy")
        net.fit(X, Y, epochs=1, distributed=distributed, callbacks=[watch])
        return set(seen)

    with threadpoolctl.threadpool_limits(2, user_api="blas"):
        assert threads(comm) == {1}
        # one process alone keeps what it was given (2, or 1 on a 1-core machine)
        assert threads(None) == {min(2, os.cpu_count() or 1)}


def test_different_data_on_a_process_is_refused():
    def run(comm):
        X, Y, _ = data(seed=comm.rank)  # every rank its own: wrong
        network().fit(X, Y, epochs=1, distributed=comm)

    with pytest.raises(ValueError, match=r"different data \(ranks \[1\] differ"):
        ThreadGroup(2).run(run)


def test_a_process_that_fails_ends_the_job_instead_of_hanging():
    def run(comm):
        X, Y, _ = data()

        def fail(net, epoch, logs):
            if comm.rank == 1 and epoch == 1:
                raise OSError("disk full")

        network().fit(X, Y, epochs=5, batch_size=16, distributed=comm, callbacks=[fail])

    started = time.perf_counter()
    with pytest.raises(RuntimeError, match="rank 1 of 2: OSError: disk full"):
        ThreadGroup(2).run(run)
    assert time.perf_counter() - started < 10


def test_a_checkpoint_of_two_processes_resumes_on_four_and_on_one(tmp_path):
    whole, _ = ThreadGroup(1).run(lambda c: train(c, epochs=6))[0]
    ck = tmp_path / "ck"
    ThreadGroup(2).run(lambda c: train(c, epochs=3, checkpoint_dir=ck))
    for n in (4, 1):
        copy = tmp_path / f"ck{n}"
        shutil.copytree(ck, copy)
        resumed = ThreadGroup(n).run(
            lambda c, d=copy: train(c, epochs=6, checkpoint_dir=d, resume=True)
        )
        np.testing.assert_array_equal(resumed[0][0], whole)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_fit_data_parallel():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16

    def fit(comm, random_state=0):
        clf = nlayer.NLayerClassifier(
            hidden_layer_sizes=(32,), max_iter=5, distributed=comm,
            early_stopping=True, random_state=random_state,
        )  # fmt: skip
        clf.fit(X, y)  # five iterations: ConvergenceWarning, ignored above
        return clf.network_.params.copy()

    one = ThreadGroup(1).run(fit)[0]
    for params in ThreadGroup(2).run(fit):
        np.testing.assert_array_equal(params, one)
    # no random_state: rank 0 draws the seed, so every process starts alike
    a, b = ThreadGroup(2).run(lambda c: fit(c, None))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="solver='lbfgs' works on the whole"):
        ThreadGroup(1).run(
            lambda c: nlayer.NLayerClassifier(solver="lbfgs", distributed=c).fit(X, y)
        )


# -- real processes --------------------------------------------------------------------

SCRIPT = textwrap.dedent(
    """
    import os, sys, signal, numpy as np, nlayer
    engine, dtype, out, fail = sys.argv[1:5]
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5)).astype(dtype)
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 300)]
    net = nlayer.Network([5, 16, 8, 3], ["tanh", "relu", "softmax"],
                         loss="cross_entropy", seed=1, dtype=dtype, dropout=0.1)
    comm = nlayer.distributed.get_communicator(engine)

    def failure(net, epoch, logs):
        if comm.rank == 1 and epoch == 1 and fail == "raise":
            raise OSError("disk full")
        if comm.rank == 1 and epoch == 1 and fail == "kill":
            os.kill(os.getpid(), signal.SIGKILL)

    net.fit(X, Y, epochs=40 if fail != "none" else 4, optimizer="adam",
            batch_size=37, validation_fraction=0.2, distributed=comm,
            callbacks=[failure])
    np.save(f"{out}-{comm.rank}.npy", net.params)
    """
)


def launch(args, n, tmp_path, timeout=60):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run(
        [MPIEXEC, "-n", str(n), sys.executable, str(script), *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path,
    )  # fmt: skip


@needs_mpi
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_mpi_processes_give_the_same_weights_as_threads(tmp_path, dtype):
    X, Y, _ = data(dtype)
    for n in (1, 2, 4):
        r = launch(["mpi", dtype, str(tmp_path / f"w{n}"), "none"], n, tmp_path)
        assert r.returncode == 0, r.stderr
    reference = np.load(tmp_path / "w1-0.npy")
    for n in (2, 4):
        for rank in range(n):
            got = np.load(tmp_path / f"w{n}-{rank}.npy")
            np.testing.assert_array_equal(got, reference, err_msg=f"{n} processes")


@needs_mpi
@pytest.mark.parametrize("how", ["raise", "kill"])
def test_an_mpi_process_that_fails_ends_the_job_within_seconds(tmp_path, how):
    started = time.perf_counter()
    r = launch(["mpi", "float64", str(tmp_path / "w"), how], 2, tmp_path, timeout=30)
    assert r.returncode != 0
    assert time.perf_counter() - started < 10
    if how == "raise":
        assert "rank 1 of 2: OSError: disk full" in r.stderr


@needs_mpi
def test_the_command_line_trains_data_parallel(tmp_path):
    out = {}
    for n in (1, 2):
        r = subprocess.run(
            [MPIEXEC, "-n", str(n), sys.executable, "-m", "nlayer", "train",
             "--dataset", "iris", "--epochs", "15", "--distributed", "mpi",
             "--out", f"run{n}"],
            capture_output=True, text=True, timeout=120, cwd=tmp_path,
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert f"data-parallel on {n} processes: rank 0 pid" in r.stdout
        assert r.stdout.count("nlayer train: iris") == 1  # rank 0 reports alone
        out[n] = nlayer.load(tmp_path / f"run{n}" / "model.safetensors").network.params
    np.testing.assert_array_equal(out[1], out[2])


def test_torchrun_processes_give_the_same_weights(tmp_path):
    pytest.importorskip("torch")
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).parent / "torchrun")
    if not Path(torchrun).exists():
        pytest.skip("torchrun not found")
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    r = subprocess.run(
        [torchrun, "--nproc_per_node", "2", "--master_port", str(_free_port()),
         str(script), "torch", "float64", str(tmp_path / "t"), "none"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    [(threads, _)] = ThreadGroup(1).run(lambda c: _script_twin(c))
    for rank in (0, 1):
        np.testing.assert_array_equal(np.load(tmp_path / f"t-{rank}.npy"), threads)


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _script_twin(comm):
    """What SCRIPT trains, in a thread."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 5))
    Y = np.eye(3)[rng.integers(0, 3, 300)]
    net = nlayer.Network([5, 16, 8, 3], ["tanh", "relu", "softmax"],
                         loss="cross_entropy", seed=1, dropout=0.1)  # fmt: skip
    net.fit(X, Y, epochs=4, optimizer="adam", batch_size=37, validation_fraction=0.2,
            distributed=comm)  # fmt: skip
    return net.params.copy(), None


def test_a_hyper_parameter_search_runs_on_a_dask_cluster():
    """scikit-learn's search, its fits spread over a local Dask cluster's
    worker processes through joblib: how a search uses a cluster."""
    pytest.importorskip("sklearn")
    distributed = pytest.importorskip("distributed")
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.model_selection import GridSearchCV

    X, y = load_iris(return_X_y=True)
    search = GridSearchCV(
        nlayer.NLayerClassifier(max_iter=300, random_state=0),
        {"hidden_layer_sizes": [(4,), (16,)], "activation": ["relu", "tanh"]},
        cv=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the cluster's own start-up notices
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        with distributed.Client(cluster), joblib.parallel_backend("dask"):
            search.fit(X, y)
        cluster.close()
    assert search.best_score_ > 0.9
    assert len(search.cv_results_["params"]) == 4
