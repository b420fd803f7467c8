"""Helpers the command-line tests share: run nlayer as a user does, write CSV."""

import csv
import subprocess
import sys

import nlayer


def nlayer_cmd(*args, cwd, check_rc=0, timeout=120, stdin=None):
    """Run ``nlayer ARGS`` in a fresh process; assert its exit code (unless None)."""
    result = subprocess.run(
        [sys.executable, "-m", "nlayer", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=stdin,
    )
    if check_rc is not None:
        assert result.returncode == check_rc, result.stdout + result.stderr
    return result


def write_csv(path, header, rows, **dialect):
    with open(path, "w", newline="", encoding=dialect.pop("encoding", "utf-8")) as f:
        writer = csv.writer(f, **dialect)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def load_model(path):
    """(network, preprocessing) of a model file."""
    model = nlayer.load(path)
    return model.network, model.preprocessing


def one_line_error(r, *fragments):
    """The run failed with one line on stderr holding every fragment."""
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
