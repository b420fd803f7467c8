"""Atomic saves: a crash, a full disk or a kill while saving leaves the old
model file byte for byte; only a hard kill leaves a temporary file behind,
hidden and never loaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nlayer
from helpers import Cube, assert_same_network, make_net
from nlayer import io


class Crash(BaseException):
    """A crash that no ``except Exception`` swallows."""


def leftovers(directory, name):
    return sorted(p.name for p in Path(directory).glob(f".{name}.*.tmp"))


@pytest.fixture
def good_model(tmp_path):
    path = tmp_path / "model.nlt"
    net = make_net([3, 4, 2], ["tanh", "linear"], seed=5)
    nlayer.save(net, path)
    return path, path.read_bytes(), net


@pytest.mark.parametrize("where", ["replace", "fsync", "write"])
def test_a_crash_while_saving_leaves_the_old_model_intact(
    monkeypatch, good_model, where
):
    path, before, old_net = good_model
    new_net = make_net([3, 9, 9, 2], ["relu", "relu", "linear"], seed=6)
    written = []

    def boom(*args, **kwargs):
        raise Crash(where)

    if where == "replace":
        monkeypatch.setattr(io.os, "replace", boom)
    elif where == "fsync":
        monkeypatch.setattr(io.os, "fsync", boom)
    else:  # half the bytes reach the temporary file, then the process "dies"
        real_fdopen = os.fdopen

        class HalfWriter:
            def __init__(self, f):
                self.f = f

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                self.f.flush()
                written.append(len(data) // 2)
                raise Crash("disk went away")

            def __getattr__(self, name):
                return getattr(self.f, name)

        monkeypatch.setattr(
            io.os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k))
        )
    with pytest.raises(Crash):
        nlayer.save(new_net, path)
    monkeypatch.undo()
    assert path.read_bytes() == before  # byte for byte
    assert leftovers(path.parent, path.name) == []
    assert os.listdir(path.parent) == [path.name]
    assert_same_network(old_net, nlayer.load(path))
    if where == "write":
        assert written and written[0] > 0


def test_an_oserror_while_saving_propagates_and_cleans_up(monkeypatch, good_model):
    path, before, _ = good_model

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        nlayer.save(make_net([3, 2], ["linear"]), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]


def test_a_killed_process_leaves_the_old_model_intact(good_model):
    """A hard kill (no cleanup runs) before the rename: the old model survives."""
    path, before, old_net = good_model
    script = (
        "import os, sys, nlayer\n"
        "from nlayer import io\n"
        "def die(fd):\n"
        "    os._exit(37)  # killed after writing, before the rename\n"
        "io.os.fsync = die\n"
        "net = nlayer.Network([3, 50, 2], ['relu', 'linear'], seed=0)\n"
        "nlayer.save(net, sys.argv[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, timeout=60
    )
    assert done.returncode == 37, done.stderr.decode()
    assert path.read_bytes() == before
    assert_same_network(old_net, nlayer.load(path))
    # the orphaned temporary is hidden, named after the model, and never loaded
    orphans = leftovers(path.parent, path.name)
    assert len(orphans) == 1
    assert sorted(os.listdir(path.parent)) == sorted([path.name, *orphans])


def test_saving_into_a_missing_directory_creates_nothing(tmp_path):
    target = tmp_path / "no" / "such" / "dir" / "model.nlt"
    with pytest.raises(FileNotFoundError, match="no such directory"):
        nlayer.save(make_net([3, 2], ["linear"]), target)
    assert os.listdir(tmp_path) == []


def test_saving_over_a_directory_fails_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.nlt"
    target.mkdir()
    with pytest.raises(OSError):
        nlayer.save(make_net([3, 2], ["linear"]), target)
    assert target.is_dir() and list(target.iterdir()) == []
    assert os.listdir(tmp_path) == ["model.nlt"]


def test_an_unsavable_network_does_not_touch_the_old_file(good_model):
    path, before, _ = good_model
    with pytest.raises(ValueError, match="register_activation"):
        nlayer.save(make_net([3, 4, 2], [Cube(), "linear"]), path)
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]
