"""When the queue will be done: each queued run's estimated start and end, and the last end.

How long a queued run takes comes from an earlier run that predicts it (`run_pace.predictor`: the
newest completed run of the same experiment, else of the same sweep, else one with the same settings),
measured from its real step times, plus its start-up and finish; a run resumed from a pause has only
its steps left to go. A queued run with no predictor, or whose step count is known only once it starts
(epochs-based), has no estimate: it is not counted, never guessed. It holds its slot (and GPUs) for an
unknown time, so a queued run that can only start after it ends has an unknown start and is not counted
either; every screen says which runs and why.

An active run ends after its worker's `eta_seconds` (steps left at its recent pace); one without an
eta (loading its model, or stalled) after its predictor's time from when it started; one with neither
has no estimate and holds its slot as a queued run without one does.

The schedule is simulated as `scheduler.plan` places runs: queued runs take a slot in start order
(`run_priority.start_order`) whenever fewer than max_concurrent_runs are active, a run that does not
fit yet not blocking smaller ones behind it. Without GPU sharing a run takes the GPUs `gpus.place`
gives it from those no simulated run holds (the ids it names, else `count:N` or one for `auto` of the
free ones, none for the CPU), so a run asking for GPU 1 waits for the run on GPU 1 even while GPU 0 is
free. With GPU sharing only the slots count. Either way, and on a machine without GPUs, a run asking
for GPUs the machine does not have never starts and holds no slot, as `plan` never places it; so does
one whose gpus value cannot be read (edited by hand). CPU runs side by side share the machine's cores,
but each is estimated as if alone: the end says they are likely later.

While the queue is held nothing starts, so there is no clock time to give: the estimate is made as
if the queue were released now, and screens say it relative to the release ("about 2 h 10 min after
release").

While a disk-full failure holds the queued runs (`jobs/disk_hold.py`) none starts until space is freed,
which no earlier run can predict: no queued run is counted, and the end says why ("not estimated: the
queued runs wait for disk space: ..."). The active runs go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from spark_trainer.errors import BadInput
from spark_trainer.jobs import disk_hold
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.jobs.gpus import GpuRequest
from spark_trainer.jobs.run_pace import Memo, Pace, predictor
from spark_trainer.store import queue_hold, runs, settings
from spark_trainer.store.entities import Run, RunStatus, runs_named, utcnow
from spark_trainer.store.run_priority import start_order
from spark_trainer.store.store import Store

# The settings the estimate reads: a change to one moves every estimate (the app estimates again at once).
SETTINGS = ("max_concurrent_runs", "allow_gpu_sharing")


@dataclass(frozen=True)
class RunEstimate:
    run_id: int
    start: datetime | None  # naive UTC; an active run's is None (it started)
    end: datetime | None  # None: no estimate (not counted)
    pace: Pace | None  # what it was estimated from (an active run with an eta: None)
    fits: bool = True  # False: needs GPUs the machine does not have, never starts (start None)
    unreadable: bool = False  # its gpus value cannot be read: never placed, never starts (fits False)
    # A queued run that fits with start None waits behind a run of unknown length: its start is unknown.


@dataclass(frozen=True)
class QueueEstimate:
    now: datetime  # naive UTC: what the times are counted from (the release, while held)
    held: bool
    end: datetime | None  # when the last counted run ends; None when no queued run is counted
    queued: list[RunEstimate] = field(default_factory=list)  # in start order
    active: list[RunEstimate] = field(default_factory=list)
    cpu_shared: bool = False  # CPU runs side by side in the schedule: each is estimated as if alone
    disk: str | None = None  # the disk hold's reason while one keeps every queued run waiting

    @property
    def not_counted(self) -> list[int]:
        """Queued and active runs with no estimate, in the order shown."""
        return [e.run_id for e in self.active + self.queued if e.end is None]

    @property
    def sources(self) -> list[str]:
        """How the queued runs' predictors were chosen (`run_pace.SAME_*`), best first, without repeats."""
        from spark_trainer.jobs.run_pace import SAME_EXPERIMENT, SAME_SETTINGS, SAME_SWEEP

        used = {e.pace.how for e in self.queued if e.pace is not None}
        return [how for how in (SAME_EXPERIMENT, SAME_SWEEP, SAME_SETTINGS) if how in used]


