"""`StorePoller`: the one timer that reads the store. Each tick runs `reads.poll_once` on a pool
thread (one tick in flight at a time) and hands the result to the models on the GUI thread.

Ticks are cheap when nothing changed: runs are read by `updated_at` (an index range), metrics and
logs after the last row id and byte offset delivered. The scheduler's work (reconcile, start queued
runs) rides along every few ticks once scheduling is on; the project and dataset lists every few
ticks, when runs came or went, or at once after `poke(catalog=True)`. A read that hit its row limit
is followed at once by the next, so a long run's history loads in slices without a long tick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from app.model.catalog import DatasetsModel, ProjectsModel
from app.model.queue_end import QueueEndModel
from app.model.reads import PollRequest, PollResult, poll_once
from app.model.runs_model import RunsModel
from app.model.settings_model import SettingsModel
from app.workers import Task, TaskContext

if TYPE_CHECKING:  # SQLAlchemy: not imported before the first window
    from spark_trainer.store.store import Store

TICK_MS = 250
SCHEDULE_EVERY = 6  # ticks between scheduler passes (1.5 s)
CATALOG_EVERY = 8  # ticks between reads of the project and dataset lists (2 s)
GPU_EVERY = 8  # ticks between GPU samples (2 s)


class StorePoller(QObject):
    failed = Signal(str)  # one line, e.g. the database is locked
    polled = Signal(object)  # PollResult, after the models applied it

    def __init__(self, store: Store | None, pool: QThreadPool, runs: RunsModel, projects: ProjectsModel,
                 datasets: DatasetsModel, gpus: object | None = None, *, interval_ms: int = TICK_MS,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.pool = store, pool
        self.runs, self.projects, self.datasets, self.gpus = runs, projects, datasets, gpus
        self.queue_end = QueueEndModel(runs, self)  # asks for the queue's estimated end now and then
        self.settings = SettingsModel(self)  # the store's settings, read every tick
        self.scheduling = False
        self.ticks = 0
        self.applied = 0  # the tick number of the last result applied
        self._task: Task | None = None
        self._answered = True  # the last read's answer was handled here (or it failed)
        self._again = False
        self._want_catalog = True
        self._want_schedule = False
        self._run_ids: set[int] | None = None
        self._stopped = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    @property
    def busy(self) -> bool:
        """A read was started and its answer not yet handled on this thread. Not the task's `done`:
        that is set on the pool thread before the answer arrives here, and a tick in between built its
        request from the state before that answer (the first read of a queued night estimated the
        queue's end twice)."""
        return self._task is not None and not self._answered

    def start(self) -> None:
        self._stopped = False
        self._timer.start()
        QTimer.singleShot(0, self.tick)

    def stop(self, wait_s: float = 10.0) -> bool:
        """Stop reading: the read in flight is cancelled and waited for, and a tick already queued
        (`poke`, a read that asked for the next) reads nothing. A read started after the app had
        waited for its pool ran on while the exiting app tore Qt down under it."""
        self._stopped = True
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()
            if not self._task.done.wait(wait_s):
                return False
            self._answered = True  # nothing waits on an answer now: the app quits without delivering it
        return True

    def poke(self, *, catalog: bool = True, schedule: bool = False) -> None:
        """Read now (after this app wrote something), not at the next tick."""
        self._want_catalog = self._want_catalog or catalog
        self._want_schedule = self._want_schedule or schedule
        if self._timer.isActive():
            QTimer.singleShot(0, self.tick)

    def tick(self) -> None:
        if self._stopped:
            return
        if self.busy:
            self._again = True  # read again as soon as this one lands
            return
        self.ticks += 1
        if self.gpus is not None and self.ticks % GPU_EVERY == 1:
            self.gpus.poll()  # NVML: its own task, so a slow driver never delays the store reads
        request = PollRequest(
            runs_since=None,
            schedule=self.scheduling and (self._want_schedule or self.ticks % SCHEDULE_EVERY == 1),
            catalog=self._want_catalog or self.ticks % CATALOG_EVERY == 1,
            tick=self.ticks,
        )
        self.runs.fill_request(request)
        self.queue_end.fill_request(request)
        self._want_catalog = self._want_schedule = self._again = False
        store = self.store

        def work(ctx: TaskContext) -> PollResult:
            return poll_once(store, request, ctx.cancel)

        writes = (self.projects.writes, self.datasets.writes)  # this app's own writes so far
        task = Task(work, owner=self, name="store-poll")
        task.signals.succeeded.connect(lambda result: self._apply(result, writes))
        task.signals.failed.connect(self._read_failed)
        task.signals.cancelled.connect(self._read_failed)
        self._answered = False
        self._task = task.start(self.pool)

    def _read_failed(self, message: str | None = None, _exc: object = None) -> None:
        self._answered = True
        if message is not None:
            self.failed.emit(message)

    def _apply(self, result: PollResult, writes: tuple[int, int]) -> None:
        """`writes`: the catalog models' own-write counts when this read was requested. A list read
        before this app wrote to it would undo that write on screen until the next read: it is
        dropped, and the read that the write asked for (`AppModel.refresh`) follows."""
        self._answered = True
        self.applied = result.request.tick
        projects_at, datasets_at = writes
        if result.projects is not None and projects_at == self.projects.writes:
            self.projects.apply(result.projects)
        if result.datasets is not None and datasets_at == self.datasets.writes:
            self.datasets.apply(result.datasets)
        self.settings.apply(result.settings, result.unusable_settings)
        self.runs.apply(result)
        self.queue_end.apply(result)
        for message in result.errors:
            self.failed.emit(message)
        if self._run_ids is not None and result.run_ids != self._run_ids:
            self._want_catalog = True  # runs came or went: project counts changed
            self._again = True
        self._run_ids = result.run_ids
        self.polled.emit(result)
        if (result.more_waiting or self._again) and self._timer.isActive():
            QTimer.singleShot(0, self.tick)
