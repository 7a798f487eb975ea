"""Artifacts: checkpoints, final models, samples, reports and exports recorded against a run."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from spark_trainer.store import runs
from spark_trainer.store.entities import Artifact, utcnow
from spark_trainer.store.models import ArtifactRow
from spark_trainer.store.store import Store


def _entity(row: ArtifactRow) -> Artifact:
    return Artifact(id=row.id, run_id=row.run_id, kind=row.kind, path=row.path, step=row.step,
                    meta=dict(row.meta or {}), created_at=row.created_at)


def add(store: Store, run_id: int, kind: str, path: str, *, step: int | None = None,
        meta: dict[str, Any] | None = None) -> Artifact:
    with store.write() as session:
        row = ArtifactRow(run_id=run_id, kind=kind, path=path, step=step, meta=meta or {}, created_at=utcnow())
        session.add(row)
        session.flush()
        return _entity(row)


def list_for(store: Store, run_id: int | str, kind: str | None = None) -> list[Artifact]:
    with store.read() as session:
        row = runs.row_for(session, run_id)
        query = select(ArtifactRow).where(ArtifactRow.run_id == row.id).order_by(ArtifactRow.id)
        if kind:
            query = query.where(ArtifactRow.kind == kind)
        return [_entity(a) for a in session.scalars(query)]


def remove(store: Store, artifact_id: int) -> None:
    with store.write() as session:
        row = session.get(ArtifactRow, artifact_id)
        if row is not None:
            session.delete(row)


# What training records at a step, and a resume from an earlier checkpoint writes again.
TRAINING_KINDS = ("checkpoint", "sample", "sample_image", "eval_report", "eval_image")


def delete_after(store: Store, run_id: int | str, step: int) -> list[Artifact]:
    """Delete a run's records of what its training wrote past `step` (a resume from the checkpoint at
    `step` writes them again, as its metrics): TRAINING_KINDS with a step > `step`, but never a sample
    saved from the playground. Returns those deleted (their files are the caller's to remove)."""
    with store.write() as session:
        row = runs.row_for(session, run_id)
        query = select(ArtifactRow).where(ArtifactRow.run_id == row.id, ArtifactRow.step > step,
                                          ArtifactRow.kind.in_(TRAINING_KINDS)).order_by(ArtifactRow.id)
        gone = [a for a in session.scalars(query) if (a.meta or {}).get("source") != "playground"]
        for artifact in gone:
            session.delete(artifact)
        return [_entity(a) for a in gone]
