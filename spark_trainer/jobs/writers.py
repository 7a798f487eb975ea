"""Whether a worker writes to the data home now: what moving the home and compacting its database wait for.

A run starting, running or stalled has a worker writing its metrics, checkpoints and status; an
evaluation queued or running has one too (queued until its worker has opened the store: seconds of
imports). Paused and queued runs have none.
"""

from __future__ import annotations

from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def busy_line(store: Store, doing: str = "move the data home", *, app: bool = False) -> str | None:
    """Why `doing` cannot be done now (a run starting/running/stalled, an evaluation queued or running),
    else None. `app`: the pause is the Runs view's, not a command."""
    from spark_trainer.evaluation.jobs import refresh_active
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.store import runs

    reconcile(store)  # a run marked running whose worker is gone is interrupted, not in the way
    active = runs.list_all(store, statuses={RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STALLED})
    if active:
        run = active[0]
        how = "in the Runs view" if app else f"(spark-trainer run pause {run.id})"
        return f"run {run.id} is {run.status.value}; pause it {how} or let it finish, then {doing}"
    # Refreshed: a dead evaluation is failed, not in the way.
    evaluating = refresh_active(store)
    if evaluating:
        return (f"evaluation {evaluating[0].id} of run {evaluating[0].run_id} is running; let it finish, then "
                f"{doing}")
    return None
