"""The GUI's share of the run lifecycle: scheduling on, finished-run notices, keeping the system awake.

The scheduling itself (`spark_trainer.jobs.scheduler.schedule_once`, which reconciles first) runs
on the store poller's pool thread once `start()` is called (the app does at start-up, the Runs view
when it is built). This object only listens to the runs model: a run that finished since the last
read is a desktop notification, and the system is kept awake while runs are active, where the
platform allows it. Closing the app stops scheduling only: workers are separate processes and keep
training.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal, SignalInstance
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app.model import AppModel
from spark_trainer.desktop import KeepAwake, SleepInhibitor
from spark_trainer.store.entities import Run


class RunScheduler(QObject):
    run_finished = Signal(object, str)  # Run, "completed" | "failed" | "was interrupted"
    # ("Can't keep the computer awake ...", the reason and what to do) while runs are active and the
    # platform refused; ("", "") once none are
    awake_problem = Signal(str, str)

    def __init__(self, model: AppModel, status_message: SignalInstance, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.status_message = status_message
        self.awake = KeepAwake()
        self.forbidden = False  # forbid(): a window that only renders a screenshot
        self.tray: QSystemTrayIcon | None = None
        model.runs.run_finished.connect(self._notify)
        model.runs.runs_updated.connect(self._keep_awake)
        model.runs.runs_started.connect(
            lambda ids: status_message.emit(f"Started run{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))}"))

    @property
    def running(self) -> bool:
        return self.model.poller.scheduling

    def forbid(self) -> None:
        """Never start queued runs in this window: a screenshot only looks (the Runs view, built for it, starts
        scheduling; a queued run started, and trained, because a PNG of the Projects view was made)."""
        self.stop()
        self.forbidden = True

    def start(self) -> None:
        """Start queued runs from now on (the first pass at once)."""
        if self.forbidden:
            return
        if not self.model.poller.scheduling:
            self.model.poller.scheduling = True
            self.tick()

    def stop(self) -> None:
        self.model.poller.scheduling = False
        self._release()

    def tick(self) -> None:
        """Schedule (and read the runs) now rather than at the next pass."""
        self.model.poller.poke(catalog=False, schedule=True)

    def _keep_awake(self, runs: list[Run]) -> None:
        self._said(self.awake.update(self.running and any(r.status.is_active for r in runs)))

    def _release(self) -> None:
        self._said(self.awake.release())

    def _said(self, change: str | None) -> None:
        if change == "held":
            self.status_message.emit(f"Runs are active: {self.inhibitor.status}")
        elif change == "refused":  # said once, by a label; the helper is not started again on every read
            self.awake_problem.emit(self.inhibitor.status, self.inhibitor.detail)
        elif change == "refusal over":
            self.awake_problem.emit("", "")

    @property
    def inhibitor(self) -> SleepInhibitor:
        return self.awake.inhibitor

    def _notify(self, run: Run, what: str) -> None:
        text = f"Run {run.id} ({run.experiment}) {what}"
        self.run_finished.emit(run, what)
        self.status_message.emit(text)
        if QSystemTrayIcon.isSystemTrayAvailable() and QApplication.instance() is not None:
            if self.tray is None:
                self.tray = QSystemTrayIcon(QApplication.windowIcon(), self)
                self.tray.show()
            icon = QSystemTrayIcon.MessageIcon.Information if what == "completed" else QSystemTrayIcon.MessageIcon.Warning
            self.tray.showMessage("SparkTrainer", text, icon, 8000)
