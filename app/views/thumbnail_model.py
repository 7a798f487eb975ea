"""The image grid's model: every item of an image dataset, its manifest rows read in chunks where the
grid looks, its thumbnails decoded off-thread and only the most recently shown ones kept.

The grid spans the whole dataset from the start (its scrollbar is the dataset's, not the rows loaded so
far: reaching the end of 20,000 photos took ~167 fetches of 120). A row's chunk is read when the grid
first asks for that row (the manifest's line index makes a far chunk as cheap as the first). Thumbnails
are a bounded LRU: paging through 3,000 photos held every one (155 -> 306 MB); one scrolled back to
after it was dropped is decoded again.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QColor, QImage, QPixmap

from app.context import AppContext
from app.image_files import read_image
from app.workers import Task
from spark_trainer.store.entities import Dataset

GRID_CHUNK = 120  # manifest rows read at a time
THUMB = 112
KEEP_THUMBS = 400  # thumbnails kept: a full-screen grid shows ~100; the rest are those just scrolled past

Index = QModelIndex | QPersistentModelIndex


def read_rows(path: str, offset: int, limit: int) -> list[dict[str, Any]]:
    from spark_trainer.ingest import read_manifest

    return read_manifest(Path(path), offset, limit)


def _thumbnail(path: str) -> QImage:
    return read_image(path, THUMB)


class ThumbnailModel(QAbstractListModel):
    """An image dataset's items, rows and thumbnails read on the task pool where the grid asks."""

    def __init__(self, ctx: AppContext, dataset: Dataset) -> None:
        super().__init__()
        self.ctx = ctx
        self.dataset = dataset
        self.rows: dict[int, dict[str, Any]] = {}  # item -> its manifest row, for the chunks read
        self.pixmaps: OrderedDict[int, QPixmap] = OrderedDict()  # item -> thumbnail, least recently shown first
        self.requested: set[int] = set()  # items whose thumbnail is being decoded
        self.pending: list[int] = []  # items asked for in this paint, decoded together
        self.chunks: dict[int, Task] = {}  # chunk -> its read (asked once; a failed one is not asked again)
        self.thumb_tasks: list[Task] = []
        self.placeholder = QPixmap(THUMB, THUMB)
        self.placeholder.fill(QColor(128, 128, 128, 40))

    def file_path(self, row: dict[str, Any]) -> str:
        path = Path(str(row.get("path", "")))
        return str(path if path.is_absolute() else Path(self.dataset.path) / path)

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else self.dataset.num_items

    # --- manifest rows ---------------------------------------------------------------------------
    def read_chunk(self, chunk: int) -> None:
        """Read manifest rows chunk * GRID_CHUNK .. + GRID_CHUNK, once."""
        if chunk in self.chunks or chunk * GRID_CHUNK >= self.dataset.num_items:
            return
        offset, path = chunk * GRID_CHUNK, self.dataset.path
        task = Task(lambda _ctx: read_rows(path, offset, GRID_CHUNK), owner=self, name="preview rows")
        task.signals.succeeded.connect(lambda rows: self._chunk_read(chunk, rows))
        self.chunks[chunk] = self.ctx.tasks.start(task, self.ctx.pool)

    def _chunk_read(self, chunk: int, rows: list[dict[str, Any]]) -> None:
        first = chunk * GRID_CHUNK
        end = min(first + len(rows), self.dataset.num_items)
        for item in range(first, end):
            self.rows[item] = rows[item - first]
        if end > first:
            self.dataChanged.emit(self.index(first), self.index(end - 1))
        if len(rows) < GRID_CHUNK and end < self.dataset.num_items:
            # The manifest ended early (the dataset's count is larger): the grid ends where it does.
            self.beginRemoveRows(QModelIndex(), end, self.dataset.num_items - 1)
            self.dataset = dataclasses.replace(self.dataset, num_items=end)
            self.endRemoveRows()

    # --- what the grid shows ---------------------------------------------------------------------
    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = index.row()
        row = self.rows.get(item)
        if row is None:  # its chunk not read yet: asked for now, shown when it comes
            self.read_chunk(item // GRID_CHUNK)
            return self.placeholder if role == Qt.ItemDataRole.DecorationRole else None
        if role == Qt.ItemDataRole.DecorationRole:
            pixmap = self.pixmaps.get(item)
            if pixmap is None:
                self._request(item)
                return self.placeholder
            self.pixmaps.move_to_end(item)  # shown now: the last to be dropped
            return pixmap
        if role == Qt.ItemDataRole.DisplayRole:
            text = row.get("label") or Path(str(row.get("path", ""))).name
            return str(text)[:24]
        if role == Qt.ItemDataRole.ToolTipRole:
            parts = [f"{k}: {row[k]}" for k in ("source", "label", "caption", "width", "height", "split")
                     if row.get(k) is not None]
            return "\n".join(parts)
        return None

    # --- thumbnails ------------------------------------------------------------------------------
    def _request(self, item: int) -> None:
        if item in self.requested:
            return
        self.requested.add(item)
        self.pending.append(item)
        if len(self.pending) == 1:
            QTimer.singleShot(0, self._load_pending)  # batch every item the view asks for in this paint

    def _load_pending(self) -> None:
        batch, self.pending = self.pending, []
        if not batch:
            return
        jobs = [(item, self.file_path(self.rows[item])) for item in batch]

        def decode(ctx: Any) -> list[tuple[int, QImage]]:
            out = []
            for item, path in jobs:
                if ctx.cancel.is_set():
                    break
                out.append((item, _thumbnail(path)))
            return out

        task = Task(decode, owner=self, name="thumbnails")
        task.signals.succeeded.connect(self._thumbs_ready)
        task.signals.finished.connect(lambda: self.requested.difference_update(item for item, _path in jobs))
        self.thumb_tasks = [t for t in self.thumb_tasks if not t.delivered] + [task]
        self.ctx.tasks.start(task, self.ctx.pool)

    def _thumbs_ready(self, images: list[tuple[int, QImage]]) -> None:
        for item, image in images:
            self.pixmaps[item] = QPixmap.fromImage(image) if not image.isNull() else self.placeholder
            self.pixmaps.move_to_end(item)
            index = self.index(item)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
        while len(self.pixmaps) > KEEP_THUMBS:  # the least recently shown go; decoded again if shown again
            self.pixmaps.popitem(last=False)

    def busy(self) -> bool:
        return (any(not t.delivered for t in self.chunks.values()) or bool(self.pending)
                or any(not t.delivered for t in self.thumb_tasks))
