"""Reconcile: make the store agree with the processes that are really alive.

A run marked starting/running whose worker is gone, or whose pid now belongs to another process
(different start time), becomes `interrupted` with the tail of its log as the error. It is cheap:
one query and a psutil look-up per active run, so every command and view that reads runs calls it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.jobs import process
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus, utcnow
from spark_trainer.store.store import Store

# A run claimed by a scheduler that died before it could spawn the worker has no pid; give the
# spawn this long before calling the run interrupted.
SPAWN_TIMEOUT = timedelta(seconds=60)


def _is_lost(run: Run) -> bool:
    if run.pid is None:
        return run.heartbeat_at is not None and utcnow() - run.heartbeat_at > SPAWN_TIMEOUT
    return not process.is_alive(run.pid, run.pid_start_time)


def reconcile(store: Store) -> list[int]:
    """Mark lost runs interrupted; returns their ids."""
    lost = []
    for run in runs.list_all(store, statuses={RunStatus.STARTING, RunStatus.RUNNING}):
        if not _is_lost(run):
            continue
        tail = process.log_tail(Path(run.run_dir)) if run.run_dir else ""
        why = "worker process is gone" if run.pid is None or process.identity(run.pid) is None else (
            f"pid {run.pid} now belongs to another process")
        error = f"{why}; last lines of worker.log:\n{tail}" if tail else why
        try:
            runs.transition(store, run.id, RunStatus.INTERRUPTED, why, expect={RunStatus.STARTING, RunStatus.RUNNING},
                            error=error, eta_seconds=None)
        except BadInput:
            continue  # the worker (or another reconciler) changed it meanwhile: it is not lost
        lost.append(run.id)
    return lost
