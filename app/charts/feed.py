"""Read a run's metrics incrementally (rows after the last id seen) off the GUI thread.

A `MetricFeed` polls on a QTimer; each poll reads new rows on a pool thread and delivers them,
grouped by key as numpy arrays, to the GUI thread through the `points` signal. One read is in
flight at a time; a read that hit the row limit is followed at once by the next (catching up on
a long run without blocking the GUI for the whole history).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal

from app.workers import Task, TaskContext
from spark_trainer.store import metrics
from spark_trainer.store.store import Store

READ_LIMIT = 200_000


@dataclass
class MetricBatch:
    run_id: int
    last_id: int
    full: bool  # the read hit the limit: more rows are waiting
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # key -> steps, wall times, values


def read_batch(store: Store, run_id: int, after_id: int, limit: int = READ_LIMIT) -> MetricBatch:
    # Arrays straight from the store (packed blocks): no Python object per point.
    found = metrics.series(store, run_id, after_id=after_id, limit=limit)
    series = {}
    for key, s in found.items():
        finite = np.isfinite(s.values)
        series[key] = (s.steps[finite].astype(float), s.wall_times[finite], s.values[finite])
    last_id = max((int(s.ids[-1]) for s in found.values()), default=after_id)
    return MetricBatch(run_id, last_id, sum(len(s) for s in found.values()) >= limit, series)


class MetricFeed(QObject):
    """Polls one or more runs' metrics; emits `points(MetricBatch)` on the GUI thread."""

    points = Signal(object)
    failed = Signal(str)

    def __init__(self, store: Store, pool: QThreadPool | None = None, interval_ms: int = 250,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.pool = pool
        self.last_ids: dict[int, int] = {}
        self._task: Task | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)

    def watch(self, run_ids: list[int]) -> None:
        """Follow these runs from their first point (forgetting others)."""
        self.last_ids = {int(r): 0 for r in run_ids}

    def start(self) -> None:
        self._timer.start()
        self.poll()

    def stop(self) -> None:
        self._timer.stop()
        if self._task is not None:
            self._task.cancel()
            self._task.done.wait(5.0)

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done.is_set()

    def poll(self) -> None:
        if self.busy or not self.last_ids:
            return
        wanted = dict(self.last_ids)

        def read(ctx: TaskContext) -> list[MetricBatch]:
            return [read_batch(self.store, run_id, after) for run_id, after in wanted.items()
                    if not ctx.cancel.is_set()]

        task = Task(read, name="metric-feed")
        task.signals.succeeded.connect(self._deliver)
        task.signals.failed.connect(lambda message, _exc: self.failed.emit(message))
        self._task = task
        task.start(self.pool)

    def _deliver(self, batches: list[MetricBatch]) -> None:
        more = False
        for batch in batches:
            if batch.run_id not in self.last_ids:
                continue  # no longer watched
            self.last_ids[batch.run_id] = batch.last_id
            more = more or batch.full
            if batch.series:
                self.points.emit(batch)
        if more:
            QTimer.singleShot(0, self.poll)
