"""A data home whose database an older SparkTrainer left: at a given schema revision, with one project,
experiment and completed run written as that version's tables hold them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from spark_trainer.paths import DataHome
from spark_trainer.store import migrate
from spark_trainer.store.engine import make_engine


def old_home(root: Path, revision: str, *, description: str = "", loss_points: int = 0) -> DataHome:
    """Project 'old' (id 1), its experiment 'e1' and run 1 (completed at step 10) with `loss_points` loss
    points, in a database at `revision`; the engine is closed, so its WAL is folded into the file."""
    home = DataHome(root).ensure()
    engine = make_engine(home.db_path)
    migrate.upgrade(engine, revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO projects (id, name, description, created_at, updated_at) "
                          "VALUES (1, 'old', :d, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"), {"d": description})
        conn.execute(text("INSERT INTO experiments (id, project_id, name, recipe, base_model, config, notes, "
                          "created_at) VALUES (1, 1, 'e1', 'causal-lm', 'm', '{}', '', '2026-01-01 00:00:00')"))
        conn.execute(text("INSERT INTO runs (id, experiment_id, status, requested_gpus, gpus, step, run_dir, "
                          "created_at) VALUES (1, 1, 'completed', 'cpu', '[]', 10, '/r/1', '2026-01-01 00:00:00')"))
        if loss_points:
            conn.execute(text("INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES " + ", ".join(
                f"(1, 'loss', {step}, 1.5, 0)" for step in range(loss_points))))
    engine.dispose()
    return home
