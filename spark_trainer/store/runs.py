"""Runs and their events. Every status change goes through `transition`, which records an event."""

from __future__ import annotations

import shutil
import uuid as uuidlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spark_trainer.errors import BadInput, Conflict, IllegalTransition, InternalError, NotFound
from spark_trainer.store import experiments, in_use, projects, queue_hold, sweeps
from spark_trainer.store.entities import Run, RunEvent, RunStatus, id_of, utcnow
from spark_trainer.store.models import ExperimentRow, RunEventRow, RunRow
from spark_trainer.store.run_rows import entity as _entity
from spark_trainer.store.run_rows import listed as _listed
from spark_trainer.store.run_rows import listing as _listing
from spark_trainer.store.store import Store

# Statuses whose worker process is (or should be) alive.
ACTIVE = frozenset(s for s in RunStatus if s.is_active)
RESUMED_FROM = "resumed from checkpoint step "  # + the step: a resume's event (imported_runs reads where it began)

# Which status may follow which. Anything else is a bug or a race, and is refused.
ALLOWED: dict[RunStatus, set[RunStatus]] = {
    RunStatus.QUEUED: {RunStatus.STARTING, RunStatus.CANCELLED, RunStatus.FAILED},
    RunStatus.STARTING: {
        RunStatus.RUNNING, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.INTERRUPTED,
        RunStatus.PAUSED, RunStatus.COMPLETED, RunStatus.STALLED,
    },
    RunStatus.RUNNING: {
        RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PAUSED, RunStatus.INTERRUPTED,
        RunStatus.STALLED,
    },
    # A stalled worker may wake up (heartbeat again), finish, be stopped, or be killed.
    RunStatus.STALLED: {
        RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.PAUSED,
        RunStatus.INTERRUPTED,
    },
    RunStatus.PAUSED: {RunStatus.QUEUED, RunStatus.CANCELLED},
    RunStatus.INTERRUPTED: {RunStatus.QUEUED, RunStatus.CANCELLED},
    RunStatus.FAILED: {RunStatus.QUEUED},
    RunStatus.CANCELLED: {RunStatus.QUEUED},
    RunStatus.COMPLETED: {RunStatus.QUEUED},  # only for "extend by N steps"
}


# Fields `update`/`transition` may set; anything else is a caller's typo and must not pass silently.
_FIELDS = frozenset(c.key for c in RunRow.__table__.columns) - {"id", "status", "uuid", "created_at"}


def _set_fields(row: RunRow, fields: dict[str, Any]) -> None:
    unknown = sorted(set(fields) - _FIELDS)
    if unknown:
        raise InternalError(f"run {row.id}: unknown field(s) {', '.join(unknown)}; runs have {', '.join(sorted(_FIELDS))}")
    for name, value in fields.items():
        setattr(row, name, value)
    row.updated_at = utcnow()


def _row(session: Session, run_id: int | str) -> RunRow:
    text = str(run_id).strip()
    row = session.get(RunRow, row_id) if (row_id := id_of(text)) is not None else None
    if row is None:
        raise NotFound(f"no run with id {text!r}; see `spark-trainer run list`")
    return row


def row_for(session: Session, run_id: int | str) -> RunRow:
    return _row(session, run_id)


def _record(session: Session, row: RunRow, to: RunStatus, reason: str) -> None:
    session.add(
        RunEventRow(run_id=row.id, from_status=row.status, to_status=to.value, reason=reason, created_at=utcnow())
    )
    row.status = to.value
    row.updated_at = utcnow()
    if to not in (RunStatus.RUNNING, RunStatus.STALLED):
        row.phase = None  # a start-up step only means something while its worker lives


def create(
    store: Store,
    experiment: str | int,
    *,
    requested_gpus: str = "auto",
    priority: int = 0,
    total_steps: int | None = None,
    resume_of_id: int | None = None,
    sweep: str | None = None,
    sweep_values: dict[str, Any] | None = None,
    dataset_id: int | None = None,
) -> Run:
    """A new queued run with a new, empty folder `runs/<id>/` in the data home; `sweep` and
    `sweep_values` name the sweep that queued it and the values it gave the run; `dataset_id` the
    dataset it trains on (its frozen config's; deletes check it, see store/in_use.py).

    Raises Conflict (nothing recorded) if that folder already exists: it belongs to a run this
    database no longer knows (kept files of a deleted run, or a replaced database), and a new run
    must never adopt its checkpoints.
    """
    new = NewRun(requested_gpus, priority, total_steps, resume_of_id, sweep, dict(sweep_values or {}),
                 dataset_id=dataset_id)
    with store.write() as session:
        return _add(store, session, experiments.row_for(session, experiment), new)


