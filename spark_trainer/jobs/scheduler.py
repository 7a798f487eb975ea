"""The scheduler: reconcile, then start queued runs whose GPUs are free.

`schedule_once` is safe to call from many processes at once (GUI timer, `queue serve`, a `--wait`
command, a worker that just finished): claiming runs is one write transaction, so each run is
started once and no GPU is handed out twice.

A database whose disk is full cannot take that transaction (StoreDiskFull, nothing changed): the
queued runs stay queued and a scheduler loop (the GUI's poller, `serve`) tries again on its next
tick, saying so with `waiting_line` rather than stopping; they start once there is room.

A run that failed on a full runs folder holds the queued runs too, while the folder has less room
than that failure needed (`disk_hold`): each would only fail the same way. They wait, saying so
(`waiting_reasons`, `hold_of`), and start once space is freed.

A person can hold the whole queue (`store.queue_hold`: `queue hold`, the app's Runs view): nothing
queued starts until it is released, whatever its GPUs; running runs go on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from spark_trainer.errors import BadInput, SparkError, StoreDiskFull
from spark_trainer.jobs import claim_lock, disk_hold, process
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import queue_hold, runs, settings
from spark_trainer.store.entities import Run, RunStatus, runs_named
from spark_trainer.store.run_priority import start_order
from spark_trainer.store.store import Store

log = logging.getLogger(__name__)


def machine_gpus() -> list[int]:
    """GPU indices of this machine (NVML); [] without NVIDIA GPUs."""
    from spark_trainer.gpu import list_gpus

    return [g.index for g in list_gpus()]


def plan(queued: Sequence[Run], active: Sequence[Run], machine: Sequence[int], max_concurrent: int,
         allow_sharing: bool) -> list[tuple[Run, list[int] | None, str]]:
    """The placement policy, for every queued run in order: (run, its GPUs or None if it waits, why).

    Priority then FIFO (`queued` comes in that order); a run that cannot be placed yet does not
    block smaller runs behind it; never more than `max_concurrent` active runs. The reason of a run
    that waits names what it waits for (a run to finish, a GPU), so every screen says the same.
    """
    holders: dict[int, int] = {}  # GPU -> the run holding it
    if not allow_sharing:
        for run in active:
            holders.update((g, run.id) for g in run.gpus)
    taking = [run.id for run in active]  # runs that hold a slot, placed ones included
    decided: list[tuple[Run, list[int] | None, str]] = []
    for run in queued:
        if len(taking) >= max_concurrent:
            decided.append((run, None, _slot_reason(taking, max_concurrent)))
            continue
        try:
            request = gpu_alloc.parse_request(run.requested_gpus)
        except BadInput as exc:  # validated at submit; a hand-edited row must not stop the queue
            decided.append((run, None, f"cannot be placed: {exc}"))
            continue
        placed = gpu_alloc.place(request, machine, set(holders))
        if placed is None:
            decided.append((run, None, _gpu_reason(request, machine, holders)))
            continue
        if not allow_sharing:
            holders.update((g, run.id) for g in placed)
        taking.append(run.id)
        where = f"GPUs {','.join(map(str, placed))}" if placed else "CPU"
        decided.append((run, placed, f"scheduled on {where}"))
    return decided


def _slot_reason(taking: Sequence[int], max_concurrent: int) -> str:
    limit = f"(max concurrent runs {max_concurrent})"
    if not taking:
        return f"waiting: no run may start {limit}"
    if len(taking) == 1:
        return f"waiting for run {taking[0]} to finish {limit}"
    return f"waiting for one of runs {', '.join(map(str, sorted(taking)))} to finish {limit}"


def _gpu_reason(request: gpu_alloc.GpuRequest, machine: Sequence[int], holders: dict[int, int]) -> str:
    def held(gpus: Sequence[int]) -> str:
        return runs_named(sorted({holders[g] for g in gpus if g in holders}))

    if request.ids is not None:
        missing = [g for g in request.ids if g not in machine]
        if missing:
            return f"waiting for GPU {','.join(map(str, missing))}, which this machine does not have"
        busy = [g for g in request.ids if g in holders]
        return f"waiting for GPU {','.join(map(str, busy))} (used by {held(busy)})"
    want = f"waiting for {request.count} free GPU{'s' if request.count != 1 else ''}"
    if request.count > len(machine):
        return f"{want}; this machine has {len(machine)}"
    busy = [g for g in sorted(machine) if g in holders]
    return f"{want} (GPU {','.join(map(str, busy))} used by {held(busy)})"


def make_picker(machine: Sequence[int], max_concurrent: int, allow_sharing: bool) -> runs.Picker:
    """`plan` as `runs.claim` wants it: (run id, GPUs, reason) of the runs to start now."""

    def pick(queued: Sequence[Run], active: Sequence[Run]) -> list[tuple[int, list[int], str]]:
        return [(run.id, placed, why) for run, placed, why in plan(queued, active, machine, max_concurrent,
                                                                    allow_sharing) if placed is not None]

    return pick


def waiting_reasons(store: Store, *, machine: Sequence[int] | None = None) -> dict[int, str]:
    """Why each queued run is still queued (run id -> reason), from the scheduler's own policy.

    A run that would be placed now is "ready", waiting only for a scheduler to run (the app, a
    `--wait` command or `spark-trainer queue serve`)."""
    queued = runs.list_all(store, statuses={RunStatus.QUEUED})
    if not queued:
        return {}
    if queue_hold.held_since(store) is not None:
        return {run.id: queue_hold.REASON for run in queued}
    held = disk_hold.current(store)
    if held is not None:  # nothing starts, whatever its GPUs
        return {run.id: held.reason for run in queued}
    active = runs.list_all(store, statuses=runs.ACTIVE)
    config = settings.get_all(store)
    ordered = start_order(queued)
    decided = plan(ordered, active, machine_gpus() if machine is None else machine,
                   int(config["max_concurrent_runs"]), bool(config["allow_gpu_sharing"]))
    return {run.id: why if placed is None else READY for run, placed, why in decided}


READY = "ready: starts when a scheduler runs (the app, or spark-trainer queue serve)"


def short_reason(reason: str) -> str:
    """A waiting reason for a table's cell, without its bracketed detail ("waiting for run 3 to finish"
    for "... (max concurrent runs 1)"), as the app's Runs list and `run list` show it."""
    return reason.split(" (", 1)[0]


