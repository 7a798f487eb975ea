"""The leaderboard's evaluation columns (one per `evals/...` metric) and base-model baseline rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from spark_trainer.store.store import Store


@dataclass
class EvalColumns:
    keys: list[str]  # evals/... metric keys, one column each
    values: dict[int, dict[str, float]]  # run id -> key -> last value
    baselines: list[Any]  # evaluation.leaderboard baselines with values


def read_evaluations(store: Store, entries: Sequence[Any], project: int | None) -> EvalColumns:
    """The evaluation columns of ranked `entries` and the baselines (store reads: off the GUI thread)."""
    from spark_trainer.evaluation.leaderboard import baselines, eval_keys
    from spark_trainer.leaderboard import last_values, metric_keys

    keys = eval_keys(metric_keys(store))
    base_rows = [b for b in baselines(store, project) if b.values]
    keys = sorted(set(keys) | {k for b in base_rows for k in b.values})
    return EvalColumns(keys, last_values(store, [e.run.id for e in entries], keys), base_rows)


def add_evaluations(table: QTableWidget, columns: Sequence[str], evals: EvalColumns, entries: Sequence[Any],
                    key: str) -> int:
    """Append evaluation columns to the ranked rows and baseline rows below them; returns how many
    baselines were added. `entries` are leaderboard.Entry values already shown in `table`."""
    keys = evals.keys
    table.setColumnCount(len(columns) + len(keys))
    table.setHorizontalHeaderLabels([*columns, *(k.removeprefix("evals/") for k in keys)])
    for row, entry in enumerate(entries):
        for i, k in enumerate(keys):
            value = evals.values.get(entry.run.id, {}).get(k)
            table.setItem(row, len(columns) + i, QTableWidgetItem("-" if value is None else f"{value:.4f}"))
    start = len(entries)
    table.setRowCount(start + len(evals.baselines))
    muted = QColor("#6e7681")
    for offset, b in enumerate(evals.baselines):
        score = b.values.get(key)
        cells = ["baseline", b.run_id, "-", f"base model: {Path(b.base_model).name}", Path(b.data).name, "-",
                 "-" if score is None else f"{score:.4f}", "-", "-", "base"]
        cells += ["-" if b.values.get(k) is None else f"{b.values[k]:.4f}" for k in keys]
        for col, value in enumerate(cells):
            item = QTableWidgetItem(str(value))
            item.setForeground(muted)
            item.setToolTip(f"the base model evaluated through run {b.run_id} (evaluation {b.evaluation_id})")
            table.setItem(start + offset, col, item)
    return len(evals.baselines)
