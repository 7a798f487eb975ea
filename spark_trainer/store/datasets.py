"""Datasets: rows describing an ingested dataset folder (manifest, card, report)."""

from __future__ import annotations

import difflib
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from spark_trainer.errors import BadInput, Conflict, NotFound, OperationFailed
from spark_trainer.store import in_use, projects
from spark_trainer.store.entities import Dataset, DatasetKind, id_of, utcnow
from spark_trainer.store.models import DatasetRow, ExperimentRow, ProjectRow, RunRow
from spark_trainer.store.store import Store


class DatasetInUse(Conflict):
    """Experiments use the dataset, or paused or interrupted runs train on it: carries their names and
    (id, status), so the app can ask to delete it anyway (its users have no --force to pass) while the
    message stays the command line's."""

    def __init__(self, name: str, experiments: list[str], runs: list[tuple[int, str]] | None = None) -> None:
        self.experiments = experiments
        self.runs = list(runs or [])
        users = [f"experiment{'s' if len(experiments) > 1 else ''} {', '.join(experiments)}"] if experiments else []
        if self.runs:
            users.append(f"{'runs' if len(self.runs) > 1 else 'run'} {resumable_text(self.runs)}")
        message = f"dataset {name!r} is used by {' and '.join(users)}; "
        if self.runs:
            one = len(self.runs) == 1
            message += (f"deleted, {'that run' if one else 'those runs'} can no longer be resumed: cancel "
                        f"{'it' if one else 'them'} first, or pass --force")
        else:
            message += f"delete {'them' if len(experiments) > 1 else 'it'} first or pass --force"
        super().__init__(message)


def resumable_text(found: list[tuple[int, str]]) -> str:
    """`2 (paused), 5 (interrupted)`: runs as DatasetInUse names them."""
    return ", ".join(f"{run_id} ({status})" for run_id, status in found)


@dataclass
class NewDataset:
    """What ingestion hands the store once the dataset folder is complete on disk."""

    name: str
    kind: str
    path: str
    version: str = ""
    num_items: int = 0
    num_train: int = 0
    num_val: int = 0
    num_rejected: int = 0
    num_duplicates: int = 0
    size_bytes: int = 0
    sources: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    # Set when `name` was made up from a file's name (no name given): if another dataset took it since,
    # the record takes the first free of this, this-2, this-3... in the same transaction, not a refusal.
    free_name_from: str | None = None


def _entity(row: DatasetRow, project_name: str) -> Dataset:
    return Dataset(
        id=row.id,
        project_id=row.project_id,
        project=project_name,
        name=row.name,
        kind=row.kind,
        status=row.status,
        path=row.path,
        version=row.version,
        num_items=row.num_items,
        num_train=row.num_train,
        num_val=row.num_val,
        num_rejected=row.num_rejected,
        num_duplicates=row.num_duplicates,
        size_bytes=row.size_bytes,
        sources=list(row.sources or []),
        meta=dict(row.meta or {}),
        created_at=row.created_at,
    )


RENAMED_FROM = "renamed_from"  # meta key: the names a dataset had before, oldest first


def row_for(session: Session, ref: str | int, project: str | int | None = None) -> DatasetRow:
    """The dataset row for a name or id, optionally within a project; ambiguity is an error. A name
    not found says which dataset had it before a rename, or close names (`missing_hint`)."""
    try:
        return projects.named_row_in_project(session, DatasetRow, ref, project, "dataset")
    except NotFound as exc:
        hint = _hint_or_nothing(session, str(ref).strip(), project)
        if not hint:
            raise
        raise NotFound(f"{exc}; {hint}") from None


def next_id(store: Store) -> int:
    """A hint for the folder name of the next dataset; `create` may still pick another id."""
    with store.read() as session:
        return (session.scalar(select(func.max(DatasetRow.id))) or 0) + 1


def create(store: Store, project: str | int, new: NewDataset) -> Dataset:
    """Record a dataset whose folder is complete. One transaction: a failure leaves no row."""
    with store.write() as session:
        row, project_name = _insert(session, project, new)
        return _entity(row, project_name)


def create_from_folder(store: Store, project: str | int, new: NewDataset, staging: Path) -> Dataset:
    """Record a dataset and move its complete `staging` folder to `datasets/<id>` atomically.

    The rename happens inside the row's transaction: if it fails, no row is committed; if the
    commit fails, the folder is moved back to `staging` (the caller removes it).
    """
    target: Path | None = None
    try:
        with store.write() as session:
            row, project_name = _insert(session, project, new)
            target = store.home.dataset_dir(row.id)
            if target.exists():  # a folder kept by `dataset delete` without --delete-files
                target.rename(target.with_name(f"{row.id}.orphan-{uuid.uuid4().hex[:8]}"))
            os.replace(staging, target)
            row.path = str(target)
            session.flush()
            entity = _entity(row, project_name)
    except OSError as exc:
        _move_back(target, staging)
        raise OperationFailed(f"cannot move dataset folder into {store.home.datasets_dir}: "
                              f"{exc.strerror or exc}") from exc
    except BaseException:
        _move_back(target, staging)
        raise
    return entity


