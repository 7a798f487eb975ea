"""Exports: a run's Hugging Face folders (checkpoint, options, path) and their Hub URL once pushed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from spark_trainer.errors import NotFound
from spark_trainer.store import runs
from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import ExportRow
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class Export:
    id: int
    run_id: int
    step: int
    options: dict[str, Any]
    path: str
    hub_repo: str | None
    hub_url: str | None
    pushed_at: datetime | None
    created_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    # The folder is gone (the user deleted it): the record stays, as the Hub copy and the history do, and
    # lists say so ("(folder missing)") rather than show a folder that is not there.
    folder_missing: bool = False


def _entity(row: ExportRow) -> Export:
    return Export(id=row.id, run_id=row.run_id, step=row.step, options=dict(row.options or {}), path=row.path,
                  hub_repo=row.hub_repo, hub_url=row.hub_url, pushed_at=row.pushed_at, created_at=row.created_at,
                  folder_missing=not Path(row.path).is_dir())


MISSING_NOTE = " (folder missing)"


def shown_path(export: Export) -> str:
    """The export's folder as lists show it (the CLI's --list, the run view's Exports table)."""
    return export.path + (MISSING_NOTE if export.folder_missing else "")


def add(store: Store, run_id: int, *, step: int, options: dict[str, Any], path: str) -> Export:
    with store.write() as session:
        row = ExportRow(run_id=run_id, step=step, options=options, path=path, created_at=utcnow())
        session.add(row)
        session.flush()
        return _entity(row)


def get(store: Store, export_id: int) -> Export:
    with store.read() as session:
        row = session.get(ExportRow, export_id)
        if row is None:
            raise NotFound(f"no export with id {export_id}")
        return _entity(row)


def list_for(store: Store, run_id: int | str) -> list[Export]:
    """A run's exports, newest first."""
    with store.read() as session:
        run = runs.row_for(session, run_id)
        query = select(ExportRow).where(ExportRow.run_id == run.id).order_by(ExportRow.id.desc())
        return [_entity(r) for r in session.scalars(query)]


def folders_of(session: Session, run_ids: list[int]) -> list[str]:
    """The folders of these runs' exports, read inside a delete's transaction: the rows go with the runs
    (cascade), and the folders are the caller's to remove or keep (spark_trainer.jobs.deletion)."""
    if not run_ids:
        return []
    return list(session.scalars(select(ExportRow.path).where(ExportRow.run_id.in_(run_ids)).order_by(ExportRow.id)))


def folders_for(store: Store, run_ids: list[int]) -> list[str]:
    """`folders_of` as a read of its own (what a delete would leave, asked before it)."""
    with store.read() as session:
        return folders_of(session, run_ids)


def set_pushed(store: Store, export_id: int, *, repo: str, url: str) -> Export:
    with store.write() as session:
        row = session.get(ExportRow, export_id)
        if row is None:
            raise NotFound(f"no export with id {export_id}")
        row.hub_repo, row.hub_url, row.pushed_at = repo, url, utcnow()
        session.flush()
        return _entity(row)


def set_options(store: Store, export_id: int, options: dict[str, Any]) -> Export:
    """Record what an export's folder now holds (rewritten in place: a damaged export written again, or
    its card brought up to date)."""
    with store.write() as session:
        row = session.get(ExportRow, export_id)
        if row is None:
            raise NotFound(f"no export with id {export_id}")
        row.options = dict(options)
        session.flush()
        return _entity(row)


def next_id(store: Store) -> int:
    """The id the next export will most likely get (names its default folder before it exists): one past
    the highest ever given, deleted ones included (ids are never reused)."""
    from sqlalchemy import func, text

    with store.read() as session:
        given = session.execute(text("SELECT seq FROM sqlite_sequence WHERE name = 'exports'")).scalar()
        highest = session.scalar(select(func.max(ExportRow.id)))
        return max(int(given or 0), int(highest or 0)) + 1
