"""A chart's subscription to runs' metric rows, delivered by the runs model (no timer, no reads here).

The store poller reads rows after the last id delivered for every watched run and the runs model
emits them as `metrics_appended(run_id, MetricBatch)`. A `MetricFeed` passes on the batches of its
runs as `points(MetricBatch)`. A feed that starts watching a run others already watch first gets the
rows delivered before it joined (a backfill read by the poller), then the appends it held back
meanwhile, so its curves are whole and in order.

A feed passes batches on for at most `TURN_BUDGET_S` of one event-loop turn and the rest in the
turns after, in order: a page opened on 50 runs gets their 50 histories in one poll result, and
drawing them (300 curves) in one slot froze the window for seconds.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QObject, QTimer, Signal

from app.model.reads import READ_LIMIT, MetricBatch, read_batch
from app.model.runs_model import RunsModel

__all__ = ["READ_LIMIT", "TURN_BUDGET_S", "MetricBatch", "MetricFeed", "read_batch"]

# How long a feed may spend passing batches on in one event-loop turn (the GUI thread then paints and
# answers input before the next): a batch started is finished, so a turn may run over by one batch.
TURN_BUDGET_S = 0.05


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
        self._queue: deque[MetricBatch] = deque()  # batches waiting for a later event-loop turn
        self._turn_started: float | None = None  # when this turn's passing on began (None: not this turn)
        # A timer, not a posted call (singleShot(0)): Qt runs posted calls before timers, so a chain of them
        # starved every timer of the app (the poll, a 5 ms probe's ticks) until the queue was empty.
        self._turn = QTimer(self, singleShot=True, interval=1)
        self._turn.timeout.connect(self._next_turn)
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
        self._queue.clear()

    @property
    def busy(self) -> bool:
        return self._started and (bool(self._queue) or self.model.metrics_pending(self))

    def _on_appended(self, run_id: int, batch: MetricBatch) -> None:
        if not self._started or run_id not in self.run_ids:
            return
        if run_id in self._held:
            self._held[run_id].append(batch)
        else:
            self._pass_on([batch])

    def backfilled(self, run_id: int, batches: list[MetricBatch]) -> None:
        """The rows delivered before this feed joined (called by the model), then those held back."""
        self._pass_on([b for b in [*batches, *self._held.pop(run_id, [])] if b.series])

    def _pass_on(self, batches: list[MetricBatch]) -> None:
        """Emit `batches` after those still queued, as many as this turn's budget allows."""
        self._queue.extend(batches)
        first = self._turn_started is None  # at least one batch a turn, whatever it costs
        now = time.perf_counter()
        if first:
            self._turn_started = now
            self._turn.start()
        while self._queue and (first or now - self._turn_started < TURN_BUDGET_S):
            self.points.emit(self._queue.popleft())
            first, now = False, time.perf_counter()

    def _next_turn(self) -> None:
        self._turn_started = None
        if self._queue:
            self._pass_on([])
