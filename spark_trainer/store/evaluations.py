"""Evaluation jobs: one row per `eval` request, from queued to a result (or an error)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from spark_trainer.errors import NotFound
from spark_trainer.store import metric_packs, runs
from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import ArtifactRow, EvaluationRow
from spark_trainer.store.store import Store

ACTIVE = ("queued", "running")
FINISHED = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Evaluation:
    id: int
    run_id: int
    task: str
    data_path: str
    base: bool
    checkpoint: str
    step: int | None
    status: str
    gpus: list[int]
    pid: int | None
    pid_start_time: float | None
    done: int
    total: int
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @property
    def weights(self) -> str:
        """What was evaluated, as the run page and `eval --list` show it: "base model", "step 30" once the
        worker found the checkpoint, else the checkpoint asked for ("last", "best")."""
        if self.base:
            return "base model"
        return f"step {self.step}" if self.step is not None else self.checkpoint


def _entity(row: EvaluationRow) -> Evaluation:
    return Evaluation(id=row.id, run_id=row.run_id, task=row.task, data_path=row.data_path, base=bool(row.base),
                      checkpoint=row.checkpoint, step=row.step, status=row.status, gpus=list(row.gpus or []),
                      pid=row.pid, pid_start_time=row.pid_start_time, done=row.done, total=row.total,
                      result=dict(row.result) if row.result is not None else None, error=row.error,
                      created_at=row.created_at, finished_at=row.finished_at)


def create(store: Store, run_id: int, *, task: str, data_path: str, base: bool, checkpoint: str,
           gpus: list[int]) -> Evaluation:
    with store.write() as session:
        row = EvaluationRow(run_id=run_id, task=task, data_path=data_path, base=base, checkpoint=checkpoint,
                            status="queued", gpus=gpus, done=0, total=0, created_at=utcnow())
        session.add(row)
        session.flush()
        return _entity(row)


def get(store: Store, evaluation_id: int) -> Evaluation:
    with store.read() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFound(f"no evaluation with id {evaluation_id}")
        return _entity(row)


def update(store: Store, evaluation_id: int, **fields: Any) -> Evaluation:
    """Set fields; a finishing status also stamps `finished_at`."""
    with store.write() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFound(f"no evaluation with id {evaluation_id}")
        for name, value in fields.items():
            setattr(row, name, value)
        if fields.get("status") in FINISHED and row.finished_at is None:
            row.finished_at = utcnow()
        session.flush()
        return _entity(row)


def complete(store: Store, evaluation_id: int, *, step: int | None, result: dict[str, Any],
             points: list[tuple[str, int, float]], report_path: str | None, artifact_meta: dict[str, Any]) -> Evaluation:
    """Finish an evaluation in one transaction: its metric points and report artifact on the run (when
    `report_path` is given) and its completed status land together, or none of them does, so a worker
    killed at this moment never leaves metrics for an evaluation that shows failed."""
    with store.write() as session:
        row = session.get(EvaluationRow, evaluation_id)
        if row is None:
            raise NotFound(f"no evaluation with id {evaluation_id}")
        if report_path is not None:
            now = time.time()
            if points:
                metric_packs.add_points(session, row.run_id, [(k, s, v, now) for k, s, v in points])
            session.add(ArtifactRow(run_id=row.run_id, kind="evaluation", path=report_path, step=step,
                                    meta=artifact_meta, created_at=utcnow()))
        row.status, row.step, row.result = "completed", step, result
        if row.finished_at is None:
            row.finished_at = utcnow()
        session.flush()
        return _entity(row)


def list_for(store: Store, run_id: int | str) -> list[Evaluation]:
    with store.read() as session:
        run = runs.row_for(session, run_id)
        query = select(EvaluationRow).where(EvaluationRow.run_id == run.id).order_by(EvaluationRow.id.desc())
        return [_entity(r) for r in session.scalars(query)]


def list_all(store: Store, *, base: bool | None = None, status: str | None = None) -> list[Evaluation]:
    with store.read() as session:
        query = select(EvaluationRow).order_by(EvaluationRow.id)
        if base is not None:
            query = query.where(EvaluationRow.base == base)
        if status is not None:
            query = query.where(EvaluationRow.status == status)
        return [_entity(r) for r in session.scalars(query)]


def data_names(store: Store, found: list[Evaluation], *, dataset_word: str = "dataset ") -> dict[str, str]:
    """What each evaluation's data is called, by its `data_path`: an ingested dataset by its name, after
    `dataset_word` ('dataset chat' in `eval --list` and the run page; 'chat' on a model card), as its
    folder is only a number (datasets/1); a file or folder of the user's by its own name. Where two of
    `found`'s data would read alike (datasets named `train` in two projects, two `test.jsonl` in two
    folders), each of those is qualified: `PROJECT/NAME` for a dataset, the folder above for a file, so
    that the leaderboard, `compare` and a run's evaluation charts never take one for the other."""
    from collections import Counter

    from spark_trainer.store import datasets

    known = {str(Path(d.path).resolve()): d for d in datasets.list_all(store) if d.path} if found else {}
    resolved = {e.data_path: str(Path(e.data_path).resolve()) for e in found}
    plain = {path: known[path].name if path in known else Path(path).name for path in set(resolved.values())}
    alike = Counter(plain.values())
    names = {}
    for data_path, path in resolved.items():
        dataset = known.get(path)
        if alike[plain[path]] < 2:
            name = plain[path]
        elif dataset is not None:
            name = f"{dataset.project}/{dataset.name}"
        else:
            name = str(Path(Path(path).parent.name, Path(path).name))
        names[data_path] = f"{dataset_word}{name}" if dataset is not None else name
    return names
