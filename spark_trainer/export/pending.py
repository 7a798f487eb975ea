"""An export killed between renaming its finished folder into place and committing its record left a
whole export that no list showed, and its retry was refused ("already exists and is not an empty
folder"). Just before the rename the export notes, in the home's exports folder, what it is about to
record (`.pending-<tag>-<random>.json`, named for its process: jobs/leftovers.py); the note goes once
the record is committed or the export failed. The next export finds a dead process's note and, when
the folder it names is still there, whole and unchanged (integrity.damage) and the run is still
recorded, records it as the export it is (adopted); the note goes either way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from spark_trainer.errors import NotFound
from spark_trainer.export import integrity
from spark_trainer.store import exports, runs
from spark_trainer.store.exports import Export
from spark_trainer.store.store import Store

PREFIX = ".pending-"


def note(store: Store, run_id: int, step: int, dest: Path, recorded: dict[str, Any]) -> Path:
    """Write the note of an export about to be renamed to `dest`; returns it, for `drop`."""
    from spark_trainer.jobs import leftovers

    path = store.home.exports_dir / f"{PREFIX}{leftovers.tag()}-{uuid.uuid4().hex[:8]}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"run_id": run_id, "step": step, "path": str(dest), "options": recorded}),
                    encoding="utf-8")
    return path


def drop(path: Path) -> None:
    path.unlink(missing_ok=True)


def _dead_notes(store: Store) -> Iterator[Path]:
    """The notes in exports/ of processes that are gone (their export killed before its record)."""
    from spark_trainer.jobs import leftovers

    folder = store.home.exports_dir
    for path in sorted(folder.glob(f"{PREFIX}*.json")) if folder.is_dir() else ():
        if leftovers.dead_here(path.name[len(PREFIX):-len(".json")], path):
            yield path


def _read(path: Path) -> tuple[int, int, Path, dict[str, Any]] | None:
    """(run id, step, folder, recorded options) of a note; None when it is unreadable (cut short by the
    kill: it never preceded a rename)."""
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
        return int(found["run_id"]), int(found["step"]), Path(found["path"]), found["options"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def adopt_dead(store: Store) -> list[Export]:
    """Record the exports dead processes renamed into place but did not record; remove their notes."""
    from spark_trainer.jobs import leftovers

    adopted = []
    for path in _dead_notes(store):
        # Claimed first: two exports starting at once (the app and a terminal) both recorded the folder,
        # and deleting either record then deleted the folder the other named. One rename wins.
        claimed = path.with_name(f"{path.name}.claimed-{leftovers.tag()}")
        try:
            path.rename(claimed)
        except OSError:
            continue  # another export took it
        found = _read(claimed)
        if found is not None:
            run_id, step, dest, options = found
            if dest.is_dir() and integrity.damage(options, dest) is None and _recordable(store, run_id, dest):
                adopted.append(exports.add(store, run_id, step=step, path=str(dest), options=options))
        drop(claimed)
    return adopted


def awaiting(store: Store) -> set[Path]:
    """The folders dead processes' notes name: whole exports the next export records (`adopt_dead`)."""
    return {found[2].resolve() for path in _dead_notes(store) if (found := _read(path)) is not None}


def _recordable(store: Store, run_id: int, dest: Path) -> bool:
    try:
        runs.get(store, run_id)
    except NotFound:
        return False  # deleted meanwhile: the folder stays unrecorded (doctor names one in exports/)
    return all(Path(e.path) != dest for e in exports.list_for(store, run_id))
