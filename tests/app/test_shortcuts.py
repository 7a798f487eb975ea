"""F1 lists every key the window answers: the menus' and the views' own, from what is bound."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtGui import QKeySequence, QShortcut  # noqa: E402


def _every_page(window):  # noqa: ANN001, ANN202 - the main window
    """Build every view and every page a view builds on demand (run page, Compare, Playground)."""
    from app.views import NAV_VIEWS

    for view in NAV_VIEWS:
        window.view(view.name)
    runs = window.view("runs")
    for page in (runs.detail, runs.compare_page, runs.playground):
        assert page is not None
    from app.views.playground_image_panels import ClassificationPanel, ImageGenerationPanel
    from app.views.playground_panels import TextGenerationPanel

    return [TextGenerationPanel(window), ClassificationPanel(window), ImageGenerationPanel(window)]


def test_f1_lists_the_views_own_keys_beside_the_menus(qtbot, window):
    # Seen: F1 listed the menus' shortcuts only; F2, Delete, Return on a list, Escape on a run's page
    # and Ctrl+Enter in the Playground were nowhere.
    from app.menus import shortcut_lines

    text = "\n".join(shortcut_lines(window))
    delete = QKeySequence(QKeySequence.StandardKey.Delete).toString(QKeySequence.SequenceFormat.NativeText)
    for line in ("Ctrl+F", "Ctrl+N", "Runs list:", f"{delete:<16} Delete the selected runs (asks first)",
                 "Datasets list:", "F2", "Return, Enter", "Esc, Alt+Left", "Ctrl+Return"):
        assert line in text, line


def test_every_key_a_view_binds_is_in_the_f1_list(qtbot, window):
    # The list cannot go stale: a view binding a key outside `app.shortcuts` fails here.
    from app.shortcuts import SHORTCUTS, key_text

    panels = _every_page(window)
    found = window.findChildren(QShortcut)
    assert len(found) >= sum(len(e.keys) for e in SHORTCUTS.values())
    named = set()
    for shortcut in found:
        name = shortcut.objectName().removeprefix("shortcut:")
        assert name in SHORTCUTS, (shortcut.key().toString(), shortcut.parent())
        assert shortcut.key().toString(QKeySequence.SequenceFormat.NativeText) in {
            key_text(k) for k in SHORTCUTS[name].keys}
        named.add(name)
    assert named == set(SHORTCUTS)  # and every entry is bound somewhere
    for panel in panels:
        panel.deleteLater()


def test_f1_opens_the_list_unwrapped(qtbot, window):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDialog, QLabel

    QTest.keyClick(window, Qt.Key.Key_F1)
    dialog = next(d for d in window.findChildren(QDialog) if d.windowTitle() == "Keyboard shortcuts")
    qtbot.waitUntil(dialog.isVisible)
    label = dialog.findChild(QLabel)
    assert "Datasets list:" in label.text() and not label.wordWrap()
    dialog.accept()
