"""Experiments: a recipe, a base model, a dataset and a validated config."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spark_trainer.errors import BadInput, Conflict
from spark_trainer.store import datasets, in_use, projects
from spark_trainer.store.entities import Experiment, utcnow
from spark_trainer.store.models import ExperimentRow, ProjectRow, RunRow
from spark_trainer.store.store import Store


def _entity(session: Session, row: ExperimentRow) -> Experiment:
    n_runs = session.scalar(select(func.count(RunRow.id)).where(RunRow.experiment_id == row.id)) or 0
    return Experiment(
        id=row.id,
        project_id=row.project_id,
        project=session.get(ProjectRow, row.project_id).name,
        dataset_id=row.dataset_id,
        name=row.name,
        recipe=row.recipe,
        base_model=row.base_model,
        config=dict(row.config or {}),
        notes=row.notes,
        created_at=row.created_at,
        num_runs=n_runs,
        deleted_dataset=row.deleted_dataset,
    )


def dataset_id_of(experiment: Experiment) -> int:
    """The id of the dataset a run of `experiment` trains on; BadInput when it has none (deleted, or
    never given), naming the deleted one."""
    if experiment.dataset_id is None:
        gone = (f"its dataset {experiment.deleted_dataset!r} was deleted" if experiment.deleted_dataset
                else "it has no dataset")
        raise BadInput(f"experiment {experiment.name!r}: {gone}; recreate it with --dataset")
    return experiment.dataset_id


def row_for(session: Session, ref: str | int, project: str | int | None = None) -> ExperimentRow:
    """The experiment row for a name or id, optionally within a project; ambiguity is an error."""
    return projects.named_row_in_project(session, ExperimentRow, ref, project, "experiment")


def create(
    store: Store,
    *,
    project: str | int,
    name: str,
    recipe: str,
    base_model: str,
    dataset: str | int | None,
    config: dict[str, Any],
    notes: str = "",
) -> Experiment:
    """Record an experiment. `config` must already be validated (see spark_trainer.config)."""
    name = projects.validate_name(name, "experiment")
    with store.write() as session:
        project_row = projects.row_for(session, project)
        dataset_id = None
        if dataset is not None:
            dataset_id = datasets.row_for(session, dataset, project_row.id).id
        clash = select(ExperimentRow.id).where(
            ExperimentRow.project_id == project_row.id, projects.same_name(ExperimentRow.name, name)
        ).limit(1)
        if session.scalar(clash) is not None:
            raise Conflict(f"project {project_row.name!r} already has an experiment named {name!r}")
        row = ExperimentRow(
            project_id=project_row.id,
            dataset_id=dataset_id,
            name=name,
            recipe=recipe,
            base_model=base_model,
            config=config,
            notes=notes,
            created_at=utcnow(),
        )
        session.add(row)
        projects.touch(session, project_row.id)
        session.flush()
        return _entity(session, row)


def get(store: Store, ref: str | int, project: str | int | None = None) -> Experiment:
    with store.read() as session:
        return _entity(session, row_for(session, ref, project))


def list_all(store: Store, project: str | int | None = None) -> list[Experiment]:
    with store.read() as session:
        query = select(ExperimentRow).order_by(ExperimentRow.id)
        if project is not None:
            query = query.where(ExperimentRow.project_id == projects.row_for(session, project).id)
        return [_entity(session, row) for row in session.scalars(query)]


def update_notes(store: Store, ref: str | int, notes: str) -> Experiment:
    with store.write() as session:
        row = row_for(session, ref)
        row.notes = notes
        session.flush()
        return _entity(session, row)


def delete(store: Store, ref: str | int) -> tuple[Experiment, list[str], list[str]]:
    """Delete an experiment and its runs' rows (their exports' with them); returns it, the run folders
    and the export folders left on disk."""
    from spark_trainer.store.exports import folders_of  # exports reads runs, which reads experiments

    with store.write() as session:
        row = row_for(session, ref)
        in_use.refuse_if_in_use(session, "experiment", row.id)
        entity = _entity(session, row)
        found = session.execute(select(RunRow.id, RunRow.run_dir).where(RunRow.experiment_id == row.id)).all()
        export_dirs = folders_of(session, [r.id for r in found])
        session.delete(row)
        return entity, [r.run_dir for r in found if r.run_dir], export_dirs
