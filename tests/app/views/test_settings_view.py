"""Settings follows what the rest of the window changes: the theme chosen with Ctrl+Shift+T."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from app import theme  # noqa: E402
from spark_trainer.store import settings  # noqa: E402
from tests.app.typed import typed


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
    typed(view.default_gpus, "45")
    assert view.banner.role == "error", view.banner.text()
    assert view.banner.text() == "Default GPUs: GPU 45 requested but this machine has 0 GPUs"
    assert not view.saving and settings.get(store, "default_gpus") == "auto"
    for accepted in ("cpu", "auto", "cpu:2"):  # what a GPU-less machine can run
        typed(view.default_gpus, accepted)
        qtbot.waitUntil(lambda: not view.saving)
        assert settings.get(store, "default_gpus") == accepted, view.banner.text()


def test_a_message_appearing_at_the_top_moves_no_field_of_the_form(qtbot, window, store):
    # Seen: saving 'Max concurrent runs' showed "Saved max concurrent runs." above the form and every
    # field below moved 38 px down, under the mouse that was about to click the next one.
    from PySide6.QtCore import QPoint

    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    fields = (view.change_home, view.token_edit, view.theme, view.max_runs, view.default_gpus, view.grace)

    def tops() -> list[int]:
        return [field.mapTo(window, QPoint(0, 0)).y() for field in fields]

    qtbot.wait(50)  # laid out with what was read (the keyring's status may take two lines)
    before = tops()
    assert not view.banner.isVisible()
    view.max_runs.setValue(view.max_runs.value() + 1)
    qtbot.waitUntil(lambda: view.banner.isVisible() and not view.saving, timeout=5000)
    # laid out: the banner has its place, above the form
    qtbot.waitUntil(lambda: view.banner.height() >= view.banner.heightForWidth(view.banner.width()) > 0,
                    timeout=2000)
    assert view.banner.role == "ok" and view.banner.text() == "Saved max concurrent runs."
    assert tops() == before
    assert view.banner.mapTo(window, QPoint(0, view.banner.height())).y() <= min(before)  # above the form
    typed(view.default_gpus, "not a gpu")  # an error line: the same place, nothing moves either
    assert view.banner.role == "error"
    qtbot.wait(50)
    assert tops() == before
    view.banner.clear_message()
    qtbot.wait(50)
    assert tops() == before


def test_a_saved_line_is_gone_on_coming_back_to_settings(qtbot, window, store):
    # "Saved max concurrent runs." was still there on coming back to Settings an hour later.
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    view.max_runs.setValue(view.max_runs.value() + 1)
    qtbot.waitUntil(lambda: view.banner.isVisible() and not view.saving, timeout=5000)
    window.show_view("projects")
    assert window.show_view("settings") is view
    assert not view.banner.isVisible() and view.banner.text() == ""
    typed(view.default_gpus, "not a gpu")  # an error stays until read and acted on
    window.show_view("projects")
    window.show_view("settings")
    assert view.banner.isVisible() and view.banner.role == "error"


def test_the_saved_line_takes_no_strip_of_its_own_above_the_form(qtbot, ctx, store):
    # Seen in a screenshot: an empty 38 px strip under the title, held for "Saved ..."; the line is in
    # the title row now (a LineBanner), and "Saved max concurrent runs." moves no field.
    from PySide6.QtCore import QPoint

    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1024, 640)
    view.show()
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    qtbot.wait(50)

    def form_top() -> int:
        return view.home_label.mapTo(view, QPoint(0, 0)).y()

    title_bottom = view.title_label.mapTo(view, QPoint(0, view.title_label.height())).y()
    before = form_top()
    assert before - title_bottom < 50, f"{before - title_bottom} px between the title and the first field"
    view.banner.show_message("Saved max concurrent runs.", "ok")
    qtbot.wait(50)
    assert form_top() == before and view.banner.isVisible()


def test_the_stall_and_playground_timers_are_shown_and_saved(qtbot, ctx, store):
    # They were in `settings` alone: a user of the app could not say when a silent run is given up on.
    from app.views.settings_view import SettingsView

    settings.set_value(store, "stall_grace_seconds", 300)
    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    watch = view.watch
    assert {key: box.value() for key, box in watch.items()} == {
        "heartbeat_timeout_seconds": 120, "stall_grace_seconds": 300, "playground_idle_seconds": 600}
    assert watch["stall_grace_seconds"].minimum() == 0  # 0: killed as soon as it is marked stalled
    watch["heartbeat_timeout_seconds"].setValue(45)
    watch["playground_idle_seconds"].setValue(90)
    qtbot.waitUntil(lambda: not view.saving, timeout=5000)
    assert settings.get(store, "heartbeat_timeout_seconds") == 45
    assert settings.get(store, "playground_idle_seconds") == 90
    assert view.banner.role != "error", view.banner.text()


def test_a_number_typed_is_saved_once_typed_not_digit_by_digit(qtbot, ctx, store):
    # Seen: typing "15" in "Stalled after no heartbeat for" saved 1 s first, and a running run was marked
    # stalled ("no heartbeat for 2 s (threshold 1 s)"); with a kill time of 0 it would have been killed.
    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    for box, key in ((view.watch["heartbeat_timeout_seconds"], "heartbeat_timeout_seconds"),
                     (view.grace, "stop_grace_seconds"), (view.max_runs, "max_concurrent_runs")):
        before = settings.get(store, key)
        box.setFocus()
        box.selectAll()
        QTest.keyClicks(box, "15")
        qtbot.wait(50)
        assert not view.saving and settings.get(store, key) == before, key  # nothing saved per digit
        QTest.keyClick(box, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda key=key: settings.get(store, key) == 15, timeout=5000)


def test_a_setting_stored_in_the_wrong_type_shows_its_default_and_says_so(qtbot, ctx, store):
    # Seen: max_concurrent_runs '"abc"' in the database: the page's read failed in int() (a traceback
    # from --view settings --screenshot) and the form showed nothing read.
    from app.views.settings_view import SettingsView
    from spark_trainer.store.entities import utcnow
    from spark_trainer.store.models import SettingRow

    with store.write() as session:
        session.add(SettingRow(key="max_concurrent_runs", value="abc", updated_at=utcnow()))
        session.add(SettingRow(key="allow_gpu_sharing", value="false", updated_at=utcnow()))
        session.add(SettingRow(key="stop_grace_seconds", value=45, updated_at=utcnow()))
    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    assert view.max_runs.value() == 1 and not view.sharing.isChecked() and view.grace.value() == 45
    assert view.banner.role == "warning" and "max_concurrent_runs: the stored value 'abc' is not usable" in \
        view.banner.text() and "allow_gpu_sharing" not in view.banner.text()


def test_every_setting_can_be_reached_in_a_1024x600_window(qtbot, window, store):
    # Seen: at 1024 x 600 Settings had no scroll area and its last timers were below the window's edge.
    from PySide6.QtCore import QPoint

    from app.wheel_guard import scroll_area_of

    window.resize(1024, 560)  # 1024 x 600 less a title bar
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    qtbot.waitUntil(lambda: window.height() <= 560)
    last = view.watch["playground_idle_seconds"]
    area = scroll_area_of(last)
    assert area is not None and area.isVisible()
    area.ensureWidgetVisible(last)
    qtbot.wait(20)
    assert not last.visibleRegion().isEmpty()
    assert last.mapTo(window, QPoint(0, last.height())).y() <= window.height()


def test_each_setting_is_named_by_its_label_which_buddies_it(qtbot, ctx, store):
    # Seen in an accessibility walk: no setting had an accessible name, and no label buddied its box.
    from app.views.settings_view import SettingsView
    from tests.app.forms.test_labels import labels_of, unnamed_inputs

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    labels = labels_of(view)
    for text, box in (("Max concurrent runs", view.max_runs), ("Default GPUs", view.default_gpus),
                      ("Stop grace period", view.grace), ("Token", view.token_edit),
                      ("Unload an idle Playground model after", view.watch["playground_idle_seconds"])):
        assert labels[text].buddy() is box, text
        assert box.accessibleName() == text
    assert labels["GPU sharing"].buddy() is view.sharing  # named by its own text
    assert unnamed_inputs(view) == []


def _terminal_set(key: str, value: object, home) -> None:  # noqa: ANN001 - a path
    """`spark-trainer settings set KEY VALUE` from a terminal: another process, its own store."""
    from spark_trainer.store.store import Store

    other = Store.open(home)
    try:
        settings.set_value(other, key, value)
    finally:
        other.close()


def test_settings_follows_a_change_made_from_a_terminal(qtbot, window, store):
    # Seen: with Settings open, `spark-trainer settings set max_concurrent_runs 3` went on showing 1
    # until the view was built again.
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    assert view.max_runs.value() == 1
    _terminal_set("max_concurrent_runs", 3, store.home.root)
    _terminal_set("stall_grace_seconds", 7, store.home.root)
    _terminal_set("default_gpus", "cpu", store.home.root)
    qtbot.waitUntil(lambda: view.max_runs.value() == 3, timeout=5000)
    qtbot.waitUntil(lambda: view.watch["stall_grace_seconds"].value() == 7 and view.default_gpus.text() == "cpu")
    assert not view.saving  # showing the store's values wrote nothing back


def test_a_terminal_change_spares_the_field_being_edited_and_nothing_stale_is_saved(qtbot, window, store):
    # Seen: after a terminal change the form kept the old values, and leaving the Default GPUs box
    # wrote its stale text back over the terminal's value.
    view = window.show_view("settings")
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)
    window.activateWindow()
    view.grace.setFocus()
    qtbot.waitUntil(view.grace.hasFocus)
    view.grace.lineEdit().setText("55")  # typed, not yet entered
    _terminal_set("stop_grace_seconds", 90, store.home.root)
    _terminal_set("default_gpus", "cpu", store.home.root)
    qtbot.waitUntil(lambda: view.default_gpus.text() == "cpu", timeout=5000)
    assert view.grace.lineEdit().text().startswith("55")  # what the user is typing stays
    view.default_gpus.setFocus()  # leaving the grace box enters 55: saved, as typed
    qtbot.waitUntil(lambda: settings.get(store, "stop_grace_seconds") == 55, timeout=5000)
    view.max_runs.setFocus()  # leaving Default GPUs untouched saves nothing
    view.default_gpus.editingFinished.emit()
    qtbot.wait(300)
    assert settings.get(store, "default_gpus") == "cpu" and not view.saving
    _terminal_set("max_concurrent_runs", 4, store.home.root)  # the focused box, left untouched
    qtbot.waitUntil(lambda: settings.get(store, "max_concurrent_runs") == 4)
    qtbot.wait(600)
    assert view.max_runs.value() == 1  # not under the user's cursor
    view.sharing.setFocus()
    qtbot.waitUntil(lambda: view.max_runs.value() == 4, timeout=5000)  # shown once left
    assert settings.get(store, "max_concurrent_runs") == 4 and settings.get(store, "stop_grace_seconds") == 55