def _move_back(target: Path | None, staging: Path) -> None:
    if target is not None and target.exists() and not staging.exists():
        os.replace(target, staging)


def _insert(session: Session, project: str | int, new: NewDataset) -> tuple[DatasetRow, str]:
    name = projects.validate_name(new.name, "dataset")
    try:
        kind = DatasetKind(new.kind).value
    except ValueError:
        allowed = ", ".join(k.value for k in DatasetKind)
        raise BadInput(f"dataset kind {new.kind!r} is not one of: {allowed}") from None
    project_row = projects.row_for(session, project)
    if new.free_name_from is not None:
        name = _first_free(_taken(session, project_row.id), projects.validate_name(new.free_name_from, "dataset"),
                           prefer=name)
    _refuse_taken(session, project_row, name)
    row = DatasetRow(
        project_id=project_row.id,
        name=name,
        kind=kind,
        status="ready",
        path=new.path,
        version=new.version,
        num_items=new.num_items,
        num_train=new.num_train,
        num_val=new.num_val,
        num_rejected=new.num_rejected,
        num_duplicates=new.num_duplicates,
        size_bytes=new.size_bytes,
        sources=list(new.sources),
        meta=dict(new.meta),
        created_at=utcnow(),
    )
    session.add(row)
    projects.touch(session, project_row.id)
    session.flush()
    return row, project_row.name


def _refuse_taken(session: Session, project_row: ProjectRow, name: str, own_id: int | None = None) -> None:
    """Names are unique per project (the table's constraint): say so in one line before it would."""
    clash = session.scalar(select(DatasetRow.id).where(DatasetRow.project_id == project_row.id,
                                                       projects.same_name(DatasetRow.name, name),
                                                       DatasetRow.id != (own_id or 0)).limit(1))
    if clash is not None:
        raise Conflict(f"project {project_row.name!r} already has a dataset named {name!r}")


def rename(store: Store, ref: str | int, new_name: str, project: str | int | None = None) -> Dataset:
    """Give a dataset (name or id) a new name, checked as ingestion checks one, unique in its project.

    Everything that trains or evaluates finds a dataset by id (a run's frozen config, an experiment's
    dataset_id, the folder `datasets/<id>`), so they follow. The old name goes in `meta["renamed_from"]`,
    so a run file still naming it is told the new one (`missing_hint`). An experiment whose stored config
    named the dataset by its old name gets the new one (the config is what `exp show` prints).

    Raises:
        BadInput: an empty, too long or all-digit name; NotFound: no such dataset; Conflict: the project
            has a dataset of that name. Nothing is written then.
    """
    new_name = projects.validate_name(new_name, "dataset")
    with store.write() as session:
        row = row_for(session, ref, project)
        project_row = session.get(ProjectRow, row.project_id)
        _refuse_taken(session, project_row, new_name, row.id)
        old = row.name
        if new_name != old:
            meta = dict(row.meta or {})
            history = [n for n in meta.get(RENAMED_FROM, []) if n not in (old, new_name)]
            row.meta = {**meta, RENAMED_FROM: [*history, old]}  # a new dict: the JSON column sees the change
            row.name = new_name
            for experiment in session.scalars(select(ExperimentRow).where(ExperimentRow.dataset_id == row.id)):
                if (experiment.config or {}).get("dataset") == old:
                    experiment.config = {**experiment.config, "dataset": new_name}
            projects.touch(session, project_row.id)
        session.flush()
        return _entity(row, project_row.name)


def missing_hint(store: Store, name: str, project: str | int | None = None) -> str:
    """For a dataset name that names none: "it was renamed to 'flowers'", else "close names: ...", else
    where another project has it ("dataset 1 ('d2') is in project 'demo'"), else "". A `project` that
    does not exist yet (a run file's, created at its submit) holds nothing to hint at, but another
    project may still have that dataset."""
    with store.read() as session:
        try:
            return _missing_hint(session, name.strip(), project)
        except NotFound:  # no such project
            return _elsewhere(session, name.strip())


def _hint_or_nothing(session: Session, name: str, project: str | int | None) -> str:
    try:
        return _missing_hint(session, name, project)
    except NotFound:  # no such project: the caller's own error says so
        return ""


