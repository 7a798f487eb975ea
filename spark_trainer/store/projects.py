"""Projects: create, list, find by name or id, rename, delete (with everything in them)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, String, func, select
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Session

from spark_trainer.errors import BadInput, Conflict, NotFound
from spark_trainer.store import in_use
from spark_trainer.store.entities import Project, id_of, utcnow
from spark_trainer.store.models import DatasetRow, ExperimentRow, MetricSeriesRow, ProjectRow, RunRow
from spark_trainer.store.store import Store

MAX_NAME = 200


def nfc(text: str) -> str:
    """`text` in Unicode's composed form (NFC): 'é' typed as one code point, or as 'e' and a combining
    accent (macOS file names, some keyboards), is one spelling."""
    return unicodedata.normalize("NFC", text)


def same_name(column: Any, name: str) -> ColumnElement[bool]:
    """SQL: `column` names `name` once both are NFC. New names are stored NFC (`validate_name`); one
    stored before that may not be, and is still found (the `nfc` function every connection has,
    store/engine.py)."""
    return func.nfc(column, type_=String) == nfc(name)


def validate_name(name: str, what: str = "project") -> str:
    """A name is non-empty, at most 200 characters, not all digits (digits name ids), and one line of
    printable characters. Returned stripped and in NFC, so two spellings of one name are one name."""
    cleaned = nfc(name.strip())
    if not cleaned:
        raise BadInput(f"{what} name must not be empty")
    if len(cleaned) > MAX_NAME:
        raise BadInput(f"{what} name is {len(cleaned)} characters; the limit is {MAX_NAME}")
    if cleaned.isdigit():
        raise BadInput(f"{what} name {cleaned!r} is all digits, which would read as an id; add a letter")
    if not cleaned.isprintable():  # a line break split every list's rows and every `show`
        raise BadInput(f"{what} name {cleaned!r} holds a line break, tab or other control character; "
                       "use one line of plain text")
    return cleaned


def _entity(session: Session, row: ProjectRow) -> Project:
    n_datasets = session.scalar(select(func.count()).where(DatasetRow.project_id == row.id)) or 0
    n_experiments = session.scalar(select(func.count()).where(ExperimentRow.project_id == row.id)) or 0
    run_stats = session.execute(
        select(func.count(RunRow.id), func.max(RunRow.created_at), func.max(RunRow.finished_at))
        .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
        .where(ExperimentRow.project_id == row.id)
    ).one()
    return _project(row, n_datasets, n_experiments, tuple(run_stats))


def _entities(session: Session, rows: list[ProjectRow]) -> list[Project]:
    """`_entity` for many projects in three grouped queries, not three per project (a list of
    thousands of projects took seconds)."""
    # A search lists a few projects: count only theirs (a long list counts them all, rather than bind
    # thousands of ids, past what older SQLite builds take in one statement).
    ids = [row.id for row in rows] if len(rows) <= 500 else None

    def of(column: Any) -> Any:
        return column.in_(ids) if ids is not None else sa_true()

    n_datasets = dict(session.execute(select(DatasetRow.project_id, func.count())
                                      .where(of(DatasetRow.project_id)).group_by(DatasetRow.project_id)).all())
    n_experiments = dict(session.execute(
        select(ExperimentRow.project_id, func.count()).where(of(ExperimentRow.project_id))
        .group_by(ExperimentRow.project_id)).all())
    run_stats = {project_id: (count, created, finished) for project_id, count, created, finished in session.execute(
        select(ExperimentRow.project_id, func.count(RunRow.id), func.max(RunRow.created_at), func.max(RunRow.finished_at))
        .join(ExperimentRow, RunRow.experiment_id == ExperimentRow.id)
        .where(of(ExperimentRow.project_id))
        .group_by(ExperimentRow.project_id)
    )}
    return [_project(row, n_datasets.get(row.id, 0), n_experiments.get(row.id, 0), run_stats.get(row.id, (0, None, None)))
            for row in rows]


def _project(row: ProjectRow, n_datasets: int, n_experiments: int, run_stats: tuple) -> Project:
    """The entity for `row`, given its counts and its runs' (count, latest created_at, latest finished_at)."""
    candidates = [row.updated_at, *(t for t in run_stats[1:] if t is not None)]
    return Project(
        id=row.id,
        name=row.name,
        description=row.description,
        created_at=row.created_at,
        updated_at=row.updated_at,
        num_datasets=n_datasets,
        num_experiments=n_experiments,
        num_runs=run_stats[0] or 0,
        last_activity=max(candidates),
    )


def _named(session: Session, model: type, name: str, *where: Any) -> list:
    """Rows of `model` whose name is `name` once both are NFC, oldest first. Where one scope (a
    project's datasets, or all projects) holds several (two spellings stored before names were
    normalised), those spelt exactly as `name` is, if any."""
    rows = list(session.scalars(select(model).where(same_name(model.name, name), *where).order_by(model.id)))
    scope = (lambda r: r.project_id) if hasattr(model, "project_id") else (lambda r: None)
    kept = []
    for key in dict.fromkeys(scope(r) for r in rows):
        mine = [r for r in rows if scope(r) == key]
        kept += [r for r in mine if r.name == name] or mine
    return kept


def _row(session: Session, ref: str | int) -> ProjectRow:
    text = str(ref).strip()
    rows = _named(session, ProjectRow, text)
    if len(rows) > 1:
        ids = ", ".join(str(r.id) for r in rows)
        raise BadInput(f"projects {ids} are all named {text!r} (spelt with different Unicode code points); "
                       "use the id, or rename one")
    row = rows[0] if rows else None
    if row is None and (row_id := id_of(text)) is not None:
        row = session.get(ProjectRow, row_id)
    if row is None:
        raise NotFound(f"no project named or numbered {text!r}; see `spark-trainer project list`")
    return row


