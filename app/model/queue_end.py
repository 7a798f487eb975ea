"""`QueueEndModel`: when the night's queue should end, as `spark-trainer queue show` says it.

The estimate (`spark_trainer.jobs.queue_eta.estimate`) reads every completed run that predicts a queued
one, its events and a metric series: not a read for every tick. The store poller asks this model, as it
fills each tick's request, whether to estimate in that tick's read (`reads.read_queue_end`, on the
pool thread): on the first read, whenever the queued runs, their start order, the active runs, the
hold or a setting the estimate reads (`queue_eta.SETTINGS`: max concurrent runs, GPU sharing; each read
reads them) changed since the last estimate, and otherwise at most every `REFRESH_S` while runs are
queued. A change is so estimated in the read after the one that saw it, not up to `REFRESH_S` later.
With nothing queued nothing is estimated and nothing is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from app.model.reads import PollRequest, PollResult, QueueEnd
from app.model.runs_model import RunsModel
from spark_trainer.store.entities import RunStatus

REFRESH_S = 30.0  # an unchanged queue is estimated again this often (active runs' ETAs move)


class QueueEndModel(QObject):
    changed = Signal(object)  # QueueEnd, or None: nothing queued (or the estimate failed)

    def __init__(self, runs: RunsModel, parent: QObject | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.runs = runs
        self.clock = clock
        self.current: QueueEnd | None = None
        self.asked = 0  # estimates asked for so far
        self._key: object = None  # what the last estimate asked for was made of
        self._at: float | None = None  # when it was asked for (self.clock)
        self._settings: object = None  # the settings the estimate reads, as the last read found them

    def start_text(self, run_id: int) -> str | None:
        """A queued run's estimated start ("about 02:10", "now", "at release"), if estimated."""
        return None if self.current is None else self.current.starts.get(run_id)

    def fill_request(self, request: PollRequest) -> None:
        """Whether this tick's read estimates the queue's end (see the module's docstring)."""
        key = self._key_now()
        if self.runs.loaded and key is None:  # nothing queued: nothing to estimate
            self._key = self._at = None
            self._show(None)
            return
        now = self.clock()
        if key is None or key != self._key or self._at is None or now - self._at >= REFRESH_S:
            self._at = now
            self.asked += 1
            request.queue_end = True

    def apply(self, result: PollResult) -> None:
        """After the runs model applied the same read: the estimate is of the runs it now holds."""
        self._settings = result.queue_settings
        if result.request.queue_end:
            self._key = self._key_now()
            self._show(result.queue_end)

    def _key_now(self) -> object:
        """What an estimate is made of: the hold, the queued runs in start order, the active runs, the
        settings it reads; None before the first read and with nothing queued."""
        if not self.runs.loaded:
            return None
        from spark_trainer.store.run_priority import start_order

        found = self.runs.runs.values()
        queued = start_order(r for r in found if r.status == RunStatus.QUEUED)
        if not queued:
            return None
        return (self.runs.held_since is not None, tuple(r.id for r in queued),
                tuple(sorted(r.id for r in found if r.status.is_active)), self._settings)

    def _show(self, found: QueueEnd | None) -> None:
        if found != self.current:
            self.current = found
            self.changed.emit(found)
