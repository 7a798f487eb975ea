"""The one box that asks before something is deleted: Cancel is the default, so Delete then Enter
(or a stray Enter) never deletes. Window-modal and non-blocking (open(), not exec())."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget


def ask_destructive(parent: QWidget, title: str, text: str, action: str,
                    on_confirm: Callable[[], object], *, detail: str = "",
                    checkbox: str | None = None) -> QMessageBox:
    """Open a warning box with Cancel (the default) and a destructive button labelled `action`;
    `on_confirm` runs only when that button is clicked. `detail` is a second, smaller paragraph;
    `checkbox` adds an unticked box under it (`box.checkBox()`, read it in `on_confirm`).
    Returns the open box (tests answer it)."""
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Cancel, parent)
    if detail:
        box.setInformativeText(detail)
    if checkbox is not None:
        box.setCheckBox(QCheckBox(checkbox, box))  # parented: a bare one is freed by Python under the box
    confirm = box.addButton(action, QMessageBox.ButtonRole.DestructiveRole)
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    box.buttonClicked.connect(lambda button: on_confirm() if button is confirm else None)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.open()
    return box
