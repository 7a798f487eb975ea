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
