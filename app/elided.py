"""Long names cut to the room they get, whole in their tooltip: a one-line label that ends in "…",
and drop-down items elided in the middle (the box's tooltip is the chosen item's whole name)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QWidget


def add_elided_item(combo: QComboBox, name: str, data: object, width: int, suffix: str = "") -> None:
    """Add `name` elided in the middle to `width` px (both ends stay: 'support-tic…fier-2026'), then
    `suffix`; the whole name is the item's tooltip (and the box's, while chosen: see `tip_chosen`)."""
    shown = combo.fontMetrics().elidedText(name, Qt.TextElideMode.ElideMiddle, width)
    combo.addItem(shown + suffix, data)
    combo.setItemData(combo.count() - 1, name, Qt.ItemDataRole.ToolTipRole)


def tip_chosen(combo: QComboBox, default: str) -> None:
    """The box's tooltip: the chosen item's (a whole name an elided item cuts), else `default`."""
    combo.setToolTip(combo.currentData(Qt.ItemDataRole.ToolTipRole) or default)


class ElidedLabel(QLabel):
    """A one-line label that never holds its layout wider than the room it gets: a text too long
    for it ends in "…", and the whole text is its tooltip unless one is set. `text()` is the whole
    text; `shown()` what fits."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self._full = text
        self._show()

    def clear(self) -> None:
        """QLabel's own left the whole text behind: `text()` still gave it, and the next resize showed it again."""
        self.setText("")

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt's name
        self._tip = tip
        self._show()

    def text(self) -> str:
        """The whole text, as set (`shown()` is what fits)."""
        return self._full

    def shown(self) -> str:
        return super().text()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name: it asks for the whole text while it fits
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 12, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._show()

    def _show(self) -> None:
        room = max(self.contentsRect().width() - 2, 0)  # elidedText measures a little wider than the advance
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, room)
        super().setText(shown)
        cut = shown != self._full
        super().setToolTip(self._tip or (self._full if cut else ""))
