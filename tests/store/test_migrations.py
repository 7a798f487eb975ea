"""Migrations: old databases are upgraded with data intact; newer ones are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from spark_trainer.errors import SchemaTooNew
from spark_trainer.paths import DataHome
from spark_trainer.store import migrate, projects, runs, settings
from spark_trainer.store.engine import make_engine
from spark_trainer.store.store import Store
from tests.store.old_homes import old_home


def test_head_revision_constant_matches_alembic_head() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    assert script.get_current_head() == migrate.HEAD_REVISION


def test_models_match_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from spark_trainer.store.models import Base

    engine = make_engine(tmp_path / "db.sqlite")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diffs == []


def test_upgrade_from_first_revision_keeps_data(tmp_path: Path) -> None:
    home = old_home(tmp_path / "home", "0001", description="from v1", loss_points=1)
    assert migrate.current_revision(make_engine(home.db_path)) == "0001"

    with Store.open(home) as store:  # opening applies 0002
        assert store.schema_revision() == migrate.HEAD_REVISION
        project = projects.get(store, "old")
        assert (project.description, project.num_experiments, project.num_runs) == ("from v1", 1, 1)
        run = runs.get(store, 1)
        assert (run.step, run.priority, run.status.value) == (10, 0, "completed")
        assert settings.set_value(store, "max_concurrent_runs", 2) == 2  # the new table works
        from spark_trainer.store import metrics

        assert [(m.key, m.step, m.value) for m in metrics.read(store, 1)] == [("loss", 0, 1.5)]


def test_database_newer_than_code_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    Store.open(home).close()
    db = sqlite3.connect(home / "sparktrainer.db")
    db.execute("UPDATE alembic_version SET version_num = '9999'")
    db.commit()
    db.close()
    with pytest.raises(SchemaTooNew, match="newer than this SparkTrainer"):
        Store.open(home)


def test_every_connection_has_pragmas(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def _home_with_one_run(tmp_path: Path, revision: str, status: str, step: int) -> DataHome:
    """A data home whose database is at `revision`, holding one project, experiment and run."""
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, description, created_at, updated_at) "
                          "VALUES (1, 'old', '', '2026-12-01 00:00:00', '2026-12-01 00:00:00')"))
        conn.execute(text("INSERT INTO experiments (id, project_id, name, recipe, base_model, config, notes, "
                          "created_at) VALUES (1, 1, 'e1', 'causal-lm', 'm', '{}', '', '2026-12-01 00:00:00')"))
        conn.execute(text("INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          f"created_at) VALUES (1, 1, '{status}', 'cpu', '[]', {step}, '/r/1', '2026-12-01 00:00:00')"))
    engine.dispose()
    return home


def test_0007_gives_old_runs_no_sweep_and_new_runs_theirs(tmp_path: Path) -> None:
    from alembic import command

    home = _home_with_one_run(tmp_path, "0006", "completed", 10)

    with Store.open(home) as store:
        old = runs.get(store, 1)
        assert (old.sweep, old.sweep_values, old.step) == (None, {}, 10)
        swept = runs.create(store, "e1", sweep="e1-sweep-1", sweep_values={"train.learning_rate": 0.001})
        assert runs.get(store, swept.id).sweep_values == {"train.learning_rate": 0.001}
        assert [r.id for r in runs.list_all(store, sweep="e1-sweep-1")] == [swept.id]
        assert [r.id for r in runs.list_all(store)] == [1, swept.id]

    engine = make_engine(home.db_path)  # and back: the runs stay, without the columns
    command.downgrade(migrate._alembic_config(engine), "0006")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 2
        assert "sweep" not in {row[1] for row in conn.execute(text("PRAGMA table_info(runs)"))}
    engine.dispose()


def test_0008_gives_every_run_no_start_up_phase_and_downgrades(tmp_path: Path) -> None:
    from alembic import command

    home = _home_with_one_run(tmp_path, "0007", "running", 0)

    with Store.open(home) as store:  # a run a worker of the build before still trains: no phase, running
        assert store.schema_revision() == migrate.HEAD_REVISION
        old = runs.get(store, 1)
        assert (old.status.value, old.phase) == ("running", None)
        runs.beat(store, 1, "loading the model")
        assert runs.get(store, 1).phase == "loading the model"

    engine = make_engine(home.db_path)
    command.downgrade(migrate._alembic_config(engine), "0007")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 1
        assert "phase" not in {row[1] for row in conn.execute(text("PRAGMA table_info(runs)"))}
    engine.dispose()


def test_0009_keeps_exports_and_evaluations_and_never_gives_their_ids_again(tmp_path: Path) -> None:
    from alembic import command

    from spark_trainer.store import evaluations, exports

    home = _home_with_one_run(tmp_path, "0008", "completed", 10)
    engine = make_engine(home.db_path)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          "created_at) VALUES (2, 1, 'completed', 'cpu', '[]', 5, '/r/2', '2026-12-01 00:00:00')"))
        for export_id, run_id in ((1, 1), (2, 2)):
            conn.execute(text("INSERT INTO exports (id, run_id, step, options, path, created_at) VALUES "
                              f"({export_id}, {run_id}, 5, '{{}}', '/e/{export_id}', '2026-12-01 00:00:00')"))
        conn.execute(text("INSERT INTO evaluations (id, run_id, task, data_path, base, checkpoint, status, gpus, done, total, "
                          "created_at) VALUES (4, 2, 'perplexity', '/d', 0, 'last', 'completed', '[]', 0, 0, "
                          "'2026-12-01 00:00:00')"))
    engine.dispose()

    with Store.open(home) as store:
        assert [e.path for e in exports.list_for(store, 1)] == ["/e/1"]
        assert [e.id for e in evaluations.list_for(store, 2)] == [4]
        runs.delete(store, 2)  # its export (the highest id) and evaluation go with it
        assert exports.next_id(store) == 3
        assert exports.add(store, 1, step=10, options={}, path="/e/3").id == 3

    engine = make_engine(home.db_path)  # and back: the rows stay
    command.downgrade(migrate._alembic_config(engine), "0008")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM exports ORDER BY id")).scalars().all() == [1, 3]
    engine.dispose()


def test_0010_gives_old_experiments_no_deleted_dataset_and_a_forced_delete_names_it(tmp_path: Path) -> None:
    from alembic import command

    from spark_trainer.store import datasets, experiments
    from spark_trainer.store.datasets import NewDataset

    home = _home_with_one_run(tmp_path, "0009", "completed", 10)
    with Store.open(home) as store:
        assert experiments.get(store, 1).deleted_dataset is None
        made = datasets.create(store, "old", NewDataset(name="d", kind="text", path="/d", num_items=1))
        used = experiments.create(store, project="old", name="e2", recipe="causal-lm", base_model="m",
                                  dataset=made.id, config={})
        datasets.delete(store, "d", force=True)
        assert experiments.get(store, used.id).deleted_dataset == "d"

    engine = make_engine(home.db_path)  # and back: the experiments stay, the column goes
    command.downgrade(migrate._alembic_config(engine), "0009")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM experiments")).scalar() == 2
        assert "deleted_dataset" not in {row[1] for row in conn.execute(text("PRAGMA table_info(experiments)"))}
    engine.dispose()


def test_0011_fills_each_runs_dataset_from_its_frozen_config_else_its_experiment(tmp_path: Path) -> None:
    """A home from before runs recorded their dataset: run 2 trains on `d-2` (its config.yaml says '2') under
    an experiment on `d`; deletes must see that, so its row is filled from the frozen config, not guessed."""
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, "0010")
    frozen = tmp_path / "runs" / "2"
    frozen.mkdir(parents=True)
    (frozen / "config.yaml").write_text("project: q\nname: tc\ndataset: '2'\nrecipe: text-classification\n")
    when = "'2026-01-01 00:00:00'"
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO projects (id, name, description, created_at, updated_at) VALUES (1, 'q', '', "
                          f"{when}, {when})"))
        for i, name in ((1, "d"), (2, "d-2")):
            conn.execute(text(f"INSERT INTO datasets (id, project_id, name, kind, status, path, version, num_items, "
                              f"num_train, num_val, num_rejected, num_duplicates, size_bytes, sources, meta, created_at) "
                              f"VALUES ({i}, 1, '{name}', 'text', 'ready', '/d/{i}', '', 1, 1, 0, 0, 0, 0, '[]', '{{}}', "
                              f"{when})"))
        conn.execute(text(f"INSERT INTO experiments (id, project_id, dataset_id, name, recipe, base_model, config, "
                          f"notes, created_at) VALUES (1, 1, 1, 'tc', 'text-classification', 'm', '{{}}', '', {when})"))
        conn.execute(text(f"INSERT INTO experiments (id, project_id, dataset_id, name, recipe, base_model, config, "
                          f"notes, created_at, deleted_dataset) VALUES (2, 1, NULL, 'old', 'text-classification', 'm', "
                          f"'{{}}', '', {when}, 'gone')"))
        for run_id, exp_id, run_dir, status in ((1, 1, "/nowhere/1", "completed"), (2, 1, str(frozen), "paused"),
                                                (3, 2, "/nowhere/3", "completed")):
            conn.execute(text(f"INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                              f"created_at) VALUES ({run_id}, {exp_id}, '{status}', 'cpu', '[]', 1, '{run_dir}', "
                              f"{when})"))
        conn.execute(text(f"INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          f"created_at) VALUES (4, 1, 'completed', 'cpu', '[]', 1, '/nowhere/4', {when})"))
        conn.execute(text("DELETE FROM runs WHERE id = 4"))  # its id was given once: never again
    engine.dispose()
    with Store.open(home) as store:
        assert store.schema_revision() == migrate.HEAD_REVISION
        with store.read() as session:  # the rebuilt table kept AUTOINCREMENT (0003) and its sequence
            assert "AUTOINCREMENT" in session.execute(text("SELECT sql FROM sqlite_master WHERE name = 'runs'")).scalar()
        assert runs.create(store, 1).id == 5
        assert (runs.get(store, 1).dataset_id, runs.get(store, 2).dataset_id) == (1, 2)
        assert (runs.get(store, 3).dataset_id, runs.get(store, 3).deleted_dataset) == (None, "gone")
        from spark_trainer.store import datasets

        with pytest.raises(datasets.DatasetInUse, match=r"used by run 2 \(paused\)"):
            datasets.delete(store, 2)


def test_0012_keeps_every_run_and_sweep_and_older_sweeps_have_no_plan(tmp_path: Path) -> None:
    """A home whose sweep was queued before sweeps recorded their plan: its runs and the sweep stay, with
    no plan (so `sweep show` says its deleted runs are inferred); a sweep queued after has one."""
    from alembic import command

    from spark_trainer.store import sweeps

    home = _home_with_one_run(tmp_path, "0011", "completed", 10)
    with make_engine(home.db_path).begin() as conn:
        for run_id, lr in ((2, 0.001), (3, 0.003)):
            conn.execute(text(f"INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                              f"created_at, sweep, sweep_values) VALUES ({run_id}, 1, 'completed', 'cpu', '[]', 8, "
                              f"'/r/{run_id}', '2026-12-01 00:00:00', 'old', "
                              f"'{{\"train.learning_rate\": {lr}}}')"))
    with Store.open(home) as store:
        assert store.schema_revision() == migrate.HEAD_REVISION
        assert [(r.id, r.sweep, r.sweep_values) for r in runs.list_all(store)] == [
            (1, None, {}), (2, "old", {"train.learning_rate": 0.001}), (3, "old", {"train.learning_rate": 0.003})]
        assert [(s.name, s.num_runs, s.queued, s.deleted) for s in sweeps.list_all(store)] == [("old", 2, None, None)]
        assert sweeps.plan(store, "old") is None
        made = runs.create_all(store, "e1", [runs.NewRun("cpu", sweep="new", sweep_values={"train.seed": s})
                                             for s in (1, 2)], lambda run, index: None)
        assert [r.id for r in made] == [4, 5] and sweeps.plan(store, "new") == [{"train.seed": 1}, {"train.seed": 2}]

    engine = make_engine(home.db_path)  # and back: the runs stay, without the plans
    command.downgrade(migrate._alembic_config(engine), "0011")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM runs")).scalar() == 5
        assert not conn.execute(text("SELECT name FROM sqlite_master WHERE name = 'sweep_plans'")).all()
    engine.dispose()


def test_a_backup_that_fails_leaves_no_file_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk stopped the copy: the empty file was left as the newest backup-*, the one a restore picks."""
    db = tmp_path / "sparktrainer.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.commit()

    class Full:
        def __init__(self, real: sqlite3.Connection) -> None:
            self.real = real

        def backup(self, copy: sqlite3.Connection) -> None:
            copy.execute("CREATE TABLE half (x)")  # the copy's file exists, then the disk is full
            raise sqlite3.OperationalError("database or disk is full")

        def close(self) -> None:
            self.real.close()

    real_connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda path, *a, **k: Full(real_connect(path)) if path == str(db)
                        else real_connect(path, *a, **k))
    with pytest.raises(sqlite3.OperationalError):
        migrate.backup(db, "0004")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sparktrainer.db"]


