"""What every worker process sets up, whichever role it has (a run's worker, a rank of a distributed
run, a cluster job's rank): its timestamped log lines, its stop handler, its store's lock wait.
"""

from __future__ import annotations

import _thread
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from spark_trainer.jobs import control, portable
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
    # The computer's clock, as the app and commands show times, with its offset from UTC: a worker has
    # the time zone of the process that started it (a terminal's TZ), which need not be the reader's.
    print(f"[{datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}] {message}", flush=True)


def install_stop_handler(run_dir: Path, commands: Commands, *, watch_file: bool = True) -> threading.Event:
    """A stop request asks `commands` to stop, as `runs/<id>/stop-request` says (no file: pause); during
    an interruptible start-up phase it raises StopRequested right there (see Commands.start_up).

    The request comes as SIGTERM (POSIX: a pause or cancel, system shutdown) or as the file itself,
    which a thread polls (the only way on Windows): it then runs the same handler in the main thread,
    as a signal would. Returns the event that ends the polling. A cluster job's ranks do not poll
    (`watch_file` False): on nodes that do not share the folder only some ranks would see the file,
    and ranks stopping during start-up without the others fail the job; scancel sends SIGTERM to all."""
    by_file = threading.Event()

    def on_term(_signum: int, _frame: Any) -> None:
        kind = control.requested_stop(run_dir)
        starting = commands.starting
        say(f"{'stop request file found' if by_file.is_set() else 'SIGTERM received'}: {kind.value} requested; "
            + ("stopping start-up" if starting else "saving a checkpoint and stopping"))
        commands.request_stop(kind)
        commands.interrupt_start_up()  # inside a long start-up phase (loading the model): raises StopRequested

    def on_file() -> None:
        if portable.posix_signals():  # the SIGTERM that follows the file there says it, as it always did
            time.sleep(portable.WATCH_S)
        if commands.stop_requested is None:  # not if SIGTERM came first
            by_file.set()
            _thread.interrupt_main(signal.SIGTERM)  # on_term, in the main thread

    signal.signal(signal.SIGTERM, on_term)
    if not watch_file:
        return threading.Event()
    return portable.watch(Path(run_dir) / control.STOP_REQUEST, on_file,
                          until=lambda: commands.stop_requested is not None)
