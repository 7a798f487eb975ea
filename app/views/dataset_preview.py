"""Previews of a dataset: text rows paged through a table, images and frames in a lazily loaded grid.

Manifest pages and thumbnails are read on the task pool; the GUI thread only fills models.
"""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListView,
    QPushButton,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.views.thumbnail_model import THUMB, ThumbnailModel, read_rows
from app.workers import Task
from spark_trainer.ingest.browse import preview_columns
from spark_trainer.store.entities import Dataset

PAGE_ROWS = 50
CELL_CHARS = 160

Index = QModelIndex | QPersistentModelIndex


class RowsModel(QAbstractTableModel):
    """A read-only table over a list of tuples; long cells are shortened, the full text is the tooltip."""

    def __init__(self, headers: list[str] | None = None) -> None:
        super().__init__()
        self.headers = headers or []
        self.rows: list[tuple[Any, ...]] = []

    def set_rows(self, headers: list[str], rows: list[tuple[Any, ...]]) -> None:
        self.beginResetModel()
        self.headers = headers
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.headers)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        value = self.rows[index.row()][index.column()]
        text = value if isinstance(value, str) else ("" if value is None else json.dumps(value, ensure_ascii=False))
        if role == Qt.ItemDataRole.DisplayRole:
            flat = text.replace("\n", " ⏎ ")
            return flat if len(flat) <= CELL_CHARS else flat[: CELL_CHARS - 1] + "…"
        if role == Qt.ItemDataRole.ToolTipRole and len(text) > 40:
            return text[:2000]
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.headers[section]
        return None


def _read_page(path: str, offset: int, limit: int) -> list[dict[str, Any]]:
    return read_rows(path, offset, limit)


class TextPager(QWidget):
    """Manifest rows, PAGE_ROWS at a time, with previous/next buttons."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.dataset: Dataset | None = None
        self.offset = 0
        self.task: Task | None = None
        self.model = RowsModel()
        self.table = QTableView()
        self.table.setTabKeyNavigation(False)  # Tab leaves the table (Qt's tables keep it)
        self.table.setModel(self.model)
        self.table.setAlternatingRowColors(True)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.prev_button.clicked.connect(lambda: self.load(max(0, self.offset - PAGE_ROWS)))
        self.next_button.clicked.connect(lambda: self.load(self.offset + PAGE_ROWS))
        self.position = QLabel("")
        self.position.setObjectName("Muted")
        nav = QHBoxLayout()
        nav.addWidget(self.position, 1)
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(nav)

    def show_dataset(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.load(0)

    def load(self, offset: int) -> Task | None:
        if self.dataset is None:
            return None
        dataset = self.dataset
        self.prev_button.setEnabled(False)
        self.next_button.setEnabled(False)
        task = Task(lambda _ctx: (offset, _read_page(dataset.path, offset, PAGE_ROWS)), owner=self, name="preview page")
        task.signals.succeeded.connect(lambda result: self._show(dataset, *result))
        task.signals.failed.connect(lambda message, _exc: self._failed(dataset, message))
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _failed(self, dataset: Dataset, message: str) -> None:
        if dataset is not self.dataset:
            return  # another dataset was chosen meanwhile
        self.model.set_rows([], [])  # not the rows of the dataset shown before
        self.position.setText(f"Cannot read rows: {message}")

    def _show(self, dataset: Dataset, offset: int, rows: list[dict[str, Any]]) -> None:
        if dataset is not self.dataset:
            return  # another dataset was chosen meanwhile
        self.offset = offset
        headers, cells = preview_columns(dataset.kind, rows)
        self.model.set_rows(headers, cells)
        for column in range(len(headers) - 1):
            self.table.setColumnWidth(column, 80 if headers[column] == "split" else 320)
        total = dataset.num_items
        last = offset + len(rows)
        self.position.setText(f"Rows {offset + 1}–{last} of {total:,}" if rows else "No rows")
        self.prev_button.setEnabled(offset > 0)
        self.next_button.setEnabled(last < total)

    def busy(self) -> bool:
        return self.task is not None and not self.task.delivered


class ThumbnailGrid(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.model: ThumbnailModel | None = None
        self.view = QListView()
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 24, THUMB + 34))
        self.view.setSpacing(4)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.count = QLabel("")
        self.count.setObjectName("Muted")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.count)

    def show_dataset(self, dataset: Dataset) -> None:
        self.model = ThumbnailModel(self.ctx, dataset)
        self.view.setModel(self.model)
        self.model.rowsRemoved.connect(self._update_count)  # the manifest ended before the dataset's count
        self.model.read_chunk(0)
        self._update_count()

    def _update_count(self) -> None:
        if self.model is not None:
            self.count.setText(f"{self.model.dataset.num_items:,} items. Hover for source and caption.")

    def busy(self) -> bool:
        return self.model is not None and self.model.busy()


class DatasetPreview(QStackedWidget):
    """The table pager for text (and audio/video files), the thumbnail grid for images and frames."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.pager = TextPager(ctx)
        self.grid = ThumbnailGrid(ctx)
        self.addWidget(self.pager)
        self.addWidget(self.grid)

    def show_dataset(self, dataset: Dataset) -> None:
        if dataset.kind == "image":
            self.setCurrentWidget(self.grid)
            self.grid.show_dataset(dataset)
        else:
            self.setCurrentWidget(self.pager)
            self.pager.show_dataset(dataset)

    def busy(self) -> bool:
        return self.pager.busy() or self.grid.busy()
