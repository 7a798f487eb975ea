"""Background tasks: run a function on a QThreadPool, deliver progress and the result on the GUI thread.

A `Task` wraps a plain callable `fn(ctx)`; `ctx.progress(value)` reports progress (coalesced, so a
function that reports per file does not flood the GUI), `ctx.cancel` is a `threading.Event` the
function checks (the ingestion API takes it as `cancel=`). Every task has an owner, the view or
dialog that shows its outcome. The worker thread's emissions are queued to the GUI thread and passed
on to `task.signals` there, in order, only while the owner exists; the owner's deletion also cancels
the task. `task.signals` belongs to the Task, never to the owner (see `TaskSignals`). A started task
is held until its outcome is delivered and the pool thread has let go of it, then freed (see `Task`).
"""

from __future__ import annotations

import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QThreadPool, QTimer, Signal, Slot

from spark_trainer.errors import SparkError

# Progress is shown at most this often; the last report before the end is always delivered.
PROGRESS_INTERVAL_S = 0.05


class TaskSignals(QObject):
    """What a task's owner connects to; emitted on the GUI thread only, and only while the owner exists.

    Not a Qt child of the owner, on purpose: a slot is often a lambda holding its view or dialog, so
    dropping that slot when the task ends can free the owner, and a child would then be deleted under
    the disconnect that dropped it (a segfault, seen with parentless dialogs). It lives as long as
    its Task."""

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str, object)  # one-line message, the exception
    cancelled = Signal()
    finished = Signal()  # after succeeded, failed or cancelled


_OUTCOMES = ("progress", "succeeded", "failed", "cancelled", "finished")
_RELEASE = "release"  # the last emission: the task is over


class _TaskEmitter(QObject):
    """What the pool thread emits on; owned by the Task, on the GUI thread. Every emission is one
    queued call to `_deliver` (one connection, so they arrive in the order emitted), which passes it
    on to the Task's `TaskSignals` unless the owner has gone."""

    _queued = Signal(str, object)  # outcome name, its arguments

    def __init__(self, receiver: TaskSignals, owner: QObject, cancel: threading.Event) -> None:
        super().__init__()
        self.delivered = False  # True on the GUI thread once the outcome was handled (or dropped)
        self.receiver = receiver
        self.on_release: weakref.WeakMethod[Callable[[], None]] | None = None  # the Task's, run last
        self.owner_gone = threading.Event()
        self._owner = weakref.ref(owner)  # never a strong reference: that would keep views alive
        gone = self.owner_gone

        def owner_destroyed(*_args: object) -> None:  # in the owner's destructor, on the GUI thread
            gone.set()
            cancel.set()  # ask the function to stop (reads check the flag between files)

        # The closure holds no Task, so an owner that outlives many tasks keeps none of them alive.
        self._owner_watch = owner.destroyed.connect(owner_destroyed)
        self._queued.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def send(self, name: str, *args: Any) -> None:
        """Queue one emission of `task.signals.<name>` (from any thread)."""
        self._queued.emit(name, args)

    @Slot(str, object)
    def _deliver(self, name: str, args: tuple[Any, ...]) -> None:
        if name == _RELEASE:
            self._release()
        elif not self.owner_gone.is_set():  # a gone owner's lambdas would touch deleted widgets
            getattr(self.receiver, name).emit(*args)

    def _release(self) -> None:
        """Once the task is over: stop watching the owner and drop every slot.

        Slots are often lambdas holding a view; a view that keeps its Task makes a reference cycle
        through Qt's connection table that Python's garbage collector cannot see, so the view (and
        its window) would never be freed. Dropping a slot can free the owner: it is held here until
        the end, so it goes after the disconnects, not during one.
        """
        self.delivered = True
        owner = self._owner()  # None once Python freed it
        QObject.disconnect(self._owner_watch)  # the owner going later does not cancel an ended task
        receiver = self.receiver
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # PySide warns for a signal nobody connected
            for name in _OUTCOMES:
                try:
                    getattr(receiver, name).disconnect()
                except (RuntimeError, TypeError):  # nothing was connected to it
                    pass
        on_release = self.on_release() if self.on_release is not None else None
        if on_release is not None:
            on_release()
        del owner  # may free it now, with nothing of the task's in the middle of a call


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


