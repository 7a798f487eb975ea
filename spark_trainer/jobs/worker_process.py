"""What every worker process sets up, whichever role it has (a run's worker, a rank of a distributed
run, a cluster job's rank): its timestamped log lines, its SIGTERM handler, its store's lock wait.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from spark_trainer.jobs import control
from spark_trainer.store.entities import utcnow
from spark_trainer.store.store import Store
from spark_trainer.training.reporting import Commands

HEARTBEAT_S = 2.0
# A worker's writes wait this long for another process's write lock before failing the run (the app
# and commands wait 30 s). A worker frozen inside a write holds that lock until reconcile kills it,
# past `heartbeat_timeout_seconds` + `stall_grace_seconds` (4 minutes by default): training waits
# that out rather than failing with "database is locked".
WORKER_BUSY_TIMEOUT_MS = 600_000


def open_store() -> Store:
    """The store of the data home this worker was started for (SPARK_TRAINER_HOME), migrations left alone."""
    return Store.open(upgrade=False, busy_timeout_ms=WORKER_BUSY_TIMEOUT_MS)


def say(message: str) -> None:
    print(f"[{utcnow():%Y-%m-%d %H:%M:%S}] {message}", flush=True)


def install_stop_handler(run_dir: Path, commands: Commands) -> None:
    """SIGTERM asks `commands` to stop, as `runs/<id>/stop-request` says (no file: pause); during
    an interruptible start-up phase it raises StopRequested right there (see Commands.start_up)."""

    def on_term(_signum: int, _frame: Any) -> None:
        kind = control.requested_stop(run_dir)
        starting = commands.starting
        say(f"SIGTERM received: {kind.value} requested; "
            + ("stopping start-up" if starting else "saving a checkpoint and stopping"))
        commands.request_stop(kind)
        commands.interrupt_start_up()  # inside a long start-up phase (loading the model): raises StopRequested

    signal.signal(signal.SIGTERM, on_term)
