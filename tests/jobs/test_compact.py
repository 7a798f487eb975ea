"""`home compact`: a database whose runs were deleted gives their space back to the disk, with every
other row as it was; refused, with nothing changed, while a worker writes or without room."""

from __future__ import annotations

import os
import sqlite3
from collections import namedtuple
from pathlib import Path

import pytest

from spark_trainer.errors import Conflict, DatabaseLocked, DiskFull
from spark_trainer.jobs import compact as compacting
from spark_trainer.jobs import process
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.paths import DataHome
from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


def _run_with_metrics(store: Store, points: int) -> int:
    projects.get_or_create(store, "p")
    found = [e for e in experiments.list_all(store, "p") if e.name == "e"]
    exp = found[0] if found else experiments.create(store, project="p", name="e", recipe="causal-lm",
                                                    base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for start in range(0, points, 5000):
        metrics.add_batch(store, run.id, [(key, step, step * 0.001) for step in range(start + 1, start + 5001)
                                          for key in ("loss", "lr", "grad_norm")])
    return run.id


def test_deleted_runs_space_goes_back_to_the_disk_and_the_rest_stays(store: Store) -> None:
    kept = _run_with_metrics(store, 5000)
    gone = _run_with_metrics(store, 40000)
    kept_loss = metrics.series(store, kept)["loss"]
    runs.delete(store, gone)
    before = compacting.database_size(store)
    assert before.unused_bytes > 2**20, before  # the deleted run's pages, kept in the file
    assert "of it unused (`spark-trainer home compact` gives it back to the disk)" in before.line()

    done = compacting.compact(store)
    now = done.after
    assert done.before == before and not done.in_log
    assert now.unused_bytes == 0 and now.file_bytes < before.file_bytes - before.unused_bytes // 2, (before, now)
    assert Path(f"{store.home.db_path}-wal").stat().st_size == 0  # the log emptied, not left as large
    assert now.line() == compacting.human_bytes(now.file_bytes)  # nothing more to give back: no advice
    loss = metrics.series(store, kept)["loss"]
    assert (loss.steps.tolist(), loss.values.tolist()) == (kept_loss.steps.tolist(), kept_loss.values.tolist())
    assert sqlite3.connect(store.home.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_refused_while_a_run_trains_and_without_room_with_nothing_changed(store: Store, monkeypatch) -> None:
    training = _run_with_metrics(store, 10)
    runs.claim(store, make_picker([], 4, False))
    runs.transition(store, training, RunStatus.RUNNING, "test worker started")
    me = process.identity(os.getpid())
    runs.update(store, training, pid=me.pid, pid_start_time=me.start_time)  # alive: not reconciled away
    with pytest.raises(Conflict) as refused:
        compacting.compact(store)
    assert str(refused.value) == (f"run {training} is running; pause it (spark-trainer run pause {training}) or let "
                                  "it finish, then compact the database")

    runs.transition(store, training, RunStatus.PAUSED, "test worker paused")
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr("spark_trainer.disk.shutil.disk_usage", lambda _path: Usage(10**9, 10**9 - 4096, 4096))
    before = store.home.db_path.read_bytes()
    with pytest.raises(DiskFull) as full:
        compacting.compact(store)
    assert str(full.value).startswith(f"not enough room at {store.home.root} to compact the database: it needs about ")
    assert str(full.value).endswith("and 4.0 KiB is free; nothing was changed")
    assert store.home.db_path.read_bytes() == before


def test_another_writer_past_the_busy_timeout_fails_it_in_one_line_with_nothing_changed(home: DataHome) -> None:
    with Store.open(home, busy_timeout_ms=200) as store:
        _run_with_metrics(store, 10)
        writer = sqlite3.connect(store.home.db_path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # a write held open (another process's transaction)
        try:
            with pytest.raises(DatabaseLocked) as locked:
                compacting.compact(store)
        finally:
            writer.rollback()
            writer.close()
        assert str(locked.value) == (f"cannot compact the database ({store.home.db_path}): another window or "
                                     "command kept it busy for over 0.2 s; nothing was changed; try again")


def test_a_window_reading_meanwhile_leaves_the_database_in_its_log_until_it_stops(home: DataHome) -> None:
    """Readers do not stop a compaction (write-ahead logging): the rewritten database waits in the log
    for a reader on an older snapshot, and says so; the next compaction folds it in."""
    with Store.open(home, busy_timeout_ms=200) as store:
        kept = _run_with_metrics(store, 5000)
        runs.delete(store, _run_with_metrics(store, 20000))
        reader = sqlite3.connect(store.home.db_path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runs").fetchone()  # a snapshot held open (a window mid-read)
        try:
            done = compacting.compact(store)
            assert done.in_log and Path(f"{store.home.db_path}-wal").stat().st_size > 0
        finally:
            reader.rollback()
            reader.close()
        assert metrics.series(store, kept)["loss"].steps.tolist() == list(range(1, 5001))
        again = compacting.compact(store)
        assert not again.in_log and again.after.file_bytes < done.before.file_bytes
        assert Path(f"{store.home.db_path}-wal").stat().st_size == 0
