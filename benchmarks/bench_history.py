"""Years of history: a data home with many runs and metric rows, and how fast the store stays.

Generates (raw SQLite inserts, so generation is quick) one project, 20 experiments, `--runs`
completed runs sharing `--metrics` metric rows over loss/eval_loss/lr, plus one run holding
`--big-run` points of `loss`; then measures, median of `--repeats`:

- tick: one steady-state scheduler tick as the GUI runs it off its thread (schedule_once with its
  reconcile, the runs changed since the last tick, their last loss/eval_loss);
- tick_merge: the GUI-thread part of a tick (merging the changed runs into the cached list);
- first_tick: the first tick after start-up (every run and its last values; off the GUI thread);
- runs_view: every run with its last values (what the Runs table shows when opened);
- leaderboard: ranking every run by eval_loss (one aggregate query pair, not per run);
- chart_load: reading the big run's whole loss series.

    .venv/bin/python benchmarks/bench_history.py [--runs 2000] [--metrics 20000000] [--big-run 1000000]

Goals (issue 14): tick and tick_merge under 20 ms, runs_view and leaderboard under 1 s,
chart_load of 1 M points under 300 ms.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def generate(home: Path, n_runs: int, n_metrics: int, big_run: int) -> float:
    from spark_trainer.store.store import Store

    Store.open(home).close()
    began = time.perf_counter()
    db = sqlite3.connect(home / "sparktrainer.db")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = OFF")
    now = "2026-01-01 00:00:00"
    db.execute("INSERT INTO projects (name, description, created_at, updated_at) VALUES ('history', '', ?, ?)",
               (now, now))
    db.executemany("INSERT INTO experiments (project_id, name, recipe, base_model, config, notes, created_at) "
                   "VALUES (1, ?, 'causal-lm', 'm', '{}', '', ?)", [(f"exp-{i}", now) for i in range(20)])
    db.executemany(
        "INSERT INTO runs (experiment_id, status, requested_gpus, gpus, priority, step, total_steps, run_dir, uuid, "
        "created_at, finished_at, updated_at) VALUES (?, 'completed', 'cpu', '[]', 0, 1000, 1000, ?, ?, ?, ?, ?)",
        [(1 + i % 20, str(home / "runs" / str(i + 1)), uuid.uuid4().hex, now, now, now) for i in range(n_runs + 1)])
    keys = ("loss", "eval_loss", "lr")
    per_run = max(1, n_metrics // (n_runs * len(keys)))

    def rows():
        for run in range(1, n_runs + 1):
            for key in keys:
                for step in range(1, per_run + 1):
                    yield run, key, step, 1.0 / step + run * 1e-6, float(step)
        big = n_runs + 1
        for step in range(1, big_run + 1):
            yield big, "loss", step, 1.0 / step, float(step)

    batch = []
    for row in rows():
        batch.append(row)
        if len(batch) >= 200_000:
            db.executemany("INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)", batch)
            batch.clear()
    db.executemany("INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)", batch)
    db.commit()
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - began


def timed(func, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        began = time.perf_counter()
        func()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000


def measure(home: Path, repeats: int) -> dict[str, float]:
    from spark_trainer import leaderboard
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.store import metrics, runs
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.store import Store

    keys = ("loss", "eval_loss")
    with Store.open(home) as store:
        cached, _ = runs.changed_since(store, None)

        def tick() -> None:
            schedule_once(store, machine=[])
            changed, _ids = runs.changed_since(store, utcnow() - timedelta(seconds=3))
            leaderboard.last_values(store, [r.id for r in changed], keys)

        _, ids = runs.changed_since(store, None)

        def tick_merge() -> None:  # the scheduler's _on_tick, without Qt
            known = {r.id: r for r in cached if r.id in ids}
            known.update((r.id, r) for r in cached[-2:])
            sorted(known.values(), key=lambda r: r.id, reverse=True)

        def first_tick() -> None:
            found, _ = runs.changed_since(store, None)
            leaderboard.last_values(store, [r.id for r in found], keys)

        def runs_view() -> None:
            found = runs.list_all(store)
            leaderboard.last_values(store, [r.id for r in found], keys)

        big = max(ids)
        points = {}

        def chart_load() -> None:
            points["n"] = len(metrics.read(store, big, keys=["loss"]))

        result = {name: round(timed(func, repeats), 1) for name, func in (
            ("tick_ms", tick), ("tick_merge_ms", tick_merge), ("first_tick_ms", first_tick),
            ("runs_view_ms", runs_view), ("leaderboard_ms", lambda: leaderboard.rank(store, "eval_loss")),
            ("chart_load_ms", chart_load))}
        result["chart_points"] = points["n"]
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--metrics", type=int, default=20_000_000)
    parser.add_argument("--big-run", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", type=Path, help="keep the generated home here (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        home = args.home or Path(tmp) / "home"
        generated_s = generate(home, args.runs, args.metrics, args.big_run)
        size = (home / "sparktrainer.db").stat().st_size
        report = {"runs": args.runs, "metric_rows": args.metrics + args.big_run, "generate_s": round(generated_s, 1),
                  "db_mb": round(size / 2**20), **measure(home, args.repeats)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
