"""What the benchmarks run on: the BLAS library, its kernel and threads, and the
kernel OpenBLAS picks for this CPU when the environment does not force one.

OpenBLAS reads OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) when it loads: set, they
can hold NumPy on older kernels than the CPU supports (AVX2 ones on an AVX-512
CPU, half the single-precision GEMM speed), while PyTorch's own BLAS is not held
back. A benchmark that compares the two must not run NumPy forced:
:func:`run_on_own_kernel` starts the script again without those variables when
they change the kernel, and says so. Tests and CI leave the environment alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

#: environment variables that override OpenBLAS's own choice of kernel
FORCING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")

_PROBE = (
    "import json, numpy\n"
    "from threadpoolctl import threadpool_info\n"
    "print(json.dumps([i for i in threadpool_info() if i['user_api'] == 'blas']))"
)


def blas(env: dict[str, str] | None = None) -> list[dict]:
    """threadpoolctl's records of the BLAS libraries NumPy loads, read in a
    fresh process with ``env`` (this process's environment when None)."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


def describe(records: list[dict]) -> str:
    """'openblas 0.3.30 (SkylakeX kernels, 2 threads)' for each library."""
    return (
        "; ".join(
            f"{i['internal_api']} {i['version']} ({i.get('architecture')} kernels, "
            f"{i['num_threads']} thread{'s' if i['num_threads'] > 1 else ''})"
            for i in records
        )
        or "no BLAS found by threadpoolctl"
    )


def blas_here() -> str:
    """The BLAS this process runs with (NumPy already imported)."""
    from threadpoolctl import threadpool_info

    return describe([i for i in threadpool_info() if i.get("user_api") == "blas"])


def unforced_env() -> dict[str, str]:
    """This process's environment without the variables in FORCING."""
    return {k: v for k, v in os.environ.items() if k not in FORCING}


def run_on_own_kernel(script: str, argv: list[str]) -> None:
    """Start ``script`` again (same arguments) without FORCING when the
    environment holds OpenBLAS on a kernel other than its own choice; return
    (and go on in this process) when it does not."""
    forcing = {k: os.environ[k] for k in FORCING if k in os.environ}
    if not forcing:
        return
    forced, own = blas(), blas(unforced_env())
    kernels = [i.get("architecture") for i in forced]
    own_kernels = [i.get("architecture") for i in own]
    if kernels == own_kernels:
        return
    print(
        "The environment sets "
        + ", ".join(f"{k}={v}" for k, v in forcing.items())
        + f", which holds OpenBLAS on its {'/'.join(map(str, kernels))} kernels; "
        f"on this CPU it picks {'/'.join(map(str, own_kernels))}. Running again "
        "without them (the benchmark only: tests keep the environment).\n",
        flush=True,
    )
    env = unforced_env()
    os.execve(sys.executable, [sys.executable, script, *argv], env)


def gemm_peak(dtype: str = "float32", n: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of NumPy's best n × n matrix product: what the hardware and BLAS
    allow, the ceiling for the training benchmarks."""
    import numpy as np

    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, n)).astype(dtype)
    B = rng.standard_normal((n, n)).astype(dtype)
    C = np.empty_like(A)
    np.matmul(A, B, out=C)  # warm-up: threads started, pages touched
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(A, B, out=C)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9
