"""`AppModel`: the runs, projects, datasets, queue-end and GPUs models and the poller that feeds them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool

from app.gpu_monitor import GpuMonitor
from app.model.catalog import DatasetsModel, ProjectsModel
from app.model.poller import TICK_MS, StorePoller
from app.model.runs_model import RunsModel

if TYPE_CHECKING:  # SQLAlchemy: not imported before the first window
    from spark_trainer.store.store import Store


class AppModel(QObject):
    def __init__(self, store: Store | None, pool: QThreadPool, gpus: GpuMonitor, *, interval_ms: int = TICK_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs = RunsModel(self)
        self.projects = ProjectsModel(self)
        self.datasets = DatasetsModel(self)
        self.gpus = gpus
        self.poller = StorePoller(store, pool, self.runs, self.projects, self.datasets,
                                  gpus if gpus.enabled else None, interval_ms=interval_ms, parent=self)
        self.queue_end = self.poller.queue_end  # when the queue should end (the status bar shows it)
        self.settings = self.poller.settings  # the store's settings (Settings follows them)
        if store is not None:
            self.poller.start()

    def attach_store(self, store: Store) -> None:
        """The store opened after the model was made (the app shows its window first): start reading it."""
        self.poller.store = store
        self.poller.start()

    def refresh(self) -> None:
        """This app wrote to the store: read everything that may have changed now."""
        self.poller.poke(catalog=True, schedule=self.poller.scheduling)

    def busy(self) -> bool:
        """The first reads have not landed yet (screenshots wait for them)."""
        return not (self.runs.loaded and self.projects.loaded)

    def shutdown(self, wait_s: float = 10.0) -> bool:
        return self.poller.stop(wait_s)
