"""The run page's tabs filled from what is read when a run opens or changes status
(`run_detail_reads.read_static`): its checkpoints, its samples and its status history.

They show what they are given and nothing else; the run page reads on the pool and hands them the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QLabel, QScrollArea, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.views.samples import LoadedSample, sample_widget
from app.widgets import clear_layout
from spark_trainer.disk import human_bytes
from spark_trainer.jobs.run_checkpoints import CheckpointRow, metric_title
from spark_trainer.store.entities import local_time


class CheckpointsTable(QTableWidget):
    """One row per checkpoint: step, its eval metric (the header names it), size, folder."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.setHorizontalHeaderLabels(["Step", "Eval metric", "Size", "Folder"])
        self.horizontalHeader().setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

    def show_rows(self, rows: Sequence[CheckpointRow]) -> None:
        self.setRowCount(len(rows))
        self.setHorizontalHeaderItem(1, QTableWidgetItem(metric_title(list(rows))))
        for r, row in enumerate(rows):
            for c, value in enumerate((row.step, row.metric_text(),
                                       human_bytes(row.size_bytes), row.path)):
                self.setItem(r, c, QTableWidgetItem(str(value)))
        for column in range(3):  # the metric's name is longer than its values; the folder stretches
            self.resizeColumnToContents(column)

    def selected_step(self) -> str | None:
        """The selected checkpoint's step as shown, else None."""
        rows = self.selectionModel().selectedRows()
        return self.item(rows[0].row(), 0).text() if rows else None


class SamplesPanel(QScrollArea):
    """The run's samples, newest as the worker wrote them, or a note saying how to get some."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        inner = QWidget()
        self._layout = QVBoxLayout(inner)
        self.setWidget(inner)

    def show_samples(self, found: Sequence[LoadedSample]) -> None:
        clear_layout(self._layout)
        if not found:
            note = QLabel("No samples yet. Set eval.samples_every_steps (and recipe_config.sample_prompts, or sample_texts "
                          "for text classification) to generate "
                          "text, images or a classifier's predictions every N steps.")
            note.setObjectName("Muted")
            note.setWordWrap(True)
            self._layout.addWidget(note)
        for sample in found:
            self._layout.addWidget(sample_widget(sample))
        self._layout.addStretch(1)


def events_text(events: Sequence[Any]) -> str:
    """The run's status changes, one a line: time, from -> to, and why."""
    return "\n".join(f"{local_time(e.created_at):%Y-%m-%d %H:%M:%S}  {e.from_status or '-'} -> {e.to_status}: {e.reason}"
                     for e in events)
