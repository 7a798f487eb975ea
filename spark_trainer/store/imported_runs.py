"""Runs brought in from elsewhere (a cluster job folder): written, or rewritten, in one transaction.

The run is found again by its uuid (the job's), so importing the same job twice updates one run.
Its folder is moved into `runs/<id>/` inside the transaction; if anything fails, the folder moves
back and no row is committed. An update replaces the run's folder, metrics, events and artifacts
with the job's, so it is refused when the run holds work done here since its import (`_local_work`):
training (a resume or extend), or evaluations and samples saved here.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spark_trainer.errors import Conflict
from spark_trainer.store import datasets, metric_packs, projects, runs
from spark_trainer.store.entities import Run, RunStatus, utcnow
from spark_trainer.store.models import (
    ArtifactRow,
    ExperimentRow,
    MetricBlockRow,
    MetricRow,
    MetricSeriesRow,
    ProjectRow,
    RunEventRow,
    RunRow,
)
from spark_trainer.store.store import Store


@dataclass
class ImportedRun:
    """Everything an import writes. Paths of artifacts are relative to the run folder."""

    uuid: str
    project: str
    experiment: str
    recipe: str
    base_model: str
    experiment_config: dict[str, Any]
    status: RunStatus
    ran_on: str
    requested_gpus: str
    step: int
    total_steps: int | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    dataset_id: int | None = None  # an existing dataset of the project
    new_dataset: datasets.NewDataset | None = None  # else: registered from `dataset_staging`
    dataset_staging: Path | None = None
    events: list[tuple[str | None, str, str, datetime]] = field(default_factory=list)
    metrics: list[tuple[str, int, float, float]] = field(default_factory=list)
    artifacts: list[tuple[str, str, int | None, dict[str, Any], datetime | None]] = field(default_factory=list)
    notes: str = ""
    job_dir: str = ""  # where it is imported from: named in a refusal


IMPORTED_FROM = "imported from "  # the reason of the event an import ends with: `_local_work` looks for it
AS_NEW_OF = "imported as a new run of job "  # + the job's uuid: `holding` finds the job's `--as-new` imports by it


def holding(store: Store, job_uuid: str) -> list[int]:
    """The ids of the runs holding imports of the job, oldest first: the run keeping its uuid and the runs
    it was imported into `--as-new` (seen: a second `--as-new` named only the first of two)."""
    with store.read() as session:
        found = set(session.scalars(select(RunRow.id).where(RunRow.uuid == job_uuid)))
        found.update(session.scalars(select(RunEventRow.run_id).where(
            RunEventRow.reason.startswith(f"{AS_NEW_OF}{job_uuid}", autoescape=True))))
    return sorted(found)


def name_runs(ids: list[int]) -> str:
    """"run 2", "runs 2 and 3", "runs 2, 3 and 5"."""
    if len(ids) == 1:
        return f"run {ids[0]}"
    return f"runs {', '.join(map(str, ids[:-1]))} and {ids[-1]}"


def save(store: Store, imp: ImportedRun, run_staging: Path) -> tuple[Run, bool]:
    """Create or update the run (and its project, dataset, experiment if missing); returns
    (run, whether it existed). `run_staging` becomes the run's folder."""
    moves: list[tuple[Path, Path]] = []  # (where it went, where it came from): undone on failure
    aside: list[Path] = []
    try:
        with store.write() as session:
            project = _project(session, imp.project)
            dataset_id = _dataset(store, session, project, imp, moves)
            experiment = _experiment(session, project, imp, dataset_id)
            row, existed = _run_row(session, experiment, imp)
            target = store.home.run_dir(row.id)
            if target.exists():  # the previous import's folder (or an orphan): replaced once this commits
                old = target.with_name(f".{target.name}.replaced-{uuidlib.uuid4().hex[:8]}")
                os.replace(target, old)
                moves.append((old, target))
                aside.append(old)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(run_staging, target)
            moves.append((target, run_staging))
            from spark_trainer.training.checkpoints import write_identity

            write_identity(target, row.id, imp.uuid)
            row.run_dir = str(target)
            _children(session, row.id, imp, target)
            projects.touch(session, project.id)
            session.flush()
            entity = runs._entity(row, experiment)
    except BaseException:
        for went, came in reversed(moves):
            if went.exists() and not came.exists():
                os.replace(went, came)
        raise
    for old in aside:
        shutil.rmtree(old, ignore_errors=True)
    return entity, existed


