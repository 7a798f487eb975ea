"""Small layout pieces for hand-built form rows: an editor with its error label, an editor with a button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

ERROR_STYLE = "color: #e5534b;"


def error_label() -> QLabel:
    """A red, wrapping label shown under a field when its value is not accepted (hidden otherwise)."""
    label = QLabel("")
    label.setObjectName("FieldError")
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    label.hide()
    return label


def with_error(widget: QWidget, error: QLabel) -> QWidget:
    cell = QWidget()
    layout = QVBoxLayout(cell)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    layout.addWidget(widget)
    layout.addWidget(error)
    return cell


def with_button(widget: QWidget, button: QPushButton) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(widget, 1)
    layout.addWidget(button)
    return row
