"""The main window's menus (File, View, Help), their shortcuts, the F1 list of them and View > Find."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout

from app.views import NAV_VIEWS, spec

if TYPE_CHECKING:
    from app.main_window import MainWindow


def _action(window: MainWindow, menu: Any, text: str, shortcut: str, slot: Any) -> QAction:
    action = QAction(text, window)
    action.setShortcut(QKeySequence(shortcut))
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(slot)
    menu.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    w = window
    file_menu = w.menuBar().addMenu("&File")
    _action(w, file_menu, "New project…", "Ctrl+N", lambda: w.view_call("projects", "new_project"))
    _action(w, file_menu, "Add files to a dataset…", "Ctrl+O", lambda: w.view_call("datasets", "add_files"))
    _action(w, file_menu, "Add a folder to a dataset…", "Ctrl+Shift+O", lambda: w.view_call("datasets", "add_folder"))
    _action(w, file_menu, "Video wizard…", "Ctrl+Shift+V", lambda: w.view_call("datasets", "open_video_wizard"))
    _action(w, file_menu, "Open experiment…", "Ctrl+E", lambda: w.view_call("experiments", "open_experiment_dialog"))
    file_menu.addSeparator()
    _action(w, file_menu, "Quit", "Ctrl+Q", w.close)
    view_menu = w.menuBar().addMenu("&View")
    for number, view in enumerate(NAV_VIEWS, start=1):
        _action(w, view_menu, view.title, f"Ctrl+{number}", lambda _=False, n=view.name: w.show_view_by_key(n))
    view_menu.addSeparator()
    _action(w, view_menu, "Refresh", "F5", w.refresh_current)
    _action(w, view_menu, "Find", "Ctrl+F", lambda: find(w))
    _action(w, view_menu, "Switch dark / light theme", "Ctrl+Shift+T", w.toggle_theme)
    help_menu = w.menuBar().addMenu("&Help")
    _action(w, help_menu, "Keyboard shortcuts", "F1", lambda: show_shortcuts(w))


def find(window: MainWindow) -> None:
    """Ctrl+F: the keys go to the current view's filter box (its list's, from a run's page too);
    a view with nothing to filter says so in the status bar rather than doing nothing."""
    name = window.current_view_name()
    view = window.view(name)
    box = view.search_box()
    if box is not None and not box.isVisible():
        view.go_home()  # a run's page: back to the list, whose box filters it
    if box is None or not box.isVisible():
        window.statusBar().showMessage(f"Nothing to find in {spec(name).title}: Ctrl+F filters the lists of "
                                       "Projects, Datasets, Runs and Leaderboard.", 8000)
        return
    box.setFocus(Qt.FocusReason.ShortcutFocusReason)
    box.selectAll()


def shortcut_lines(window: MainWindow) -> list[str]:
    """The menus' shortcuts (the actions the window holds), then the views' own (`app.shortcuts`): one
    list, read from what is bound, so it names every key the window answers."""
    from app.shortcuts import view_lines

    lines = ["Anywhere:"]
    for action in window.findChildren(QAction):
        key = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        if key and action.text():
            lines.append(f"{key:<16} {action.text().replace('&', '')}")
    return lines + view_lines()


def show_shortcuts(window: MainWindow) -> QDialog:
    """F1: the list in a plain dialog; a message box wrapped its long lines and broke the key column."""
    dialog = QDialog(window)
    dialog.setWindowTitle("Keyboard shortcuts")
    layout = QVBoxLayout(dialog)
    label = QLabel("\n".join(shortcut_lines(window)))
    label.setStyleSheet("font-family: monospace;")
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    layout.addWidget(label)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
    buttons.accepted.connect(dialog.accept)
    layout.addWidget(buttons)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
