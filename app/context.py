"""What every view shares: the store, the task pool, the app model and app-wide requests.

Views learn what changed from the model's typed signals (`ctx.model.runs.run_changed`,
`ctx.model.projects.projects_reset`...), fed by one background poller of the store; a view that
wrote to the store calls `ctx.model.refresh()` (and `ctx.model.runs.apply_written(run)` for a run).
A view that wants another one shown emits `navigate_requested`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QSettings, QThreadPool, Signal

from app.gpu_monitor import GpuMonitor
from app.model import AppModel
from app.run_scheduler import RunScheduler
from app.workers import TaskSet

if TYPE_CHECKING:  # SQLAlchemy: not imported before the first window
    from spark_trainer.store.store import Store


class AppContext(QObject):
    navigate_requested = Signal(str, object)  # view name, payload (e.g. a dataset id)
    current_project_changed = Signal(object)  # project id or None
    theme_changed = Signal(str)
    setting_saved = Signal(str, object)  # a store setting's key and its new value, once written
    status_message = Signal(str)

    def __init__(self, store: Store | None, qsettings: QSettings, *, poll_gpus: bool = True) -> None:
        """`store` may come later (`attach_store`): the app shows its window before opening it."""
        super().__init__()
        self.store = store
        self.qsettings = qsettings
        self.tasks = TaskSet()
        # Our own pool, so thumbnails or ingestion never starve each other or Qt's global pool.
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(4)
        self.gpu_monitor = GpuMonitor(self.pool, self, enabled=poll_gpus)
        self.model = AppModel(store, self.pool, self.gpu_monitor, parent=self)
        self.model.poller.failed.connect(self.status_message)
        # Started by the app (and the Runs view): schedules queued runs from the poller's thread.
        self.scheduler = RunScheduler(self.model, self.status_message, parent=self)
        self.current_project: int | None = None
        # Runs this window deleted with something else (a project): run id -> "with project 'x'", so a
        # page still showing one says what removed it, not "another window or command".
        self.deleted_here: dict[int, str] = {}
        # Set by the main window when this start can be repeated (app.relaunch): restart(home) closes
        # the app and starts it again at `home`, or returns why not in one line. None: no restart here.
        self.restart: Callable[[Path], str | None] | None = None

    def attach_store(self, store: Store) -> None:
        self.store = store
        self.model.attach_store(store)

    def set_current_project(self, project_id: int | None) -> None:
        if project_id != self.current_project:
            self.current_project = project_id
            self.current_project_changed.emit(project_id)

    def navigate(self, view: str, payload: Any = None) -> None:
        self.navigate_requested.emit(view, payload)

    def shutdown(self, wait_s: float = 5.0) -> bool:
        """Stop polling, cancel background tasks and wait for the pool; True if everything ended."""
        polled = self.model.shutdown(wait_s)
        self.scheduler.stop()
        self.gpu_monitor.stop(wait_s)
        ended = self.tasks.cancel_all(wait_s)
        return self.pool.waitForDone(int(wait_s * 1000)) and ended and polled
