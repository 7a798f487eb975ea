"""Waiting for a run while acting as its scheduler, with a progress bar on a terminal."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

from spark_trainer.cli.hangup import like_ctrl_c
from spark_trainer.errors import StoreDiskFull
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.scheduler import hold_of, schedule_once, waiting_line
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

_WAITING = {RunStatus.QUEUED, *runs.ACTIVE}


def _bar(run: Run, width: int = 30) -> str:
    total = run.total_steps or 0
    frac = min(1.0, run.step / total) if total else 0.0
    filled = int(frac * width)
    eta = f" eta {run.eta_seconds:.0f}s" if run.eta_seconds is not None else ""
    status = f"{run.status.value}: {run.starting_text()}" if run.starting_text() else run.status.value
    return f"\rrun {run.id} [{'#' * filled}{'.' * (width - filled)}] {run.step}/{total or '?'} {status}{eta}\x1b[K"  # [K: the rest of a longer last line cleared


def _say(line: str) -> None:
    sys.stderr.write(("\n" if sys.stderr.isatty() else "") + line + "\n")
    sys.stderr.flush()


def wait_for_run(store: Store, run_id: int, *, poll_s: float = 1.0,
                 on_waiting: Callable[[str], None] = _say) -> Run:
    """Schedule and poll until the run leaves queued/starting/running; returns its final state.

    While the database's disk is too full to start the queued run, it stays queued and the wait goes
    on, as `queue serve` does: `on_waiting` gets `scheduler.waiting_line` once per spell of full disk,
    and `scheduler.hold_of`'s line once per spell of queued runs held (the queue held, `store/queue_hold.py`;
    or waiting for disk space, `jobs/disk_hold.py`).

    SIGTERM and SIGHUP (its terminal closed) raise KeyboardInterrupt here as Ctrl-C does: the caller
    stops waiting and the run goes on (`cli/hangup.py`).

    Raises:
        DiskFull: a worker died and the database's disk is too full to record it (rather than
            waiting for a run that will never finish).
    """
    with like_ctrl_c():
        return _wait(store, run_id, poll_s, on_waiting)


def _wait(store: Store, run_id: int, poll_s: float, on_waiting: Callable[[str], None]) -> Run:
    tty = sys.stderr.isatty()
    waiting: str | None = None  # what the queued run waits for now, said once
    while True:
        reconcile(store, strict=True)
        try:
            schedule_once(store)
        except StoreDiskFull as exc:
            if waiting != "database":
                on_waiting(waiting_line(exc, store))
            waiting = "database"
            run = runs.get(store, run_id)
        else:
            run = runs.get(store, run_id)
            hold = hold_of(store) if run.status == RunStatus.QUEUED else None
            if hold is not None and waiting != hold[0]:
                on_waiting(hold[1])
            waiting = hold[0] if hold is not None else None
        if tty:
            sys.stderr.write(_bar(run))
            sys.stderr.flush()
        if run.status not in _WAITING:
            if tty:
                sys.stderr.write("\n")
            return run
        time.sleep(poll_s)
