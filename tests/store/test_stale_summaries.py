"""A run an older SparkTrainer's worker is still training while a newer one upgrades the database:
its points keep arriving without summaries, and the runs table and leaderboard catch up anyway."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.leaderboard import summaries
from spark_trainer.store import stale_summaries
from spark_trainer.store.engine import make_engine
from spark_trainer.store.store import Store
from tests.store.test_migrations_forks import _home_at_0004


def _old_worker_writes(db: Path, steps: range, status: str | None = None) -> None:
    """What a worker from before migration 0005 does: plain inserts, no summaries."""
    engine = make_engine(db)
    with engine.begin() as conn:
        for step in steps:
            conn.execute(text("INSERT INTO metrics (run_id, key, step, value, wall_time) "
                              f"VALUES (1, 'loss', {step}, {1.0 / step}, 0)"))
        if status:
            conn.execute(text(f"UPDATE runs SET status = '{status}' WHERE id = 1"))
    engine.dispose()


def test_points_an_old_worker_writes_after_the_upgrade_reach_the_summaries(tmp_path: Path) -> None:
    home, engine = _home_at_0004(tmp_path)  # run 1 has loss at steps 1..3
    with engine.begin() as conn:
        conn.execute(text("UPDATE runs SET status = 'running' WHERE id = 1"))
    engine.dispose()
    pending = stale_summaries.pending_path(home.db_path)

    with Store.open(home) as store:  # the app of the new version opens while the old worker trains
        _old_worker_writes(home.db_path, range(4, 11))
        stale_summaries.refresh(store)
        loss = summaries(store, [1])[1]["loss"]
        assert (loss.count, loss.last_step, loss.last) == (10, 10, 0.1)  # was: 3 points, last step 3
        assert pending.is_file()  # still training: still watched

        _old_worker_writes(home.db_path, range(11, 13), status="completed")  # its last flush, then done
        reconcile(store)
        loss = summaries(store, [1])[1]["loss"]
        assert (loss.count, loss.last_step, loss.last) == (12, 12, 1.0 / 12)
        assert not pending.exists()  # stopped: forgotten


def test_an_upgrade_with_nothing_training_leaves_no_list(tmp_path: Path) -> None:
    home, engine = _home_at_0004(tmp_path)  # its one run is completed
    engine.dispose()
    with Store.open(home) as store:
        reconcile(store)
        assert summaries(store, [1])[1]["loss"].count == 3
    assert not stale_summaries.pending_path(home.db_path).exists()


def test_a_worker_of_a_build_without_0005_training_through_the_repair_is_followed_too(tmp_path: Path) -> None:
    # The builds that applied 0006 straight after 0004 knew no summaries either (see migrate.FORKED_REVISION).
    home, engine = _home_at_0004(tmp_path)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE runs ADD COLUMN ran_on VARCHAR(80) NOT NULL DEFAULT 'local'"))
        conn.execute(text("UPDATE alembic_version SET version_num = '0006'"))
        conn.execute(text("UPDATE runs SET status = 'running' WHERE id = 1"))
    engine.dispose()
    with Store.open(home) as store:
        _old_worker_writes(home.db_path, range(4, 6), status="completed")
        reconcile(store)
        assert summaries(store, [1])[1]["loss"].count == 5
    assert not stale_summaries.pending_path(home.db_path).exists()