def _missing_hint(session: Session, name: str, project: str | int | None) -> str:
    query = select(DatasetRow.name, DatasetRow.meta).order_by(DatasetRow.id)
    if project is not None:
        query = query.where(DatasetRow.project_id == projects.row_for(session, project).id)
    found = session.execute(query).all()
    name = projects.nfc(name)
    renamed = [now for now, meta in found if name in map(projects.nfc, (meta or {}).get(RENAMED_FROM, []))]
    if renamed:
        return f"it was renamed to {renamed[-1]!r}" if len(renamed) == 1 else \
            f"datasets once named so are now {', '.join(map(repr, renamed))}"
    close = difflib.get_close_matches(name, [now for now, _ in found], n=3)
    if close:
        return f"close names: {', '.join(map(repr, close))}"
    return _elsewhere(session, name) if project is not None else ""


def _elsewhere(session: Session, ref: str) -> str:
    """Where another project has a dataset of that name or id: "dataset 2 is in project 'p2'"."""
    query = select(DatasetRow.id, DatasetRow.name, ProjectRow.name).join(ProjectRow)
    row_id = id_of(ref)
    found = session.execute(query.where(projects.same_name(DatasetRow.name, ref)) if row_id is None else
                            query.where(DatasetRow.id == row_id)).all()
    if not found:
        return ""
    if row_id is not None:
        (_id, name, project), = found
        return f"dataset {ref} ({name!r}) is in project {project!r}"
    return f"a dataset named {ref!r} is in " + ", ".join(f"project {project!r} (id {row_id})"
                                                       for row_id, _name, project in found)


def get(store: Store, ref: str | int, project: str | int | None = None) -> Dataset:
    with store.read() as session:
        row = row_for(session, ref, project)
        return _entity(row, session.get(ProjectRow, row.project_id).name)


def meta_of(store: Store, dataset_id: int) -> dict[str, Any] | None:
    """The dataset's `meta` as stored now (None once it is deleted): fresher than an entity read earlier."""
    with store.read() as session:
        row = session.get(DatasetRow, dataset_id)
        return None if row is None else dict(row.meta or {})


def list_all(store: Store, project: str | int | None = None) -> list[Dataset]:
    with store.read() as session:
        query = select(DatasetRow, ProjectRow.name).join(ProjectRow).order_by(DatasetRow.id)
        if project is not None:
            query = query.where(DatasetRow.project_id == projects.row_for(session, project).id)
        return [_entity(row, pname) for row, pname in session.execute(query)]


def unrecorded_folders(store: Store) -> list[Path]:
    """Folders in `datasets/` that hold no recorded dataset: `<id>.orphan-*` (a folder found at a new
    dataset's place and set aside) and `<id>` with no row (an ingestion killed between moving its folder
    in and committing its record, or a folder `dataset delete` was told to keep). Nothing removes them on
    its own: which of the two a folder is cannot be told, and the kept kind is the user's."""
    base = store.home.datasets_dir
    if not base.is_dir():
        return []
    with store.read() as session:
        recorded = {str(i) for i in session.scalars(select(DatasetRow.id))}
    return sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and (".orphan-" in p.name or (p.name.isdigit() and p.name not in recorded))),
                  key=lambda p: p.name)


def unique_name(store: Store, project: str | int, base: str) -> str:
    """`base`, or `base-2`, `base-3`... whichever is free in the project."""
    with store.read() as session:
        return _first_free(_taken(session, projects.row_for(session, project).id), projects.nfc(base))


def _taken(session: Session, project_id: int) -> set[str]:
    """The project's dataset names, in NFC (one stored before names were normalised may not be)."""
    return set(map(projects.nfc, session.scalars(select(DatasetRow.name).where(DatasetRow.project_id == project_id))))


def _first_free(taken: set[str], base: str, prefer: str | None = None) -> str:
    """`prefer` if free, else the first free of `base`, `base-2`, `base-3`..."""
    if prefer is not None and prefer not in taken:
        return prefer
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def delete(store: Store, ref: str | int, *, force: bool = False) -> Dataset:
    """Delete a dataset row. A queued or running run on it refuses the delete, even forced (in_use).
    Experiments using it, and paused or interrupted runs training on it (deleted, they can no longer be
    resumed), block the delete unless `force`; then the experiments keep its name (`deleted_dataset`), for
    `exp show`, the leaderboard and the app to say what they trained on."""
    with store.write() as session:
        row = row_for(session, ref)
        in_use.refuse_if_in_use(session, "dataset", row.id)
        users = list(session.scalars(select(ExperimentRow).where(ExperimentRow.dataset_id == row.id)))
        resumable = in_use.resumable_runs(session, row.id)
        if (users or resumable) and not force:
            raise DatasetInUse(row.name, sorted(e.name for e in users), resumable)
        for experiment in users:  # its dataset_id goes to NULL with the row: the name stays readable
            experiment.deleted_dataset = row.name
        session.execute(update(RunRow).where(RunRow.dataset_id == row.id).values(deleted_dataset=row.name))
        entity = _entity(row, session.get(ProjectRow, row.project_id).name)
        session.delete(row)
        return entity
