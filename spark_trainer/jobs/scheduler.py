"""The scheduler: reconcile, then start queued runs whose GPUs are free.

`schedule_once` is safe to call from many processes at once (GUI timer, `queue serve`, a `--wait`
command, a worker that just finished): claiming runs is one write transaction, so each run is
started once and no GPU is handed out twice.

A database whose disk is full cannot take that transaction (StoreDiskFull, nothing changed): the
queued runs stay queued and a scheduler loop (the GUI's poller, `serve`) tries again on its next
tick, saying so with `waiting_line` rather than stopping; they start once there is room.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from spark_trainer.errors import BadInput, StoreDiskFull
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs import process
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import runs, settings
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

log = logging.getLogger(__name__)


def machine_gpus() -> list[int]:
    """GPU indices of this machine (NVML); [] without NVIDIA GPUs."""
    from spark_trainer.gpu import list_gpus

    return [g.index for g in list_gpus()]


def make_picker(machine: Sequence[int], max_concurrent: int, allow_sharing: bool) -> runs.Picker:
    """The placement policy: priority then FIFO; a run that cannot be placed yet does not block
    smaller runs behind it; never more than `max_concurrent` active runs."""

    def pick(queued: Sequence[Run], active: Sequence[Run]) -> list[tuple[int, list[int], str]]:
        busy: set[int] = set()
        if not allow_sharing:
            for run in active:
                busy.update(run.gpus)
        slots = max_concurrent - len(active)
        chosen = []
        for run in queued:
            if slots <= 0:
                break
            try:
                request = gpu_alloc.parse_request(run.requested_gpus)
            except BadInput:
                continue  # validated at submit; a hand-edited row must not stop the queue
            placed = gpu_alloc.place(request, machine, busy)
            if placed is None:
                continue
            if not allow_sharing:
                busy.update(placed)
            slots -= 1
            where = f"GPUs {','.join(map(str, placed))}" if placed else "CPU"
            chosen.append((run.id, placed, f"scheduled on {where}"))
        return chosen

    return pick


def waiting_reason(store: Store, run: Run) -> str:
    """Why a queued run did not start just now, for the line a command prints."""
    limit = int(settings.get_all(store)["max_concurrent_runs"])
    active = runs.list_all(store, statuses={RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STALLED})
    if len(active) >= limit:
        return (f"waiting for a free slot: {len(active)} of max_concurrent_runs {limit} running "
                "(spark-trainer settings max_concurrent_runs N)")
    return "waiting for free GPUs"  # with a slot free, only a run that asks for GPUs is left queued


def schedule_once(store: Store, *, machine: Sequence[int] | None = None) -> list[int]:
    """Reconcile, then start every queued run that fits now; returns the started run ids."""
    reconcile(store)
    config = settings.get_all(store)
    picker = make_picker(machine_gpus() if machine is None else machine,
                         int(config["max_concurrent_runs"]), bool(config["allow_gpu_sharing"]))
    started = []
    for run in runs.claim(store, picker):
        if run.gpus:
            _release_playground(store, run)
        try:
            found = process.spawn_worker(run.id, Path(run.run_dir), store.home.root, run.gpus)
        except OSError as exc:
            runs.transition(store, run.id, RunStatus.FAILED, f"could not start the worker: {exc}",
                            error=f"could not start the worker: {exc}")
            continue
        # The worker records itself too; whichever write lands last holds the same values.
        runs.update(store, run.id, pid=found.pid, pid_start_time=found.start_time)
        started.append(run.id)
    return started


def _release_playground(store: Store, run: Run) -> None:
    """Training comes first: a playground model on one of the run's GPUs is unloaded (its process
    exits) before the worker starts, and the memory it held is noted on the run."""
    from spark_trainer.playground import servers

    held = servers.gpu_memory(store.home.root)
    mine = {g: held[g] for g in run.gpus if g in held}
    if not mine:
        return
    where = ",".join(map(str, sorted(mine)))
    asked = servers.release(store.home.root, mine, f"run {run.id} needs GPU {where}")
    runs.note(store, run.id, f"unloaded {len(asked)} playground model{'s' if len(asked) != 1 else ''} "
              f"holding {sum(mine.values()) / 2**30:.2f} GiB on GPU {where}")


def waiting_line(exc: StoreDiskFull, store: Store | None = None) -> str:
    """The one line a scheduler shows while the database's disk is too full to start queued runs:
    where, how much is free, and that the runs wait (e.g. "disk full at /data: 0.0 MB free; the
    database sparktrainer.db could not be written; run 3 stays queued and starts once there is room").
    Without a `store` (it could not even be opened) the runs are not named."""
    head = str(exc).removesuffix(" (nothing was changed)").replace("; nothing was changed)", ")")
    queued = [] if store is None else [run.id for run in runs.list_all(store, statuses={RunStatus.QUEUED})]
    if len(queued) == 1:
        which = f"run {queued[0]} stays queued and starts"
    else:
        which = f"runs {', '.join(map(str, queued))} stay queued and start" if queued else "queued runs start"
    return f"{head}; {which} once there is room"


def serve(
    store: Store,
    *,
    interval_s: float = 2.0,
    until_idle: bool = False,
    on_started: Callable[[list[int]], None] | None = None,
    on_waiting: Callable[[str], None] | None = None,
) -> None:
    """Loop `schedule_once` forever (or, with `until_idle`, until nothing is queued or active).

    While the database's disk is full the loop keeps polling and the queued runs stay queued;
    `on_waiting` gets `waiting_line` once per spell of full disk, not on every tick.
    """
    waiting = False
    while True:
        try:
            started = schedule_once(store)
        except StoreDiskFull as exc:
            if not waiting and on_waiting is not None:
                on_waiting(waiting_line(exc, store))
            waiting, started = True, []
        else:
            waiting = False
        if started and on_started is not None:
            on_started(started)
        if until_idle and not runs.list_all(store, statuses={RunStatus.QUEUED, *runs.ACTIVE}):
            return
        time.sleep(interval_s)
