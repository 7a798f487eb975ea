"""A box that filters a table's rows by the words typed in it (Ctrl+F, View > Find, puts the keys here).

It hides the rows whose cells do not hold every word (case-insensitive) and keeps doing so as the
model's rows change, so it works over any table (RowsTable's live model, a QTableWidget) without a
proxy model: the views keep their row numbers for selection and opening.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QSize, Qt, QTimer
from PySide6.QtWidgets import QLineEdit, QTableView, QWidget


class SearchEdit(QLineEdit):
    """A line edit whose size hint holds its whole placeholder (up to its maximum width): at QLineEdit's
    own hint, next to a stretch, 'Search projects (Ctrl+F)' read 'Search projects (…' at 1280 px."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """Wide enough for the whole placeholder: at QLineEdit's own hint it read 'Filter datasets (Ct…'."""
        hint = super().sizeHint()
        return QSize(min(self.maximumWidth(), self.fontMetrics().horizontalAdvance(self.placeholderText()) + 36),
                     hint.height())


class RowFilter(SearchEdit):
    def __init__(self, table: QTableView, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = table
        self.setPlaceholderText(f"Filter {what} (Ctrl+F)")
        self.setToolTip(f"Show only the {what} whose cells hold every word typed here")
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(120)
        self.setMaximumWidth(260)
        self._pending = QTimer(self, singleShot=True, interval=0)  # one pass after a burst of model changes
        self._pending.timeout.connect(self.apply)
        self.textChanged.connect(self.apply)
        model: QAbstractItemModel = table.model()
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged,
                       model.dataChanged):
            signal.connect(self._pending.start)

    def matches(self, row: int) -> bool:
        words = self.text().lower().split()
        if not words:
            return True
        model = self.table.model()
        cells = " ".join(str(model.index(row, col).data(Qt.ItemDataRole.DisplayRole) or "")
                         for col in range(model.columnCount())).lower()
        return all(word in cells for word in words)

    def apply(self) -> None:
        """Hide the rows that do not match; show the others."""
        for row in range(self.table.model().rowCount()):
            hidden = not self.matches(row)
            if self.table.isRowHidden(row) != hidden:
                self.table.setRowHidden(row, hidden)

    def shown_rows(self) -> list[int]:
        return [row for row in range(self.table.model().rowCount()) if not self.table.isRowHidden(row)]

    def focus(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()
