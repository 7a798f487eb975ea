"""The mouse wheel scrolls a form; it does not change the choice that happens to pass under the pointer.

Qt's combo boxes and spin boxes take wheel events without focus, so wheeling down a long form in a
scroll area switched whatever setting the pointer crossed (seen: `sharding` auto -> fsdp in the
experiment setup form). Guarded widgets answer the wheel only once focused (clicked or tabbed into);
otherwise the wheel scrolls their scroll area.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QAbstractScrollArea, QAbstractSpinBox, QApplication, QComboBox, QWidget

GUARDED = (QComboBox, QAbstractSpinBox)


class WheelGuard(QObject):
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.Wheel or not isinstance(watched, QWidget) or watched.hasFocus():
            return False
        area = scroll_area_of(watched)
        if area is not None:
            QApplication.sendEvent(area.verticalScrollBar(), event)
        return True


def scroll_area_of(widget: QWidget) -> QAbstractScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QAbstractScrollArea):
        parent = parent.parentWidget()
    return parent


def guard_wheel(root: QWidget) -> WheelGuard:
    """Guard the combo and spin boxes under `root` (call again for widgets added later)."""
    guard = WheelGuard(root)
    for widget in root.findChildren(QWidget):
        if isinstance(widget, GUARDED) and widget.property("wheel_guarded") is not True:
            widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # the wheel alone does not focus it
            widget.installEventFilter(guard)
            widget.setProperty("wheel_guarded", True)
    return guard
