"""One worker per run folder: when the store lost track of a live worker (the run marked
interrupted while it trained on) and the run is resumed, the new worker leaves the run to the one
still training instead of training on top of it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer.errors import Conflict
from spark_trainer.jobs import control, process, run_lock
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import wait_until


def test_a_second_worker_on_a_live_workers_folder_leaves_the_run_to_it(store: Store, cli, run_file,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("SPARK_TRAINER_LOCK_WAIT_S", "1")  # the first worker trains on: no use waiting for it
    started = cli("--json", "train", str(run_file("locked", steps=2000, ckpt_every=1000)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    first = wait_until(store, run_id, lambda r: r.status == RunStatus.RUNNING and r.step >= 1, timeout_s=180)
    try:
        # What a reconcile that cannot see the process (another pid namespace) would record.
        runs.transition(store, run_id, RunStatus.INTERRUPTED, "worker process is gone", eta_seconds=None)
        control.resume(store, run_id)
        assert schedule_once(store, machine=[]) == [run_id]
        wait_until(store, run_id, lambda r: any("is still training" in e.reason for e in runs.events(store, run_id)),
                   timeout_s=60)
        after = runs.get(store, run_id)  # read after the event: the run passed to the lambda was read before it
        assert (after.status, after.pid) == (RunStatus.RUNNING, first.pid)
        assert f"another worker (pid {first.pid}) is still training this run" in runs.events(store, run_id)[-1].reason
        assert process.is_alive(first.pid, first.pid_start_time)
        assert control.cancel(store, run_id, grace_s=60).status == RunStatus.CANCELLED  # the run is still in hand
    finally:
        if process.is_alive(first.pid, first.pid_start_time):
            os.killpg(os.getpgid(first.pid), signal.SIGKILL)


def _holder(folder: Path, seconds: float) -> subprocess.Popen:
    """A process that holds `folder`'s worker lock for `seconds`, as a worker that is shutting down."""
    code = ("import fcntl, os, sys, time\n"
            f"fd = os.open({str(folder / run_lock.LOCK_NAME)!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX); os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
            f"print('held', flush=True); time.sleep({seconds})\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_new_worker_waits_for_the_last_one_to_exit(tmp_path: Path) -> None:
    """`train --wait && run extend`: the run is recorded completed before its worker's process ends,
    so the next worker can find the lock still held for a moment. It waits instead of leaving the run
    to a worker that is about to exit."""
    holder = _holder(tmp_path, 1.5)
    fd, other = run_lock.hold(tmp_path, wait=30)
    try:
        assert fd is not None and other is None and holder.poll() is not None
    finally:
        if fd is not None:
            os.close(fd)


def test_a_holder_that_stays_is_named(tmp_path: Path) -> None:
    holder = _holder(tmp_path, 30)
    try:
        assert run_lock.hold(tmp_path, wait=0.5) == (None, holder.pid)
    finally:
        holder.kill()
        holder.wait()


def test_windows_a_second_lock_on_a_folder_is_refused_as_on_posix_and_taken_once_the_first_closes(
        tmp_path: Path, windows_like, monkeypatch) -> None:
    """Without fcntl (Windows) the lock is a byte of the lock file locked with msvcrt.locking (simulated
    here: tests/windows_msvcrt.py). Before, the guard was skipped there, and two workers trained into
    one folder."""
    monkeypatch.setenv("SPARK_TRAINER_LOCK_WAIT_S", "0.3")
    first, holder = run_lock.hold(tmp_path)
    assert first is not None and holder is None
    try:
        assert run_lock.hold(tmp_path) == (None, os.getpid())  # another open file of this process: refused too
        expected = (f"cannot extend run 7: a worker (pid {os.getpid()}) still holds its folder {tmp_path}; "
                    "try again when it has exited")
        with pytest.raises(Conflict) as refused:
            with run_lock.changing(tmp_path, "extend run 7"):
                pass
        assert str(refused.value) == expected
    finally:
        run_lock.release(first)
    with run_lock.changing(tmp_path, "extend run 7"):  # released by the first's close
        assert run_lock.hold(tmp_path, wait=0) == (None, os.getpid())
    second, holder = run_lock.hold(tmp_path, wait=0)
    assert second is not None and holder is None
    run_lock.release(second)