def waiting_reason(store: Store, run: Run) -> str:
    """Why a queued run did not start just now, for the line a command prints."""
    return waiting_reasons(store).get(run.id, READY)


def schedule_once(store: Store, *, machine: Sequence[int] | None = None) -> list[int]:
    """Reconcile, then start every queued run that fits now; returns the started run ids. None starts
    while the queue is held (`queue_hold`) or the runs folder has less room than the last disk-full
    failure needed (`disk_hold`)."""
    reconcile(store)
    if queue_hold.held_since(store) is not None or disk_hold.current(store) is not None:
        return []
    config = settings.get_all(store)
    picker = make_picker(machine_gpus() if machine is None else machine,
                         int(config["max_concurrent_runs"]), bool(config["allow_gpu_sharing"]))
    held = claim_lock.Held()  # each claim's lock, until its worker's pid is recorded (jobs/claim_lock.py)
    try:
        claimed, started = runs.claim(store, picker, held.take), []
        at, children = 0, None  # the claimed run in hand, and this process's children before its spawn
        try:
            while at < len(claimed):
                children = _children()
                if _start(store, claimed[at], held.fd(claimed[at].id)):
                    started.append(claimed[at].id)
                held.release(claimed[at].id)
                at += 1
        finally:
            if at < len(claimed):  # stopped part-way: SIGTERM to `queue serve`, a database write that failed
                _put_back(store, claimed[at:], children)
    finally:  # a worker forked holds its own copy of its claim's lock
        held.release_all()
    return started


def _start(store: Store, run: Run, claim_fd: int | None = None) -> bool:
    """Spawn the worker of a claimed run; False when the run failed instead (its folder gone, no spawn)."""
    folder = Path(run.run_dir)
    if not folder.is_dir():  # spawning would recreate it (the log goes there) and fail on config.yaml
        why = (f"run {run.id} cannot start: its folder {folder} is gone (deleted or moved by hand since the "
               f"submit); start a new run of experiment {run.experiment!r} instead")
        runs.transition(store, run.id, RunStatus.FAILED, "run folder is gone", error=why)
        return False
    if run.gpus:
        _release_playground(store, run)
    try:
        found = process.spawn_worker(run.id, folder, store.home.root, run.gpus, claim_fd)
    except OSError as exc:
        runs.transition(store, run.id, RunStatus.FAILED, f"could not start the worker: {exc}",
                        error=f"could not start the worker: {exc}")
        return False
    # The worker records itself too; whichever write lands last holds the same values.
    runs.update(store, run.id, pid=found.pid, pid_start_time=found.start_time)
    return True


PUT_BACK = "put back in the queue: the scheduler that claimed it stopped before it started a worker"


