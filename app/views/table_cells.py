"""The cells of `table_models.RowsTable`: the progress bar a Progress column draws, and a cell or a
header read in QTableWidget terms (read-only, for tests and the screenshot tools)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QRect, Qt
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
)

PROGRESS_ROLE = Qt.ItemDataRole.UserRole + 1  # (value, maximum) for the progress-bar delegate
Role = Qt.ItemDataRole


class ProgressDelegate(QStyledItemDelegate):
    """Draws (value, maximum) from PROGRESS_ROLE as a progress bar reading "value / maximum"."""

    def paint(self, painter: Any, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        found = index.data(PROGRESS_ROLE)
        if found is None:
            super().paint(painter, option, index)
            return
        value, maximum = found
        widget = option.widget  # type: ignore[attr-defined]
        style = widget.style() if widget is not None else QApplication.style()
        if option.state & QStyle.StateFlag.State_Selected:  # type: ignore[attr-defined]
            style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        bar = QStyleOptionProgressBar()
        bar.initFrom(widget) if widget is not None else None
        rect: QRect = option.rect  # type: ignore[attr-defined]
        bar.rect = rect.adjusted(2, 2, -2, -2)
        bar.minimum, bar.maximum, bar.progress = 0, maximum, value
        bar.text = f"{value} / {maximum}"
        bar.textVisible = True
        bar.textAlignment = Qt.AlignmentFlag.AlignCenter
        bar.state = bar.state | QStyle.StateFlag.State_Horizontal
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, widget)


class Cell:
    """One cell read in QTableWidgetItem terms (read-only)."""

    def __init__(self, index: QModelIndex) -> None:
        self.index = index

    def text(self) -> str:
        value = self.index.data(Role.DisplayRole)
        return "" if value is None else str(value)

    def data(self, role: int) -> Any:
        return self.index.data(role)

    def foreground(self) -> Any:
        return self.index.data(Role.ForegroundRole)

    def toolTip(self) -> str:  # noqa: N802 - QTableWidgetItem's name
        return self.index.data(Role.ToolTipRole) or ""


class HeaderTitle:
    def __init__(self, title: str) -> None:
        self._title = title

    def text(self) -> str:
        return self._title
