"""Databases made by the builds of 2026-11-30 that ordered migrations 0005 and 0006 differently
(each was written on its own branch, both after 0004) open with their metrics and runs intact."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from spark_trainer.leaderboard import summaries
from spark_trainer.paths import DataHome
from spark_trainer.store import metrics, migrate, runs
from spark_trainer.store.engine import make_engine
from spark_trainer.store.store import Store

ADD_RAN_ON = "ALTER TABLE runs ADD COLUMN ran_on VARCHAR(80) NOT NULL DEFAULT 'local'"


def _home_at_0004(tmp_path: Path) -> tuple[DataHome, object]:
    """A home with one run and its loss curve, at revision 0004."""
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, description, created_at, updated_at) "
                          "VALUES (1, 'old', '', '2026-11-30 00:00:00', '2026-11-30 00:00:00')"))
        conn.execute(text("INSERT INTO experiments (id, project_id, name, recipe, base_model, config, notes, "
                          "created_at) VALUES (1, 1, 'e1', 'causal-lm', 'm', '{}', '', '2026-11-30 00:00:00')"))
        conn.execute(text("INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          "created_at) VALUES (1, 1, 'completed', 'cpu', '[]', 3, '/r/1', '2026-11-30 00:00:00')"))
        for step, value in ((1, 3.0), (2, 2.5), (3, 2.0)):
            conn.execute(text("INSERT INTO metrics (run_id, key, step, value, wall_time) "
                              f"VALUES (1, 'loss', {step}, {value}, 0)"))
    migrate.upgrade(engine, "0004")
    return home, engine


def test_a_database_stamped_0006_without_0005_gets_its_metric_tables(tmp_path: Path) -> None:
    # As the build that applied 0006 right after 0004 left it: `ran_on` added, stamped 0006.
    home, engine = _home_at_0004(tmp_path)
    with engine.begin() as conn:
        conn.execute(text(ADD_RAN_ON))
        conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
    engine.dispose()

    with Store.open(home) as store:
        assert store.schema_revision() == migrate.HEAD_REVISION
        # Was: sqlite3.OperationalError: no such table: metric_blocks
        assert [(m.step, m.value) for m in metrics.read(store, 1)] == [(1, 3.0), (2, 2.5), (3, 2.0)]
        loss = summaries(store, [1])[1]["loss"]  # the leaderboard's and runs table's values
        assert (loss.count, loss.last, loss.minimum, loss.maximum) == (3, 2.0, 2.0, 3.0)
        metrics.add_batch(store, 1, [("loss", 4, 1.5)])  # new points are summarised too
        assert summaries(store, [1])[1]["loss"].count == 4
        assert runs.get(store, 1).ran_on == "local"
    assert list(home.root.glob("sparktrainer.db.backup-*-rev0006"))  # a copy from before the repair

    with Store.open(home) as store:  # repaired once; opening again changes nothing
        assert summaries(store, [1])[1]["loss"].count == 4
    assert len(list(home.root.glob("sparktrainer.db.backup-*"))) == 1


def test_a_database_stamped_0005_with_ran_on_already_added_upgrades(tmp_path: Path) -> None:
    # As the build that chained 0005 after 0006 left it: both applied, stamped 0005.
    home, engine = _home_at_0004(tmp_path)
    migrate.upgrade(engine, "0005")
    with engine.begin() as conn:
        conn.execute(text(ADD_RAN_ON))
        conn.execute(text("UPDATE runs SET ran_on = 'torchrun 2x1'"))
    engine.dispose()

    with Store.open(home) as store:  # was: duplicate column name: ran_on
        assert store.schema_revision() == migrate.HEAD_REVISION
        assert runs.get(store, 1).ran_on == "torchrun 2x1"
        assert [m.value for m in metrics.read(store, 1)] == [3.0, 2.5, 2.0]


def test_a_forked_database_a_later_build_took_to_the_head_is_repaired_at_open(tmp_path: Path) -> None:
    # Stamped 0006 without 0005 (as above), then 0007 and every later revision applied on top by a
    # build without the repair: at the head revision, but still without the metric tables.
    from alembic.migration import MigrationContext
    from alembic.operations import Operations
    from alembic.script import ScriptDirectory

    home, engine = _home_at_0004(tmp_path)
    scripts = ScriptDirectory(str(migrate.MIGRATIONS_DIR))
    later = list(reversed(list(scripts.iterate_revisions(migrate.HEAD_REVISION, "0006"))))
    assert later and later[0].revision == "0007"
    with engine.connect() as conn:
        # As a build applies them (migrations/env.py): foreign keys off, outside a transaction, or a rebuilt
        # table (0011's runs) would cascade its drop into the metrics.
        conn.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        conn.execute(text(ADD_RAN_ON))
        for revision in later:
            revision.module.upgrade()
        conn.execute(text(f"UPDATE alembic_version SET version_num = '{migrate.HEAD_REVISION}'"))
    engine.dispose()

    with Store.open(home) as store:
        assert store.schema_revision() == migrate.HEAD_REVISION
        assert [(m.step, m.value) for m in metrics.read(store, 1)] == [(1, 3.0), (2, 2.5), (3, 2.0)]
        assert summaries(store, [1])[1]["loss"].count == 3
        assert runs.get(store, 1).sweep is None
    assert len(list(home.root.glob(f"sparktrainer.db.backup-*-rev{migrate.HEAD_REVISION}"))) == 1

    with Store.open(home) as store:  # repaired once; opening again changes nothing
        assert summaries(store, [1])[1]["loss"].count == 3
    assert len(list(home.root.glob("sparktrainer.db.backup-*"))) == 1
