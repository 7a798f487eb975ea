"""A claim's lock: proof that the scheduler which claimed a run, or the worker it forked, is alive.

A scheduler claims queued runs (`runs.claim`: queued -> starting, one write transaction) and then
spawns their workers. Killed outright in between (SIGKILL, the out-of-memory killer, a crash: the
app, `queue serve`, a `--wait` command, a finishing worker draining the queue) it left the run
starting, with its slot held and nothing starting it, until reconcile gave up on the spawn a minute
later (`reconcile.SPAWN_TIMEOUT`).

So, before its claim is committed, the scheduler takes an exclusive lock on `runs/<id>/claim.lock`
(`Held.take`, from inside `runs.claim`'s transaction) and writes into it which claim it is: the run's
claim time (its `heartbeat_at` until a worker records itself) and the scheduler's pid. It keeps the
lock until the worker's pid is recorded; the worker inherits it at its spawn (`spawn_worker`'s
`pass_fds`, the descriptor's number in SPARK_TRAINER_CLAIM_FD) and lets it go once it has recorded
itself (`inherited`, `let_go`). The lock is the kernel's (flock): it goes when the last process
holding it ends, even killed with SIGKILL. A run found starting with no worker recorded, whose lock
is free and names its present claim (`put_back_if_abandoned`, every reconcile) was claimed by a
process that ended without a worker following: it goes back to queued at once (`runs.unclaim`,
which checks the claim again in its own write transaction) and the same scheduler pass can start it.

Never a run whose claimer or forked worker lives (they hold the lock): reconcile's minute for the spawn
does not end it either (`claimer_lives`: slow, not gone; `reconcile.LIVE_SPAWN_TIMEOUT`). Nor one claimed by a scheduler
that wrote no name into the lock (an older SparkTrainer sharing the home; a claim whose lock another
process held just then; a filesystem that cannot lock, or a network one, whose locks may be kept by
its server and not shared with the worker): those keep the age rule. Windows' locks
(msvcrt.locking) are not shared with a child, so there the claimer takes none and the age rule stays.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from spark_trainer import disk
from spark_trainer.errors import SparkError
from spark_trainer.jobs import portable
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

LOCK_NAME = "claim.lock"
ENV = "SPARK_TRAINER_CLAIM_FD"


def _name(run: Run) -> str | None:
    """What the lock file says of `run`'s claim: its id and claim time (None without a claim time)."""
    return None if run.heartbeat_at is None else f"{run.id} {run.heartbeat_at.isoformat()}"


class Held:
    """The claim locks one scheduler pass holds: run id -> the open lock file's descriptor."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}

    def take(self, run: Run) -> None:
        """Lock the claim of `run` (just claimed, not yet committed) and name it in the lock file. Nothing
        when it cannot be done (no inheritable locks here, no folder, the lock held by another process
        just now): the run then keeps the age rule."""
        name = _name(run)
        if name is None or not run.run_dir or not portable.inheritable_locks() or \
                disk.network_filesystem(Path(run.run_dir)) is not None:
            return  # a network filesystem's locks may be its server's, and not shared with the worker
        try:
            fd = os.open(Path(run.run_dir) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return
        if portable.try_lock(fd) is not True:
            os.close(fd)
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{name} {os.getpid()}\n".encode())
        except OSError:  # a full disk: a partial name matches no claim, so the age rule is kept
            pass
        self.fds[run.id] = fd

    def fd(self, run_id: int) -> int | None:
        """The descriptor of `run_id`'s lock, for its worker to inherit (None: no lock held)."""
        return self.fds.get(run_id)

    def release(self, run_id: int) -> None:
        """Let go of `run_id`'s lock: its worker's pid is recorded, or it failed, or went back to queued."""
        fd = self.fds.pop(run_id, None)
        if fd is not None:
            os.close(fd)

    def release_all(self) -> None:
        for run_id in list(self.fds):
            self.release(run_id)


def inherited(run_dir: Path) -> int | None:
    """The worker's side: the claim lock its scheduler handed it, if it was handed one and the descriptor
    is that run folder's lock file (anything else under that number is left alone). The variable is
    removed, so that no process this one starts takes it for its own."""
    value = os.environ.pop(ENV, "")
    if not value.isdigit():
        return None
    fd = int(value)
    try:
        mine, there = os.fstat(fd), os.stat(Path(run_dir) / LOCK_NAME)
    except OSError:
        return None
    return fd if (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino) else None


def let_go(fd: int | None) -> None:
    """The worker's side: its pid is recorded (or it exits): the claim needs no proof any more."""
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


@contextlib.contextmanager
def _claim_read(run: Run) -> Iterator[tuple[bool, list[str]] | None]:
    """Whether `run`'s claim lock is held by a live process (its claimer, or the worker it forked), and
    the words its lock file holds when they name this claim; None when there is no such lock to read
    (claimed without one: an older SparkTrainer, Windows; the folder gone; another claim's name). A
    lock found free is held here until the block ends: nothing can claim under it meanwhile."""
    if run.status != RunStatus.STARTING or run.pid is not None or not run.run_dir:
        yield None
        return
    try:
        fd = os.open(Path(run.run_dir) / LOCK_NAME, os.O_RDWR)
    except OSError:
        yield None
        return
    try:
        locked = portable.try_lock(fd)
        words = os.read(fd, 200).decode(errors="replace").split() if locked is not None else []
        named = len(words) == 3 and " ".join(words[:2]) == _name(run)  # not an earlier claim's name
        yield (not locked, words) if named else None
    finally:
        portable.unlock(fd)  # nothing when it was not taken here
        os.close(fd)


def claimer_lives(run: Run) -> bool:
    """`run` is starting with no worker recorded, and the process that claimed it, or the worker it
    forked, holds its claim's lock: alive, only slow (a worker importing torch on a loaded machine)."""
    try:
        with _claim_read(run) as found:
            return found is not None and found[0]
    except OSError:
        return False


def put_back_if_abandoned(store: Store, run: Run) -> bool:
    """Put `run` back in the queue if it is starting with no worker recorded and its claim lock is free
    and names this claim: the scheduler that claimed it ended, and no worker it forked is alive. True
    when it was put back. Nothing is changed if the database cannot be written (the age rule then)."""
    try:
        with _claim_read(run) as found:
            if found is None or found[0]:
                return False  # claimed without a lock, or the claimer (or the worker it forked) is alive
            words = found[1]
            try:
                claimed_at = datetime.fromisoformat(words[1])
            except ValueError:
                return False
            why = (f"put back in the queue: the scheduler that claimed it (pid {words[2]}) ended before it "
                   "started a worker")
            return bool(runs.unclaim(store, [run.id], why, claimed_at={run.id: claimed_at}))
    except (OSError, SparkError):
        return False
