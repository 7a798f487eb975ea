"""Closing the window while runs train or wait says that they go on (the brief's design: runs outlive
the window), once, until the user ticks "Don't say this again"."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from tests.app.gui_assets import add_experiment_with_runs  # noqa: E402
from tests.app.model_sync import sync_model  # noqa: E402


def _answer(button_text: str, tick: bool, seen: list[str], shot: Path) -> None:
    """Answer the box the window opens next, as a user would."""

    tries = [100]

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            tries[0] -= 1
            if tries[0] > 0:  # none came: the test fails on what it sees, with no timer left behind
                QTimer.singleShot(20, answer)
            return
        seen.append(box.text())
        box.grab().save(str(shot))
        box.checkBox().setChecked(tick)
        next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(0, answer)


def test_closing_with_runs_training_says_they_go_on_until_told_not_to(qtbot, store, qsettings, project, tmp_path):
    # Seen on Xvfb: Ctrl+Q with a run training closed the window without a word; nothing said that the
    # run trains on, nor that the queued runs wait for a scheduler.
    from app.main_window import MainWindow

    made = add_experiment_with_runs(store, project.name, statuses=("running", "queued", "completed"))
    seen: list[str] = []
    for answer, tick, closed in (("Cancel", False, False), ("Quit", True, True), (None, False, True)):
        win = MainWindow(store, qsettings, poll_gpus=False)
        qtbot.addWidget(win)
        win.interactive = True  # as on a display: the offscreen platform asks nothing
        win.show()
        sync_model(qtbot, win.ctx)
        if answer is not None:
            _answer(answer, tick, seen, tmp_path / f"quit-{answer}.png")
        win.close()
        assert win.isVisible() is not closed, answer
        if not closed:
            win.interactive = False
            win.close()
    assert len(seen) == 2  # the third close, after "Don't say this again", asks nothing
    assert seen[0] == (f"Run {made[0].id} goes on training after SparkTrainer closes; open it again (or "
                       f"`spark-trainer run list`) to follow.\n\nQueued run {made[1].id} starts only while "
                       "SparkTrainer, `spark-trainer queue serve` or another run's worker is running.")


def test_enter_in_the_work_in_progress_question_keeps_the_window(qtbot, store, qsettings, monkeypatch):
    """'ingestion is still running. Cancel it and quit?': Enter answered Yes (Qt's default for a
    question) and lost the ingestion; every question that destroys work defaults to keeping it."""
    from types import SimpleNamespace

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.main_window import MainWindow
    from app.workers import TaskSet

    monkeypatch.setattr(TaskSet, "running", property(lambda _self: [SimpleNamespace(name="ingestion")]))
    win = MainWindow(store, qsettings, poll_gpus=False)
    qtbot.addWidget(win)
    win.interactive = True
    win.show()
    asked: list[str] = []

    def press_enter() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, press_enter)
            return
        asked.append(box.text())
        QTest.keyClick(box, Qt.Key.Key_Return)

    QTimer.singleShot(0, press_enter)
    win.close()
    assert asked and "ingestion is still running" in asked[0]
    assert win.isVisible()
    monkeypatch.undo()
    win.interactive = False
    win.close()
