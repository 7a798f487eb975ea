"""The Runs list's queue hold: a Hold queue / Release queue button and, while the queue is held, a line
saying so above the runs (`spark_trainer.store.queue_hold`, the CLI's `queue hold` / `queue release`).

The state shown is the app model's (`RunsModel.held_since`, read by the store poller at every tick), so
a hold made or released in a terminal shows here within a tick. The button writes on the pool; a release
asks the app's scheduler for a pass at once, so what fits starts now rather than at its next pass.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QPushButton

from app.forms.cells import keep_room
from app.line_banner import LineBanner
from app.workers import Task, pending
from spark_trainer.store.entities import local_time, utcnow

if TYPE_CHECKING:
    from app.context import AppContext
    from spark_trainer.store.store import Store

HOLD_TIP = ("Let no queued run start until you release the queue; running runs go on. Queue runs in the order "
            "you choose meanwhile (right-click a queued run ▸ Priority…). As `spark-trainer queue hold`.")
RELEASE_TIP = "Let queued runs start again: what fits starts now, the rest as runs end. As `spark-trainer queue release`."
# The status bar's "(queue held)", seen from every view.
HELD_TIP = ("The queue is held: queued runs wait until you release it (Runs ▸ Release queue, or "
            "`spark-trainer queue release`); running runs go on.")
RELEASED_SAID = "Queue released: queued runs start as they fit."  # the banner, on releasing
HELD_SAID = "Queue held. Order the queued runs meanwhile: right-click a run ▸ Priority…"  # the banner, on holding


def held_text(since: datetime, now: datetime | None = None) -> str:
    """The line shown while the queue is held, its time (stored UTC) on this computer's clock, as every
    time the app shows; the date only when it is not today's."""
    since, now = local_time(since), local_time(now or utcnow())
    when = f"{since:%H:%M}" if since.date() == now.date() else f"{since:%Y-%m-%d %H:%M}"
    return f"Queue held since {when}: queued runs wait until you release it; running runs go on."


class QueueHoldBar(QObject):
    """`button` (for the view's toolbar) and `line` (a one-line warning above the list, shown only while
    held). Emits `said(text, role)` for the view's message banner: what a release did, or why a write failed."""

    said = Signal(str, str)
    unsaid = Signal(str)  # a line `said` earlier that the hold, changed since (a terminal's too), makes untrue

    def __init__(self, store: Store, ctx: AppContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.model = ctx.model.runs
        self.task: Task | None = None
        self.button = QPushButton("Hold queue")
        self.button.clicked.connect(self.toggle)
        self.line = LineBanner()
        keep_room(self.line, False)  # a state, not a passing message: the list has the room back once released
        self.model.queue_hold_changed.connect(self.show_hold)
        self.show_hold(self.model.held_since)

    @property
    def held(self) -> bool:
        return self.model.held_since is not None

    @property
    def busy(self) -> bool:
        return pending(self.task)

    def show_hold(self, since: datetime | None) -> None:
        self.unsaid.emit(RELEASED_SAID if since is not None else HELD_SAID)
        self.button.setText("Release queue" if since is not None else "Hold queue")
        self.button.setToolTip(RELEASE_TIP if since is not None else HOLD_TIP)
        if since is None:
            self.line.clear_message()
        else:
            self.line.show_message(held_text(since), "warning")

    def toggle(self) -> Task | None:
        """Hold the queue, or release it, as the button says."""
        return self.release() if self.held else self.hold()

    def hold(self) -> Task | None:
        if self.busy:
            return None
        store = self.store

        def work(_ctx: Any) -> datetime | None:
            from spark_trainer.store import queue_hold

            queue_hold.hold(store)  # held already (by a terminal, say): its time is kept
            return queue_hold.held_since(store)

        return self._start(work, "queue-hold", self._held)

    def release(self) -> Task | None:
        if self.busy:
            return None
        store = self.store

        def work(_ctx: Any) -> bool:
            from spark_trainer.store import queue_hold

            return queue_hold.release(store)

        return self._start(work, "queue-release", self._released)

    def _start(self, work: Any, name: str, done: Any) -> Task:
        self.button.setEnabled(False)  # one write at a time: a double-click must not hold and release
        task = Task(work, owner=self, name=name)
        task.signals.succeeded.connect(done)
        task.signals.failed.connect(lambda message, _exc: self.said.emit(f"Queue hold: {message}", "error"))
        task.signals.finished.connect(lambda: self.button.setEnabled(True))
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _held(self, since: datetime | None) -> None:
        self.model.apply_hold(since)
        self.said.emit(HELD_SAID, "ok")  # as a release says "Queue released: ...": the click did something
        self.ctx.model.refresh()  # the queued runs' reasons: "queue is held"

    def _released(self, _changed: bool) -> None:
        self.model.apply_hold(None)
        self.said.emit(RELEASED_SAID, "ok")
        self.ctx.scheduler.tick()  # a scheduler pass now, with the runs read after it, not at the next pass
