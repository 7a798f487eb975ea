"""A chart's subscription to runs' metric rows, delivered by the runs model (no timer, no reads here).

The store poller reads rows after the last id delivered for every watched run and the runs model
emits them as `metrics_appended(run_id, MetricBatch)`. A `MetricFeed` passes on the batches of its
runs as `points(MetricBatch)`. A feed that starts watching a run others already watch first gets the
rows delivered before it joined (a backfill read by the poller), then the appends it held back
meanwhile, so its curves are whole and in order.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.model.reads import READ_LIMIT, MetricBatch, read_batch
from app.model.runs_model import RunsModel

__all__ = ["READ_LIMIT", "MetricBatch", "MetricFeed", "read_batch"]


class MetricFeed(QObject):
    """Emits `points(MetricBatch)` on the GUI thread for the runs given to `watch`, once started."""

    points = Signal(object)
    failed = Signal(str)

    def __init__(self, model: RunsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.run_ids: list[int] = []
        self._held: dict[int, list[MetricBatch]] = {}  # run id -> appends waiting for its backfill
        self._started = False
        model.metrics_appended.connect(self._on_appended)

    def watch(self, run_ids: list[int]) -> None:
        """Follow these runs from their first point (forgetting others); takes effect at `start`."""
        if self._started:
            self.stop()
        self.run_ids = [int(r) for r in run_ids]

    def start(self) -> None:
        self.stop()
        self._started = True
        for run_id in self.run_ids:
            if self.model.watch_metrics(self, run_id) is not None:
                self._held[run_id] = []

    def stop(self) -> None:
        if self._started:
            self.model.unwatch_metrics(self)
        self._started = False
        self._held = {}

    @property
    def busy(self) -> bool:
        return self._started and self.model.metrics_pending(self)

    def _on_appended(self, run_id: int, batch: MetricBatch) -> None:
        if not self._started or run_id not in self.run_ids:
            return
        if run_id in self._held:
            self._held[run_id].append(batch)
        else:
            self.points.emit(batch)

    def backfilled(self, run_id: int, batches: list[MetricBatch]) -> None:
        """The rows delivered before this feed joined (called by the model), then those held back."""
        for batch in [*batches, *self._held.pop(run_id, [])]:
            if batch.series:
                self.points.emit(batch)
