"""A Task whose owner Python frees while the task runs, in a process of its own, so that a segfault
fails the test that runs it (tests/app/test_workers.py) instead of ending pytest.

    python -X faulthandler tests/app/task_owner_driver.py SCENARIO

SCENARIO is one of:
  held-by-slot  the owner (a parentless dialog) is held only by a lambda connected to its task, as
                the move-home dialog's `failed` slot holds it; the caller drops it while the task runs.
                The answer reaches it, and dropping that lambda when the task ends frees it.
  freed         nothing of the task holds the owner (bound methods, a lambda on a child widget):
                `del` + gc.collect() free it while the task runs. The task is cancelled and no slot runs.

Prints what it saw as one line and exits 0 when it is what the scenario expects, 1 otherwise.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import weakref
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QCoreApplication, QThreadPool  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog, QLabel  # noqa: E402

from app.workers import Task, TaskContext, TaskSet  # noqa: E402


class Owner(QDialog):
    """Parentless, like a dialog a test builds and drops; shows the task's outcome on a child label."""

    def __init__(self, seen: list[str]) -> None:
        super().__init__()
        self.seen = seen
        self.label = QLabel("waiting", self)
        self.task: Task | None = None

    def progressed(self, value: object) -> None:
        self.label.setText(str(value))
        self.seen.append(f"progress {value}")

    def succeeded(self, value: object) -> None:
        self.label.setText(str(value))
        self.seen.append(f"succeeded {value}")

    def failed(self, message: str) -> None:
        self.label.setText(message)
        self.seen.append(f"failed {message}")


def start(scenario: str, tasks: TaskSet, pool: QThreadPool, gate: threading.Event,
          seen: list[str]) -> tuple[Task, weakref.ref[Owner]]:
    """Build the owner and its task; only the task (and what its slots hold) keeps the owner on return."""
    owner = Owner(seen)

    def work(ctx: TaskContext) -> str:
        ctx.progress("half", force=True)
        gate.wait(10)
        return "read"

    task = Task(work, owner=owner, name=scenario)
    task.signals.progress.connect(owner.progressed)
    task.signals.succeeded.connect(owner.succeeded)
    if scenario == "held-by-slot":
        task.signals.failed.connect(lambda message, _exc: owner.failed(message))  # holds the owner
    else:
        label = owner.label  # what the views do: a lambda on a child widget, deleted with the owner
        task.signals.succeeded.connect(lambda value: (label.setText(str(value)), seen.append("label")))
    task.signals.finished.connect(lambda: seen.append("finished"))
    owner.task = tasks.start(task, pool)  # the owner keeps its task, as the views do
    return task, weakref.ref(owner)


def main(scenario: str) -> int:
    app = QApplication([])
    errors: list[str] = []
    sys.excepthook = lambda kind, exc, _tb: errors.append(f"{kind.__name__}: {exc}")  # a slot that raised
    pool, tasks, gate, seen = QThreadPool(), TaskSet(), threading.Event(), []
    task, owner = start(scenario, tasks, pool, gate, seen)
    gc.collect()
    freed_while_running = owner() is None
    gate.set()
    if not (task.done.wait(10) and pool.waitForDone(10_000)):
        print("the task did not end")
        return 1
    # Every emission is queued now, the release last; the owner (if alive) is held only by a slot.
    while not task.delivered:
        QCoreApplication.processEvents()
    QCoreApplication.processEvents()
    gc.collect()
    saw = {"freed while running": freed_while_running, "cancelled": task.is_cancelled, "seen": seen,
           "freed after": owner() is None, "errors": errors}
    print(saw, flush=True)
    if scenario == "held-by-slot":
        expected = {"freed while running": False, "cancelled": False,
                    "seen": ["progress half", "succeeded read", "finished"], "freed after": True, "errors": []}
    else:
        expected = {"freed while running": True, "cancelled": True, "seen": [], "freed after": True, "errors": []}
    del app
    return 0 if saw == expected else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
