"""Test helper: a view in the main window at its smallest size, and the buttons there too narrow for
their own text (a header that shows "ew projec" instead of "New project")."""

from __future__ import annotations

from typing import Any


def view_at_smallest(qtbot, store, qsettings, name: str) -> tuple[Any, Any]:
    """(the window, its view `name`), the window shown at its minimum size with the app model read."""
    from app.main_window import MainWindow
    from tests.app.model_sync import sync_model

    win = MainWindow(store, qsettings, poll_gpus=False)
    qtbot.addWidget(win)
    win.show()
    win.resize(win.minimumSize())
    sync_model(qtbot, win.ctx)
    view = win.show_view(name)
    qtbot.wait(50)
    return win, view


def cut_buttons(view) -> list[str]:
    """The visible buttons narrower than their text wants, as "'text' width < wanted px"."""
    from PySide6.QtWidgets import QPushButton

    return [f"{b.text()!r} {b.width()} < {b.sizeHint().width()} px"
            for b in view.findChildren(QPushButton) if b.isVisible() and b.width() < b.sizeHint().width()]
