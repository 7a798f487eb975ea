"""Background tasks: run a function on a QThreadPool, deliver progress and the result on the GUI thread.

A `Task` wraps a plain callable `fn(ctx)`; `ctx.progress(value)` reports progress (coalesced, so a
function that reports per file does not flood the GUI), `ctx.cancel` is a `threading.Event` the
function checks (the ingestion API takes it as `cancel=`). The signals object lives on the GUI
thread, so Qt queues every emission from the worker thread to it: slots always run on the GUI thread.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from spark_trainer.errors import SparkError

# Progress is shown at most this often; the last report before the end is always delivered.
PROGRESS_INTERVAL_S = 0.05


class TaskSignals(QObject):
    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)  # one-line message, the exception
    cancelled = Signal()
    finished = Signal()  # after succeeded, failed or cancelled


@dataclass
class TaskContext:
    """What a task function sees: a cancel flag and a progress callback."""

    cancel: threading.Event = field(default_factory=threading.Event)
    _emit: Callable[[Any], None] | None = None
    _last_emit: float = 0.0
    _pending: Any = None

    def progress(self, value: Any, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self._pending = None
            if self._emit is not None:
                self._emit(value)
        else:
            self._pending = value

    def flush(self) -> None:
        if self._pending is not None and self._emit is not None:
            self._emit(self._pending)
            self._pending = None


def error_message(exc: BaseException) -> str:
    """One line for the user: domain errors as they are, anything else with its type."""
    if isinstance(exc, SparkError):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror or exc}: {exc.filename}"
    return f"{type(exc).__name__}: {exc}"


class Task(QRunnable):
    """Runs `fn(ctx)` on a pool thread. Connect to `task.signals` before `start()`."""

    def __init__(self, fn: Callable[[TaskContext], Any], *, name: str = "task") -> None:
        super().__init__()
        self.setAutoDelete(False)  # the caller keeps the Task (and its signals) alive
        self.fn = fn
        self.name = name
        self.signals = TaskSignals()
        self.ctx = TaskContext(_emit=self.signals.progress.emit)
        self.done = threading.Event()
        self.traceback: str | None = None

    def cancel(self) -> None:
        self.ctx.cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self.ctx.cancel.is_set()

    def start(self, pool: QThreadPool | None = None) -> Task:
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def run(self) -> None:  # on the pool thread
        try:
            result = self.fn(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, not vanish
            self.traceback = traceback.format_exc()
            self.ctx.flush()
            if self.ctx.cancel.is_set():  # the error is how the function gave up after a cancel
                self.signals.cancelled.emit()
            else:
                self.signals.failed.emit(error_message(exc), exc)
        else:
            self.ctx.flush()
            if self.ctx.cancel.is_set() and result is None:
                self.signals.cancelled.emit()
            else:
                self.signals.succeeded.emit(result)
        finally:
            self.done.set()
            self.signals.finished.emit()


class TaskSet:
    """Keeps running tasks alive and lets a view cancel them all when it closes."""

    def __init__(self) -> None:
        self._tasks: list[Task] = []

    def start(self, task: Task, pool: QThreadPool | None = None) -> Task:
        self._tasks = [t for t in self._tasks if not t.done.is_set()]
        self._tasks.append(task)
        task.signals.finished.connect(lambda: self._forget(task))
        return task.start(pool)

    def _forget(self, task: Task) -> None:
        if task in self._tasks:
            self._tasks.remove(task)

    @property
    def running(self) -> list[Task]:
        return [t for t in self._tasks if not t.done.is_set()]

    def cancel_all(self, wait_s: float = 5.0) -> bool:
        """Ask every task to stop and wait a little; True when all have ended."""
        tasks = self.running
        for task in tasks:
            task.cancel()
        deadline = time.monotonic() + wait_s
        return all(task.done.wait(max(0.0, deadline - time.monotonic())) for task in tasks)
