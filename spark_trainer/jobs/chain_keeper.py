"""Keeping a queue draining when a worker is killed outright.

A queue drains with no daemon because a worker that ends starts the next queued run
(`worker._drain_queue`). A worker killed outright (the kernel's out-of-memory killer, `kill -9`, a
crash in native code) starts nothing: with no scheduler alive (the app closed, no `queue serve`, no
`--wait` command) the rest of a night's queue waited for the morning. So next to each worker the
scheduler starts a keeper: a small process in a session of its own (a stop that kills the worker's
process group leaves it alone) that waits for the worker to end, then reconciles the home (a worker
gone without recording its end makes its run `interrupted`, resumable from its last checkpoint) and,
when its worker was such a one, starts what is queued. A worker that ended as it should has started
the next run itself; the keeper then exits without a word. While it waits it holds only the standard
library and psutil (about 0.1 s of CPU to start, a poll every POLL_S).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

POLL_S = 2.0
ROLE = "keeper"  # the frozen app's role word (installers/launcher.py)


def command(run_id: int, pid: int, start_time: float) -> list[str]:
    """How to start a keeper for the worker `pid` of run `run_id`: the frozen executable's role, or the module."""
    args = [str(run_id), str(pid), repr(start_time)]
    if getattr(sys, "frozen", False):
        return [sys.executable, ROLE, *args]
    return [sys.executable, "-m", "spark_trainer.jobs.chain_keeper", *args]


def spawn(run_id: int, pid: int, start_time: float, home: Path, log_path: Path) -> int | None:
    """Start the keeper of a worker just spawned, detached, its lines appended to the run's log; its
    pid, or None when it could not be started (the run trains all the same: only a crash of it would
    then wait for a scheduler, as it did before keepers)."""
    from spark_trainer.jobs import portable

    env = dict(os.environ, SPARK_TRAINER_HOME=str(home), PYTHONUNBUFFERED="1")
    try:
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(command(run_id, pid, start_time), stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, close_fds=True,
                                    cwd=str(log_path.parent), **portable.spawn_options())  # as the worker's
    except OSError:
        return None
    return proc.pid


def wait_gone(pid: int, start_time: float, poll_s: float = POLL_S) -> None:
    """Return once the worker (`pid` started at `start_time`; another process given its pid since does
    not count) has ended."""
    from spark_trainer.jobs.process import is_alive

    while is_alive(pid, start_time):
        time.sleep(poll_s)


def after_worker(run_id: int, pid: int) -> list[int]:
    """The worker `pid` of `run_id` is gone: reconcile the home, and if that worker ended without
    recording how (its run `interrupted` under it, by this reconcile or another process's), start what
    is queued. The runs started. A worker that ended as it should started them itself; a run resumed
    meanwhile has a scheduler at work already."""
    from spark_trainer.errors import SparkError
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.worker_process import open_store, say
    from spark_trainer.paths import resolve_home
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus, runs_named

    if not resolve_home().db_path.is_file():
        return []  # the home was deleted (or moved) meanwhile: nothing to start, and nothing to recreate
    try:
        with open_store() as store:
            reconcile(store)
            run = runs.get(store, run_id)
            if run.status != RunStatus.INTERRUPTED or run.pid != pid:
                return []
            started = schedule_once(store)
    except SparkError as exc:
        say(f"keeper of run {run_id}: could not start queued runs: {exc}")
        return []
    if started:
        say(f"keeper: run {run_id}'s worker ended without recording how; started queued "
            f"{runs_named(started)}")
    return started


def main(argv: list[str]) -> int:
    run_id, pid, start_time = int(argv[0]), int(argv[1]), float(argv[2])
    wait_gone(pid, start_time)
    after_worker(run_id, pid)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
