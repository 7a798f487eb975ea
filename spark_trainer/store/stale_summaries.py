"""Metric summaries of runs whose worker is older than the summaries.

Migration 0005 summarises every point written so far. A worker started by an older SparkTrainer
(before 0005) that is still training while a newer one migrates the database goes on inserting
points without touching the summaries it does not know, so the runs table and the leaderboard
would show that run's loss from the moment of the upgrade for ever. The runs a worker may be
writing at that moment are listed in a file next to the database (`PENDING_SUFFIX`);
`refresh` (called by reconcile, so by every scheduler tick and most commands) rebuilds their
summaries and forgets each run once it has stopped. Homes upgraded with no run training never have
the file, and a stat is all `refresh` costs them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import Connection, text

from spark_trainer.store.store import Store

PENDING_SUFFIX = ".summaries-pending"
# Statuses in which an (old) worker may still be writing points.
WRITING = ("starting", "running", "stalled")


def pending_path(db_path: Path) -> Path:
    return Path(db_path).with_name(Path(db_path).name + PENDING_SUFFIX)


def _write(path: Path, run_ids: list[int]) -> None:
    if not run_ids:
        path.unlink(missing_ok=True)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(sorted(set(run_ids))))
    os.replace(tmp, path)


def _writing(conn: Connection, run_ids: list[int] | None = None) -> list[int]:
    query = f"SELECT id, status FROM runs WHERE status IN ({', '.join(repr(s) for s in WRITING)})"
    found = [int(row[0]) for row in conn.execute(text(query))]
    return found if run_ids is None else [r for r in found if r in run_ids]


def note_writing_runs(conn: Connection, db_path: Path) -> None:
    """Just after 0005 was applied: list the runs an older worker may still be writing."""
    found = _writing(conn)
    if found:
        path = pending_path(db_path)
        known = json.loads(path.read_text()) if path.is_file() else []
        _write(path, known + found)


def refresh(store: Store) -> None:
    """Rebuild the summaries of the listed runs; runs that have stopped leave the list."""
    from spark_trainer.store import metric_packs

    path = pending_path(store.home.db_path)
    if not path.is_file():
        return
    try:
        listed = [int(r) for r in json.loads(path.read_text())]
    except (ValueError, TypeError):
        listed = []  # unreadable: nothing to go on; every run 0005 saw is summarised already
    with store.write() as session:
        conn = session.connection()
        still = _writing(conn, listed)
        for run_id in listed:
            metric_packs.summarise(conn, run_id)
    _write(path, still)
