"""Previews of a dataset: text rows paged through a table, images and frames in a lazily loaded grid.

Manifest pages and thumbnails are read on the task pool; the GUI thread only fills models.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    QTimer,
)
from PySide6.QtGui import QColor, QImage, QPixmap
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
from app.image_files import read_image
from app.workers import Task
from spark_trainer.ingest.browse import preview_columns
from spark_trainer.store.entities import Dataset

PAGE_ROWS = 50
GRID_CHUNK = 120
THUMB = 112
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
    from spark_trainer.ingest import read_manifest

    return read_manifest(Path(path), offset, limit)


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
        task.signals.failed.connect(lambda message, _exc: self.position.setText(f"Cannot read rows: {message}"))
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

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


def _thumbnail(path: str) -> QImage:
    return read_image(path, THUMB)


class ThumbnailModel(QAbstractListModel):
    """Manifest rows of an image dataset, fetched in chunks as the grid scrolls; thumbnails decoded off-thread."""

    def __init__(self, ctx: AppContext, dataset: Dataset) -> None:
        super().__init__()
        self.ctx = ctx
        self.dataset = dataset
        self.rows: list[dict[str, Any]] = []
        self.pixmaps: dict[int, QPixmap] = {}
        self.requested: set[int] = set()
        self.pending: list[int] = []
        self.fetching: Task | None = None
        self.thumb_tasks: list[Task] = []
        self.placeholder = QPixmap(THUMB, THUMB)
        self.placeholder.fill(QColor(128, 128, 128, 40))

    def file_path(self, row: dict[str, Any]) -> str:
        path = Path(str(row.get("path", "")))
        return str(path if path.is_absolute() else Path(self.dataset.path) / path)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.rows)

    def canFetchMore(self, parent: Index = QModelIndex()) -> bool:  # noqa: N802, B008 - Qt API
        return not parent.isValid() and len(self.rows) < self.dataset.num_items and self.fetching is None

    def fetchMore(self, parent: Index = QModelIndex()) -> None:  # noqa: N802, B008 - Qt API
        if not self.canFetchMore(parent):
            return
        offset = len(self.rows)
        task = Task(lambda _ctx: _read_page(self.dataset.path, offset, GRID_CHUNK), owner=self, name="preview rows")
        task.signals.succeeded.connect(self._append)
        task.signals.finished.connect(self._fetch_done)
        self.fetching = self.ctx.tasks.start(task, self.ctx.pool)

    def _fetch_done(self) -> None:
        self.fetching = None

    def _append(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            # The manifest ended early: stop asking for more.
            self.dataset = dataclasses.replace(self.dataset, num_items=len(self.rows))
            return
        self.beginInsertRows(QModelIndex(), len(self.rows), len(self.rows) + len(rows) - 1)
        self.rows.extend(rows)
        self.endInsertRows()

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.pixmaps.get(index.row())
            if pixmap is None:
                self._request(index.row())
                return self.placeholder
            return pixmap
        if role == Qt.ItemDataRole.DisplayRole:
            text = row.get("label") or Path(str(row.get("path", ""))).name
            return str(text)[:24]
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [f"{k}: {row[k]}" for k in ("source", "label", "caption", "width", "height", "split")
                     if row.get(k) is not None]
            return "\n".join(parts)
        return None

    def _request(self, row: int) -> None:
        if row in self.requested:
            return
        self.requested.add(row)
        self.pending.append(row)
        if len(self.pending) == 1:
            QTimer.singleShot(0, self._load_pending)  # batch every row the view asks for in this paint

    def _load_pending(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        jobs = [(r, self.file_path(self.rows[r])) for r in batch]

        def decode(ctx: Any) -> list[tuple[int, QImage]]:
            out = []
            for r, path in jobs:
                if ctx.cancel.is_set():
                    break
                out.append((r, _thumbnail(path)))
            return out

        task = Task(decode, owner=self, name="thumbnails")
        task.signals.succeeded.connect(self._thumbs_ready)
        self.thumb_tasks = [t for t in self.thumb_tasks if not t.delivered] + [task]
        self.ctx.tasks.start(task, self.ctx.pool)

    def _thumbs_ready(self, images: list[tuple[int, QImage]]) -> None:
        for r, image in images:
            pixmap = QPixmap.fromImage(image) if not image.isNull() else self.placeholder
            self.pixmaps[r] = pixmap
            index = self.index(r)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])

    def busy(self) -> bool:
        return self.fetching is not None or bool(self.pending) or any(not t.delivered for t in self.thumb_tasks)


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
        self.model.rowsInserted.connect(self._update_count)
        self.model.fetchMore()
        self._update_count()

    def _update_count(self) -> None:
        if self.model is not None:
            loaded, total = len(self.model.rows), self.model.dataset.num_items
            more = f"{loaded:,} of {total:,} items loaded; more load as you scroll." if loaded < total else \
                f"{total:,} items."
            self.count.setText(f"{more} Hover for source and caption.")

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
