"""BaseView: what every view does with the keys (Return on a focused button)."""

from __future__ import annotations

from tests.app.views.test_experiment_setup_view import filled_form


def test_return_on_the_focused_launch_button_launches(store, ctx, qtbot, tmp_path) -> None:
    """Seen in a keyboard-only walk: tabbed to Launch, Return did nothing (Qt's buttons take Return in
    dialogs only). Return and Enter press the focused button of a view; Space did already."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    view = filled_form(store, ctx, qtbot, tmp_path)
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.launch.setFocus()
    QTest.keyClick(view.launch, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.banner.text() == "Run 1 queued", timeout=15_000)
    opened = []
    view.save_preset.clicked.disconnect()  # counted, not the file dialog it opens
    view.save_preset.clicked.connect(lambda: opened.append("pressed"))
    view.save_preset.setFocus()
    QTest.keyClick(view.save_preset, Qt.Key.Key_Enter, Qt.KeyboardModifier.KeypadModifier)
    QTest.keyClick(view.save_preset, Qt.Key.Key_Space)
    assert opened == ["pressed", "pressed"]
    QTest.keyClick(view.save_preset, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # not a plain Return
    assert opened == ["pressed", "pressed"]