@dataclass(frozen=True)
class NewRun:
    """What `create_all` records of one run (`create`'s arguments), and the notes it starts with."""

    requested_gpus: str = "auto"
    priority: int = 0
    total_steps: int | None = None
    resume_of_id: int | None = None
    sweep: str | None = None
    sweep_values: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    dataset_id: int | None = None  # the dataset the run trains on; None: its experiment's


def create_all(store: Store, experiment: str | int, new: Sequence[NewRun], fill: Callable[[Run, int], None]
               ) -> list[Run]:
    """Queued runs of `experiment`, all or none: each one's row and folder, then `fill(run, index)`
    writes its files, in one write transaction. When any step fails (a folder that exists, as in
    `create`; a `fill` that cannot write) the transaction is rolled back, which needs no disk space,
    and the folders made here are removed before the error is raised: no run is recorded, and no
    scheduler saw one meanwhile."""
    made: list[Path] = []
    try:
        with store.write() as session:
            exp = experiments.row_for(session, experiment)
            queued = []
            for index, one in enumerate(new):
                run = _add(store, session, exp, one)
                made.append(Path(run.run_dir))
                fill(run, index)
                queued.append(run)
            if new and new[0].sweep is not None:  # the sweep's plan, whole with its runs or not at all
                sweeps.record_plan(session, new[0].sweep, [one.sweep_values for one in new], utcnow())
            return queued
    except BaseException:
        for folder in made:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _add(store: Store, session: Session, exp: ExperimentRow, new: NewRun) -> Run:
    row = RunRow(experiment_id=exp.id, status=RunStatus.QUEUED.value, requested_gpus=new.requested_gpus, gpus=[],
                 priority=new.priority, step=0, total_steps=new.total_steps, run_dir="", resume_of_id=new.resume_of_id,
                 sweep=new.sweep, sweep_values=dict(new.sweep_values), uuid=uuidlib.uuid4().hex, created_at=utcnow(),
                 dataset_id=new.dataset_id if new.dataset_id is not None else exp.dataset_id)
    row.updated_at = row.created_at
    session.add(row)
    session.flush()
    folder = store.home.run_dir(row.id)
    try:
        folder.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise Conflict(f"run folder {folder} already exists but belongs to no run in this database (kept "
                       "files of a deleted run, or the database was replaced); it was left untouched. Move "
                       "or delete it, then submit again") from None
    row.run_dir = str(folder)
    queued = RunStatus.QUEUED.value
    session.add(RunEventRow(run_id=row.id, from_status=None, to_status=queued, reason="submitted",
                            created_at=row.created_at))
    session.add_all(RunEventRow(run_id=row.id, from_status=queued, to_status=queued, reason=note,
                                created_at=row.created_at) for note in new.notes)
    projects.touch(session, exp.project_id)
    session.flush()
    return _entity(row, exp)


# `transition(expect_pid=...)` default: any worker. Never a real pid; None means "no worker yet".
ANY_PID = -1


