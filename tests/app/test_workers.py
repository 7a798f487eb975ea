"""Pool tasks answer their owner only while it exists: a view or dialog closed (deleted) while its
store or disk read runs gets nothing, nothing raises in the event loop (pytest-qt fails a test on an
exception in a Qt slot), and the read is asked to stop."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import weakref
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, QThreadPool
from PySide6.QtWidgets import QLabel, QWidget

from app.workers import Task, TaskContext, TaskSet, pending


def _delete_now(widget: QObject) -> None:
    """As closing a view with WA_DeleteOnClose does: the C++ object goes, the Python wrapper stays."""
    widget.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(widget)


@pytest.fixture
def pool():
    pool = QThreadPool()
    yield pool
    assert pool.waitForDone(10_000)


def test_delivers_result_and_progress_on_the_gui_thread(qtbot, pool) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    seen: list[tuple[str, object, bool]] = []
    gui = QThread.currentThread()

    def work(ctx: TaskContext) -> int:
        ctx.progress(1, force=True)
        return 42

    task = Task(work, owner=owner, name="answer")
    task.signals.progress.connect(lambda v: seen.append(("progress", v, QThread.currentThread() is gui)))
    task.signals.succeeded.connect(lambda v: seen.append(("succeeded", v, QThread.currentThread() is gui)))
    task.signals.finished.connect(lambda: seen.append(("finished", None, QThread.currentThread() is gui)))
    task.start(pool)
    qtbot.waitUntil(lambda: task.delivered, timeout=10_000)
    assert seen == [("progress", 1, True), ("succeeded", 42, True), ("finished", None, True)]
    assert not task.is_cancelled  # a task that ended keeps its flag down, even when its owner goes later
    _delete_now(owner)
    assert not task.is_cancelled


def test_a_task_is_pending_until_its_answer_was_handled(qtbot, pool) -> None:
    """Views answer "busy" from `pending`: the function returns (and `done` is set) on the pool
    thread before the answer reaches the GUI thread, and a view that said "not busy" in between still
    showed the previous answer (a setup form's memory estimate read before it was replaced)."""
    owner = QWidget()
    qtbot.addWidget(owner)
    shown: list[int] = []
    assert not pending(None)
    task = Task(lambda _ctx: 7, owner=owner, name="answer")
    task.signals.succeeded.connect(shown.append)
    task.start(pool)
    assert task.done.wait(10)  # waits without running the event loop: the answer is queued
    assert pending(task) and shown == []
    qtbot.waitUntil(lambda: not pending(task), timeout=10_000)
    assert shown == [7]


def test_delivers_failures_with_one_line(qtbot, pool) -> None:
    owner = QWidget()
    qtbot.addWidget(owner)
    failures: list[str] = []

    def work(_ctx: TaskContext) -> None:
        raise FileNotFoundError(2, "No such file or directory", "/nowhere/data.jsonl")

    task = Task(work, owner=owner, name="fails")
    task.signals.failed.connect(lambda message, _exc: failures.append(message))
    task.start(pool)
    qtbot.waitUntil(lambda: task.delivered, timeout=10_000)
    assert failures == ["No such file or directory: /nowhere/data.jsonl"]


@pytest.mark.parametrize("outcome", ["succeeded", "failed"])
def test_owner_deleted_while_running_gets_nothing_and_cancels_the_task(qtbot, pool, outcome) -> None:
    owner = QWidget()
    label = QLabel("waiting", owner)
    gate, reported = threading.Event(), threading.Event()
    seen: list[object] = []

    def work(ctx: TaskContext) -> str:
        ctx.progress("half", force=True)  # queued to the GUI thread before the owner goes
        reported.set()
        gate.wait(10)
        if outcome == "failed":
            raise ValueError("unreadable")
        return "read"

    task = Task(work, owner=owner, name="held")
    # What the views do: a lambda touching a child widget (it raises once the widget is deleted).
    task.signals.progress.connect(lambda v: (label.setText(str(v)), seen.append(v)))
    task.signals.succeeded.connect(lambda v: (label.setText(v), seen.append(v)))
    task.signals.failed.connect(lambda message, _exc: (label.setText(message), seen.append(message)))
    task.signals.finished.connect(lambda: seen.append("finished"))
    task.start(pool)
    assert reported.wait(10)  # waits without running the event loop: the progress is queued, not delivered
    assert not task.is_cancelled
    _delete_now(owner)
    assert task.is_cancelled  # a long read checking ctx.cancel stops early
    gate.set()
    qtbot.waitUntil(lambda: task.delivered, timeout=10_000)  # released even though nobody received it
    QCoreApplication.processEvents()
    assert seen == []


def test_task_set_forgets_a_task_whose_owner_went(qtbot, pool) -> None:
    owner = QWidget()
    gate = threading.Event()
    tasks = TaskSet()
    task = tasks.start(Task(lambda _ctx: gate.wait(10), owner=owner, name="held"), pool)
    assert tasks.running == [task]
    _delete_now(owner)
    gate.set()
    assert tasks.cancel_all(10.0)
    qtbot.waitUntil(lambda: not tasks.running, timeout=10_000)


def test_finished_task_leaves_no_child_on_its_owner(qtbot, pool) -> None:
    """A long-lived owner (the store poller starts a task every second) does not collect one
    receiver per task."""
    owner = QObject()
    before = len(owner.children())
    tasks = [Task(lambda _ctx: None, owner=owner, name=f"t{i}").start(pool) for i in range(5)]
    qtbot.waitUntil(lambda: all(t.delivered for t in tasks), timeout=10_000)
    assert len(owner.children()) == before


def _task_reading_its_view(pool: QThreadPool) -> tuple[Task, weakref.ref[QWidget]]:
    view = QWidget()
    task = Task(lambda _ctx: view.objectName(), owner=view, name="reads its view")  # captures the view
    return task.start(pool), weakref.ref(view)


def test_a_finished_task_lets_go_of_what_its_function_captured(qtbot, pool) -> None:
    """A view its task's function captured, as the dataset preview's and the memory panel's do, is
    freed once the task is over, even while the view's code still holds the Task (this failed when
    every started Task was kept for good and the release did not drop fn)."""
    task, view = _task_reading_its_view(pool)
    qtbot.waitUntil(lambda: task.delivered, timeout=10_000)
    gc.collect()
    assert view() is None
    assert task.fn is None


def test_finished_tasks_are_freed(qtbot, pool) -> None:
    """The tasks themselves go once delivered and dropped by their starter. QThreadPool.start(task)
    handed each Task's Python object to C++ for good: 200 of 200 stayed alive here, about 10 KB each,
    and the store poller starts four a second (an app left open grew by ~170 MB an hour)."""
    owner = QObject()
    tasks = [weakref.ref(Task(lambda _ctx: 1, owner=owner, name=f"t{i}").start(pool)) for i in range(50)]
    qtbot.waitUntil(lambda: all((task := t()) is None or task.delivered for t in tasks), timeout=10_000)
    qtbot.waitUntil(lambda: (gc.collect(), sum(t() is not None for t in tasks))[1] == 0, timeout=10_000)


DRIVER = Path(__file__).with_name("task_owner_driver.py")


@pytest.mark.parametrize("scenario", ["held-by-slot", "freed"])
def test_an_owner_python_frees_while_its_task_runs(scenario) -> None:
    """A parentless dialog that only its task's lambda held was freed by the release that dropped the
    lambda, and took the task's signals (then its Qt child) with it in the middle of the disconnect:
    a segfault (returncode -11 before the fix; the move-home dialog's tests crashed 5 runs in 8). In a
    process of its own so that a crash fails this test; what each scenario expects is in the driver."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-X", "faulthandler", str(DRIVER), scenario], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"returncode {done.returncode}\n{done.stdout}\n{done.stderr[-3000:]}"


def test_a_view_closed_while_its_read_runs_drops_the_answer(store, ctx, qtbot, monkeypatch) -> None:
    """A real view: the leaderboard starts its store read when built; closed (deleted) before the
    pool answers, the answer that arrives afterwards touches none of its deleted widgets."""
    from app.views import leaderboard_view
    from app.views.leaderboard_view import LeaderboardView

    gate = threading.Event()
    entered = threading.Event()
    real = leaderboard_view.metric_keys

    def held_metric_keys(*args, **kwargs):
        entered.set()
        gate.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(leaderboard_view, "metric_keys", held_metric_keys)
    view = LeaderboardView(store, ctx)
    view.show()
    task = view._task
    assert task is not None and entered.wait(10)
    _delete_now(view)
    gate.set()
    qtbot.waitUntil(lambda: task.delivered, timeout=10_000)
    QCoreApplication.processEvents()
    assert not ctx.tasks.running


def test_a_task_started_off_the_gui_thread_answers_on_it_and_is_freed(qtbot, pool) -> None:
    """Its deliveries and release are queued to the thread its QObjects live in: made on a plain
    thread (no event loop) the task never answered and stayed held for good."""
    answers: list[tuple[object, bool]] = []
    owner = QObject()
    made: list[weakref.ref[Task]] = []

    def start_elsewhere() -> None:
        task = Task(lambda _ctx: 7, owner=owner, name="off-thread")
        task.signals.succeeded.connect(lambda value: answers.append((value, QThread.currentThread() == app_thread)))
        made.append(weakref.ref(task.start(pool)))

    app_thread = QCoreApplication.instance().thread()
    thread = threading.Thread(target=start_elsewhere)
    thread.start()
    thread.join(10)
    qtbot.waitUntil(lambda: answers == [(7, True)], timeout=10_000)
    qtbot.waitUntil(lambda: (gc.collect(), made[0]() is None)[1], timeout=10_000)