def request_of(run: Run) -> GpuRequest | None:
    """What a queued run asks for, as `scheduler.plan` parses it; None for a hand-edited request it cannot
    parse, which `plan` never places ("cannot be placed"): the run never starts and holds no slot."""
    try:
        return gpu_alloc.parse_request(run.requested_gpus)
    except BadInput:
        return None


def _fits(request: GpuRequest | None, machine: Sequence[int]) -> bool:
    """Whether `request` can ever be placed on `machine` (all its GPUs free); an unreadable one never."""
    return request is not None and gpu_alloc.place(request, machine, set()) is not None


def simulate(now: datetime, active: Sequence[tuple[int, datetime | None, Sequence[int]]],
             queued: Sequence[tuple[int, float | None, GpuRequest | None]], slots: int,
             machine: Sequence[int], *, sharing: bool = False) -> dict[int, tuple[datetime | None, datetime | None]]:
    """Start and end of each queued run (id -> (start, end)): `active` as (id, end or None for no
    estimate, its GPUs), `queued` in start order as (id, seconds or None for no estimate, its request,
    None when unreadable: never placed); `machine` the GPU ids ([] without GPUs); with `sharing` a GPU in
    use is still free to place on, as `scheduler.plan` has it, but a GPU the machine lacks is not. A run
    without an estimate holds its slot and GPUs for an unknown time: a run that can only start after it
    has neither start nor end (unknown), as has a run that can never fit."""
    holding: list[tuple[datetime | None, frozenset[int]]] = [(end, frozenset(g)) for _, end, g in active]
    pending = list(queued)
    placed: dict[int, tuple[datetime | None, datetime | None]] = {}
    at = now
    while pending:
        holding = [(end, gpus) for end, gpus in holding if end is None or end > at]
        for item in list(pending):
            run_id, seconds, request = item
            if not _fits(request, machine):  # as `plan`, which places it on no machine GPU: never
                placed[run_id] = (None, None)
                pending.remove(item)
                continue
            if len(holding) >= slots:
                break
            busy = set() if sharing else set().union(*(held for _, held in holding))
            gpus = gpu_alloc.place(request, machine, busy) if request is not None else None
            if gpus is None:
                continue  # waits for its GPUs; a run behind it may start on others
            pending.remove(item)
            end = None if seconds is None else at + timedelta(seconds=seconds)
            placed[run_id] = (at, end)
            holding.append((end, frozenset(gpus)))
        known = [end for end, _ in holding if end is not None]
        if pending and not known:  # what is left waits for runs of unknown length: its start is unknown
            placed.update((run_id, (None, None)) for run_id, _, _ in pending)
            break
        if pending:
            at = min(known)
    return placed


def _cpu_side_by_side(spans: Sequence[tuple[datetime, datetime | None]]) -> bool:
    """Whether two of these CPU runs' (start, end or None for unknown) overlap in the schedule."""
    latest: datetime | None = datetime.min  # the latest end so far; None: unknown, goes on
    for start, end in sorted(spans, key=lambda span: span[0]):
        if latest is None or start < latest:
            return True
        latest = None if end is None else max(latest, end)
    return False