def _put_back(store: Store, left: list[Run], children: set[int] | None) -> None:
    """Claimed runs a scheduler stopped before starting (`schedule_once`'s `finally`) go back to queued
    (`runs.unclaim`): those it never reached, and the one in hand if this process started no child since
    (a worker forked, even not yet past its exec, may record itself and train: it is left alone). Else
    they stayed starting until reconcile gave up on their spawn (a minute) and ended interrupted,
    resumable by hand only."""
    now = _children()
    back = left if children is not None and now is not None and not now - children else left[1:]
    try:
        runs.unclaim(store, [run.id for run in back], PUT_BACK)
    except SparkError:
        pass  # the database cannot be written: reconcile ends them after SPAWN_TIMEOUT, as before


def _children() -> set[int] | None:
    """This process's child processes (None if they cannot be read: then any may be a worker)."""
    try:
        return {child.pid for child in psutil.Process().children()}
    except psutil.Error:
        return None


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
    where, how much is free, and that the runs wait (e.g. "disk full at /data: 0.0 MiB free; the
    database sparktrainer.db could not be written; run 3 stays queued and starts once there is room").
    Without a `store` (it could not even be opened) the runs are not named."""
    head = str(exc).removesuffix(" (nothing was changed)").replace("; nothing was changed)", ")")
    queued = [] if store is None else [run.id for run in runs.list_all(store, statuses={RunStatus.QUEUED})]
    if queued:
        which = f"{runs_named(queued, 'stay')} queued and start{'s' if len(queued) == 1 else ''}"
    else:
        which = "queued runs start"
    return f"{head}; {which} once there is room"


def hold_of(store: Store) -> tuple[str, str] | None:
    """What holds the queued runs now, as (kind, line), else None. Kind "queue": the queue is held
    ("run 5 stays queued: the queue is held; it starts once the queue is released (...)"); kind
    "room": they wait for disk space (`disk_hold`: "run 5 stays queued, waiting for disk space: 15.4
    MiB free at <home>/runs, run 4 needed about 17.9 MiB; it starts once there is room"). A loop
    says the line once per spell of one kind."""
    queued = [run.id for run in start_order(runs.list_all(store, statuses={RunStatus.QUEUED}))]
    if not queued:  # an idle serve loop reads no hold, no failures and no disk
        return None
    which = runs_named(queued, "stay")
    start = "it starts" if len(queued) == 1 else "they start"
    if queue_hold.held_since(store) is not None:
        return "queue", (f"{which} queued: the queue is held; {start} once it is released "
                         "(`spark-trainer queue release`, or the app's Runs view)")
    held = disk_hold.current(store)
    if held is None:
        return None
    return "room", f"{which} queued, {held.reason}; {start} once there is room"


def serve(
    store: Store,
    *,
    interval_s: float = 2.0,
    until_idle: bool = False,
    on_started: Callable[[list[int]], None] | None = None,
    on_waiting: Callable[[str], None] | None = None,
    on_tick: Callable[[], None] | None = None,
) -> None:
    """Loop `schedule_once` forever (or, with `until_idle`, until nothing is active and nothing queued
    can start without a person: none queued, or the queue held).

    While the database's disk is full the loop keeps polling and the queued runs stay queued;
    `on_waiting` gets `waiting_line` once per spell of full disk, not on every tick, and `hold_of`'s
    line once per spell of queued runs held (waiting for disk space; or the queue held, said again when
    runs join the held queue, as its line names them). `on_tick` is called after every pass (`queue
    serve` reads what started or ended then).
    """
    waiting: str | None = None  # what the queued runs wait for now, said once
    while True:
        try:
            started = schedule_once(store)
        except StoreDiskFull as exc:
            if waiting != "database" and on_waiting is not None:
                on_waiting(waiting_line(exc, store))
            waiting, started = "database", []
        else:
            hold = None if started else hold_of(store)
            # Said once per spell; a held queue's line again when runs join it (it names them).
            spell = None if hold is None else hold[1] if hold[0] == "queue" else hold[0]
            if spell is not None and waiting != spell and on_waiting is not None:
                on_waiting(hold[1])
            waiting = spell
        if started and on_started is not None:
            on_started(started)
        if on_tick is not None:
            on_tick()
        if until_idle and _idle(store):
            return
        time.sleep(interval_s)


def _idle(store: Store) -> bool:
    """Nothing active, and nothing queued that would start without a person releasing the queue."""
    if runs.list_all(store, statuses=runs.ACTIVE):
        return False
    return not runs.list_all(store, statuses={RunStatus.QUEUED}) or queue_hold.held_since(store) is not None