def test_an_upgrade_stopped_part_way_leaves_the_database_at_the_revision_it_had(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A full disk at the third of eight migrations: nothing of the first two stays, so the database is
    the one the backup holds and the disk-full message ("nothing was changed") is true."""
    from alembic.runtime.migration import HeadMaintainer

    home = old_home(tmp_path / "home", "0004", description="kept")
    engine = make_engine(home.db_path)
    stamped = HeadMaintainer.update_to_step
    calls = []

    def full_at_the_third(self, step):  # noqa: ANN001 - alembic's signature
        calls.append(step)
        if len(calls) == 3:
            raise sqlite3.OperationalError("database or disk is full")
        return stamped(self, step)

    monkeypatch.setattr(HeadMaintainer, "update_to_step", full_at_the_third)
    with pytest.raises(Exception, match="database or disk is full"):
        migrate.upgrade(engine)
    engine.dispose()
    assert len(calls) == 3
    monkeypatch.setattr(HeadMaintainer, "update_to_step", stamped)
    engine = make_engine(home.db_path)
    assert migrate.current_revision(engine) == "0004"
    with engine.connect() as conn:
        tables = {row[0] for row in conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
        assert "metric_series" not in tables and not any(name.startswith("_alembic_tmp") for name in tables)
        assert conn.execute(text("SELECT description FROM projects")).scalar_one() == "kept"
    engine.dispose()
    with Store.open(home) as store:  # with room again, the same upgrade goes through
        assert store.schema_revision() == migrate.HEAD_REVISION
        assert projects.get(store, "old").description == "kept"


def test_an_upgrade_that_finds_the_database_locked_leaves_no_copy_behind(tmp_path: Path) -> None:
    """Seen in the upgrade walk: each open of an old home while another process held the write lock made a
    copy of the database and failed, leaving the copy; the upgrade changed nothing, so the copy is removed."""
    from spark_trainer.errors import StoreError

    home = old_home(tmp_path / "home", "0004")
    holder = sqlite3.connect(home.db_path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")  # another process writing
    try:
        for _ in range(2):
            with pytest.raises(StoreError, match="database is locked"):
                Store.open(home, busy_timeout_ms=100)
            assert migrate.backups(home.db_path) == []
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert migrate.current_revision(make_engine(home.db_path)) == "0004"
    with Store.open(home) as store:  # the lock gone, the upgrade goes through and keeps its copy
        assert store.schema_revision() == migrate.HEAD_REVISION
    assert [p.name.rsplit("-", 1)[1] for p in migrate.backups(home.db_path)] == ["rev0004"]
