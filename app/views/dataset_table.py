"""The Datasets view's list: one row per dataset of the chosen project (counts right-aligned)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTableWidget, QTableWidgetItem

from app.widgets import human_bytes, row_table
from spark_trainer.store.entities import Dataset, local_time

COLUMNS = ["Name", "Kind", "Items", "Train / val", "Rejected", "Duplicates", "Size", "Created"]


def dataset_table() -> QTableWidget:
    return row_table(COLUMNS)


def fill_row(table: QTableWidget, row: int, d: Dataset) -> None:
    """Row `row` shows dataset `d`; each cell carries the dataset's id (UserRole)."""
    cells = [d.name, d.kind, f"{d.num_items:,}", f"{d.num_train:,} / {d.num_val:,}", f"{d.num_rejected:,}",
             f"{d.num_duplicates:,}", human_bytes(d.size_bytes), f"{local_time(d.created_at):%Y-%m-%d %H:%M}"]
    for column, text in enumerate(cells):
        item = QTableWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, d.id)
        if column == 0:
            item.setToolTip(text)  # elided past the column's cap (app.widgets.cap_columns)
        if 2 <= column <= 6:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        table.setItem(row, column, item)
