"""Settings' "Move data home to…" (app/views/move_home_dialog.py): the same checks as `spark-trainer
home move`, shown as one line; the move on a pool thread with a progress bar; then a restart."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.views.move_home_dialog import MoveHomeDialog, destination_for
from spark_trainer import home_record
from spark_trainer.store import projects
from spark_trainer.store.store import Store
from tests.tmpfs import tmpfs  # noqa: F401 - the fixture


@pytest.fixture
def dialog_for(store, ctx, qtbot):
    def make(dest: Path) -> MoveHomeDialog:
        dialog = MoveHomeDialog(store, ctx, dest)
        qtbot.addWidget(dialog)
        dialog.show()
        qtbot.waitUntil(lambda: dialog.state != "checking", timeout=20000)
        return dialog

    return make


def test_a_move_to_another_disk_copies_with_progress_then_asks_for_a_restart(store, ctx, dialog_for, tmp_path,
                                                                             qtbot, tmpfs) -> None:  # noqa: F811
    projects.create(store, "kept")
    home_record.set_chosen(store.home.root)  # the machine's own home: the choice follows it
    (store.home.models_dir / "weights.bin").write_bytes(os.urandom(12 * 2**20))  # several progress steps
    dest = tmpfs(tmp_path / "disk", 128 * 2**20) / "spark"
    dialog = dialog_for(dest)
    assert dialog.state == "ready" and dialog.move_button.isEnabled() and not dialog.quit_button.isVisible()
    assert f"to {dest}: a copy of" in dialog.message.text() and "restart" in dialog.message.text()
    seen: list[int] = []
    ctx.scheduler.start()
    task = dialog.start_move()
    task.signals.progress.connect(lambda value: seen.append(value[0]))
    assert not ctx.scheduler.running  # held while the home moves
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=60000)
    assert dialog.state == "done", dialog.message.text()
    assert dialog.progress.value() == 1000 and seen  # progress arrived while copying
    assert "Close SparkTrainer and start it again" in dialog.message.text() and dialog.quit_button.isVisible()
    assert not dialog.restart_button.isVisible()  # this context cannot restart the app (no window enabled it)
    assert not store.home.root.exists() and (dest / "sparktrainer.db").is_file()
    assert home_record.read_record().chosen == str(dest)  # the next start, and `spark-trainer`, open it
    assert "The chosen home is still" not in dialog.detail.text()
    dialog.reject()  # Escape after the move: the window shows the old place, so only a restart goes on
    assert dialog.isVisible()


NO_PROGRAM = "/nonexistent/SparkTrainer"


def test_after_a_move_the_dialog_offers_the_restart_and_says_when_it_cannot(window, qtbot, tmp_path) -> None:
    from app.relaunch import Relaunch

    window.enable_restart(Relaunch(program=(NO_PROGRAM,)))  # a real start that fails: no such program
    projects.create(window.store, "kept")
    dest = tmp_path / "moved"
    settings = window.show_view("settings")
    settings.move_data_home(str(dest))  # as the button does, after the folder dialog
    dialog = settings.move_dialog
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=20000)
    assert "Afterwards SparkTrainer offers to restart at the new place." in dialog.message.text()
    dialog.start_move()
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=60000)
    assert dialog.state == "done", dialog.message.text()
    assert dialog.restart_button.isVisible() and dialog.restart_button.isDefault() and dialog.quit_button.isVisible()
    text = dialog.message.text()
    assert text.startswith(f"The data home is now at {dest}.\nRestart SparkTrainer to continue there")
    # The tests' $SPARK_TRAINER_HOME points elsewhere and wins over the chosen home: the restart says so.
    assert f"wins over the chosen home, so the restart opens {dest} with --home {dest}" in text
    dialog.restart_button.click()
    assert dialog.message.text() == (f"{text}\nCould not start SparkTrainer again ({NO_PROGRAM} did not start): "
                                     "close it and start it again by hand.")
    assert window.isVisible() and dialog.isVisible() and dialog.quit_button.isVisible()  # Close stays the way on
    dialog.reject()  # still only a restart or Close goes on from here
    assert dialog.isVisible()


def test_moving_a_home_that_is_not_the_chosen_one_leaves_the_choice_and_restarts_with_home(
        window, qtbot, tmp_path) -> None:
    """The window was given its home for this start (--home): the move must not make it the chosen home."""
    from app.relaunch import Relaunch

    chosen = tmp_path / "chosen"
    with Store.open(chosen):
        pass
    home_record.set_chosen(chosen)
    dest = tmp_path / "moved"
    dialog = _move_in_settings(window, qtbot, dest)
    assert home_record.read_record().chosen == str(chosen)
    assert dialog.detail.text() == (f"The chosen home is still {chosen}: later starts open it. To open the moved "
                                    "home on every start, choose it in Settings.")
    assert Relaunch(program=("app",)).command(dest)[-2:] == ["--home", str(dest)]  # the restart opens the moved one


def _move_in_settings(window, qtbot, dest: Path):  # noqa: ANN202 - a MoveHomeDialog
    settings = window.show_view("settings")
    settings.move_data_home(str(dest))
    dialog = settings.move_dialog
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=20000)
    dialog.start_move()
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=60000)
    assert dialog.state == "done", dialog.message.text()
    return dialog


def test_an_environment_home_at_the_old_place_is_noted_after_a_move(store, dialog_for, qtbot, tmp_path,
                                                                    monkeypatch) -> None:
    monkeypatch.setenv("SPARK_TRAINER_HOME", str(store.home.root))  # wins over the chosen home
    dialog = dialog_for(tmp_path / "moved")  # this context cannot restart: the move's own note says it
    dialog.start_move()
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=60000)
    assert dialog.state == "done", dialog.message.text()
    assert dialog.detail.text() == (f"$SPARK_TRAINER_HOME still points at {store.home.root}; set it to "
                                    f"{tmp_path / 'moved'} (it wins over the chosen home)")


def test_an_environment_home_at_the_old_place_is_said_once_beside_the_restart(window, qtbot, tmp_path,
                                                                              monkeypatch) -> None:
    from app.relaunch import Relaunch

    monkeypatch.setenv("SPARK_TRAINER_HOME", str(window.store.home.root))
    window.enable_restart(Relaunch(program=(NO_PROGRAM,)))
    settings = window.show_view("settings")
    settings.move_data_home(str(tmp_path / "moved"))
    dialog = settings.move_dialog
    qtbot.waitUntil(lambda: dialog.state == "ready", timeout=20000)
    dialog.start_move()
    qtbot.waitUntil(lambda: dialog.state in ("done", "failed"), timeout=60000)
    assert dialog.state == "done", dialog.message.text()
    # The restart's line says what the variable does; the move's note is not said again below it.
    assert "wins over the chosen home, so the restart opens" in dialog.message.text()
    assert dialog.detail.text() == ""


def test_cancel_stops_the_copy_and_leaves_the_home_where_it_was(store, ctx, dialog_for, tmp_path, qtbot,
                                                               tmpfs) -> None:  # noqa: F811
    # A 100 GB home copied to a new disk must be stoppable: before, Cancel was disabled during the copy.
    projects.create(store, "kept")
    (store.home.models_dir / "weights.bin").write_bytes(os.urandom(24 * 2**20))
    dest = tmpfs(tmp_path / "disk", 128 * 2**20) / "spark"
    dialog = dialog_for(dest)
    ctx.scheduler.start()
    dialog.start_move()
    assert dialog.close_button.isEnabled() and dialog.close_button.text() == "Cancel"
    dialog.reject()  # Cancel (or Escape) while copying
    qtbot.waitUntil(lambda: dialog.state == "failed", timeout=60000)
    assert dialog.message.text() == (f"The data home was not moved: the move was cancelled; the partial copy was "
                                     f"removed and the home is still at {store.home.root}")
    assert not dest.exists() and (store.home.root / "models" / "weights.bin").is_file()
    assert [p.name for p in projects.list_all(store)] == ["kept"]
    assert home_record.read_record().chosen is None and ctx.scheduler.running  # nothing changed; scheduling again
    dialog.reject()
    assert not dialog.isVisible()


def test_refusals_are_one_line_and_nothing_moves(store, ctx, dialog_for, tmp_path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "sparktrainer.db").write_text("another home")
    dialog = dialog_for(tmp_path / "full")
    assert dialog.state == "refused" and not dialog.move_button.isVisible() and not dialog.quit_button.isVisible()
    assert dialog.message.text() == f"Cannot move the data home: {tmp_path / 'full'} is not empty; choose a new or " \
                                    "empty folder"
    assert (store.home.root / "sparktrainer.db").is_file()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_cannot_be_written_is_refused_as_such_not_as_full(dialog_for) -> None:
    # The CLI's check, shared through plan_move: /proc/foo was "not enough room ... 0.0 MiB is free".
    dialog = dialog_for(Path("/proc/foo"))
    assert dialog.state == "refused" and dialog.message.text().startswith(
        "Cannot move the data home: /proc/foo cannot be written (/proc: ")


def test_a_folder_holding_other_things_gets_a_sparktrainer_folder_inside(tmp_path) -> None:
    (tmp_path / "disk").mkdir()
    (tmp_path / "disk" / "photos").mkdir()
    assert destination_for(tmp_path / "disk") == tmp_path / "disk" / "SparkTrainer"
    assert destination_for(tmp_path / "new") == tmp_path / "new"


def test_settings_has_the_move_next_to_the_change(store, ctx, qtbot, tmp_path, monkeypatch) -> None:
    from app.views.settings_view import SettingsView

    view = SettingsView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    assert view.move_home.text() == "Move data home to…" and view.move_home.isVisible()
    view.move_data_home(str(tmp_path / "elsewhere"))
    qtbot.waitUntil(lambda: view.move_dialog.state == "ready", timeout=20000)
    assert "rename" in view.move_dialog.message.text()
    view.move_dialog.reject()
    qtbot.waitUntil(lambda: not view.busy(), timeout=5000)


def test_close_sparktrainer_after_a_move_really_closes_the_app(tmp_path) -> None:
    # In the running app (an event loop, Qt 6's quit asks every window to close), the dialog refused to
    # close after a move, which cancelled the quit: "Close SparkTrainer" did nothing.
    from spark_trainer.store.store import Store
    from tests.app import restart_driver

    with Store.open(tmp_path / "old") as old:
        projects.create(old, "kept")
    done = restart_driver.run(tmp_path, "move-close", tmp_path / "new", ["--home", str(tmp_path / "old")],
                              timeout_s=90)
    assert "moved" in done.out and "clicked Close SparkTrainer" in done.out, (done.out, done.err[-2000:])
    assert done.code == 0, f"still running 90 s after the click; stderr: {done.err[-2000:]}"
    assert done.restarted_pid() is None
    assert (tmp_path / "new" / "sparktrainer.db").is_file() and not (tmp_path / "old").exists()
    saved = (tmp_path / "xdg" / "SparkTrainer" / "SparkTrainer.conf").read_text()
    assert "last_view=settings" in saved  # closed as the user closes it: the window's state was saved
