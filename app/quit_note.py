"""What closing the window says about runs: they go on training without it (by design), and queued
runs start only while a scheduler runs. Said once per close, until the user ticks "Don't say this again"."""

from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

from spark_trainer.store.entities import Run, RunStatus

QUIET_KEY = "window/quiet_quit_with_runs"


def note_text(runs: list[Run]) -> str | None:
    """The note for these runs, or None when none is training or queued."""
    training = sorted(r.id for r in runs if r.status.is_active)
    queued = sorted(r.id for r in runs if r.status == RunStatus.QUEUED)
    if not training and not queued:
        return None
    parts = []
    if training:
        ids = ", ".join(map(str, training))
        parts.append(f"Run{'s' if len(training) > 1 else ''} {ids} {'go' if len(training) > 1 else 'goes'} on "
                     "training after SparkTrainer closes; open it again (or `spark-trainer run list`) to follow.")
    if queued:
        ids = ", ".join(map(str, queued))
        parts.append(f"Queued run{'s' if len(queued) > 1 else ''} {ids} start{'' if len(queued) > 1 else 's'} "
                     "only while SparkTrainer, `spark-trainer queue serve` or another run's worker is running.")
    return "\n\n".join(parts)


def confirm_quit(parent: QWidget, runs: list[Run], qsettings: QSettings) -> bool:
    """Say what happens to the runs and ask to go on; True to quit. Nothing is asked when no run is
    training or queued, or once the user ticked "Don't say this again"."""
    text = note_text(runs)
    if text is None or qsettings.value(QUIET_KEY, False, type=bool):
        return True
    box = QMessageBox(QMessageBox.Icon.Information, "Runs go on without the window", text,
                      QMessageBox.StandardButton.Cancel, parent)
    quit_button = box.addButton("Quit", QMessageBox.ButtonRole.AcceptRole)
    box.setDefaultButton(quit_button)
    quiet = QCheckBox("Don't say this again", box)  # parented: setCheckBox alone leaves it to Python's collector
    box.setCheckBox(quiet)
    box.exec()
    if box.clickedButton() is quit_button and quiet.isChecked():
        qsettings.setValue(QUIET_KEY, True)
    return box.clickedButton() is quit_button