def estimate(store: Store, *, now: datetime | None = None, machine: Sequence[int] | None = None) -> QueueEstimate:
    """The queue's estimated end (see the module's docstring), from `now` (naive UTC; default the clock)."""
    from spark_trainer.jobs.scheduler import machine_gpus

    now = now or utcnow()
    held = queue_hold.held_since(store) is not None
    queued = start_order(runs.list_all(store, statuses={RunStatus.QUEUED}))
    active = sorted(runs.list_all(store, statuses=runs.ACTIVE), key=lambda r: r.id)
    if not queued:
        return QueueEstimate(now, held, None)
    completed = runs.list_all(store, statuses={RunStatus.COMPLETED})
    config = settings.get_some(store, SETTINGS)  # only these: what `QueueEndModel` follows
    machine = machine_gpus() if machine is None else machine

    memo = Memo(len(machine))
    active_est: list[RunEstimate] = []
    for run in active:
        end, pace = _active_end(store, run, completed, now, memo)
        active_est.append(RunEstimate(run.id, None, end, pace))
    if (disk := disk_hold.current(store)) is not None:  # none starts until space is freed: nothing to count
        return QueueEstimate(now, held, None, [RunEstimate(r.id, None, None, None) for r in queued], active_est,
                             disk=disk.reason)
    paces = {run.id: predictor(store, run, completed, memo) for run in queued}
    asks = {run.id: request_of(run) for run in queued}
    slots = max(1, int(config["max_concurrent_runs"]))
    plan = simulate(now, [(e.run_id, e.end, r.gpus) for e, r in zip(active_est, active, strict=True)],
                    [(r.id, _seconds(r, paces[r.id]), asks[r.id]) for r in queued], slots, machine,
                    sharing=bool(config["allow_gpu_sharing"]))
    queued_est = [RunEstimate(r.id, plan[r.id][0], plan[r.id][1], paces[r.id], fits=_fits(asks[r.id], machine),
                              unreadable=asks[r.id] is None) for r in queued]
    ends = [e.end for e in queued_est if e.end is not None]
    on_cpu = [(now, e.end) for e, r in zip(active_est, active, strict=True) if not r.gpus]
    on_cpu += [(e.start, e.end) for e in queued_est if e.start is not None and _on_cpu(asks[e.run_id], machine)]
    return QueueEstimate(now, held, max(ends + [e.end for e in active_est if e.end is not None]) if ends else None,
                         queued_est, active_est, cpu_shared=slots > 1 and _cpu_side_by_side(on_cpu))


def _on_cpu(request: GpuRequest | None, machine: Sequence[int]) -> bool:
    """Whether a run asking `request` trains on the CPU here (`auto` on a machine without GPUs does)."""
    return request is not None and (request.is_cpu or (request.auto and not machine))


def _seconds(run: Run, pace: Pace | None) -> float | None:
    if pace is None or not run.total_steps:
        return None
    return pace.seconds(run.total_steps - run.step)


def _active_end(store: Store, run: Run, completed: Sequence[Run], now: datetime,
                memo: Memo) -> tuple[datetime | None, Pace | None]:
    if run.eta_seconds is not None:
        return now + timedelta(seconds=run.eta_seconds), None
    pace = predictor(store, run, completed, memo)
    seconds = _seconds(run, pace)
    if pace is None or seconds is None:
        return None, None
    from spark_trainer.jobs.run_pace import spells

    began = spells(runs.events(store, run.id))  # its worker's start now, not a spell before a pause
    since = datetime.fromtimestamp(began[-1][0], timezone.utc).replace(tzinfo=None) if began and began[-1][1] is None else now
    return max(now, since + timedelta(seconds=seconds)), pace


# What the estimate is made from, after "estimated from earlier runs of " (`QueueEstimate.sources`).
_SOURCE_WORDS = {"experiment": "the same experiment", "sweep": "the same sweep",
                 "settings": "the same settings (recipe, model, batch, sequence length, CPU or GPU)"}