def _project(session: Session, name: str) -> ProjectRow:
    row = session.scalar(select(ProjectRow).where(projects.same_name(ProjectRow.name, name)).order_by(ProjectRow.id)
                         .limit(1))
    if row is None:
        now = utcnow()
        row = ProjectRow(name=projects.validate_name(name), description="", created_at=now, updated_at=now)
        session.add(row)
        session.flush()
    return row


def _dataset(store: Store, session: Session, project: ProjectRow, imp: ImportedRun,
             moves: list[tuple[Path, Path]]) -> int | None:
    if imp.dataset_id is not None or imp.new_dataset is None:
        return imp.dataset_id
    row, _name = datasets._insert(session, project.id, imp.new_dataset)
    if imp.dataset_staging is not None:
        target = store.home.dataset_dir(row.id)
        if target.exists():
            target.rename(target.with_name(f"{row.id}.orphan-{uuidlib.uuid4().hex[:8]}"))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(imp.dataset_staging, target)
        moves.append((target, imp.dataset_staging))
        row.path = str(target)
    imp.dataset_id = row.id  # the caller's run config names it
    return row.id


def _experiment(session: Session, project: ProjectRow, imp: ImportedRun, dataset_id: int | None) -> ExperimentRow:
    row = session.scalar(select(ExperimentRow).where(ExperimentRow.project_id == project.id,
                                                     projects.same_name(ExperimentRow.name, imp.experiment))
                         .order_by(ExperimentRow.id).limit(1))
    if row is None:
        config = dict(imp.experiment_config)
        if dataset_id is not None:
            config["dataset"] = str(dataset_id)
        row = ExperimentRow(project_id=project.id, dataset_id=dataset_id, name=projects.nfc(imp.experiment), recipe=imp.recipe,
                            base_model=imp.base_model, config=config, notes=imp.notes, created_at=utcnow())
        session.add(row)
        session.flush()
    elif row.recipe != imp.recipe:
        raise Conflict(f"experiment {imp.experiment!r} in project {project.name!r} uses recipe {row.recipe!r}, "
                       f"the job {imp.recipe!r}; rename one of them")
    return row


def _run_row(session: Session, experiment: ExperimentRow, imp: ImportedRun) -> tuple[RunRow, bool]:
    row = session.scalar(select(RunRow).where(RunRow.uuid == imp.uuid))
    existed = row is not None
    if row is None:
        row = RunRow(experiment_id=experiment.id, uuid=imp.uuid, run_dir="", created_at=imp.created_at, gpus=[])
        session.add(row)
    else:
        if row.experiment_id != experiment.id:
            raise Conflict(f"run {row.id} (this job's earlier import) belongs to another experiment now; "
                           "delete it to import the job again")
        status = RunStatus(row.status)
        imported_live = status == RunStatus.RUNNING and row.pid is None  # an earlier import of a running job
        if status == RunStatus.QUEUED or (status.is_active and not imported_live):
            raise Conflict(f"run {row.id} is training here (resumed after an earlier import); stop it before "
                           "importing the job again")
        lost = _local_work(session, row, imp)
        if lost:
            again = f"spark-trainer run import {imp.job_dir or 'DIR'} --as-new"
            raise Conflict(f"run {row.id} has {' and '.join(lost)} since it was imported; importing the job again "
                           f"would replace that with the job folder (step {imp.step}): import it as a new run "
                           f"(`{again}`), or delete run {row.id} first (`spark-trainer run delete {row.id}`)")
        for model in (MetricRow, MetricBlockRow, MetricSeriesRow, RunEventRow, ArtifactRow):
            session.execute(delete(model).where(model.run_id == row.id))
    row.status = imp.status.value
    row.dataset_id = imp.dataset_id if imp.dataset_id is not None else experiment.dataset_id  # its config names it
    row.ran_on = imp.ran_on
    row.requested_gpus = imp.requested_gpus
    row.gpus, row.pid, row.pid_start_time = [], None, None
    row.step, row.total_steps, row.eta_seconds = imp.step, imp.total_steps, None
    row.error = imp.error
    row.started_at, row.finished_at, row.heartbeat_at = imp.started_at, imp.finished_at, imp.heartbeat_at
    row.updated_at = utcnow()
    session.flush()
    return row, existed


