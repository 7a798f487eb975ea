"""One worker per run folder: the worker holds an exclusive lock on `runs/<id>/worker.lock` while
it trains.

The store's status rules already keep a second worker from starting while the run is active. This
is the last guard for when the store was told wrong: a run marked paused or interrupted while its
worker lived on (a controller that lost track of it, a reconcile that could not see the process,
say from another pid namespace), then resumed. Two workers on one folder overwrite each other's
checkpoints and double every metric. The lock is the kernel's (flock; on Windows msvcrt.locking of a
byte of the file, see portable.try_lock): it goes when the process goes, even killed with SIGKILL, so
it never goes stale. `run extend` and `run resume --gpus` hold
it for the moment they rewrite the run's files (`changing`): never beside a worker, nor each other.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from spark_trainer.errors import BadInput, Conflict
from spark_trainer.jobs import portable, process
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus, utcnow
from spark_trainer.store.store import Store

LOCK_NAME = "worker.lock"
WAIT_S = 30.0


def wait_s() -> float:
    """How long a new worker waits for the lock's holder to exit (SPARK_TRAINER_LOCK_WAIT_S)."""
    try:
        return max(0.0, float(os.environ.get("SPARK_TRAINER_LOCK_WAIT_S", WAIT_S)))
    except ValueError:
        return WAIT_S


def hold(run_dir: Path, wait: float | None = None) -> tuple[int | None, int | None]:
    """Take the run folder's lock for this process's lifetime, waiting up to `wait` seconds (default
    `wait_s()`) for a holder to exit: a worker records its run completed or paused before its
    process ends, so `train --wait && run extend` can start the next worker while the last one
    is still shutting down.

    Returns (fd, None) when taken (keep the fd open), (None, pid) when another live worker holds
    it (its pid, as it wrote it; 0 if unknown), and (None, None) when the filesystem cannot lock
    (the guard is skipped there). The lock is `portable.try_lock`'s: flock, or msvcrt.locking on Windows.
    """
    path = Path(run_dir) / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o644)
    except OSError:
        return None, None
    deadline = time.monotonic() + (wait_s() if wait is None else wait)
    while (taken := portable.try_lock(fd)) is False and time.monotonic() < deadline:
        time.sleep(0.2)
    if taken is None:
        os.close(fd)
        return None, None
    if taken is False:
        holder = _read_pid(fd)
        os.close(fd)
        return None, int(holder) if holder.isdigit() else 0
    # The holder's pid is for a waiter's message only: on a full disk the lock is held all the same (a
    # waiter reads the holder as unknown), and the write that needs the space fails, naming its file.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, str(os.getpid()).encode())
    return fd, None


def _read_pid(fd: int) -> str:
    """The pid the holder wrote at the start of the file (os.pread is POSIX-only)."""
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return os.read(fd, 32).decode(errors="replace").strip()
    except OSError:
        return ""


def release(fd: int | None) -> None:
    """Give the lock `hold` took back (closing its file frees it); None: nothing was held."""
    if fd is not None:
        portable.unlock(fd)
        os.close(fd)


@contextmanager
def changing(run_dir: Path, what: str) -> Iterator[None]:
    """Hold the run folder's lock while a command rewrites the run's files (`run extend`, `run resume
    --gpus`): a second one waits for the first, then finds the run as the first left it; a worker still
    in the folder past `wait_s()` refuses it (Conflict, one line naming the folder and `what`)."""
    fd, holder = hold(run_dir)
    if holder is not None:
        raise Conflict(f"cannot {what}: a worker (pid {holder or 'unknown'}) still holds its folder {run_dir}; "
                       "try again when it has exited")
    try:
        yield
    finally:
        release(fd)


def leave_to(store: Store, run_id: int, holder: int, say: Callable[[str], None]) -> int:
    """Another live worker trains this run in its folder (the store had lost track of it): leave
    the run to it, recorded as running with its pid; returns the exit code of this worker."""
    found = process.identity(holder) if holder else None
    why = f"another worker (pid {holder}) is still training this run in its folder; this one exited"
    say(why)
    try:
        if found is not None:
            runs.transition(store, run_id, RunStatus.RUNNING, why, expect={RunStatus.STARTING}, pid=holder,
                            pid_start_time=found.start_time, heartbeat_at=utcnow())
        else:
            runs.transition(store, run_id, RunStatus.FAILED, "run folder locked by another worker",
                            expect={RunStatus.STARTING}, error=why)
    except BadInput as exc:
        say(f"not recorded: {exc}")
    return 1
