"""Real small filesystems for disk-full tests: tmpfs mounts (root or CAP_SYS_ADMIN, Linux only),
and a ballast file that fills one to the last byte. Tests skip, with the reason, where mounting
is not allowed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

BALLAST = ".ballast"


@pytest.fixture
def tmpfs() -> Iterator[Callable[[Path, int], Path]]:
    """`tmpfs(path, size_bytes)` mounts a tmpfs of that size at `path` (created if missing); every
    mount is lazily unmounted at the end of the test."""
    if not sys.platform.startswith("linux"):
        pytest.skip("tmpfs is Linux-only")
    mounted: list[Path] = []

    def mount(path: Path, size: int) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)


def fill(folder: Path) -> Path:
    """Write a ballast file in `folder` until its filesystem has no byte left; returns its path.

    Filled again while the filesystem still reports a free block (space another process freed
    meanwhile), so a test's disk is full when this returns, or the test fails here saying so.
    """
    path = folder / BALLAST
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for _ in range(20):
            for chunk in (2**20, 2**16, 4096, 512, 1):
                while True:
                    try:
                        os.write(fd, b"\0" * chunk)
                    except OSError:
                        break
            if os.statvfs(folder).f_bavail == 0:
                return path
    finally:
        os.close(fd)
    raise AssertionError(f"{folder} still has {_bytes_free(folder)} bytes free after filling it 20 times")


def _bytes_free(folder: Path) -> int:
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize


def free(folder: Path) -> None:
    """Remove the ballast `fill` wrote."""
    (folder / BALLAST).unlink(missing_ok=True)


def fill_when_run_is_written(monkeypatch: pytest.MonkeyPatch, folder: Path, run_id: int) -> None:
    """Fill `folder`'s filesystem just as submit writes run `run_id`'s folder (once): the runs before
    it were written, the database took the run's row, and its files find the disk full."""
    from spark_trainer.training import checkpoints

    real = checkpoints.write_identity
    pending = [run_id]

    def filling(run_dir: Path, rid: int, uuid: str) -> None:
        if rid in pending:
            pending.remove(rid)
            fill(folder)
        real(run_dir, rid, uuid)

    monkeypatch.setattr(checkpoints, "write_identity", filling)


def full_home(tmpfs: Callable[[Path, int], Path], path: Path, size: int) -> Path:
    """A data home of project `p` on a tmpfs of `size` bytes at `path`, with 1 MiB in `runs/1/`, filled
    to its last byte (what a full disk's hint names, and a delete frees)."""
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store

    home = tmpfs(path, size)
    with Store.open(home) as store:
        projects.create(store, "p")
    (home / "runs" / "1").mkdir()
    (home / "runs" / "1" / "weights").write_bytes(b"\1" * 2**20)
    fill(home)
    return home
