"""Small layout pieces for hand-built form rows: an editor with its error label, an editor with a button."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

ERROR_STYLE = "color: #e5534b;"


def keep_room(widget: QWidget) -> None:
    """`widget` holds its place in its layout while hidden: what is below it stays put as it comes and goes."""
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(True)
    widget.setSizePolicy(policy)


def error_label(*, room: bool = False) -> QLabel:
    """A red, wrapping label shown under a field when its value is not accepted (hidden otherwise).
    `room`: its line stays while hidden, so the fields below do not move as it comes and goes (a
    form filled in from the top took each field's error away and moved the next field up, under the
    mouse about to click it)."""
    label = QLabel("")
    label.setObjectName("FieldError")
    label.setStyleSheet(ERROR_STYLE)
    label.setWordWrap(True)
    if room:
        keep_room(label)
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
