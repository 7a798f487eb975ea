"""The views' own keyboard shortcuts, in one table: each view binds its keys through `bind`, and F1
lists this table beside the menus' shortcuts (`app.menus.shortcut_lines`), so the list names every
key a view answers, built or not yet built, and a key bound elsewhere without an entry here is caught
by `tests/app/test_shortcuts.py`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class ViewShortcut:
    where: str  # the view or page that answers the keys, as F1 groups them
    keys: tuple[str, ...]  # QKeySequence text, or "Delete" for the platform's delete key
    what: str


SHORTCUTS: dict[str, ViewShortcut] = {
    "projects.open": ViewShortcut("Projects list", ("Return",), "Open the selected project's datasets"),
    "projects.rename": ViewShortcut("Projects list", ("F2",), "Rename the selected project"),
    "projects.delete": ViewShortcut("Projects list", ("Delete",), "Delete the selected project (asks first)"),
    "datasets.rename": ViewShortcut("Datasets list", ("F2",), "Rename the selected dataset"),
    "datasets.delete": ViewShortcut("Datasets list", ("Delete",), "Delete the selected dataset (asks first)"),
    "runs.open": ViewShortcut("Runs list", ("Return", "Enter"), "Open the selected run's page"),
    "runs.delete": ViewShortcut("Runs list", ("Delete",), "Delete the selected runs (asks first)"),
    "page.back": ViewShortcut("A run's page, Compare", ("Esc", "Alt+Left"), "Back to the Runs list"),
    "playground.back": ViewShortcut("Playground", ("Alt+Left",), "Back to the run's page"),
    "playground.generate": ViewShortcut("Playground", ("Ctrl+Return",), "Generate (or classify) from the prompt"),
}


def _sequence(key: str) -> QKeySequence:
    return QKeySequence(QKeySequence.StandardKey.Delete) if key == "Delete" else QKeySequence(key)


def bind(name: str, widget: QWidget, slot: Callable[[], object],
         context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetShortcut) -> list[QShortcut]:
    """The keys of `SHORTCUTS[name]` on `widget`, each calling `slot`; the shortcuts carry the entry's
    name (objectName) and words (whatsThis)."""
    entry = SHORTCUTS[name]
    made = []
    for key in entry.keys:
        shortcut = QShortcut(_sequence(key), widget, context=context)
        shortcut.setObjectName(f"shortcut:{name}")
        shortcut.setWhatsThis(entry.what)
        shortcut.activated.connect(slot)
        made.append(shortcut)
    return made


def key_text(key: str) -> str:
    return _sequence(key).toString(QKeySequence.SequenceFormat.NativeText)


def view_lines() -> list[str]:
    """F1's lines for the views' keys, grouped by where they work."""
    lines, where = [], None
    for entry in SHORTCUTS.values():
        if entry.where != where:
            where = entry.where
            lines += ["", f"{where}:"]
        lines.append(f"{', '.join(key_text(k) for k in entry.keys):<16} {entry.what}")
    return lines