# Started tasks, held on the GUI thread from start until their outcome was delivered and the pool
# thread has let go of them, so that a task's QObjects are always freed on the GUI thread.
_LIVE: set[Task] = set()


def _run_on_pool(box: list[Task], let_go: threading.Event) -> None:
    """What the pool runs: the task, then every reference to it dropped before `let_go` is set (the
    pool keeps this function's arguments, pure Python, until it deletes its own runnable)."""
    task = box.pop()
    try:
        task.run()
    finally:
        del task
        let_go.set()


class Task:
    """Runs `fn(ctx)` on a pool thread and answers `owner` (the view or dialog that shows the outcome).

    Connect to `task.signals` before `start()`. Its slots run on the GUI thread, in the order the
    function reported, and only while `owner` exists: a view closed and deleted while the task ran
    gets nothing (its lambdas would touch deleted widgets and raise in the event loop), and the task
    is cancelled when its owner goes.

    Not a QRunnable: QThreadPool.start(runnable) hands a Python runnable to C++ for good, so every
    task ever started stayed in memory (about 10 KB each; the store poller starts four a second, which
    made an app left open grow by about 170 MB an hour). The pool gets a plain function instead, and
    a finished task is freed once nothing of the app holds it.
    """

    def __init__(self, fn: Callable[[TaskContext], Any], *, owner: QObject, name: str = "task") -> None:
        self._let_go: threading.Event | None = None  # set by the pool thread once it holds no reference
        self.fn: Callable[[TaskContext], Any] | None = fn
        self.name = name
        self.ctx = TaskContext()
        self.signals = TaskSignals()
        self._emitter = _TaskEmitter(self.signals, owner, self.ctx.cancel)
        self.ctx._emit = partial(self._emitter.send, "progress")  # holds no Task: no cycle
        self._emitter.on_release = weakref.WeakMethod(self._forget)
        gui = QCoreApplication.instance().thread() if QCoreApplication.instance() is not None else None
        if gui is not None and QThread.currentThread() != gui:
            # Made off the GUI thread (a pool thread starting a follow-up): its deliveries and release
            # are queued to the GUI thread's event loop, which a plain thread does not have.
            self.signals.moveToThread(gui)
            self._emitter.moveToThread(gui)
        self.done = threading.Event()
        self.traceback: str | None = None

    def cancel(self) -> None:
        self.ctx.cancel.set()

    def _forget(self) -> None:
        """On the GUI thread once the outcome was delivered: drop the function and what it captured
        (often its view), and let the Task go once the pool thread has (it may still be returning)."""
        self.fn = None
        if self._let_go is None or self._let_go.is_set():
            _LIVE.discard(self)
        else:
            QTimer.singleShot(5, self._forget)

    @property
    def delivered(self) -> bool:
        """The outcome has reached the GUI thread and its slots have run, or was dropped because the
        owner had gone (`done` is set earlier, off-thread)."""
        return self._emitter.delivered

    @property
    def is_cancelled(self) -> bool:
        return self.ctx.cancel.is_set()

    def start(self, pool: QThreadPool | None = None) -> Task:
        """Run on `pool` (the global one by default)."""
        self._let_go = threading.Event()
        _LIVE.add(self)
        (pool or QThreadPool.globalInstance()).start(partial(_run_on_pool, [self], self._let_go))
        return self

    def run(self) -> None:  # on the pool thread
        emitter = self._emitter
        try:
            result = self.fn(self.ctx)  # type: ignore[misc]  # None only after the release
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the GUI, not vanish
            self.traceback = traceback.format_exc()
            self.ctx.flush()
            if self.ctx.cancel.is_set():  # the error is how the function gave up after a cancel
                emitter.send("cancelled")
            else:
                emitter.send("failed", error_message(exc), exc)
        else:
            self.ctx.flush()
            if self.ctx.cancel.is_set() and result is None:
                emitter.send("cancelled")
            else:
                emitter.send("succeeded", result)
        finally:
            self.done.set()
            emitter.send("finished")
            emitter.send(_RELEASE)


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
