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
import warnings
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
    _released = Signal()  # internal: after every `finished` slot has run

    def __init__(self) -> None:
        super().__init__()
        self.delivered = False  # True on the GUI thread once every slot for the outcome has run
        self._released.connect(self._release)

    def _release(self) -> None:
        """Drop every connection once the task is over.

        Slots are often lambdas holding a view; a view that keeps its Task makes a reference cycle
        through Qt's connection table that Python's garbage collector cannot see, so the view (and
        its window) would never be freed.
        """
        self.delivered = True
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns for a signal nobody connected
            for signal in (self.progress, self.succeeded, self.failed, self.cancelled, self.finished):
                try:
                    signal.disconnect()
                except (RuntimeError, TypeError):  # nothing was connected to it
                    pass


def while_alive(owner: QObject, slot: Callable[..., Any]) -> Callable[..., None]:
    """`slot`, called only while `owner`'s C++ object exists.

    A view closed while its pool task ran is gone on the C++ side before the answer is delivered;
    its lambda still holds the Python wrapper, and touching a child widget then raises "Internal C++
    object already deleted" in the event loop.
    """
    import shiboken6

    def call(*args: Any) -> None:
        if shiboken6.isValid(owner):
            slot(*args)

    return call


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
    def delivered(self) -> bool:
        """The outcome has reached the GUI thread and its slots have run (`done` is set earlier, off-thread)."""
        return self.signals.delivered

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
            self.signals._released.emit()


class TaskSet:
    """Keeps running tasks alive and lets a view cancel them all when it closes."""

    def __init__(self) -> None:
        self._tasks: list[Task] = []

    def start(self, task: Task, pool: QThreadPool | None = None) -> Task:
        self._tasks = [t for t in self._tasks if not t.delivered]
        self._tasks.append(task)  # done tasks are dropped on the next start (no slot holding the task)
        return task.start(pool)

    @property
    def running(self) -> list[Task]:
        """Tasks whose outcome has not yet been handled on the GUI thread."""
        return [t for t in self._tasks if not t.delivered]

    def cancel_all(self, wait_s: float = 5.0) -> bool:
        """Ask every task to stop and wait a little; True when all have ended."""
        tasks = [t for t in self._tasks if not t.done.is_set()]
        for task in tasks:
            task.cancel()
        deadline = time.monotonic() + wait_s
        return all(task.done.wait(max(0.0, deadline - time.monotonic())) for task in tasks)
