"""Small layout pieces for hand-built forms: an editor with its error label, an editor with a button, a
scrolled column."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

ERROR_STYLE = "color: #e5534b;"


def keep_room(widget: QWidget, keep: bool = True) -> None:
    """`widget` holds its place in its layout while hidden: what is below it stays put as it comes and goes
    (`keep=False`: it gives that room back)."""
    policy = widget.sizePolicy()
    policy.setRetainSizeWhenHidden(keep)
    widget.setSizePolicy(policy)


class ColumnScrollArea(QScrollArea):
    """Scrolls up and down only: never narrower than what it holds needs (a sideways scroll bar and
    its labels cut at the right edge were what a 1024 px window showed), it takes the height it gets."""

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        inner = self.widget()
        if inner is None:
            return hint
        needed = inner.minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width() + 2 * self.frameWidth()
        return QSize(max(hint.width(), needed), hint.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()  # what it holds changed its needs (a sweep row added...): ask again
        return super().eventFilter(watched, event)


def scrolled_column(*, sideways: bool = True) -> tuple[QScrollArea, QVBoxLayout]:
    """A column that scrolls when its window is too short for it, and the layout to fill it. Outside a
    scroll area a column squeezed below its height drew its wrapped labels over each other.
    `sideways=False`: a frameless `ColumnScrollArea` that never scrolls sideways."""
    area = QScrollArea() if sideways else ColumnScrollArea()
    area.setWidgetResizable(True)
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # no Tab stop: see scrolled_page
    if not sideways:
        area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        area.setFrameShape(QFrame.Shape.NoFrame)
    inner = QWidget()
    area.setWidget(inner)
    return area, QVBoxLayout(inner)


def scrolled_page(page: QWidget) -> QWidget:
    """A frameless scroll area filling `page` (a wizard page, a settings view), and the widget inside it to
    lay out the page's content on: a window shorter than that content (1024 x 600) scrolls it rather than
    pushing the wizard's buttons, or the last settings, off the screen."""
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    # Not a Tab stop: it drew no focus ring, so a Tab seemed to go nowhere (the setup form's right-hand
    # panel). What it holds takes focus and the area scrolls to show the focused field (QScrollArea's own).
    area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    inner = QWidget()
    area.setWidget(inner)
    outer.addWidget(area)
    return inner


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
