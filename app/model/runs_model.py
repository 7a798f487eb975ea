"""`RunsModel`: every run, the last loss values, metric rows and log bytes, as typed Qt signals.

It is fed by the store poller (see `app.model.poller`); the signals fire on the GUI thread, one
poll result at a time, so every view connected to them shows the same snapshot. A view that wrote
a run (launch, cancel, extend...) hands the returned `Run` to `apply_written`, so every view sees
the write at once instead of one tick later.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.model.reads import MetricBatch, PollRequest, PollResult
from spark_trainer.store.entities import Run, RunStatus

FINISHED_WORDS = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "failed",
                  RunStatus.INTERRUPTED: "was interrupted"}


class RunsModel(QObject):
    runs_reset = Signal(list)  # list[Run], newest first: the first complete read
    run_changed = Signal(object)  # Run: added or changed
    run_removed = Signal(int)  # run id
    runs_updated = Signal(list)  # list[Run], newest first: after every poll that changed anything
    run_finished = Signal(object, str)  # Run, "completed" | "failed" | "was interrupted"
    runs_started = Signal(list)  # run ids the scheduler started
    interrupted_found = Signal(list)  # list[Run] interrupted after the first scheduler pass (reconcile)
    metrics_appended = Signal(int, object)  # run id, MetricBatch of rows after the last id seen
    log_appended = Signal(int, str, bool)  # run id, text, the log was replaced (start afresh)
    evaluation_changed = Signal(object)  # an Evaluation followed with `follow_evaluation`, as read
    queue_hold_changed = Signal(object)  # datetime the queue was held since (naive UTC), or None: released

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runs: dict[int, Run] = {}
        self.last_metrics: dict[int, dict[str, float]] = {}
        self.waiting: dict[int, str] = {}  # queued run id -> why it waits, as `spark-trainer run show` says
        self.loaded = False  # the first read has been applied
        self.interrupted_at_start: list[Run] = []
        self._reconciled = False  # a scheduler pass (which reconciles first) has been applied
        self._since: datetime | None = None
        self._tails: dict[int, int] = {}  # run id -> last metric row id delivered
        self._watchers: dict[int, set[Any]] = {}  # run id -> feeds watching it
        self._unread: set[int] = set()  # watched runs whose first read has not arrived yet
        self._backfills: dict[int, tuple[Any, int, int]] = {}  # token -> (feed, run id, up to row id)
        self._tokens = itertools.count(1)
        self._logs: dict[int, tuple[str, int]] = {}  # run id -> (path, offset)
        self._evaluations: set[int] = set()
        self._generation = 0  # requests made so far
        self._written: dict[int, int] = {}  # run id -> the request generation current when this app wrote it
        self.held_since: datetime | None = None  # the queue hold (store.queue_hold), as last read or written
        self._hold_written = -1  # the request generation current when this app last held or released the queue

    # --- what views read ---------------------------------------------------------------------
    def get(self, run_id: int) -> Run | None:
        return self.runs.get(int(run_id))

    def all_runs(self) -> list[Run]:
        """Newest first."""
        return sorted(self.runs.values(), key=lambda r: r.id, reverse=True)

    def status_text(self, run: Run, *, short: bool = False) -> str:
        """The run's status, with why it waits when queued ("queued: waiting for run 3 to finish
        (max concurrent runs 1)") or what it does before its first step ("running: loading the model:
        caching VAE latents 340/2,600 images"); `short`, for a table's cell, drops the bracketed
        detail and keeps the last part of a start-up step ("running: caching VAE latents 340/2,600 images").
        Not `short` (the cell's tooltip), a stopped run says its error's first line ("failed: CUDA out of
        memory..."), as `run list`'s NOTE does; the cell keeps the bare status."""
        reason = self.waiting.get(run.id) if run.status == RunStatus.QUEUED else None
        if reason and short:
            from spark_trainer.jobs.scheduler import short_reason  # loaded by the poller's first pass

            reason = short_reason(reason)
        reason = reason or run.starting_text(short=short)  # still starting up: "running: loading the model"
        reason = reason or (None if short else run.error_line)
        return f"{run.status.value}: {reason}" if reason else run.status.value

    def counts(self) -> tuple[int, int]:
        """(running, queued), as the status bar shows them."""
        running = sum(1 for r in self.runs.values() if r.status.is_active)
        queued = sum(1 for r in self.runs.values() if r.status == RunStatus.QUEUED)
        return running, queued

    # --- metric and log subscriptions ------------------------------------------------------------
    def watch_metrics(self, feed: Any, run_id: int) -> int | None:
        """Deliver this run's metric rows to `feed`; returns a backfill token when rows were
        already delivered to others (the feed gets them through `feed.backfilled`)."""
        watchers = self._watchers.setdefault(run_id, set())
        watchers.add(feed)
        if run_id not in self._tails:
            self._tails[run_id] = 0
            self._unread.add(run_id)
            return None
        if self._tails[run_id] == 0:
            return None
        token = next(self._tokens)
        self._backfills[token] = (feed, run_id, self._tails[run_id])
        return token

    def unwatch_metrics(self, feed: Any) -> None:
        for run_id in list(self._watchers):
            self._watchers[run_id].discard(feed)
            if not self._watchers[run_id]:
                del self._watchers[run_id]
                self._tails.pop(run_id, None)
                self._unread.discard(run_id)
        for token in [t for t, (f, _r, _u) in self._backfills.items() if f is feed]:
            del self._backfills[token]

    def metrics_pending(self, feed: Any) -> bool:
        """The feed still waits for a first read or a backfill."""
        runs = {r for r, watchers in self._watchers.items() if feed in watchers}
        return bool(runs & self._unread) or any(f is feed for f, _r, _u in self._backfills.values())

    def follow_log(self, run_id: int, path: str) -> None:
        self._logs[run_id] = (path, 0)

    def unfollow_log(self, run_id: int) -> None:
        self._logs.pop(run_id, None)

    def follow_evaluation(self, evaluation_id: int) -> None:
        """Read this evaluation (its progress, its end) at every tick until `unfollow_evaluation`."""
        self._evaluations.add(evaluation_id)

    def unfollow_evaluation(self, evaluation_id: int) -> None:
        self._evaluations.discard(evaluation_id)

    def follows_evaluation(self, evaluation_id: int) -> bool:
        return evaluation_id in self._evaluations

    # --- the poller's side -----------------------------------------------------------------------
    def fill_request(self, request: PollRequest) -> None:
        self._generation += 1
        request.generation = self._generation
        request.runs_since = self._since
        request.metric_tails = dict(self._tails)
        request.backfills = [(token, run_id, until) for token, (_f, run_id, until) in self._backfills.items()]
        request.logs = dict(self._logs)
        request.evaluations = sorted(self._evaluations)

    def apply(self, result: PollResult) -> None:
        first = not self.loaded
        self._since = result.now
        # A run this app wrote after the request was made is not in its answer: it is not gone.
        kept = {r for r, gen in self._written.items() if gen >= result.request.generation}
        self._written = {r: gen for r, gen in self._written.items() if gen >= result.request.generation}
        # Set before the merge, so a run's views read its reason when told the run changed.
        moved = {r for r in set(self.waiting) | set(result.waiting) if self.waiting.get(r) != result.waiting.get(r)}
        self.waiting = dict(result.waiting)
        if result.request.generation > self._hold_written:  # not a read made before this app's own hold or release
            self._set_hold(result.held_since)
        changed = self._merge(result.changed, result.run_ids | kept, result.last_metrics)
        for run_id in sorted(moved):
            if run_id in self.runs:  # told again: the reason may change alone (the run it waited for ended)
                self.run_changed.emit(self.runs[run_id])
                changed = True
        self.loaded = True
        if first:
            self.runs_reset.emit(self.all_runs())
        if result.request.schedule and not self._reconciled:
            self._reconciled = True  # runs left running by a machine that stopped are interrupted by now
            self.interrupted_at_start = [r for r in self.all_runs() if r.status == RunStatus.INTERRUPTED]
            if self.interrupted_at_start:
                self.interrupted_found.emit(self.interrupted_at_start)
        if changed or first:
            self.runs_updated.emit(self.all_runs())
        if result.started:
            self.runs_started.emit(result.started)
        self._deliver_metrics(result)
        for evaluation in result.evaluations:
            if evaluation.id in self._evaluations:
                self.evaluation_changed.emit(evaluation)
        for chunk in result.logs:
            known = self._logs.get(chunk.run_id)
            if known is not None and known[1] == chunk.offset:
                self._logs[chunk.run_id] = (known[0], chunk.new_offset)
                self.log_appended.emit(chunk.run_id, chunk.text, chunk.reset)

    def apply_written(self, run: Run) -> None:
        """A run this app just wrote (launched, cancelled...): every view shows it now."""
        known = self.runs.get(run.id)
        if known is not None and known.updated_at and run.updated_at and run.updated_at < known.updated_at:
            return  # the poller already saw a newer state
        self._written[run.id] = self._generation
        if self._merge([run], set(self.runs) | {run.id}, {}):
            self.runs_updated.emit(self.all_runs())

    def apply_hold(self, held_since: datetime | None) -> None:
        """The queue hold this app just set or released: every view shows it now, and a read asked for
        before the write does not undo it on screen."""
        self._hold_written = self._generation
        self._set_hold(held_since)

    def _set_hold(self, held_since: datetime | None) -> None:
        if held_since != self.held_since:
            self.held_since = held_since
            self.queue_hold_changed.emit(held_since)

    def _merge(self, changed: list[Run], ids: set[int], last: dict[int, dict[str, float]]) -> bool:
        """Apply runs read or written; emits run_changed, run_removed and run_finished."""
        any_change = False
        for run_id in [r for r in self.runs if r not in ids]:
            del self.runs[run_id]
            self.last_metrics.pop(run_id, None)
            self.run_removed.emit(run_id)
            any_change = True
        for run_id, values in last.items():
            if values != self.last_metrics.get(run_id):
                self.last_metrics[run_id] = values
                any_change = True
        for run in changed:
            before = self.runs.get(run.id)
            if before == run:
                continue
            if before is not None and before.updated_at and run.updated_at and run.updated_at < before.updated_at:
                continue  # read before a newer state this app wrote: keep the newer one
            self.runs[run.id] = run
            any_change = True
            self.run_changed.emit(run)
            if before is not None and before.status != run.status and run.status in FINISHED_WORDS:
                self.run_finished.emit(run, FINISHED_WORDS[run.status])
        return any_change

    def _deliver_metrics(self, result: PollResult) -> None:
        for batch in result.batches:
            if self._tails.get(batch.run_id) != batch.after_id:
                continue  # unwatched, or watched afresh since the read was asked for
            self._tails[batch.run_id] = batch.last_id
            self._unread.discard(batch.run_id)
            if batch.series:
                self.metrics_appended.emit(batch.run_id, batch)
        for token, run_id, batches in result.backfills:
            wanted = self._backfills.pop(token, None)
            if wanted is not None:
                wanted[0].backfilled(run_id, batches)


__all__ = ["MetricBatch", "RunsModel"]
