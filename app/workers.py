"""Background tasks: run a function on a QThreadPool, deliver progress and the result on the GUI thread.

A `Task` wraps a plain callable `fn(ctx)`; `ctx.progress(value)` reports progress (coalesced, so a
function that reports per file does not flood the GUI), `ctx.cancel` is a `threading.Event` the
function checks (the ingestion API takes it as `cancel=`). Every task has an owner, the view or
dialog that shows its outcome: `task.signals` is a child of the owner on the GUI thread, so Qt
queues every emission from the worker thread to it (slots always run on the GUI thread) and drops
them when the owner is deleted first; the owner's deletion also cancels the task.
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from spark_trainer.errors import SparkError

# Progress is shown at most this often; the last report before the end is always delivered.
PROGRESS_INTERVAL_S = 0.05


class TaskSignals(QObject):
    """What a task's owner connects to. A child of the owner, on the GUI thread: when the owner is
    deleted, Qt deletes this too and drops whatever was queued to it, so no slot runs for a view
    or dialog that is gone."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)  # one-line message, the exception
    cancelled = Signal()
    finished = Signal()  # after succeeded, failed or cancelled


class _TaskEmitter(QObject):
    """What the pool thread emits on; owned by the Task, never by the owner, so the worker never
    emits on an object the GUI thread may be deleting. Its signals are queued to the owner's
    `TaskSignals` (the same order as emitted), `_released` to itself (after them)."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)
    cancelled = Signal()
    finished = Signal()
    _released = Signal()

    def __init__(self, receiver: TaskSignals, cancel: threading.Event) -> None:
        super().__init__()
        self.delivered = False  # True on the GUI thread once the outcome was handled (or dropped)
        self.receiver = receiver
        for name in _OUTCOMES:
            getattr(self, name).connect(getattr(receiver, name))
        # The owner went before the outcome: ask the function to stop (the ingestion API takes the
        # flag as `cancel=`; reads check it between files).
        self._cancel_on_owner_gone = lambda *_args: cancel.set()
        receiver.destroyed.connect(self._cancel_on_owner_gone)
        self._released.connect(self._release)

    def _release(self) -> None:
        """Once the task is over: unhook the receiver from its owner and drop every connection.

        Slots are often lambdas holding a view; a view that keeps its Task makes a reference cycle
        through Qt's connection table that Python's garbage collector cannot see, so the view (and
        its window) would never be freed. The receiver leaves its owner, so a long-lived owner does
        not collect one child per task; the Task keeps it.
        """
        self.delivered = True
        receiver = self.receiver
        if not shiboken6.isValid(receiver):
            return  # deleted with its owner: Qt dropped its connections and queued calls
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns for a signal nobody connected
            receiver.destroyed.disconnect(self._cancel_on_owner_gone)
            for name in _OUTCOMES:
                try:
                    getattr(receiver, name).disconnect()
                except (RuntimeError, TypeError):  # nothing was connected to it
                    pass
        receiver.setParent(None)


_OUTCOMES = ("progress", "succeeded", "failed", "cancelled", "finished")


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
    """Runs `fn(ctx)` on a pool thread and answers `owner` (the view or dialog that shows the outcome).

    Connect to `task.signals` before `start()`. Its slots run on the GUI thread, in the order the
    function reported, and only while `owner` exists: a view closed and deleted while the task ran
    gets nothing (its lambdas would touch deleted widgets and raise in the event loop), and the task
    is cancelled when its owner goes.
    """

    def __init__(self, fn: Callable[[TaskContext], Any], *, owner: QObject, name: str = "task") -> None:
        super().__init__()
        self.setAutoDelete(False)  # the caller keeps the Task (and its signals) alive
        self.fn = fn
        self.name = name
        self.ctx = TaskContext()
        self.signals = TaskSignals(owner)
        self._emitter = _TaskEmitter(self.signals, self.ctx.cancel)
        self.ctx._emit = self._emitter.progress.emit
        self.done = threading.Event()
        self.traceback: str | None = None

    def cancel(self) -> None:
        self.ctx.cancel.set()

    @property
    def delivered(self) -> bool:
        """The outcome has reached the GUI thread and its slots have run, or was dropped because the
        owner had gone (`done` is set earlier, off-thread)."""
        return self._emitter.delivered

    @property
    def is_cancelled(self) -> bool:
        return self.ctx.cancel.is_set()

    def start(self, pool: QThreadPool | None = None) -> Task:
        (pool or QThreadPool.globalInstance()).start(self)
        return self

    def run(self) -> None:  # on the pool thread
        signals = self._emitter
        try:
            result = self.fn(self.ctx)
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, not vanish
            self.traceback = traceback.format_exc()
            self.ctx.flush()
            if self.ctx.cancel.is_set():  # the error is how the function gave up after a cancel
                signals.cancelled.emit()
            else:
                signals.failed.emit(error_message(exc), exc)
        else:
            self.ctx.flush()
            if self.ctx.cancel.is_set() and result is None:
                signals.cancelled.emit()
            else:
                signals.succeeded.emit(result)
        finally:
            self.done.set()
            signals.finished.emit()
            signals._released.emit()


def pending(task: Task | None) -> bool:
    """A task was started and its outcome has not yet been handled on the GUI thread.

    What a view's "busy" means: `task.done` is set on the pool thread before the outcome's slots
    run, so a view answering "not busy" from `done` could still be showing the previous answer.
    """
    return task is not None and not task.delivered


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
