"""Deleting a dataset with (or without) its folder, one way for the command line and the app.

On a disk too full to write the database (`Store.full`), the record's delete cannot be written: the
folder, which was to go anyway, goes first and makes the room (after the same refusals the delete
itself would give, read first). It was written into the command only: the app's delete, which the
full-disk banner names, was refused and freed nothing.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.errors import DiskFull
from spark_trainer.store import datasets, experiments, in_use
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class Deleted:
    dataset: Dataset
    removed: bool  # its folder was removed (it was the app's own, in the home's datasets folder)
    folder: Path


def delete_dataset(store: Store, dataset_id: int, *, force: bool = False, delete_files: bool = True) -> Deleted:
    """Delete dataset `dataset_id`'s record and, with `delete_files`, its folder when the app made it.

    Raises:
        DatasetInUse: experiments use it, or paused runs train on it, and not `force`.
        Conflict: a queued or running run trains on it (even forced).
        DiskFull: a full disk; where the folder went first to make room, the line says the same delete
            finishes once there is more room.
    """
    found = datasets.get(store, dataset_id)
    folder = Path(found.path)
    ours = delete_files and folder.is_relative_to(store.home.datasets_dir)
    removed = False
    if ours and store.full is not None and folder.is_dir():
        check_deletable(store, found, force=force)
        shutil.rmtree(folder)
        removed = True
    try:
        dataset = datasets.delete(store, found.id, force=force)
    except DiskFull as exc:
        if not removed:
            raise
        raise DiskFull(f"dataset {found.name!r}'s folder {folder} was removed to make room, but its record could "
                       f"not be: {exc}; make more room, then delete it again", exc.kind) from exc
    if ours and folder.is_dir():
        shutil.rmtree(folder)
        removed = True
    return Deleted(dataset, removed, folder)


def check_deletable(store: Store, found: Dataset, *, force: bool) -> list[tuple[int, str]]:
    """Refuse as the delete would, read first (before a question, or a folder removed to make room);
    returns the paused or interrupted runs training on it, which can no longer be resumed after it."""
    in_use.check(store, "dataset", found.id)
    users = sorted(e.name for e in experiments.list_all(store, found.project_id) if e.dataset_id == found.id)
    with store.read() as session:
        resumable = in_use.resumable_runs(session, found.id)
    if (users or resumable) and not force:
        raise datasets.DatasetInUse(found.name, users, resumable)
    return list(resumable)
