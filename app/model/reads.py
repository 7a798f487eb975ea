"""What one tick of the store poller reads, as plain functions (no Qt): they run on a pool thread.

`poll_once` takes a `PollRequest` (a snapshot, made on the GUI thread, of what the models want:
runs changed since a time, metric rows after the last id seen per run, log bytes after an offset)
and returns a `PollResult` the models apply on the GUI thread. Every read goes through the core
store functions, so the core's indexes and query speed-ups reach the GUI.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.errors import SparkError, StoreDiskFull
from spark_trainer.store.entities import Dataset, Project, Run, utcnow

if TYPE_CHECKING:  # numpy and the ORM load on the pool's first read, after the window is on screen
    import numpy as np

    from spark_trainer.store.store import Store

log = logging.getLogger(__name__)

READ_LIMIT = 200_000
LOG_TAIL_BYTES = 256_000
KEY_METRICS = ("loss", "eval_loss")  # the last value of each is shown per run in the Runs table
# A write committed just before a tick with an older timestamp is still read by the next tick.
OVERLAP = timedelta(seconds=2)


@dataclass
class MetricBatch:
    run_id: int
    last_id: int
    full: bool  # the read hit the limit: more rows are waiting
    series: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]  # key -> steps, wall times, values
    after_id: int = 0  # the read was of rows after this id


def read_batch(store: Store, run_id: int, after_id: int, limit: int = READ_LIMIT,
               until_id: int | None = None) -> MetricBatch:
    """Metric rows of a run after `after_id` (and at most `until_id`), grouped by key."""
    # Arrays straight from the store (packed blocks): no Python object per point.
    import numpy as np

    from spark_trainer.store import metrics

    found = metrics.series(store, run_id, after_id=after_id, limit=limit)
    full = sum(len(s) for s in found.values()) >= limit
    last_id = max((int(s.ids[-1]) for s in found.values() if len(s)), default=after_id)
    series = {}
    for key, s in found.items():
        keep = np.isfinite(s.values)
        if until_id is not None:
            keep &= s.ids <= until_id
        if keep.any():
            series[key] = (s.steps[keep].astype(float), s.wall_times[keep], s.values[keep])
    if until_id is not None:
        full = full and last_id < until_id
        last_id = min(last_id, until_id)
    return MetricBatch(run_id, last_id, full, series, after_id)


def read_history(store: Store, run_id: int, until_id: int, cancel: threading.Event) -> list[MetricBatch]:
    """Every metric row of a run up to `until_id`, in batches of at most READ_LIMIT rows."""
    batches, after = [], 0
    while not cancel.is_set():
        batch = read_batch(store, run_id, after, until_id=until_id)
        batches.append(batch)
        if not batch.full:
            break
        after = batch.last_id
    return batches


@dataclass
class LogChunk:
    run_id: int
    offset: int  # the offset the read started from (as asked)
    new_offset: int
    text: str
    reset: bool  # the file was replaced: the text starts it afresh


def read_log(run_id: int, path: Path, offset: int) -> LogChunk | None:
    """The bytes of `path` written after `offset` (the last LOG_TAIL_BYTES of them); None if none."""
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, 2)
            reset = size < offset
            start = 0 if reset else offset
            if size == start:
                return None
            fh.seek(max(start, size - LOG_TAIL_BYTES))
            text = fh.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return None
    return LogChunk(run_id, offset, size, clean_log_text(text), reset)


_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")  # colour and cursor codes (CSI sequences)


def clean_log_text(text: str) -> str:
    """What a terminal would show: no colour codes, and of a line a progress bar redrew with carriage
    returns only its last state (the Log tab is a plain text view)."""
    lines = _ANSI.sub("", text).split("\n")
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in lines)


@dataclass
class PollRequest:
    runs_since: datetime | None  # None: read every run
    schedule: bool  # start queued runs (reconciling first), as `spark-trainer queue serve` does
    catalog: bool  # read the project and dataset lists
    metric_tails: dict[int, int] = field(default_factory=dict)  # run id -> last metric row id seen
    backfills: list[tuple[int, int, int]] = field(default_factory=list)  # (token, run id, up to row id)
    logs: dict[int, tuple[str, int]] = field(default_factory=dict)  # run id -> (log path, offset)
    evaluations: list[int] = field(default_factory=list)  # evaluation ids followed (refreshed from their worker)
    tick: int = 0  # the poller's tick number that asked
    queue_end: bool = False  # estimate when the queue should end (not free: `QueueEndModel` asks now and then)
    generation: int = 0  # the runs model's request count when asked (see RunsModel.apply_written)


@dataclass
class PollResult:
    request: PollRequest
    now: datetime
    started: list[int] = field(default_factory=list)
    changed: list[Run] = field(default_factory=list)
    run_ids: set[int] = field(default_factory=set)
    last_metrics: dict[int, dict[str, float]] = field(default_factory=dict)
    projects: list[Project] | None = None
    datasets: list[Dataset] | None = None
    batches: list[MetricBatch] = field(default_factory=list)
    backfills: list[tuple[int, int, list[MetricBatch]]] = field(default_factory=list)
    logs: list[LogChunk] = field(default_factory=list)
    evaluations: list[Any] = field(default_factory=list)  # Evaluation entities, refreshed
    waiting: dict[int, str] = field(default_factory=dict)  # queued run id -> why it waits (scheduler.waiting_reasons)
    held_since: datetime | None = None  # the queue hold (store.queue_hold), whoever set it: this app or the CLI
    # The settings the queue's estimate reads (`queue_eta.SETTINGS`), as (key, value) pairs; None: not read.
    queue_settings: tuple[tuple[str, Any], ...] | None = None
    settings: dict[str, Any] | None = None  # every setting (`settings.read_all`); None: not read
    unusable_settings: dict[str, Any] | None = None  # key -> stored value read as its default
    queue_end: QueueEnd | None = None  # when asked: the queue's estimated end (None: nothing queued, or it failed)
    errors: list[str] = field(default_factory=list)
    only_reading: bool = False  # the store still only reads (opened on a full disk, no room made since)

    @property
    def more_waiting(self) -> bool:
        return any(b.full for b in self.batches)


@dataclass(frozen=True)
class QueueEnd:
    """When the queue should end, as `spark-trainer queue show` says it (`spark_trainer.jobs.queue_eta`)."""

    when: str | None  # "about 03:40", "about 19 min after release"; None: not estimated
    text: str  # the whole sentence (`queue_eta.end_text`): what it was estimated from, the runs not counted
    held: bool  # estimated as if released now
    # Queued run id -> "about 02:10", "now", "at release", as `queue show`'s starts column (a run that can
    # never start, needing GPUs the machine does not have, or whose start is unknown, waiting behind a run
    # with no estimate, has none).
    starts: dict[int, str] = field(default_factory=dict)


def read_queue_end(store: Store) -> QueueEnd | None:
    """The queue's estimated end; None with nothing queued. It reads completed runs, their events and
    metric times: asked for now and then, never every tick. A failure is logged and shows nothing (the
    poll goes on)."""
    from spark_trainer.jobs import queue_eta

    try:
        found = queue_eta.estimate(store)
        text = queue_eta.end_text(found)
    except Exception:  # noqa: BLE001 - an estimate is a nicety: whatever fails, the poll and the app go on
        log.warning("the queue's end was not estimated", exc_info=True)
        return None
    if text is None:
        return None
    when = None if found.end is None else queue_eta.about(queue_eta.when_text(found.end, found))
    return QueueEnd(when, text, found.held, {e.run_id: queue_eta.start_text(e.start, found) for e in found.queued
                                             if e.start is not None})


def _waiting(store: Store, result: PollResult) -> dict[int, str]:
    from spark_trainer.jobs.scheduler import waiting_reasons

    try:
        return waiting_reasons(store)
    except SparkError as exc:
        result.errors.append(f"Scheduler: {exc}")
        return {}


def _held_since(store: Store, result: PollResult) -> datetime | None:
    from spark_trainer.store import queue_hold

    try:
        return queue_hold.held_since(store)  # one settings row by its key
    except SparkError as exc:
        result.errors.append(f"Queue hold: {exc}")
        return None


def _read_settings(store: Store, result: PollResult) -> None:
    """Every setting, whoever changed it (Settings, or `spark-trainer settings set` in a terminal): one read
    of a few rows, every tick, so that Settings shows a change at once and `QueueEndModel` estimates again."""
    from spark_trainer.jobs.queue_eta import SETTINGS
    from spark_trainer.store import settings

    try:
        result.settings, result.unusable_settings = settings.read_all(store)
    except SparkError:  # the hold's read, just before, says what is wrong with the store
        return
    result.queue_settings = tuple((key, result.settings[key]) for key in SETTINGS)


def poll_once(store: Store, request: PollRequest, cancel: threading.Event | None = None) -> PollResult:
    """One tick of the poller: everything the models asked for, read in one go off the GUI thread."""
    from spark_trainer.leaderboard import last_values
    from spark_trainer.store import datasets, projects, runs

    cancel = cancel or threading.Event()
    result = PollResult(request, utcnow() - OVERLAP)
    if store.full is not None and (request.catalog or request.schedule):
        store.thaw()  # room made from a terminal: a store that only reads would not see its deletes either
    if request.schedule:
        from spark_trainer.jobs.scheduler import schedule_once, waiting_line

        try:
            result.started = schedule_once(store)  # reconciles first
        except StoreDiskFull as exc:  # the queued runs wait for room; the next tick tries again
            result.errors.append(f"Scheduler: {waiting_line(exc, store)}")
        except SparkError as exc:
            result.errors.append(f"Scheduler: {exc}")
    result.changed, result.run_ids = runs.changed_since(store, request.runs_since)
    result.waiting = _waiting(store, result)
    result.held_since = _held_since(store, result)
    _read_settings(store, result)  # before the estimate: it is of these settings or newer ones
    if request.queue_end:
        result.queue_end = read_queue_end(store)
    if result.changed:
        result.last_metrics = last_values(store, [r.id for r in result.changed], KEY_METRICS)
    if request.catalog:
        result.projects = projects.list_all(store)
        result.datasets = datasets.list_all(store)
    for run_id, after in request.metric_tails.items():
        if cancel.is_set() or run_id not in result.run_ids:
            continue
        try:
            result.batches.append(read_batch(store, run_id, after))
        except SparkError:  # deleted meanwhile
            continue
    for token, run_id, until in request.backfills:
        if not cancel.is_set() and run_id in result.run_ids:
            result.backfills.append((token, run_id, read_history(store, run_id, until, cancel)))
    if request.evaluations:
        from spark_trainer.evaluation.jobs import refresh

        for evaluation_id in request.evaluations:
            try:
                result.evaluations.append(refresh(store, evaluation_id))
            except SparkError as exc:
                result.errors.append(f"Evaluation {evaluation_id}: {exc}")
    for run_id, (path, offset) in request.logs.items():
        chunk = read_log(run_id, Path(path), offset)
        if chunk is not None:
            result.logs.append(chunk)
    result.only_reading = store.full is not None
    return result
