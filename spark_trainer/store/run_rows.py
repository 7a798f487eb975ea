"""A runs row as the `Run` the store hands out: one ORM row with its experiment's (`entity`), or the
plain columns a listing selects (`listing`, `listed`; `runs.list_all`, `runs.changed_since`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.models import ExperimentRow, RunRow


def entity(row: RunRow, exp: ExperimentRow) -> Run:
    """The run of an ORM row, with its experiment's name, project and recipe."""
    return Run(
        id=row.id,
        experiment_id=row.experiment_id,
        experiment=exp.name,
        project_id=exp.project_id,
        recipe=exp.recipe,
        status=RunStatus(row.status),
        requested_gpus=row.requested_gpus,
        gpus=list(row.gpus or []),
        priority=row.priority,
        pid=row.pid,
        pid_start_time=row.pid_start_time,
        step=row.step,
        total_steps=row.total_steps,
        eta_seconds=row.eta_seconds,
        heartbeat_at=row.heartbeat_at,
        run_dir=row.run_dir,
        error=row.error,
        resume_of_id=row.resume_of_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        uuid=row.uuid,
        updated_at=row.updated_at,
        ran_on=row.ran_on or "local",
        sweep=row.sweep,
        sweep_values=dict(row.sweep_values or {}),
        phase=row.phase,
        dataset_id=row.dataset_id,
        deleted_dataset=row.deleted_dataset,
    )


# Listing many runs (the Runs view, the leaderboard, every scheduler tick) selects plain columns:
# building ORM objects costs several times more than SQLite's part with years of history.
_LISTED = (*RunRow.__table__.columns, ExperimentRow.name.label("experiment_name"),
           ExperimentRow.project_id.label("experiment_project_id"), ExperimentRow.recipe.label("experiment_recipe"))


def listing() -> Any:
    """A select of every run's plain columns with its experiment's, in id order (narrow it with `where`)."""
    return select(*_LISTED).join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id).order_by(RunRow.id)


def listed(m: Any) -> Run:
    """The run of one row that `listing` selected."""
    return Run(
        id=m.id, experiment_id=m.experiment_id, experiment=m.experiment_name, project_id=m.experiment_project_id,
        recipe=m.experiment_recipe, status=RunStatus(m.status), requested_gpus=m.requested_gpus,
        gpus=list(m.gpus or []), priority=m.priority, pid=m.pid, pid_start_time=m.pid_start_time, step=m.step,
        total_steps=m.total_steps, eta_seconds=m.eta_seconds, heartbeat_at=m.heartbeat_at, run_dir=m.run_dir,
        error=m.error, resume_of_id=m.resume_of_id, created_at=m.created_at, started_at=m.started_at,
        finished_at=m.finished_at, uuid=m.uuid, updated_at=m.updated_at, ran_on=m.ran_on or "local",
        sweep=m.sweep, sweep_values=dict(m.sweep_values or {}), phase=m.phase,
        dataset_id=m.dataset_id, deleted_dataset=m.deleted_dataset,
    )
