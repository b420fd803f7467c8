"""Reading a large CSV file: `nlayer predict`, `nlayer evaluate` and nlayer's
whole-file reader against `pandas.read_csv` on the same file, each in a fresh
process, as ratios of medians of wall time and peak resident memory.

    pip install ".[cli,sklearn]" pandas
    python benchmarks/tables.py --repeats 3 --markdown   # the table in BENCHMARKS.md
    python benchmarks/tables.py --smoke                   # small sizes, seconds
    python benchmarks/tables.py --workdir /tmp/t --json results.json

It backs the promise "for a 1,000,000 × 20 numeric CSV, `nlayer predict` takes
at most 2× the wall time and 1.5× the peak memory of `pandas.read_csv` on the
same file", and prints whether it holds on this machine.

The data: N rows (default 1,000,000) of 20 standard-normal features written
with 5 decimals and a binary integer target `y` that a fixed linear teacher
draws from them (seeded: the same file every time, about 170 MB). It is kept in
--workdir and reused by later runs with the same size; a model with one hidden
layer of 32 units is trained on its first 20,000 rows with `nlayer train`.

The cases, each a fresh `python` process started by this script, taking turns
(A, B, C, A, B, C, ...) so that a busy moment of the machine hits all alike:

  pandas.read_csv      `import pandas; pandas.read_csv(FILE)`: the baseline
  nlayer predict       `nlayer predict MODEL FILE --out preds.csv`
  nlayer evaluate      `nlayer evaluate MODEL FILE --json`, its output discarded
  nlayer read_table    `nlayer.tables.read_table(FILE)`: what training reads with
  Python alone         `python -c pass`: the floor under every other row

and a wide header: 50 rows of 100,000 columns (--wide-columns) and `y`, read by
`read_table` and by `pandas.read_csv`.

Wall time is measured here, around the whole child process: interpreter start,
imports and the work, as a user running the command waits for it. Peak memory
is the child's own: each child runs a small wrapper that does the work and then
reads its resident-memory high-water mark (VmHWM in /proc/self/status; where
there is no /proc, getrusage's ru_maxrss) and writes it to a file. VmHWM
belongs to the process's own address space, so unlike ru_maxrss it never
includes the memory of the parent the child was forked from.

The children run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE removed from
their environment (some machines set them to force older OpenBLAS kernels), so
that NumPy picks its kernels as it does on a user's machine; the report names
the BLAS library and kernel the children get.

A case whose process fails is reported in its table with the last line of its
error output, the others still run, and the script exits with status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

FEATURES = 20
SAMPLE_ROWS = 20_000
WIDE_ROWS = 50
SEED = 0
#: rows generated (and written) at a time: fixed, so the file is the same
#: whatever the size asked for
BLOCK_ROWS = 100_000
#: the environment variables the children run without
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
#: the promise: nlayer predict against pandas.read_csv, at most these ratios
PROMISE_TIME = 2.0
PROMISE_MEMORY = 1.5


# -- the child processes -----------------------------------------------------------

CHILD = r"""
import json, sys, time
start = time.perf_counter()
result_path, case, *args = sys.argv[1:]
code, rows = 0, None
if case == "pandas":
    import pandas
    rows = len(pandas.read_csv(args[0]))
elif case == "read_table":
    from nlayer.tables import read_table
    rows = read_table(args[0]).n_rows
elif case == "nlayer":
    from nlayer.cli import main
    code = main(args)
elif case != "nothing":
    raise SystemExit(f"unknown case {case!r}")
work_s = time.perf_counter() - start

def peak_bytes():
    try:  # this address space's own high-water mark, in kB
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS: bytes

with open(result_path, "w") as f:
    json.dump({"peak_bytes": peak_bytes(), "work_s": work_s, "rows": rows}, f)
sys.exit(code)
"""

ENVIRONMENT_CHILD = r"""
import json, os, platform, sys
import numpy
info = {"python": platform.python_version(), "numpy": numpy.__version__,
        "cpu_count": os.cpu_count()}
if hasattr(os, "sched_getaffinity"):
    info["usable_cpus"] = len(os.sched_getaffinity(0))
