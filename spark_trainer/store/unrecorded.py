"""Folders in the data home's `datasets/`, `runs/` and `exports/` that no record names.

A command killed between its database write and its files leaves one: `run delete` or `dataset delete`
killed after the record went but before the folder did (a run's folder half removed, its exports'
folders whole), an ingestion or export killed after its folder was moved in but before its record was
committed. A delete told to keep the files (`--keep-files`) leaves one on purpose. Which of these a
folder is cannot be told, so nothing removes them on its own: `doctor` names them with their size.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from spark_trainer.store import datasets
from spark_trainer.store.models import ExportRow, RunRow
from spark_trainer.store.store import Store


@dataclass(frozen=True)
class Unrecorded:
    """The unrecorded folders, by the home folder they are in."""

    datasets: list[Path]
    runs: list[Path]
    exports: list[Path]
    awaiting: frozenset[Path] = frozenset()  # exports a killed export left, which the next export records
                                            # (export/pending.awaiting; set by the caller)

    def by_place(self) -> list[tuple[str, list[Path]]]:
        return [(place, found) for place, found in
                (("datasets", self.datasets), ("runs", self.runs), ("exports", self.exports)) if found]


def find(store: Store) -> Unrecorded:
    with store.read() as session:
        runs = [(str(i), d) for i, d in session.execute(select(RunRow.id, RunRow.run_dir))]
        exports = [(str(i), p) for i, p in session.execute(select(ExportRow.id, ExportRow.path))]
    return Unrecorded(datasets.unrecorded_folders(store), _unnamed(store.home.runs_dir, runs),
                      _unnamed(store.home.exports_dir, exports))


def _unnamed(base: Path, recorded: list[tuple[str, str]]) -> list[Path]:
    """The folders in `base` (not a process's own hidden ones) at no record's path; a record without
    a path claims the folder named for its id."""
    if not base.is_dir():
        return []
    names = {name for name, path in recorded if not path}
    paths = {_resolved(path) for _, path in recorded if path}
    return sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")
                   and p.name not in names and _resolved(str(p)) not in paths), key=lambda p: p.name)


def _resolved(path: str) -> str:
    try:
        return str(Path(path).resolve())
    except OSError:
        return path
