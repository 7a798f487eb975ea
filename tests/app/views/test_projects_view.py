"""Projects view's dialogs, as laid out on screen."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest


@pytest.mark.parametrize("name", ["demo", "customer-support-assistant-for-the-northern-european-region-quarterly-review"])
def test_the_delete_dialog_shows_what_the_folders_hold_whole(qtbot, name) -> None:
    # Seen in a GUI walk: "Also delete 13 folder(s) in the data home (dataset files, checkpoints, logs,
    # exports" was cut before its closing bracket: the dialog kept its 480 px minimum, narrower than the box.
    from PySide6.QtWidgets import QApplication

    from app.views.projects_view import DeleteProjectDialog

    project = SimpleNamespace(name=name, num_datasets=7, num_experiments=6, num_runs=6)
    dialog = DeleteProjectDialog(SimpleNamespace(project=project, num_metrics=955), [Path(f"/x/{i}") for i in range(13)])
    qtbot.addWidget(dialog)
    dialog.open()
    qtbot.waitExposed(dialog)
    QApplication.processEvents()
    box = dialog.delete_files
    assert "13 folder(s)" in box.text() and box.isEnabled()
    assert box.width() >= box.sizeHint().width(), (box.width(), box.sizeHint().width())
    assert box.mapTo(dialog, box.rect().topRight()).x() < dialog.width()
    shown = " ".join((box.text(), dialog.files_note.text()))
    assert all(word in shown for word in ("dataset files", "checkpoints", "logs", "exports"))
    note = dialog.files_note
    assert note.isVisible() and note.height() >= note.heightForWidth(note.width())
    assert note.mapTo(dialog, note.rect().topRight()).x() <= dialog.width()


@pytest.mark.parametrize("action", ["rename", "delete-asked", "delete-confirmed"])
def test_a_project_deleted_by_another_process_is_said_so_in_the_window_s_words(qtbot, store, ctx, action) -> None:
    """The walk: renaming or deleting a project `spark-trainer project delete` had just removed said "no project
    named or numbered '7'; see `spark-trainer project list`" (its id, and a command) in the window."""
    from PySide6.QtWidgets import QDialogButtonBox

    from app.views.projects_view import ProjectsView
    from spark_trainer.store import projects
    from tests.app.model_sync import shown, sync_model

    alpha = projects.create(store, "alpha")
    projects.create(store, "beta")
    view = shown(qtbot, ctx, ProjectsView(store, ctx), (1000, 700))
    sync_model(qtbot, ctx)
    view.select(alpha.id)
    if action == "rename":
        dialog = view.rename_selected()
        dialog.name.setText("alpha-2")
        projects.delete(store, alpha.id)  # by another process, while the dialog was open
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    elif action == "delete-asked":
        projects.delete(store, alpha.id)  # before this window's next read of the list
        view.delete_selected()
    else:
        view.delete_selected()
        qtbot.waitUntil(lambda: view.dialog is not None and not view.busy(), timeout=10_000)
        projects.delete(store, alpha.id)  # while the box asked
        view.dialog.confirm.click()
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    assert view.banner.text() == "Project 'alpha' no longer exists (deleted elsewhere); the list has been refreshed."
    qtbot.waitUntil(lambda: [r[0] for r in view.row_texts()] == ["beta"], timeout=10_000)


def test_ctrl_n_a_name_and_return_then_return_opens_the_new_project(qtbot, window, store, project) -> None:
    """Seen in a keyboard-only walk: from the Runs list, Ctrl+N, a name and Return created the project and
    selected it, but the keys were left in the hidden Runs view: Return did nothing until the new row
    was clicked. The keys now go to the list with the new project selected."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    window.show_view("runs")
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow())
    window.views["runs"].focus_target().setFocus()
    QTest.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    view = window.views["projects"]
    dialog = view.dialog
    assert window.current_view_name() == "projects" and dialog.isVisible()
    QTest.keyClicks(dialog.name, "beta")
    QTest.keyClick(dialog.name, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: view.selected_project() is not None and view.selected_project().name == "beta",
                    timeout=10_000)
    window.activateWindow()  # as the window manager does once the dialog is gone (offscreen does not)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view.table)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Return)
    assert window.current_view_name() == "datasets"
    assert window.ctx.current_project == view.selected_project().id
