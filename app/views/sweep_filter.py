"""The Runs list's Sweep filter: every sweep the listed project's runs belong to, newest first, and the cells
that show a run's swept values (`spark-trainer run list --sweep NAME` in the GUI)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QComboBox, QWidget

from app.widgets import add_elided_item, tip_chosen
from spark_trainer.store.entities import Run

ALL = "all runs"
NAME_WIDTH = 120  # px: a long name is elided in the middle (a sweep's "-sweep-N" stays) so the filters fit 1024 px
TIP = "Only one sweep's runs (queued by the setup form's Sweep box or `train --sweep`)"


def _values_text(values: dict[str, Any], *, short: bool = False) -> str:
    # Imported on the first swept run: spark_trainer.config brings pydantic and the run-file schema,
    # which the Runs list does not need to be shown.
    from spark_trainer.config.sweep import values_text

    return values_text(values, short=short)


def swept_cell(run: Run) -> str:
    """`learning_rate=0.001 lora_r=8`; "" for a run no sweep queued."""
    return _values_text(run.sweep_values, short=True) if run.sweep else ""


def swept_tip(run: Run) -> str | None:
    return f"sweep {run.sweep}: {_values_text(run.sweep_values)}" if run.sweep else None


def natural(name: str) -> tuple[Any, ...]:
    """Sort key with the digits of `name` as numbers: x-sweep-2 before x-sweep-10."""
    return tuple(int(part) if i % 2 else part.lower() for i, part in enumerate(re.split(r"(\d+)", name)))


def swept_sort(run: Run) -> tuple[Any, ...] | None:
    """A sweep's runs together (sweeps in natural order), in the order of their values (numbers as
    numbers); others last."""
    if not run.sweep:
        return None
    return (natural(run.sweep), *((0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v))
                         for v in run.sweep_values.values()))


class SweepFilterBox(QComboBox):
    """"all runs", then each sweep's name with its number of runs; `current()` is the chosen sweep."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # sweeps come later
        self.setToolTip(TIP)
        self._shown: list[tuple[str, int]] = []
        self.addItem(ALL, None)
        self.currentIndexChanged.connect(lambda _i: tip_chosen(self, TIP))

    def current(self) -> str | None:
        return self.currentData()

    def set_runs(self, all_runs: Sequence[Run]) -> None:
        """List the sweeps of `all_runs` (newest first), keeping the chosen one while it has runs
        ("all runs" once it has none). Emits nothing: the caller filters with `current()` next."""
        counts = Counter(r.sweep for r in all_runs if r.sweep)
        order = list(dict.fromkeys(r.sweep for r in sorted(all_runs, key=lambda r: -r.id) if r.sweep))
        shown = [(name, counts[name]) for name in order]
        if shown == self._shown:
            return
        self._shown = shown
        chosen = self.current()
        self.blockSignals(True)
        self.clear()
        self.addItem(ALL, None)
        for name, count in shown:
            add_elided_item(self, name, name, NAME_WIDTH, f" ({count} runs)")
        index = self.findData(chosen) if chosen is not None else 0
        self.setCurrentIndex(max(index, 0))
        self.blockSignals(False)
        tip_chosen(self, TIP)

    def choose(self, name: str) -> bool:
        """Select sweep `name`; False when no run of the list belongs to it."""
        index = self.findData(name)
        if index >= 0:
            self.setCurrentIndex(index)
        return index >= 0
