"""A queued run's priority: among queued runs the scheduler starts the highest first, ties in the order
they were submitted (`runs.claim`). Set at submit from the run file's `priority:`; changed here while
the run waits (`spark-trainer run priority RUN N`)."""

from __future__ import annotations

from collections.abc import Iterable

from spark_trainer.errors import BadInput
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus, utcnow
from spark_trainer.store.models import RunEventRow
from spark_trainer.store.store import Store

LOWEST, HIGHEST = -100, 100  # as the run file's `priority:` (config.schema.RunConfig)


def set_priority(store: Store, run_id: int | str, priority: int) -> tuple[Run, int]:
    """Give a queued run another priority, recorded as a run event; returns the run and its old priority.
    Refuses a run that is not queued (its priority orders nothing any more) and a value out of range."""
    if not LOWEST <= priority <= HIGHEST:
        raise BadInput(f"priority {priority}: must be from {LOWEST} to {HIGHEST} (higher starts first)")
    with store.write() as session:
        row = runs.row_for(session, run_id)
        if row.status != RunStatus.QUEUED.value:
            raise BadInput(f"run {row.id} is {row.status}; only a queued run's priority can change (it orders "
                           f"the queue)")
        before = row.priority
        if priority != before:
            row.priority, row.updated_at = priority, utcnow()
            session.add(RunEventRow(run_id=row.id, from_status=row.status, to_status=row.status,
                                    reason=f"priority {before} -> {priority}", created_at=utcnow()))
    return runs.get(store, row.id), before


def start_order(queued: Iterable[Run]) -> list[Run]:
    """Queued runs in the order a scheduler takes them (`runs.claim`): highest priority first, ties in
    the order they were queued. Whether each fits its GPUs now is the scheduler's (`waiting_reasons`)."""
    return sorted(queued, key=lambda run: (-run.priority, run.id))


def changed_line(run: Run, before: int) -> str:
    """What a priority change did, in one line ("run 7 priority 5 (was 0)"): `run priority` and the app say it."""
    was = f" (was {before})" if before != run.priority else " (unchanged)"
    return f"run {run.id} priority {run.priority}{was}"
