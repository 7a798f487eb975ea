"""Text entered into a line edit as a user types it."""

from __future__ import annotations

from PySide6.QtWidgets import QLineEdit


def typed(edit: QLineEdit, text: str) -> None:
    """Set `text`, marked modified as typing marks it, and leave the box (editingFinished). Settings' Default
    GPUs saves only a box typed into: set by setText alone it counted as untouched, and whether it saved then
    depended on whether the poller had read the last save yet."""
    edit.setText(text)
    edit.setModified(True)
    edit.editingFinished.emit()
