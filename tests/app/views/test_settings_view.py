"""Settings follows what the rest of the window changes: the theme chosen with Ctrl+Shift+T."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app import theme  # noqa: E402
from spark_trainer.store import settings  # noqa: E402


def test_the_theme_box_shows_the_theme_switched_to_with_the_shortcut(qtbot, window, store, tmp_path):
    # Seen on Xvfb: on Settings, Ctrl+Shift+T turned the window light and saved 'light', and the
    # Theme box went on saying 'dark'.
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    for _ in range(2):
        QTest.keyClick(window, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        shown = theme.current().name
        qtbot.waitUntil(lambda shown=shown: settings.get(store, "theme") == shown)
        assert view.theme.currentText() == shown
    assert not view.saving  # showing the theme saved nothing more
    window.grab().save(str(tmp_path / "settings-after-toggle.png"))


def test_a_theme_for_this_start_only_is_shown_and_said_not_saved(qtbot, window, store, tmp_path):
    # Seen: `--theme light` with 'dark' saved gave a light window whose Theme box said 'dark'.
    settings.set_value(store, "theme", "dark")
    window.apply_theme("light")  # as app.main does for --theme
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    qtbot.wait(50)
    window.grab().save(str(tmp_path / "settings-theme-for-this-start.png"))
    assert theme.current().name == "light"
    assert view.theme.currentText() == "light"
    assert "this session only" in view.theme.toolTip() and "saved theme is dark" in view.theme.toolTip()
    assert settings.get(store, "theme") == "dark" and not view.saving  # showing it saved nothing
    view.theme.setCurrentText("dark")  # choosing one saves it, and the note goes
    qtbot.waitUntil(lambda: not view.saving, timeout=5000)
    view.theme.setCurrentText("light")
    qtbot.waitUntil(lambda: settings.get(store, "theme") == "light", timeout=5000)
    assert "this session only" not in view.theme.toolTip()


def test_gpu_ids_are_refused_as_default_on_a_machine_without_gpus(qtbot, ctx, store):
    # Seen on Xvfb (no NVIDIA GPU): 'Default GPUs' took 45 and saved it, under a line saying no GPU
    # was detected; runs without `gpus:` then asked for GPU 45. The check skipped an empty GPU list.
    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    ctx.gpu_monitor.record([])  # sampled: this machine has none
    view.default_gpus.setText("45")
    view.default_gpus.editingFinished.emit()
    assert view.banner.role == "error", view.banner.text()
    assert view.banner.text() == "Default GPUs: GPU 45 requested but this machine has 0 GPUs"
    assert not view.saving and settings.get(store, "default_gpus") == "auto"
    for accepted in ("cpu", "auto", "cpu:2"):  # what a GPU-less machine can run
        view.default_gpus.setText(accepted)
        view.default_gpus.editingFinished.emit()
        qtbot.waitUntil(lambda: not view.saving)
        assert settings.get(store, "default_gpus") == accepted, view.banner.text()
