"""What every view shares: the store, the task pool, the GPU monitor and app-wide events.

Views talk to each other only through these events (napari-style): a view that changes data emits
`data_changed`, a view that wants another one shown emits `navigate_requested`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QSettings, QThreadPool, Signal

from app.gpu_monitor import GpuMonitor
from app.workers import TaskSet
from spark_trainer.store.store import Store


class AppContext(QObject):
    data_changed = Signal(str)  # "projects", "datasets", "runs", "settings"
    navigate_requested = Signal(str, object)  # view name, payload (e.g. a dataset id)
    current_project_changed = Signal(object)  # project id or None
    theme_changed = Signal(str)
    status_message = Signal(str)

    def __init__(self, store: Store, qsettings: QSettings, *, poll_gpus: bool = True) -> None:
        super().__init__()
        self.store = store
        self.qsettings = qsettings
        self.tasks = TaskSet()
        # Our own pool, so thumbnails or ingestion never starve each other or Qt's global pool.
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(4)
        self.gpu_monitor = GpuMonitor(self.pool, self, enabled=poll_gpus)
        self.current_project: int | None = None

    def set_current_project(self, project_id: int | None) -> None:
        if project_id != self.current_project:
            self.current_project = project_id
            self.current_project_changed.emit(project_id)

    def navigate(self, view: str, payload: Any = None) -> None:
        self.navigate_requested.emit(view, payload)

    def shutdown(self, wait_s: float = 5.0) -> bool:
        """Stop polling, cancel background tasks and wait for the pool; True if everything ended."""
        self.gpu_monitor.stop()
        ended = self.tasks.cancel_all(wait_s)
        return self.pool.waitForDone(int(wait_s * 1000)) and ended