def transition(
    store: Store,
    run_id: int | str,
    to: RunStatus,
    reason: str,
    *,
    expect: set[RunStatus] | None = None,
    expect_pid: int | None = ANY_PID,
    **fields: Any,
) -> Run:
    """Move a run to `to`, recording an event; optionally only from one of `expect`, and only
    while its worker is still `expect_pid` (None: no worker recorded yet).

    Raises BadInput when the run is not in one of `expect` or has another worker by now (the
    caller's request does not fit the run any more), IllegalTransition when the lifecycle never
    allows the move (a bug).
    """
    with store.write() as session:
        row = _row(session, run_id)
        current = RunStatus(row.status)
        if expect is not None and current not in expect:
            wanted = ", ".join(sorted(s.value for s in expect))
            raise BadInput(f"run {row.id} is {current.value}; this needs it to be {wanted}")
        if expect_pid != ANY_PID and row.pid != expect_pid:
            raise BadInput(f"run {row.id} has another worker by now (pid {row.pid}, not {expect_pid})")
        if to != current and to not in ALLOWED[current]:
            raise IllegalTransition(f"run {row.id} is {current.value} and cannot become {to.value}")
        _set_fields(row, fields)
        if to != current:
            _record(session, row, to, reason)
        now = utcnow()
        if to == RunStatus.RUNNING and row.started_at is None:
            row.started_at = now
        if to.is_finished or to in (RunStatus.PAUSED, RunStatus.INTERRUPTED):
            row.finished_at = now
        if to == RunStatus.QUEUED:
            row.finished_at = None
            row.error = fields.get("error")
        session.flush()
        return _entity(row, session.get(ExperimentRow, row.experiment_id))


def update(store: Store, run_id: int | str, **fields: Any) -> None:
    """Progress, heartbeat, pid and the like: fields only, no status change.

    Raises InternalError for a field runs do not have (or `status`: use `transition`)."""
    if "status" in fields:
        raise InternalError("use transition() to change a run's status")
    with store.write() as session:
        _set_fields(_row(session, run_id), fields)


def beat(store: Store, run_id: int | str, phase: str | None = None) -> RunStatus:
    """A worker's heartbeat, with what its start-up is doing (`phase`; None once it trains). A run
    marked stalled whose worker beats again is running again."""
    with store.write() as session:
        row = _row(session, run_id)
        _set_fields(row, {"heartbeat_at": utcnow(), "phase": phase[:200] if phase else None})
        if row.status == RunStatus.STALLED.value:
            _record(session, row, RunStatus.RUNNING, "heartbeat resumed")
        return RunStatus(row.status)


def get(store: Store, run_id: int | str) -> Run:
    with store.read() as session:
        row = _row(session, run_id)
        return _entity(row, session.get(ExperimentRow, row.experiment_id))


def list_all(
    store: Store,
    *,
    project: str | int | None = None,
    experiment: str | int | None = None,
    statuses: set[RunStatus] | None = None,
    sweep: str | None = None,
) -> list[Run]:
    with store.read() as session:
        query = _listing()
        if project is not None:
            query = query.where(ExperimentRow.project_id == projects.row_for(session, project).id)
        if experiment is not None:
            query = query.where(RunRow.experiment_id == experiments.row_for(session, experiment, project).id)
        if statuses:
            query = query.where(RunRow.status.in_([s.value for s in statuses]))
        if sweep is not None:
            query = query.where(projects.same_name(RunRow.sweep, sweep))  # as typed, in NFC or not
        return [_listed(m) for m in session.execute(query)]


def changed_since(store: Store, since: datetime | None) -> tuple[list[Run], set[int]]:
    """Runs written at or after `since` (all runs when None), and the ids of every run that exists.

    For views that refresh on a timer: with years of history, reading every run each tick is the
    cost; this reads the few that changed (an index range on `updated_at`) plus a list of ids, so
    deleted runs can be dropped too.
    """
    with store.read() as session:
        query = _listing()
        if since is not None:
            query = query.where(RunRow.updated_at >= since)
        found = [_listed(m) for m in session.execute(query)]
        ids = set(session.scalars(select(RunRow.id)))
        return found, ids


def events(store: Store, run_id: int | str) -> list[RunEvent]:
    with store.read() as session:
        row = _row(session, run_id)
        query = select(RunEventRow).where(RunEventRow.run_id == row.id).order_by(RunEventRow.id)
        return [
            RunEvent(id=e.id, run_id=e.run_id, from_status=e.from_status, to_status=e.to_status,
                     reason=e.reason, created_at=e.created_at)
            for e in session.scalars(query)
        ]


def delete(store: Store, run_id: int | str) -> Run:
    """Delete a run's rows (metrics, events, artifacts, exports by cascade). Active runs must be stopped first."""
    return delete_with_exports(store, run_id)[0]