for name in ("pandas", "pyarrow", "nlayer"):
    try:
        info[name] = __import__(name).__version__
    except ImportError:
        info[name] = None
try:
    import pyarrow
    info["pyarrow_threads"] = pyarrow.cpu_count()
except ImportError:
    pass
try:
    from threadpoolctl import threadpool_info
    info["blas"] = [
        {k: lib.get(k) for k in
         ("internal_api", "version", "architecture", "num_threads", "filepath")}
        for lib in threadpool_info() if lib.get("user_api") == "blas"
    ]
except ImportError:
    info["blas"] = None
print(json.dumps(info))
"""


def child_environment() -> dict[str, str]:
    """This process's environment without the variables that force BLAS kernels."""
    return {k: v for k, v in os.environ.items() if k not in BLAS_OVERRIDES}


@dataclass
class Case:
    """One command to time: what the child wrapper does, and how it is shown."""

    name: str
    shown: str  # the command as a user would type it
    args: list[str]  # the wrapper's case and arguments
    wall_s: list[float] = field(default_factory=list)
    peak_mb: list[float] = field(default_factory=list)
    work_s: list[float] = field(default_factory=list)
    error: str | None = None  # the last line of its stderr, when it failed

    def median_wall(self) -> float | None:
        return None if self.error else float(np.median(self.wall_s))

    def median_peak(self) -> float | None:
        return None if self.error else float(np.median(self.peak_mb))