def row_for(session: Session, ref: str | int) -> ProjectRow:
    """The project row for a name or id, inside an open session (for other store modules)."""
    return _row(session, ref)


def named_row_in_project(session: Session, model: type, ref: str | int, project: str | int | None, what: str):
    """A row of `model` (named per project: datasets, experiments) by name or id.

    A name used in several projects is an error unless `project` narrows it down.
    """
    text = str(ref).strip()
    project_row = _row(session, project) if project is not None else None
    rows = _named(session, model, text, *([model.project_id == project_row.id] if project_row is not None else []))
    if len(rows) > 1 and len({r.project_id for r in rows}) == 1:
        ids = ", ".join(str(r.id) for r in rows)
        raise BadInput(f"{what}s {ids} of project {session.get(ProjectRow, rows[0].project_id).name!r} are all "
                       f"named {text!r} (spelt with different Unicode code points); use the id, or rename one")
    if len(rows) > 1:
        # Not every command that names one takes --project (run start, launch, exp delete): the id
        # works everywhere, so the message lists it.
        where = sorted((session.get(ProjectRow, r.project_id).name, r.id) for r in rows)
        listed = ", ".join(f"id {row_id} in {name}" for name, row_id in where)
        raise BadInput(f"{what} {text!r} exists in several projects ({listed}); use the id")
    if rows:
        return rows[0]
    row = session.get(model, row_id) if (row_id := id_of(text)) is not None else None
    if row is not None and project_row is not None and row.project_id != project_row.id:
        row = None  # another project's: an experiment of this project would name a dataset it cannot see
    if row is None:
        command = "exp" if what == "experiment" else what
        where = f" in project {project_row.name!r}" if project_row is not None else ""
        raise NotFound(f"no {what} named or numbered {text!r}{where}; see `spark-trainer {command} list`")
    return row


def create(store: Store, name: str, description: str = "") -> Project:
    name = validate_name(name)
    with store.write() as session:
        if session.scalar(select(ProjectRow.id).where(same_name(ProjectRow.name, name)).limit(1)) is not None:
            raise Conflict(f"a project named {name!r} already exists")
        now = utcnow()
        row = ProjectRow(name=name, description=description, created_at=now, updated_at=now)
        session.add(row)
        session.flush()
        return _entity(session, row)


def get_or_create(store: Store, name: str) -> Project:
    try:
        return get(store, name)
    except NotFound:
        try:
            return create(store, name)
        except Conflict:  # another process created it between our two calls
            return get(store, name)


def get(store: Store, ref: str | int) -> Project:
    with store.read() as session:
        return _entity(session, _row(session, ref))


def list_all(store: Store, search: str | None = None) -> list[Project]:
    with store.read() as session:
        query = select(ProjectRow).order_by(ProjectRow.name)
        if search:
            query = query.where(func.nfc(ProjectRow.name, type_=String).icontains(nfc(search)))
        return _entities(session, list(session.scalars(query)))


def rename(store: Store, ref: str | int, new_name: str) -> Project:
    new_name = validate_name(new_name)
    with store.write() as session:
        row = _row(session, ref)
        if row.name == new_name:  # nothing to rename: its last activity stays as it was
            return _entity(session, row)
        clash = session.scalar(select(ProjectRow.id).where(same_name(ProjectRow.name, new_name), ProjectRow.id != row.id)
                               .limit(1))
        if clash is not None:
            raise Conflict(f"a project named {new_name!r} already exists")
        row.name = new_name
        row.updated_at = utcnow()
        session.flush()
        return _entity(session, row)


@dataclass(frozen=True)
class ProjectContents:
    """What deleting a project removes: row counts, and the folders on disk that belong to it."""

    project: Project
    num_metrics: int
    dataset_dirs: list[str]
    run_dirs: list[str]
    export_dirs: list[str] = field(default_factory=list)  # its runs' exports, wherever they were written


def contents(store: Store, ref: str | int) -> ProjectContents:
    with store.read() as session:
        row = _row(session, ref)
        dataset_dirs = list(session.scalars(select(DatasetRow.path).where(DatasetRow.project_id == row.id)))
        run_query = select(RunRow.id, RunRow.run_dir).join(ExperimentRow).where(
            ExperimentRow.project_id == row.id
        )
        runs = session.execute(run_query).all()
        n_metrics = session.scalar(
            select(func.sum(MetricSeriesRow.count)).where(MetricSeriesRow.run_id.in_([r.id for r in runs]))
        )
        from spark_trainer.store.exports import folders_of  # exports reads runs, which reads projects

        return ProjectContents(
            project=_entity(session, row),
            num_metrics=n_metrics or 0,
            dataset_dirs=[d for d in dataset_dirs if d],
            run_dirs=[r.run_dir for r in runs if r.run_dir],
            export_dirs=folders_of(session, [r.id for r in runs]),
        )


def delete(store: Store, ref: str | int) -> ProjectContents:
    """Delete the project and (by cascade) its datasets, experiments, runs and their rows.

    Files on disk are not touched; the returned contents name the folders the caller may remove.
    """
    found = contents(store, ref)
    with store.write() as session:
        row = session.get(ProjectRow, found.project.id)
        if row is None:
            raise NotFound(f"project {found.project.name!r} was deleted by another process")
        in_use.refuse_if_in_use(session, "project", row.id)
        session.delete(row)
    return found


def touch(session: Session, project_id: int) -> None:
    """Mark activity on a project (inside another module's write)."""
    row = session.get(ProjectRow, project_id)
    if row is not None:
        row.updated_at = utcnow()