def delete_with_exports(store: Store, run_id: int | str) -> tuple[Run, list[str]]:
    """`delete`, also returning the folders of the run's exports, whose records went with it."""
    from spark_trainer.store.exports import folders_of  # exports reads runs

    with store.write() as session:
        row = _row(session, run_id)
        in_use.refuse_if_in_use(session, "run", row.id)
        entity = _entity(row, session.get(ExperimentRow, row.experiment_id))
        export_dirs = folders_of(session, [row.id])
        session.delete(row)
        return entity, export_dirs


def note(store: Store, run_id: int | str, reason: str) -> RunEvent:
    """Record an event that is not a status change (e.g. "retrying with micro-batch 4")."""
    with store.write() as session:
        row = _row(session, run_id)
        event = RunEventRow(run_id=row.id, from_status=row.status, to_status=row.status, reason=reason,
                            created_at=utcnow())
        session.add(event)
        session.flush()
        return RunEvent(id=event.id, run_id=event.run_id, from_status=event.from_status,
                        to_status=event.to_status, reason=event.reason, created_at=event.created_at)


# A scheduler's choice: given (queued runs in priority order, active runs), which runs to start and
# on which GPUs, with a reason for the event.
Picker = Callable[[Sequence[Run], Sequence[Run]], Sequence[tuple[int, list[int], str]]]


def claim(store: Store, pick: Picker, hold: Callable[[Run], None] | None = None) -> list[Run]:
    """Atomically move the runs `pick` chooses from queued to starting, with their GPUs; `hold(run)` is
    called for each before the transaction commits (the scheduler locks the claim: jobs/claim_lock.py).
    A claimed run's `heartbeat_at` is its claim time, which names the claim until a worker records itself.

    The whole look-and-claim happens in one write transaction (BEGIN IMMEDIATE), so schedulers in
    several processes never start the same run twice or hand out the same GPU twice; and nothing is
    claimed while the queue is held (`queue_hold`), read in that transaction: a `queue hold` that
    landed after the scheduler's first look, and said the runs stay queued, is kept.
    """
    with store.write() as session:
        if queue_hold.held_in(session):
            return []
        query = select(RunRow, ExperimentRow).join(ExperimentRow)
        queued_q = query.where(RunRow.status == RunStatus.QUEUED.value).order_by(RunRow.priority.desc(), RunRow.id)
        active_q = query.where(RunRow.status.in_([s.value for s in RunStatus if s.is_active]))
        queued = [_entity(r, e) for r, e in session.execute(queued_q)]
        active = [_entity(r, e) for r, e in session.execute(active_q)]
        if not queued:
            return []
        claimed = []
        now = utcnow()
        for run_id, gpus, reason in pick(queued, active):
            row = session.get(RunRow, run_id)
            if row is None or row.status != RunStatus.QUEUED.value:
                continue
            _record(session, row, RunStatus.STARTING, reason)
            row.updated_at = now
            row.gpus = list(gpus)
            row.pid = None
            row.pid_start_time = None
            row.heartbeat_at = now
            row.error = None
            claimed.append(row)
        session.flush()
        entities = [_entity(row, session.get(ExperimentRow, row.experiment_id)) for row in claimed]
        for run in entities if hold is not None else ():
            hold(run)
        return entities


def unclaim(store: Store, run_ids: Sequence[int], reason: str, *,
            claimed_at: dict[int, datetime] | None = None) -> list[int]:
    """`claim` undone for runs whose scheduler stopped before it handed them to a worker: each still
    starting with no worker recorded (and, for a run in `claimed_at`, still that claim: claimed at that
    time) goes back to queued, with `reason` as its event. No process can be training one (only its
    claimer spawns its worker), so it is as it was before the claim; without this it stayed starting
    until reconcile gave up on its spawn. The ids put back."""
    back = []
    with store.write() as session:
        for run_id in run_ids:
            row = session.get(RunRow, run_id)
            if row is None or row.status != RunStatus.STARTING.value or row.pid is not None:
                continue  # cancelled meanwhile, or a worker recorded itself after all
            if claimed_at is not None and run_id in claimed_at and row.heartbeat_at != claimed_at[run_id]:
                continue  # claimed again since
            _record(session, row, RunStatus.QUEUED, reason)
            row.gpus, row.heartbeat_at = [], None
            back.append(run_id)
    return back
