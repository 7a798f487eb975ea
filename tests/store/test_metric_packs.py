"""Packed metric series and per-series summaries: readers see exactly the points written."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from spark_trainer import leaderboard
from spark_trainer.paths import DataHome
from spark_trainer.store import experiments, metric_packs, metrics, migrate, projects, runs
from spark_trainer.store.engine import make_engine
from spark_trainer.store.store import Store


@pytest.fixture
def small_packs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metric_packs, "PACK_ROWS", 50)
    monkeypatch.setattr(metric_packs, "BLOCK_MAX", 40)


def _run(store: Store) -> int:
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    return runs.create(store, exp.id, requested_gpus="cpu").id


def test_reads_are_the_points_written_whether_packed_or_not(store: Store, small_packs: None) -> None:
    run_id = _run(store)
    rng = random.Random(3)
    expected = []
    step = {"loss": 0, "lr": 0, "eval_loss": 0}
    for _ in range(30):  # 30 batches of 1..12 points over three keys: some series pack, one does not
        batch = []
        for _ in range(rng.randint(1, 12)):
            key = rng.choice(["loss", "loss", "lr", "eval_loss"])
            step[key] += 1
            batch.append((key, step[key], rng.random(), float(step[key])))
        metrics.add_batch(store, run_id, batch)
        expected.extend(batch)
    with store.engine.connect() as conn:
        blocks = conn.execute(text("SELECT count(*) FROM metric_blocks")).scalar()
        raw = conn.execute(text("SELECT count(*) FROM metrics")).scalar()
    assert blocks > 0 and raw < len(expected)  # some points were packed, not all
    got = metrics.read(store, run_id)
    assert [(m.key, m.step, m.value, m.wall_time) for m in got] == [(k, s, v, w) for k, s, v, w in expected]
    ids = [m.id for m in got]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    # Incremental reads from any point, with or without keys and limits, agree with the full read.
    for after in (0, ids[10], ids[len(ids) // 2], ids[-3], ids[-1]):
        part = metrics.read(store, run_id, after_id=after)
        assert part == [m for m in got if m.id > after]
        assert metrics.read(store, run_id, after_id=after, keys=["loss"]) == [
            m for m in got if m.id > after and m.key == "loss"]
        for limit in (1, 7, 45, 100, 1000):
            assert metrics.read(store, run_id, after_id=after, limit=limit) == [m for m in got if m.id > after][:limit]
            assert metrics.read(store, run_id, after_id=after, keys=["loss", "lr"], limit=limit) == [
                m for m in got if m.id > after and m.key != "eval_loss"][:limit]
    arrays = metrics.series(store, run_id, keys=["loss"])["loss"]
    assert arrays.steps.tolist() == [m.step for m in got if m.key == "loss"]
    # Summaries equal what the points say.
    found = leaderboard.summaries(store, [run_id])[run_id]
    for key in step:
        values = [m.value for m in got if m.key == key]
        s = found[key]
        assert (s.count, s.minimum, s.maximum, s.last, s.last_step) == (
            len(values), min(values), max(values), values[-1], step[key])
    assert metrics.keys(store, run_id) == ["eval_loss", "loss", "lr"]
    assert leaderboard.metric_keys(store) == ["eval_loss", "loss", "lr"]
    assert leaderboard.last_values(store, [run_id], ["loss", "missing"]) == {run_id: {"loss": found["loss"].last}}


def test_delete_after_cuts_packed_and_raw_points(store: Store, small_packs: None) -> None:
    run_id = _run(store)
    for start in range(0, 200, 20):
        metrics.add_batch(store, run_id, [("loss", s, 1.0 / s, float(s)) for s in range(start + 1, start + 21)])
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metric_blocks")).scalar() >= 3
    assert metrics.delete_after(store, run_id, 73) == 127
    got = metrics.read(store, run_id)
    assert [m.step for m in got] == list(range(1, 74))
    s = leaderboard.summaries(store, [run_id])[run_id]["loss"]
    assert (s.count, s.last_step, s.last, s.minimum) == (73, 73, 1 / 73, 1 / 73)
    # A resumed run writes the steps again: the new points are the series' last.
    metrics.add_batch(store, run_id, [("loss", s, 2.0, float(s)) for s in range(74, 80)])
    got = metrics.read(store, run_id)
    assert [m.step for m in got] == list(range(1, 80))
    assert leaderboard.summaries(store, [run_id])[run_id]["loss"].last == 2.0
    runs.delete(store, run_id)  # blocks and summaries go with the run
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metric_blocks")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM metric_series")).scalar() == 0


def test_upgrade_summarises_and_packs_existing_points(tmp_path: Path, small_packs: None) -> None:
    home = DataHome(tmp_path / "home").ensure()
    engine = make_engine(home.db_path)
    from alembic.script import ScriptDirectory

    before = ScriptDirectory(str(migrate.MIGRATIONS_DIR)).get_revision("0005").down_revision
    migrate.upgrade(engine, before)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, description, created_at, updated_at) "
                          "VALUES (1, 'old', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO experiments (id, project_id, name, recipe, base_model, config, notes, "
                          "created_at) VALUES (1, 1, 'e1', 'causal-lm', 'm', '{}', '', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          "created_at) VALUES (1, 1, 'completed', 'cpu', '[]', 10, '/r/1', '2026-01-01 00:00:00')"))
        for step in range(1, 131):  # 130 loss points (packed), 3 eval points (stay rows)
            conn.execute(text("INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (1, 'loss', :s, :v, 0)"),
                         {"s": step, "v": 100.0 - step})
            if step % 50 == 0 or step == 130:
                conn.execute(text("INSERT INTO metrics (run_id, key, step, value, wall_time) "
                                  "VALUES (1, 'eval_loss', :s, :v, 0)"), {"s": step, "v": float(step)})
    engine.dispose()
    with Store.open(home) as store:
        assert store.schema_revision() == migrate.HEAD_REVISION
        got = metrics.read(store, 1)
        assert [m.step for m in got if m.key == "loss"] == list(range(1, 131))
        assert [m.step for m in got if m.key == "eval_loss"] == [50, 100, 130]
        found = leaderboard.summaries(store, [1])[1]
        assert (found["loss"].count, found["loss"].last, found["loss"].minimum) == (130, -30.0, -30.0)
        assert (found["eval_loss"].last, found["eval_loss"].maximum) == (130.0, 130.0)
        assert [e.run.id for e in leaderboard.rank(store, "loss")] == [1]
    db = sqlite3.connect(home.db_path)
    assert db.execute("SELECT count(*) FROM metrics WHERE key = 'loss'").fetchone() == (0,)
    assert db.execute("SELECT sum(count) FROM metric_blocks").fetchone() == (130,)
    db.close()
    # And back down: the rows return with their ids.
    from alembic import command

    engine = make_engine(home.db_path)
    command.downgrade(migrate._alembic_config(engine), before)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*), min(step), max(step) FROM metrics WHERE key = 'loss'")).one() == (
            130, 1, 130)
    engine.dispose()


def test_whole_series_read_uses_indexes_not_a_scan_or_sort(store: Store) -> None:
    run_id = _run(store)
    metrics.add_batch(store, run_id, [("loss", 1, 1.0)])
    with store.engine.connect() as conn:
        plan = " ".join(r[3] for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT key, id, step, wall_time, value FROM metrics INDEXED BY ix_metrics_run_key_step "
            "WHERE run_id = 1 AND id > 0")))
        assert "USING INDEX ix_metrics_run_key_step" in plan
        plan = " ".join(r[3] for r in conn.execute(text(
            "EXPLAIN QUERY PLAN SELECT ids FROM metric_blocks WHERE run_id = 1 AND last_id > 0 ORDER BY key, last_id")))
        assert "ix_metric_blocks_run_key_last" in plan


def test_best_steps_find_where_a_best_value_was_measured_packed_or_not(store: Store, small_packs: None) -> None:
    """The summaries keep the last point's step only; the leaderboard's STEP under --use best is the
    step of the best value, read from the points (packed blocks and raw rows)."""
    run_id = _run(store)
    for start in range(0, 120, 20):  # loss 1/s, lowest at step 120; accuracy best 0.9 first at step 30
        metrics.add_batch(store, run_id, [("loss", s, 1.0 / s) for s in range(start + 1, start + 21)]
                          + [("acc", s, 0.9 if s in (30, 100) else 0.5) for s in range(start + 1, start + 21)])
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metric_blocks WHERE key = 'acc'")).scalar() > 0
    assert metrics.best_steps(store, [(run_id, "loss", 1 / 120), (run_id, "acc", 0.9), (run_id, "acc", 0.1)]) == {
        (run_id, "loss"): 120, (run_id, "acc"): 30}


def test_a_run_read_a_series_at_a_time_sorted_by_step_is_the_points_written(store: Store, small_packs: None) -> None:
    """`run metrics` prints a long run a series at a time (metrics.extent, then metrics.by_step per key):
    each series' step range comes first (the table's step column is as wide as its widest step), and
    the points, packed or not, sorted by step; equal steps (a resumed run's rewritten ones) as written."""
    run_id = _run(store)
    for start in range(0, 120, 20):  # loss packs into blocks; lr stays rows
        metrics.add_batch(store, run_id, [("loss", s, 1.0 / s) for s in range(start + 1, start + 21)]
                          + [("lr", -1, 0.1)] * (start == 0))
    metrics.add_batch(store, run_id, [("loss", 5, 9.0), ("loss", 3, 7.0), ("lr", 2000, 0.2)])
    got = metrics.read(store, run_id)
    extent = metrics.extent(store, run_id)
    assert extent.steps == {"loss": (1, 120), "lr": (-1, 2000)} and extent.last_id == max(m.id for m in got)
    assert metrics.extent(store, run_id, keys=["lr", "missing"]).steps == {"lr": (-1, 2000)}
    metrics.add_batch(store, run_id, [("loss", 0, 5.0)])  # written after: left out, as one read would
    for key in ("loss", "lr"):
        series = metrics.by_step(store, run_id, key, up_to_id=extent.last_id)
        expected = sorted((m for m in got if m.key == key), key=lambda m: m.step)
        assert list(zip(series.ids.tolist(), series.steps.tolist(), series.values.tolist(), strict=True)) == [
            (m.id, m.step, m.value) for m in expected]
    assert len(metrics.by_step(store, run_id, "missing", up_to_id=extent.last_id)) == 0


def test_a_nan_point_is_left_out_and_the_rest_of_its_batch_is_kept(store) -> None:
    """SQLite stores NaN as NULL: the whole batch failed ("conflicts with existing data")."""
    import math

    from spark_trainer.store import metrics

    run_id = _run(store)
    assert metrics.add_batch(store, run_id, [("loss", 1, math.nan), ("grad_norm", 1, math.inf), ("lr", 1, 0.1)]) == 2
    assert sorted((m.key, m.value) for m in metrics.read(store, run_id)) == [("grad_norm", math.inf), ("lr", 0.1)]
