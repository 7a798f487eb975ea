"""Years of history: a data home with many runs and metric rows, and how fast the store stays.

Generates one project, 20 experiments and `--runs` completed runs sharing `--metrics` metric
points over loss/eval_loss/lr, laid out as the write path leaves them (blocks of `PACK_ROWS`
points, the rest as rows; numpy arrays straight into one transaction, the metrics index built
after, the per-series summaries built by migration 0005's code), plus one run whose `--big-run`
loss points go through the real write path (`metrics.add_batch`, 2,000 points a batch). Then
measures, median of `--repeats`:

- tick: one scheduler tick as the GUI runs it on its pool thread (schedule_once with its
  reconcile, the runs changed since the last tick, their last loss/eval_loss);
- tick_gui: the GUI-thread part of a tick (merging the changed runs into the cached list);
- status_refresh: the status bar's count of active and queued runs (main window, GUI thread);
- first_tick: the first tick after start-up (every run and its last values; pool thread);
- runs_data: every run with its last values (what the Runs table is filled from);
- leaderboard_data: `leaderboard.rank` by eval_loss plus the keys and last values the view adds;
- chart_series: the big run's whole loss series as arrays (`metrics.series`);
- chart_feed: the chart feed loading that series as the run view does (read_batch until caught up);
- chart_before: the baseline, the same points read the way metrics.read did before packing (rows
  in id order, one object per point; from a side table holding a plain-row copy of that series);
- cpu_reference (before and after the measures): a fixed pure-Python loop, to show how loaded
  the machine was (compare runs by it);
- with --gui (offscreen Qt; each view in a 1280x800 window, shown and painted, the app model loaded
  as the app loads it): runs_view_open (navigating to Runs the first time: built, shown, painted),
  runs_view_fill (every run into the empty table, painted), tick_gui_runs_view (the GUI-thread
  part of a tick in which one run moved a step, with the Runs list shown: the model's signals, the
  table's update and its repaint), status_refresh_gui (the status bar's counts from the model),
  leaderboard_view (the Leaderboard opened: built, its reads on the pool, its table filled and
  painted) and leaderboard_table_fill (the GUI-thread part: the table from what was read, painted).
  `--gui-before REF` times the views of git commit REF first, in the same run (keys before_...);
  `--gui-rows N` gives both views only N runs (the views before the table models took minutes
  for one live update of 2,000 shown runs; `--gui-before-no-tick` skips that one measure).

    .venv/bin/python benchmarks/bench_history.py                  # the issue's size: 2,000 runs, 20 M points
    .venv/bin/python benchmarks/bench_history.py --metrics 2000000 --big-run 200000   # a quick look
    .venv/bin/python benchmarks/bench_history.py --home H --gui-only --gui-before main --gui-rows 200

The GUI measures live in bench_history_gui.py.

Goals (issue 14): tick_gui and status_refresh under 20 ms (GUI thread), the runs view and the
leaderboard open under 1 s, the chart loads 1 M points under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

KEYS = ("loss", "eval_loss", "lr")


def generate(home: Path, n_runs: int, n_metrics: int, big_run: int) -> dict[str, float]:
    import numpy as np
    from sqlalchemy import text

    from spark_trainer.store import metric_packs, metrics
    from spark_trainer.store.store import Store

    timings: dict[str, float] = {}
    began = time.perf_counter()
    per = max(1, n_metrics // (n_runs * len(KEYS)))
    packed_per = per // metric_packs.PACK_ROWS * metric_packs.PACK_ROWS
    with Store.open(home) as store, store.engine.connect() as conn:
        db = conn.connection.driver_connection
        db.execute("PRAGMA synchronous = OFF")  # outside a transaction
        with conn.begin():
            now = "2026-01-01 00:00:00"
            conn.execute(text("INSERT INTO projects (name, description, created_at, updated_at) "
                              "VALUES ('history', '', :t, :t)"), {"t": now})
            conn.execute(text("INSERT INTO experiments (project_id, name, recipe, base_model, config, notes, "
                              "created_at) VALUES (1, :n, 'causal-lm', 'm', '{}', '', :t)"),
                         [{"n": f"exp-{i}", "t": now} for i in range(20)])
            conn.execute(text(
                "INSERT INTO runs (experiment_id, status, requested_gpus, gpus, priority, step, total_steps, run_dir, "
                "uuid, created_at, finished_at, updated_at) VALUES (:e, 'completed', 'cpu', '[]', 0, :s, :s, :d, "
                "lower(hex(randomblob(16))), :t, :t, :t)"),
                [{"e": 1 + i % 20, "s": per, "d": str(home / "runs" / str(i + 1)), "t": now}
                 for i in range(n_runs + 1)])
            conn.exec_driver_sql("DROP INDEX ix_metrics_run_key_step")
            # Each series as the write path leaves it: full blocks of PACK_ROWS points, the rest as
            # rows. Loss falls with the step to each run's own floor; eval_loss likewise; lr decays.
            rng = np.random.default_rng(0)
            steps = np.arange(1, per + 1, dtype="<i8")
            next_id = 1
            for run in range(1, n_runs + 1):
                blocks, rows = [], []
                for key, base in zip(KEYS, (2.0, 2.2, 2e-4), strict=True):
                    if key == "lr":
                        values = base * (1.0 - steps / (per + 1))
                    else:
                        values = base / (1.0 + steps * 0.01) + (run % 97) * 1e-3 + rng.random(per) * 1e-2
                    walls = 1767225600.0 + run * 86400.0 + steps.astype("<f8")
                    ids = np.arange(next_id, next_id + per, dtype="<i8")
                    next_id += per
                    for lo in range(0, packed_per, metric_packs.PACK_ROWS):
                        hi = lo + metric_packs.PACK_ROWS
                        blocks.append((run, key, hi - lo, int(ids[lo]), int(ids[hi - 1]), int(steps[hi - 1]),
                                       ids[lo:hi].tobytes(), steps[lo:hi].tobytes(), walls[lo:hi].tobytes(),
                                       values[lo:hi].tobytes()))
                    rows.extend(zip(ids[packed_per:].tolist(), [run] * (per - packed_per), [key] * (per - packed_per),
                                    steps[packed_per:].tolist(), values[packed_per:].tolist(),
                                    walls[packed_per:].tolist(), strict=True))
                db.executemany("INSERT INTO metric_blocks (run_id, key, count, first_id, last_id, max_step, ids, steps, "
                               "wall_times, \"values\") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", blocks)
                db.executemany("INSERT INTO metrics (id, run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?, ?)",
                               rows)
        timings["insert_s"] = time.perf_counter() - began
        mark = time.perf_counter()
        with conn.begin():
            conn.exec_driver_sql("CREATE INDEX ix_metrics_run_key_step ON metrics (run_id, key, step)")
        timings["index_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        with conn.begin():  # what migration 0005 does to an existing home
            metric_packs.summarise(conn)
        timings["summarise_s"] = time.perf_counter() - mark
        mark = time.perf_counter()
        big = n_runs + 1
        for start in range(0, big_run, 2000):
            metrics.add_batch(store, big, [("loss", s, 2.0 / (1 + s * 1e-4), 1767225600.0 + s)
                                           for s in range(start + 1, min(start + 2000, big_run) + 1)])
        timings["big_run_writes_s"] = time.perf_counter() - mark
        with conn.begin():
            conn.exec_driver_sql("PRAGMA analysis_limit = 1000")
            conn.exec_driver_sql("ANALYZE")
    timings["generate_s"] = time.perf_counter() - began
    return {k: round(v, 1) for k, v in timings.items()}


def count(home: Path) -> dict[str, int]:
    import sqlite3

    db = sqlite3.connect(home / "sparktrainer.db")
    try:
        n_runs = db.execute("SELECT count(*) FROM runs").fetchone()[0]
        points = db.execute("SELECT sum(count) FROM metric_series").fetchone()[0] or 0
        raw = db.execute("SELECT count(*) FROM metrics").fetchone()[0]
    finally:
        db.close()
    return {"runs": n_runs, "metric_points": points, "points_as_rows": raw}


def cpu_reference_ms() -> float:
    """A fixed pure-Python workload, timed in the same run: a yardstick for how loaded the machine is."""
    began = time.perf_counter()
    total = 0
    for i in range(2_000_000):
        total += i % 7
    return round((time.perf_counter() - began) * 1000, 1)


def legacy_copy(home: Path, run_id: int) -> None:
    """The big run's points once more as plain rows in a side table shaped like `metrics` before
    migration 0005, so the old whole-series read is timed against the same points in the same run."""
    import sqlite3

    from spark_trainer.store.metric_packs import _decode

    db = sqlite3.connect(home / "sparktrainer.db")
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'bench_legacy_metrics'").fetchone():
            return
        db.execute("CREATE TABLE bench_legacy_metrics (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER NOT NULL, "
                   "key VARCHAR(120) NOT NULL, step INTEGER NOT NULL, value FLOAT NOT NULL, wall_time FLOAT NOT NULL)")
        db.execute("CREATE INDEX ix_bench_legacy ON bench_legacy_metrics (run_id, key, step)")
        for key, *arrays in db.execute("SELECT key, ids, steps, wall_times, \"values\" FROM metric_blocks "
                                       "WHERE run_id = ? ORDER BY key, last_id", (run_id,)).fetchall():
            b = _decode(*arrays)
            db.executemany("INSERT INTO bench_legacy_metrics VALUES (?, ?, ?, ?, ?, ?)",
                           zip(b.ids.tolist(), [run_id] * len(b), [key] * len(b), b.steps.tolist(),
                               b.values.tolist(), b.wall_times.tolist(), strict=True))
        db.execute("INSERT INTO bench_legacy_metrics SELECT id, run_id, key, step, value, wall_time FROM metrics "
                   "WHERE run_id = ?", (run_id,))
        db.commit()
    finally:
        db.close()


def timed(func, repeats: int, before=None, after=None) -> float:
    """Median milliseconds of `func`; `before` and `after` run around each call, untimed."""
    samples = []
    for _ in range(repeats):
        if before is not None:
            before()
        began = time.perf_counter()
        func()
        samples.append(time.perf_counter() - began)
        if after is not None:
            after()
    return round(statistics.median(samples) * 1000, 1)


def measure(home: Path, repeats: int) -> dict[str, float]:
    from app.charts.feed import read_batch
    from spark_trainer import leaderboard
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.store import metrics, runs
    from spark_trainer.store.entities import RunStatus, utcnow
    from spark_trainer.store.store import Store

    keys = ("loss", "eval_loss")
    result: dict[str, float] = {}
    with Store.open(home) as store:
        cached, ids = runs.changed_since(store, None)
        big = max(ids)

        def tick() -> None:  # app/run_scheduler.py RunScheduler.tick's work
            schedule_once(store, machine=[])
            changed, _ids = runs.changed_since(store, utcnow() - timedelta(seconds=3))
            leaderboard.last_values(store, [r.id for r in changed], keys)

        def tick_gui() -> None:  # RunScheduler._on_tick's merge, without Qt
            known = {r.id: r for r in cached if r.id in ids}
            known.update((r.id, r) for r in cached[-2:])
            sorted(known.values(), key=lambda r: r.id, reverse=True)

        def status_refresh() -> None:  # MainWindow.update_run_status
            runs.list_all(store, statuses={RunStatus.QUEUED, *runs.ACTIVE})

        def first_tick() -> None:
            found, _ = runs.changed_since(store, None)
            leaderboard.last_values(store, [r.id for r in found], keys)

        def runs_data() -> None:
            found = runs.list_all(store)
            leaderboard.last_values(store, [r.id for r in found], keys)

        def leaderboard_data() -> None:  # LeaderboardView.refresh and add_evaluations, store side
            found = leaderboard.rank(store, "eval_loss")
            every = leaderboard.metric_keys(store)
            leaderboard.last_values(store, [e.run.id for e in found], [k for k in every if k.startswith("evals/")])

        points: dict[str, int] = {}

        def chart_series() -> None:
            points["series"] = len(metrics.series(store, big, keys=["loss"])["loss"])

        legacy_copy(home, big)

        def chart_before() -> None:  # metrics.read before packing: rows in id order, one object each
            from spark_trainer.store.entities import Metric

            with store.engine.connect() as conn:
                found = [Metric(*m) for m in conn.exec_driver_sql(
                    "SELECT id, run_id, key, step, value, wall_time FROM bench_legacy_metrics "
                    "WHERE run_id = ? AND id > 0 AND key IN ('loss') ORDER BY id", (big,))]
            points["before"] = len(found)

        def chart_feed() -> None:  # MetricFeed.poll until caught up
            after, n, full = 0, 0, True
            while full:
                batch = read_batch(store, big, after)
                after, full = batch.last_id, batch.full
                n += sum(len(v[0]) for v in batch.series.values())
            points["feed"] = n

        for name, func in (("tick", tick), ("tick_gui", tick_gui), ("status_refresh", status_refresh),
                           ("first_tick", first_tick), ("runs_data", runs_data),
                           ("leaderboard_data", leaderboard_data), ("chart_series", chart_series),
                           ("chart_feed", chart_feed), ("chart_before", chart_before)):
            result[f"{name}_ms"] = timed(func, repeats)
        result["chart_points"] = points["series"]
        assert points["feed"] == points["series"] == points["before"], points
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=20_000_000, help="points over the --runs runs")
    parser.add_argument("--big-run", type=int, default=1_000_000, help="loss points of one more run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gui", action="store_true", help="also time the Runs and Leaderboard views (offscreen Qt)")
    parser.add_argument("--gui-rows", type=int, metavar="N",
                        help="give the two views only N runs (to time views too slow for the full home)")
    parser.add_argument("--gui-before-no-tick", action="store_true",
                        help="with --gui-before, skip the old Runs view's live update (it takes minutes at 2,000 "
                             "runs shown; time it with --gui-rows 200)")
    parser.add_argument("--gui-only", action="store_true", help="time only the two views (as --gui)")
    parser.add_argument("--gui-before", metavar="GIT_REF",
                        help="with --gui, also time the two views as they were at this commit (same run, same "
                             "home; keys prefixed before_), e.g. main")
    parser.add_argument("--home", type=Path, help="keep the generated home here (default: a temporary folder); "
                                                  "an existing home is measured, not generated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        home = args.home or Path(tmp) / "home"
        report: dict[str, object] = {}
        if not (home / "sparktrainer.db").exists():
            report.update(generate(home, args.runs, args.metrics, args.big_run))
        report.update(count(home))
        report["db_mb"] = round((home / "sparktrainer.db").stat().st_size / 2**20)
        try:
            report["load_average"] = round(os.getloadavg()[0], 1)
        except OSError:
            pass
        report["cpu_reference_ms"] = cpu_reference_ms()
        if not args.gui_only:
            report.update(measure(home, args.repeats))
        report["cpu_reference_after_ms"] = cpu_reference_ms()
        if args.gui or args.gui_only:
            from bench_history_gui import measure_gui

            report.update(measure_gui(home, args.repeats, args.gui_before, args.gui_rows,
                                      not args.gui_before_no_tick))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
