"""Failures that say something about the runs still queued: the newest run that failed for a reason
(a full disk), if no run was started since.

Events are read newest first by id (ids are never reused and only grow), so the query stops at the
last start, however long the history.
"""

from __future__ import annotations

from sqlalchemy import select

from spark_trainer.errors import NotFound
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.models import RunEventRow
from spark_trainer.store.store import Store


def failed_since_last_start(store: Store, reason: str) -> Run | None:
    """The run whose failure, recorded with the event reason `reason`, is the newest one since a
    scheduler last started a run (queued -> starting), while that run is still failed; else None.
    A run started after the failure, or the failed run resumed or deleted, ends what it says."""
    from spark_trainer.store import runs

    with store.read() as session:
        last_start = session.scalar(
            select(RunEventRow.id).where(RunEventRow.to_status == RunStatus.STARTING.value)
            .order_by(RunEventRow.id.desc()).limit(1)) or 0
        run_id = session.scalar(
            select(RunEventRow.run_id).where(RunEventRow.id > last_start,
                                             RunEventRow.to_status == RunStatus.FAILED.value,
                                             RunEventRow.reason == reason)
            .order_by(RunEventRow.id.desc()).limit(1))
    if run_id is None:
        return None
    try:
        run = runs.get(store, run_id)
    except NotFound:  # deleted just now
        return None
    return run if run.status == RunStatus.FAILED else None