def run_child(case: Case, workdir: Path) -> None:
    """Runs the case once in a fresh process and records its wall time and peak,
    or, when the child fails, the last line of its error output (the failure is
    a result to report, not a reason to stop the benchmark)."""
    result = workdir / "child-result.json"
    result.unlink(missing_ok=True)
    command = [sys.executable, "-c", CHILD, str(result), *case.args]
    start = time.perf_counter()
    done = subprocess.run(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=child_environment(),
        cwd=workdir,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        last = lines[-1].strip() if lines else "no error output"
        case.error = f"exit {done.returncode}: {last[:200]}"
        return
    measured = json.loads(result.read_text())
    case.wall_s.append(wall)
    case.peak_mb.append(measured["peak_bytes"] / 2**20)
    case.work_s.append(measured["work_s"])


def measure(cases: list[Case], repeats: int, workdir: Path) -> None:
    """Every case once per round, in turn, for as many rounds as repeats."""
    for _ in range(repeats):
        for case in cases:
            if case.error:
                continue  # failed once: it would fail again
            time.sleep(0.2)  # let the previous child's memory be given back
            run_child(case, workdir)


def environment() -> dict[str, Any]:
    """Versions, CPUs and BLAS as the children see them (same environment)."""
    out = subprocess.run(
        [sys.executable, "-c", ENVIRONMENT_CHILD],
        capture_output=True,
        text=True,
        check=True,
        env=child_environment(),
    ).stdout
    info = json.loads(out)
    info["removed_from_children"] = {
        k: os.environ[k] for k in BLAS_OVERRIDES if k in os.environ
    }
    return info


# -- the data ----------------------------------------------------------------------


def write_csv_once(
    path: Path, description: dict[str, Any], write: Callable[[TextIO], None]
) -> None:
    """Writes the file with ``write(file)`` unless the file and its description
    (a JSON file beside it, with the size in bytes) are already there and agree.
    Written under a temporary name first: a run cut short leaves no half file."""
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        known = json.loads(meta.read_text())
        if (
            known.get("bytes") == path.stat().st_size
            and {k: known.get(k) for k in description} == description
        ):
            return
    partial = path.with_suffix(".partial")
    with open(partial, "w") as f:
        write(f)
    partial.replace(path)
    meta.write_text(json.dumps({**description, "bytes": path.stat().st_size}))


def long_csv(path: Path, rows: int) -> None:
    """rows × 20 standard-normal features (5 decimals) and a 0/1 target y drawn by
    a fixed linear teacher with noise; the same rows whatever the size asked for."""

    def write(f: TextIO) -> None:
        rng = np.random.default_rng(SEED)
        teacher = rng.standard_normal(FEATURES)
        names = [f"x{i}" for i in range(FEATURES)] + ["y"]
        f.write(",".join(names) + "\n")
        fmt = ["%.5f"] * FEATURES + ["%d"]
        for start in range(0, rows, BLOCK_ROWS):
            X = rng.standard_normal((BLOCK_ROWS, FEATURES))[: rows - start]
            noise = rng.standard_normal(BLOCK_ROWS)[: len(X)]
            y = (X @ teacher / np.sqrt(FEATURES) + 0.5 * noise > 0).astype(float)
            np.savetxt(f, np.column_stack([X, y]), fmt=fmt, delimiter=",")

    write_csv_once(path, {"rows": rows, "features": FEATURES, "seed": SEED}, write)


def head_csv(source: Path, path: Path, rows: int) -> None:
    """The header and the first rows of a CSV file: the training sample."""
    with open(source) as f, open(path, "w") as out:
        for _ in range(rows + 1):
            line = f.readline()
            if not line:
                break
            out.write(line)


def wide_csv(path: Path, columns: int) -> None:
    """50 rows of ``columns`` uniform features (3 decimals) and a 0/1 target y."""

    def write(f: TextIO) -> None:
        rng = np.random.default_rng(SEED + 1)
        X = rng.random((WIDE_ROWS, columns))
        y = rng.integers(0, 2, WIDE_ROWS).astype(float)
        f.write(",".join([f"c{i}" for i in range(columns)] + ["y"]) + "\n")
        fmt = ["%.3f"] * columns + ["%d"]
        np.savetxt(f, np.column_stack([X, y]), fmt=fmt, delimiter=",")

    write_csv_once(
        path, {"rows": WIDE_ROWS, "columns": columns, "seed": SEED + 1}, write
    )


def warm_page_cache(path: Path) -> None:
    """Reads the file once, so that every case finds it in the page cache."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def train_model(sample: Path, workdir: Path) -> Path:
    """nlayer train on the sample: one hidden layer of 32, three epochs."""
    run_dir = workdir / "model"
    command = [
        sys.executable,
        "-m",
        "nlayer",
        "train",
        str(sample),
        "--target",
        "y",
        "--layers",
        "32",
        "--epochs",
        "3",
        "--quiet",
        "--overwrite",
        "--out",
        str(run_dir),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, env=child_environment(), cwd=workdir
    )
    if done.returncode != 0:
        raise RuntimeError(f"nlayer train failed:\n{done.stderr[-2000:]}")
    return run_dir / "model.safetensors"


# -- the cases ---------------------------------------------------------------------


def long_cases(data: Path, model: Path, workdir: Path) -> list[Case]:
    preds = workdir / "preds.csv"
    return [
        Case(
            "pandas.read_csv",
            "python -c 'import pandas; pandas.read_csv(FILE)'",
            ["pandas", str(data)],
        ),
        Case(
            "nlayer predict",
            "nlayer predict MODEL FILE --out preds.csv",
            ["nlayer", "predict", str(model), str(data), "--out", str(preds)],
        ),
        Case(
            "nlayer evaluate",
            "nlayer evaluate MODEL FILE --json > /dev/null",
            ["nlayer", "evaluate", str(model), str(data), "--json"],
        ),
        Case(
            "nlayer read_table",
            "python -c 'from nlayer.tables import read_table; read_table(FILE)'",
            ["read_table", str(data)],
        ),
        Case("Python alone", "python -c pass", ["nothing"]),
    ]


def wide_cases(data: Path) -> list[Case]:
    return [
        Case(
            "pandas.read_csv",
            "python -c 'import pandas; pandas.read_csv(FILE)'",
            ["pandas", str(data)],
        ),
        Case(
            "nlayer read_table",
            "python -c 'from nlayer.tables import read_table; read_table(FILE)'",
            ["read_table", str(data)],
        ),
    ]


# -- the report --------------------------------------------------------------------


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def ratios(cases: list[Case]) -> list[dict[str, Any]]:
    """Per case: medians and their ratios to the first case (pandas); None for
    a case that failed, with its error."""
    base = cases[0]
    return [
        {
            "case": c.name,
            "command": c.shown,
            "error": c.error,
            "wall_s": c.median_wall(),
            "wall_ratio": ratio(c.median_wall(), base.median_wall()),
            "peak_mb": c.median_peak(),
            "peak_ratio": ratio(c.median_peak(), base.median_peak()),
            "work_s": None if c.error else float(np.median(c.work_s)),
            "runs_wall_s": c.wall_s,
            "runs_peak_mb": c.peak_mb,
        }
        for c in cases
    ]


def promise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether nlayer predict stays within the promised ratios (None: a case
    failed, so it could not be checked)."""
    predict = next(r for r in rows if r["case"] == "nlayer predict")
    time_ratio, peak_ratio = predict["wall_ratio"], predict["peak_ratio"]
    holds = None
    if time_ratio is not None and peak_ratio is not None:
        holds = time_ratio <= PROMISE_TIME and peak_ratio <= PROMISE_MEMORY
    return {"holds": holds, "wall_ratio": time_ratio, "peak_ratio": peak_ratio}


def promise_line(p: dict[str, Any], rows: int) -> str:
    if p["holds"] is None:
        return "promise: not checked, a case failed (see the table)"
    verdict = "holds" if p["holds"] else "DOES NOT HOLD"
    line = (
        f"promise (nlayer predict ≤ {PROMISE_TIME:g}× the wall time and ≤ "
        f"{PROMISE_MEMORY:g}× the peak memory of pandas.read_csv): {verdict} "
        f"({p['wall_ratio']:.2f}× time, {p['peak_ratio']:.2f}× memory)"
    )
    if rows != 1_000_000:
        line += f" [at {rows:,} rows; the promise is made for 1,000,000]"
    return line


def environment_lines(env: dict[str, Any]) -> list[str]:
    blas = env.get("blas")
    if blas:
        blas_text = "; ".join(
            f"{b['internal_api']} {b['version']} ({b['architecture']} kernels, "
            f"{b['num_threads']} threads)"
            for b in blas
        )
    elif blas is None:
        blas_text = "unknown (threadpoolctl not installed)"
    else:
        blas_text = "none loaded"
    removed = env["removed_from_children"]
    removed_text = (
        ", ".join(f"{k}={v}" for k, v in removed.items()) if removed else "not set"
    )
    cpus = f"{env['cpu_count']} CPUs"
    if env.get("usable_cpus") not in (None, env["cpu_count"]):
        cpus += f" ({env['usable_cpus']} usable)"
    return [
        f"Python {env['python']}, NumPy {env['numpy']}, pandas {env['pandas']}, "
        f"pyarrow {env['pyarrow']} ({env.get('pyarrow_threads', '?')} threads), "
        f"nlayer {env['nlayer']}; {cpus}; {platform.system()} "
        f"{platform.machine()}",
        f"BLAS in the children: {blas_text}",
        f"{' and '.join(BLAS_OVERRIDES)} removed from the children's environment "
        f"(here: {removed_text})",
    ]


def number(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def text_table(rows: list[dict[str, Any]]) -> str:
    header = ["case", "wall s", "× pandas", "peak MB", "× pandas"]
    lines, failures = [], []
    for r in rows:
        if r["error"]:
            failures.append(f"{r['case']} FAILED: {r['error']}")
            continue
        lines.append(
            [
                r["case"],
                f"{r['wall_s']:.3f}",
                number(r["wall_ratio"]),
                f"{r['peak_mb']:.0f}",
                number(r["peak_ratio"]),
            ]
        )
    widths = [max(len(x) for x in col) for col in zip(header, *lines, strict=False)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    return "\n".join([line(header), *(line(c) for c in lines), *failures])


def markdown_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| case | command | wall time | ÷ pandas | peak RSS | ÷ pandas |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        start = f"| {r['case']} | `{r['command']}` |"
        if r["error"]:
            error = r["error"].replace("|", "\\|")
            out.append(f"{start} failed: {error} | | | |")
            continue
        out.append(
            f"{start} {r['wall_s']:.2f} s | {number(r['wall_ratio'])} | "
            f"{r['peak_mb']:.0f} MB | {number(r['peak_ratio'])} |"
        )
    return "\n".join(out)


def report(results: dict[str, Any], markdown: bool, argv: list[str]) -> None:
    """The environment, the two tables and the promise's verdict."""
    n, repeats = results["rows"], results["repeats"]
    table = markdown_table if markdown else text_table
    if markdown:
        command = shlex.join(["python", "benchmarks/tables.py", *argv])
        print(f"```sh\n{command}\n```\n")
    for line in environment_lines(results["environment"]):
        print(f"{line}  " if markdown else line)
    runs = "1 run" if repeats == 1 else f"{repeats} interleaved runs"
    print(
        f"\nMedians of {runs}, each a fresh process: wall time "
        "around the whole process (start, imports, work); peak resident memory "
        "of the process (VmHWM).\n"
    )
    print(
        f"### {n:,} rows × {FEATURES} numeric columns and y "
        f"({results['file_mb']:.0f} MB)\n"
    )
    print(table(results["long"]))
    print(f"\n{promise_line(results['promise'], n)}\n")
    print(
        f"### wide header: {WIDE_ROWS} rows × {results['wide_columns']:,} columns "
        f"and y ({results['wide_file_mb']:.0f} MB)\n"
    )
    print(table(results["wide"]))


# -- the run -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Runs the benchmark and prints the report; 1 when a case failed."""
    parser = argparse.ArgumentParser(
        description="nlayer's CSV reading against pandas.read_csv, fresh processes"
    )
    parser.add_argument("--smoke", action="store_true", help="small sizes, seconds")
    parser.add_argument(
        "--rows", type=int, default=None, help="[default: 1,000,000; smoke: 20,000]"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="[default: 3; smoke: 1]"
    )
    parser.add_argument(
        "--wide-columns",
        type=int,
        default=None,
        help="columns of the wide-header file [default: 100,000; smoke: 2,000]",
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="where the files go, kept and reused [default: a new temporary "
        "folder, removed at the end]",
    )
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    rows = args.rows or (20_000 if args.smoke else 1_000_000)
    wide_columns = args.wide_columns or (2_000 if args.smoke else 100_000)
    repeats = args.repeats or (1 if args.smoke else 3)

    if args.workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="nlayer-tables-"))
        try:
            results = run(workdir, rows, wide_columns, repeats)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
    else:
        args.workdir.mkdir(parents=True, exist_ok=True)
        results = run(args.workdir.resolve(), rows, wide_columns, repeats)
    report(results, args.markdown, argv)
    if args.json is not None:
        args.json.write_text(json.dumps({**results, "argv": argv}, indent=2) + "\n")
    failed = any(r["error"] for r in results["long"] + results["wide"])
    return 1 if failed else 0


def run(workdir: Path, rows: int, wide_columns: int, repeats: int) -> dict[str, Any]:
    """Builds the files and the model, then times every case."""
    env = environment()
    data = workdir / f"long-{rows}.csv"
    long_csv(data, rows)
    sample = workdir / "sample.csv"
    head_csv(data, sample, SAMPLE_ROWS)
    wide = workdir / f"wide-{wide_columns}.csv"
    wide_csv(wide, wide_columns)
    model = train_model(sample, workdir)

    warm_page_cache(data)
    cases = long_cases(data, model, workdir)
    measure(cases, repeats, workdir)
    warm_page_cache(wide)
    wides = wide_cases(wide)
    measure(wides, repeats, workdir)

    long_rows = ratios(cases)
    return {
        "environment": env,
        "rows": rows,
        "features": FEATURES,
        "file_mb": data.stat().st_size / 2**20,
        "wide_columns": wide_columns,
        "wide_rows": WIDE_ROWS,
        "wide_file_mb": wide.stat().st_size / 2**20,
        "repeats": repeats,
        "long": long_rows,
        "wide": ratios(wides),
        "promise": promise(long_rows),
    }


if __name__ == "__main__":
    sys.exit(main())