def span_text(seconds: float) -> str:
    """A duration as a person reads an estimate of it: "under a minute", "25 min", "2 h 05 min"."""
    minutes = round(seconds / 60)
    if minutes < 1:
        return "under a minute"
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def when_text(at: datetime, found: QueueEstimate) -> str:
    """When an estimated time comes, on this computer's clock ("03:40", "03:40 tomorrow", a date
    further off); while the queue is held, how long after its release ("2 h 05 min after release")."""
    from spark_trainer.store.entities import local_time

    if found.held:
        return f"{span_text((at - found.now).total_seconds())} after release"
    here, today = local_time(at), local_time(found.now).date()
    if here.date() == today:
        return f"{here:%H:%M}"
    if here.date() == today + timedelta(days=1):
        return f"{here:%H:%M} tomorrow"
    return f"{here:%Y-%m-%d %H:%M}"


def start_text(start: datetime, found: QueueEstimate) -> str:
    """A queued run's estimated start as `queue show`'s STARTS column and the app say it: "now", "at
    release" (while held), "about 02:10", "about 25 min after release"."""
    if (start - found.now).total_seconds() < 1:
        return "at release" if found.held else "now"
    return about(when_text(start, found))


def _has(ids: Sequence[int], one: str, many: str) -> str:
    return f"{runs_named(ids)}{one if len(ids) == 1 else many}"


def _unknown_text(found: QueueEstimate) -> str | None:
    """Why the runs not counted are not ("run 4 has no earlier completed run of the same experiment,
    sweep or settings to measure, and run 5 waits behind it"); None when every run is counted."""
    if found.disk is not None:
        return f"the queued runs are {found.disk}"
    never = [e.run_id for e in found.queued if not e.fits and not e.unreadable]
    unreadable = [e.run_id for e in found.queued if e.unreadable]
    behind = [e.run_id for e in found.queued if e.fits and e.start is None]
    unmeasured = [e.run_id for e in found.queued if e.start is not None and e.end is None and e.pace is None]
    unstepped = [e.run_id for e in found.queued if e.start is not None and e.end is None and e.pace is not None]
    idle = [e.run_id for e in found.active if e.end is None]
    measure = " earlier completed run of the same experiment, sweep or settings to measure"
    reasons = [_has(idle, " (active) has no estimate yet", " (active) have no estimate yet")] if idle else []
    if unmeasured:
        reasons.append(_has(unmeasured, f" has no{measure}", f" have no{measure}"))
    if unstepped:  # an epochs-based run: its steps are counted when its worker loads the data
        reasons.append(_has(unstepped, "'s step count is known once it starts", "'s step counts are known once they start"))
    if never:
        reasons.append(_has(never, " needs GPUs this machine does not have", " need GPUs this machine does not have"))
    if unreadable:  # edited by hand: `run show` says the scheduler's reason
        reasons.append(_has(unreadable, " has a gpus value the scheduler cannot read",
                            " have gpus values the scheduler cannot read"))
    text = ", ".join(reasons)
    if behind:
        holders = len(idle) + len(unmeasured) + len(unstepped)
        waits = _has(behind, " waits", " wait") + f" behind {'it' if holders == 1 else 'them'}"
        text = f"{text}, and {waits}" if text else waits
    return text or None


def end_text(found: QueueEstimate) -> str | None:
    """The queue's end as `queue show` and the app say it ("about 03:40 (estimated from earlier runs of
    the same experiment; run 7 has no earlier completed run ... to measure: not counted)"; while held
    "about 2 h 05 min after release (if released now; ...)"); None with nothing queued."""
    if not found.queued:
        return None
    unknown = _unknown_text(found)
    if found.end is None:
        return f"not estimated: {unknown}"
    notes = ["if released now"] if found.held else []  # the active runs go on while it is held
    notes.append(f"estimated from earlier runs of {' or '.join(_SOURCE_WORDS[s] for s in found.sources)}")
    if unknown:
        notes.append(f"{unknown}: not counted")
    if found.cpu_shared:
        notes.append("CPU runs side by side share its cores: likely later")
    return f"{about(when_text(found.end, found))} ({'; '.join(notes)})"


def about(when: str) -> str:
    """ "about 03:40", "about 25 min after release"; "under a minute after release" as it is."""
    return when if when.startswith("under") else f"about {when}"
