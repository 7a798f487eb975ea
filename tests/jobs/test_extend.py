"""`extend` when the database cannot take the change: the run's files stay as they were."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from spark_trainer.errors import DatabaseLocked
from spark_trainer.jobs.extend import PLAN_FILE, extend
from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.cli.test_run_extend import _completed_run


def _files(run_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run_dir.iterdir()) if p.is_file()}


def test_an_extend_the_database_refuses_leaves_the_config_and_plan_as_they_were(store: Store, home: Path) -> None:
    run = _completed_run(store, gpus="count:64", steps=8)
    run_dir = Path(run.run_dir)
    before = _files(run_dir)
    other = sqlite3.connect(store.home.db_path, timeout=0)  # another process holding the write lock
    other.execute("BEGIN IMMEDIATE")
    try:
        with Store.open(home, busy_timeout_ms=200) as impatient, pytest.raises(DatabaseLocked):
            extend(impatient, run.id, 4)
    finally:
        other.rollback()
        other.close()
    assert runs.get(store, run.id).status == RunStatus.COMPLETED
    assert _files(run_dir) == before  # no max_steps 12 in config.yaml, no extend.json, no backup

    # Once the database can be written, the same extend does what it says, from the original config.
    done = extend(store, run.id, 4)
    assert done.status == RunStatus.QUEUED and done.total_steps == 12
    assert (run_dir / "config.before-extend-8.yaml").read_bytes() == before["config.yaml"]
    segments = [(s["start"], s["end"]) for s in json.loads((run_dir / PLAN_FILE).read_text())["segments"]]
    assert segments == [(0, 8), (8, 12)]