def _local_work(session: Session, row: RunRow, imp: ImportedRun) -> list[str]:
    """What replacing the run with `imp` would lose: what was done here since its last import, and is not in
    the job folder (seen: an extend's steps and checkpoints were deleted by a second `run import`)."""
    from spark_trainer.training.checkpoints import checkpoint_step, list_checkpoints

    imported = session.scalar(select(func.max(RunEventRow.id)).where(
        RunEventRow.run_id == row.id, RunEventRow.reason.startswith(IMPORTED_FROM, autoescape=True)))
    requeued = session.scalar(select(func.count()).select_from(RunEventRow).where(
        RunEventRow.run_id == row.id, RunEventRow.id > (imported or 0),
        RunEventRow.to_status == RunStatus.QUEUED.value))
    lost = []
    folder = Path(row.run_dir) if row.run_dir else None
    if requeued:  # resumed or extended here: its checkpoints the job does not have
        in_job = {step for kind, _path, step, _meta, _when in imp.artifacts if kind == "checkpoint"}
        own = [p.name for p in list_checkpoints(folder) if checkpoint_step(p) not in in_job] if folder else []
        kept = f"checkpoint{'s' if len(own) > 1 else ''} {', '.join(own)}" if own else ""
        start = _resumed_from(session, row.id, imported or 0)
        if row.step > imp.step or (start is not None and row.step > start):
            first = imp.step if start is None else start
            since = f" after a resume from checkpoint {start}" if start is not None else ""
            lost.append(f"trained here (steps {first + 1}-{row.step}{since}{', ' + kept if kept else ''})")
        else:  # resumed, but not (yet) past the job's step
            lost.append(f"been resumed here (now at step {row.step}{', ' + kept if kept else ''})")
    in_job_paths = {str(folder / relative) for _kind, relative, *_rest in imp.artifacts} if folder else set()
    saved: dict[str, int] = {}
    for kind, path in session.execute(select(ArtifactRow.kind, ArtifactRow.path).where(ArtifactRow.run_id == row.id)):
        if kind != "checkpoint" and path not in in_job_paths and Path(path).exists():
            saved[kind] = saved.get(kind, 0) + 1
    if saved:
        lost.append("saved " + ", ".join(f"{n} {kind.replace('_', ' ')}{'s' if n > 1 else ''}"
                                         for kind, n in sorted(saved.items())) + " here")
    return lost


def _resumed_from(session: Session, run_id: int, after_event: int) -> int | None:
    """The earliest checkpoint step a resume here started from since the event `after_event` (the import),
    or None when no resume recorded one: steps past it were trained here, even those the job had reached
    (seen: "steps 391-601" for a run resumed here from checkpoint 380)."""
    reasons = session.scalars(select(RunEventRow.reason).where(
        RunEventRow.run_id == run_id, RunEventRow.id > after_event,
        RunEventRow.reason.startswith(runs.RESUMED_FROM, autoescape=True)))
    steps = [int(m.group()) for r in reasons if (m := re.match(r"\d+", r[len(runs.RESUMED_FROM):]))]
    return min(steps, default=None)


def _children(session: Session, run_id: int, imp: ImportedRun, folder: Path) -> None:
    for from_status, to_status, reason, when in imp.events:
        session.add(RunEventRow(run_id=run_id, from_status=from_status, to_status=to_status, reason=reason,
                                created_at=when))
    if imp.metrics:
        # Through the store's one write path for points: summaries kept, long series packed.
        metric_packs.add_points(session, run_id, [(k, s, v, t) for k, s, v, t in imp.metrics])
    for kind, relative, step, meta, when in imp.artifacts:
        session.add(ArtifactRow(run_id=run_id, kind=kind, path=str(folder / relative), step=step, meta=meta,
                                created_at=when or utcnow()))
