"""A data home moved or copied by hand keeps working.

Stored paths are absolute: a run's folder, a dataset's folder, an experiment's base model under the
home's `models/`, and the frozen `config.yaml` of every run. A user who moves the home to a bigger
disk (or restores a backup somewhere else) would find every run "without a log", every resume
refused and every export failing, because all of them still point at the old place; a copy would
be worse, resuming its runs into the original's folders.

So the database records the home it was last opened at (the settings row `home.root`; `settings`
lists only user settings, so it never shows). When a store is opened at another place, every stored
value that is a path under the old home (the old root itself, or a path starting with it and a
separator) is pointed at the same place under the new one, in tables and in JSON columns alike, and
so are such values in each run's `config.yaml`. Paths outside the home (a `--link`ed dataset's files,
a model in `/data/models`) are left alone, and so is free text that merely mentions a path (run
errors, event reasons: they record what happened where). Databases from before this record nothing;
their old home is read from the runs' and datasets' folders, which are always `<home>/runs/<id>`
and `<home>/datasets/<id>`.

The same directory reached under another name (a bind mount) is not a move: nothing is rewritten.
The config files are rewritten before the database commits (each atomically), so an interrupted
move is simply done again by the next open.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text, func, or_, select, update
from sqlalchemy.orm import Session

from spark_trainer.store.entities import utcnow
from spark_trainer.store.models import Base, DatasetRow, RunRow, SettingRow

KEY = "home.root"
# Tables of numbers and metric names: never paths, and the largest by far.
_NO_PATHS = frozenset({"metrics", "metric_series", "metric_blocks", "alembic_version"})
CONFIG_NAME = "config.yaml"


@dataclass(frozen=True)
class Moved:
    """What following a move did: from where, how many stored values and run configs changed."""

    old_root: str
    values: int
    configs: int

    def describe(self) -> str:
        return (f"data home moved here from {self.old_root}: {self.values} stored path(s) and "
                f"{self.configs} run config(s) now point here")


class _Rewrite:
    """Maps values under `old` to the same place under `new`; everything else is returned as is."""

    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new
        self.old_prefix, self.new_prefix = old.rstrip(os.sep) + os.sep, new.rstrip(os.sep) + os.sep

    def path(self, text: str) -> str:
        # A home moved into a folder of its old self (/data/h -> /data/h/new): values already under
        # the new place are not moved again.
        if text == self.new or text.startswith(self.new_prefix):
            return text
        if text == self.old:
            return self.new
        if text.startswith(self.old_prefix):
            return self.new_prefix + text[len(self.old_prefix):]
        return text

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.path(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        return value


def recorded_root(session: Session) -> Any:
    row = session.get(SettingRow, KEY)
    return None if row is None else row.value


def follow_move(session: Session, root: Path) -> Moved | None:
    """Point everything stored under the home's previous place at `root` (inside the caller's write
    transaction); None when the home has not moved or nothing pointed into it. Records `root` as the
    home's place."""
    here = str(root)
    row = session.get(SettingRow, KEY)
    old = row.value if row is not None else _inferred_root(session)
    moved = None
    if isinstance(old, str) and old != here and not _same_folder(old, root):
        rewrite = _Rewrite(old, here)
        configs = _rewrite_configs(session, rewrite)
        values = _rewrite_rows(session, rewrite)
        moved = Moved(old, values, configs) if values or configs else None  # nothing pointed there: nothing to say
    if row is None:
        session.add(SettingRow(key=KEY, value=here, updated_at=utcnow()))
    elif row.value != here:
        row.value, row.updated_at = here, utcnow()
    return moved


def _same_folder(old: str, root: Path) -> bool:
    try:
        return os.path.samefile(old, root)
    except OSError:  # the old place is gone: a move
        return False


def _inferred_root(session: Session) -> str | None:
    """A database from before `home.root`: the home its run and dataset folders were made in."""
    found: Counter[str] = Counter()
    for table, column, name in ((RunRow, RunRow.run_dir, "runs"), (DatasetRow, DatasetRow.path, "datasets")):
        for ident, folder in session.execute(select(table.id, column).where(column != "")):
            path = Path(folder)
            if path.name == str(ident) and path.parent.name == name and path.is_absolute():
                found[str(path.parent.parent)] += 1
    return found.most_common(1)[0][0] if found else None


def _rewrite_rows(session: Session, rewrite: _Rewrite) -> int:
    """Every text or JSON value under the old home, in every table but the metrics; returns how many."""
    changed = 0
    for table in Base.metadata.sorted_tables:
        if table.name in _NO_PATHS:
            continue
        keys = list(table.primary_key.columns)
        for column in table.columns:
            if not isinstance(column.type, (String, Text, JSON)) or column.primary_key:
                continue
            if isinstance(column.type, JSON):  # stored as JSON text, where "ü" is written \u00fc
                text = func.cast(column, Text)
                found = or_(*(func.instr(text, form) > 0 for form in {rewrite.old, json.dumps(rewrite.old)[1:-1]}))
            else:
                found = func.instr(column, rewrite.old) > 0
            rows = session.execute(select(*keys, column).where(found)).all()
            for row in rows:
                if table.name == SettingRow.__tablename__ and row[0] == KEY:
                    continue
                value = row[-1]
                new = rewrite.value(value)
                if new != value:
                    where = [key == row[i] for i, key in enumerate(keys)]
                    session.execute(update(table).where(*where).values({column.name: new}))
                    changed += 1
    return changed


def _rewrite_configs(session: Session, rewrite: _Rewrite) -> int:
    """Each run's frozen config.yaml (in its folder's new place), written atomically if it changed."""
    from spark_trainer.config.yaml_io import load_yaml, save_yaml
    from spark_trainer.errors import ConfigError

    changed = 0
    for (folder,) in session.execute(select(RunRow.run_dir).where(RunRow.run_dir != "")):
        path = Path(rewrite.path(folder)) / CONFIG_NAME
        if not path.is_file():
            continue
        try:
            data, _node = load_yaml(path)
        except ConfigError:  # a damaged config is reported where it is used, not here
            continue
        new = rewrite.value(data)
        if new != data:
            save_yaml(new, path)
            changed += 1
    return changed
