"""A run's complete checkpoints as the run page's Checkpoints tab and `spark-trainer run checkpoints`
list them: step, the metric the run watches at that step, size on disk, folder (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class CheckpointRow:
    step: Any
    metric: float | None
    size_bytes: int
    path: str
    metric_key: str | None = None  # the metric the run watches (its recipe's main one, or early_stopping_metric)
    higher_is_better: bool | None = None


def checkpoint_rows(run_dir: str | Path | None) -> list[CheckpointRow]:
    """The complete checkpoints this run owns in `run_dir`, newest step first ([] without a folder)."""
    from spark_trainer.training.checkpoints import list_checkpoints, read_state

    rows = []
    for path in reversed(list_checkpoints(Path(run_dir)) if run_dir else []):
        state = read_state(path)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        rows.append(CheckpointRow(state.get("step"), state.get("metric"), size, str(path),
                                  state.get("metric_key"), state.get("higher_is_better")))
    return rows


def metric_title(rows: list[CheckpointRow]) -> str:
    """The metric column's heading: which metric, and which way is better."""
    named = next((r for r in rows if r.metric_key), None)
    if named is None:
        return "Eval metric"
    return f"{named.metric_key} ({'higher' if named.higher_is_better else 'lower'} is better)"
