"""Tab follows a form's layout: the widgets that take Tab focus, in the order the layouts hold them, set
as the focus chain in one call. Qt's own order is the order widgets were given their parents, so a part
built later (a recipe's settings, made when the recipe is chosen, sat between Training and Evaluation)
came last, after the panel to its right, and Tab jumped across the window and back."""

from __future__ import annotations

from collections.abc import Iterator

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLayout, QScrollArea, QWidget


def tab_stops(root: QWidget | QLayout) -> list[QWidget]:
    """The widgets under `root` that take Tab focus, in layout order (a form's rows top to bottom, a row's
    cells left to right), hidden and disabled ones included: Tab skips them while they are, and they keep
    their place for when they are not. A widget that takes focus is one stop (an editable box's line edit
    is part of it); a scroll area is a stop before what it holds."""
    return list(_stops(root))


def _stops(item: QWidget | QLayout) -> Iterator[QWidget]:
    if isinstance(item, QWidget):
        takes_tab = bool(item.focusPolicy() & Qt.FocusPolicy.TabFocus)
        if takes_tab:
            yield item
        if isinstance(item, QScrollArea):
            if item.widget() is not None:
                yield from _stops(item.widget())
            return
        if takes_tab:
            return
        item = item.layout()
        if item is None:
            return
    for index in range(item.count()):
        child = item.itemAt(index)
        inner = child.widget() or child.layout()
        if inner is not None:
            yield from _stops(inner)


def order_tabs(stops: list[QWidget]) -> None:
    """Make Tab go through `stops` in this order (Shift+Tab back)."""
    for first, second in zip(stops, stops[1:], strict=False):
        QWidget.setTabOrder(first, second)
