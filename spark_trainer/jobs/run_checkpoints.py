"""A run's complete checkpoints as the run page's Checkpoints tab and `spark-trainer run checkpoints`
list them: step, the metric the run watches at that step, size on disk, folder (newest first)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.numbers import metric_text


@dataclass
class CheckpointRow:
    step: Any
    metric: float | None
    size_bytes: int
    path: str
    metric_key: str | None = None  # the metric the run watches (its recipe's main one, or early_stopping_metric)
    higher_is_better: bool | None = None
    metric_step: int | None = None  # when the metric was measured (None: not recorded, before 2026-12-02)

    def metric_text(self) -> str:
        """The metric as the Checkpoints tab and `run checkpoints` show it, with the step it was measured
        at when that is not the checkpoint's ("0.4123 (at step 100)": evaluations every 100 steps,
        checkpoints every 150)."""
        if self.metric is None:
            return "-"
        measured = self.metric_step is not None and self.metric_step != self.step
        return metric_text(self.metric) + (f" (at step {self.metric_step})" if measured else "")


def checkpoint_rows(run_dir: str | Path | None) -> list[CheckpointRow]:
    """The complete checkpoints this run owns in `run_dir`, newest step first ([] without a folder)."""
    from spark_trainer.training.checkpoints import list_checkpoints, read_state

    rows = []
    for path in reversed(list_checkpoints(Path(run_dir)) if run_dir else []):
        try:  # a training run prunes old checkpoints (checkpoint.keep) as this reads them: one gone is left out
            state = read_state(path)
            size = _size(path)
        except (FileNotFoundError, BadInput):
            continue
        if not path.is_dir():
            continue
        rows.append(CheckpointRow(state.get("step"), state.get("metric"), size, str(path),
                                  state.get("metric_key"), state.get("higher_is_better"), state.get("metric_step")))
    return rows


def _size(folder: Path) -> int:
    """Bytes of the files in `folder`; a file removed while it is summed counts 0."""
    total = 0
    for found in folder.rglob("*"):
        try:
            total += found.stat().st_size if found.is_file() else 0
        except FileNotFoundError:
            continue
    return total


def metric_title(rows: list[CheckpointRow]) -> str:
    """The metric column's heading: which metric, and which way is better."""
    named = next((r for r in rows if r.metric_key), None)
    if named is None:
        return "Eval metric"
    return f"{named.metric_key} ({'higher' if named.higher_is_better else 'lower'} is better)"
