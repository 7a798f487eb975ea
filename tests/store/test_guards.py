"""The store guards itself (issue 14, items 7 and 8): a file that is not SQLite is reported with
its path and never overwritten, doctor still runs, migrations take a backup first, workers check
the schema too, and many processes may open a new home at once."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import text

from spark_trainer.errors import StoreError
from spark_trainer.paths import DataHome
from spark_trainer.store import migrate, projects
from spark_trainer.store.engine import make_engine
from spark_trainer.store.store import Store
from tests.conftest import spark_trainer_exe, subprocess_env

GARBAGE = b"this is not a database\n" * 100


def test_garbage_database_is_reported_and_never_overwritten(home: Path, cli) -> None:
    home.mkdir(parents=True)
    db = home / "sparktrainer.db"
    db.write_bytes(GARBAGE)
    with pytest.raises(StoreError, match=f"{db} is not a SQLite database"):
        Store.open(home)
    listed = cli("project", "list")
    assert listed.code == 1 and listed.err.count("\n") == 1 and str(db) in listed.err
    assert "Traceback" not in listed.err
    doctor = cli("doctor")
    assert doctor.code == 1
    assert f"PROBLEM: {db} is not a SQLite database" in doctor.out and "backup" in doctor.out
    assert "Python" in doctor.out  # the rest of the report is still there
    assert db.read_bytes() == GARBAGE


def test_damaged_database_is_reported_by_doctor(home: Path, cli) -> None:
    with Store.open(home) as store:
        for i in range(300):
            projects.create(store, f"p{i}")
    db = home / "sparktrainer.db"
    data = bytearray(db.read_bytes())
    data[4096 * 2: 4096 * 4] = b"\xff" * 8192  # trash two pages, keep the header
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    doctor = cli("doctor")
    assert doctor.code == 1 and "PROBLEM" in doctor.out and str(db) in doctor.out
    assert db.read_bytes() == before


def test_migration_takes_a_timestamped_backup_first(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (name, description, created_at, updated_at) "
                          "VALUES ('old', '', '2026-01-01', '2026-01-01')"))
    engine.dispose()
    Store.open(home).close()
    backups = sorted(home.root.glob("sparktrainer.db.backup-*-rev0002"))
    assert len(backups) == 1
    old = make_engine(backups[0])
    assert migrate.current_revision(old) == "0002"
    with old.connect() as conn:
        assert conn.execute(text("SELECT name FROM projects")).scalar() == "old"
    old.dispose()
    Store.open(home).close()  # already at head: no second backup
    assert len(list(home.root.glob("sparktrainer.db.backup-*"))) == 1


def test_a_store_opened_without_upgrading_checks_the_schema(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, "0002")
    engine.dispose()
    with pytest.raises(StoreError, match="schema revision '0002'; this SparkTrainer needs"):
        Store.open(home, upgrade=False)


def test_a_worker_of_an_older_version_is_told_the_database_is_newer_not_to_migrate_it(tmp_path: Path) -> None:
    # An upgrade walk: an old version's worker, started by its still-running chain after the new version
    # migrated the home, said "this SparkTrainer needs '0004' (open it once ... to migrate it)" of a
    # database newer than itself.
    home = DataHome(tmp_path / "home").ensure()
    Store.open(home).close()
    engine = make_engine(home.db_path)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(StoreError) as exc:
        Store.open(home, upgrade=False)
    assert f"schema revision '0099', newer than this SparkTrainer's '{migrate.HEAD_REVISION}'" in str(exc.value)
    assert "migrate it)" not in str(exc.value)


def test_many_processes_open_a_new_home_at_once(tmp_path: Path) -> None:
    exe = spark_trainer_exe()
    for attempt in range(3):
        home = tmp_path / f"home{attempt}"
        procs = [subprocess.Popen([exe, "--home", str(home), "project", "list"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=subprocess_env(), text=True) for _ in range(4)]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert all(code == 0 for code, _ in results), results
