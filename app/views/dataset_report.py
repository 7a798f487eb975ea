"""The ingestion report: what was kept, and every rejected or duplicate item with its reason."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from app.views.dataset_preview import RowsModel
from spark_trainer.ingest.browse import nothing_rejected, report_rows, report_summary

HEADERS = ["", "Source", "Line", "Reason"]


class ReportView(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.notes = QLabel("")
        self.notes.setObjectName("Muted")
        self.notes.setWordWrap(True)
        self.model = RowsModel(HEADERS)
        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setModel(self.model)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.empty = QLabel("")
        self.empty.setObjectName("Muted")
        layout.addWidget(self.summary)
        layout.addWidget(self.notes)
        layout.addWidget(self.table, 1)
        # Top-aligned and taking the table's room when there is no table: the labels were spread down
        # the tab, a note floating mid-way between the summary and "Nothing was rejected".
        self.empty.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.empty, 1)

    def show_report(self, report: dict[str, Any], heading: str = "", rows: list[tuple[Any, ...]] | None = None) -> None:
        """Show `report`; `rows` are its `report_rows`, built by the caller on a worker thread where the
        report is large (44,880 duplicates took 110 ms of the GUI thread to turn into rows)."""
        rows = report_rows(report) if rows is None else rows
        self.model.set_rows(HEADERS, rows)
        self.table.setColumnWidth(0, 80)
        self.table.setColumnWidth(1, 320)
        self.table.setColumnWidth(2, 50)
        summary = report_summary(report)
        self.summary.setText(f"<b>{heading}</b><br>{summary}" if heading else summary)
        notes = report.get("notes") or []
        self.notes.setText("\n".join(notes))
        self.notes.setVisible(bool(notes))
        self.table.setVisible(bool(rows))
        self.empty.setText(nothing_rejected(report).capitalize() + ".")
        self.empty.setVisible(not rows)

    def reasons(self) -> list[str]:
        return [str(row[3]) for row in self.model.rows]
