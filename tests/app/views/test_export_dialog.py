"""The Export dialog's progress bar: none while nothing runs (an empty bar read as a stalled export),
without the dialog jumping when one starts, and a clear end state."""

from __future__ import annotations

from PySide6.QtCore import QPoint

from tests.app.views.test_export_dialog_push import _open_dialog


def test_no_progress_bar_until_an_export_starts_and_failed_says_so(store, ctx, qtbot) -> None:
    dialog = _open_dialog(store, ctx, qtbot)
    qtbot.wait(20)
    assert not dialog.progress.isVisible()  # idle: nothing to show progress of

    def buttons_top() -> int:
        return dialog.export_button.mapTo(dialog, QPoint(0, 0)).y()

    before = buttons_top()
    task = dialog.start()  # this run has no weights yet: the export fails
    assert task is not None and dialog.progress.isVisible()
    assert buttons_top() == before  # the bar's room was kept: nothing under the mouse moved
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20_000)
    qtbot.waitUntil(lambda: dialog.banner.role == "error", timeout=5000)
    assert dialog.progress.isVisible() and dialog.progress.text() == "Failed"
    assert dialog.export_button.isEnabled()


def test_a_folder_that_cannot_be_made_is_named_as_the_dialog_names_it(store, ctx, qtbot) -> None:
    # Seen on the demo run: "--out /proc/x: cannot make a folder there (...)", a flag the dialog has not.
    from pathlib import Path

    dialog = _open_dialog(store, ctx, qtbot)
    from spark_trainer.training.checkpoints import STATE_FILE, checkpoint_dir

    step = checkpoint_dir(Path(dialog.run.run_dir)) / "step-00000001"  # a checkpoint to export (never read: refused first)
    step.mkdir(parents=True)
    (step / STATE_FILE).write_text("{}")
    dialog.out.setText("/proc/no-export-here")
    dialog.start()
    qtbot.waitUntil(lambda: not dialog.busy(), timeout=20_000)
    qtbot.waitUntil(lambda: dialog.banner.role == "error", timeout=5000)
    assert dialog.banner.text().startswith("export folder /proc/no-export-here: cannot make a folder there ("), \
        dialog.banner.text()
    assert "--" not in dialog.banner.text()
