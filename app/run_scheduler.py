"""The GUI's share of the run lifecycle: schedule queued runs on a timer, reconcile at start.

One `RunScheduler` per app context (`RunScheduler.of(ctx)`). Every tick runs
`spark_trainer.jobs.scheduler.schedule_once` (which reconciles first) on a pool thread, then reads
the runs and emits `runs_updated`. It notices runs that finished since the last tick (a desktop
notification) and keeps the system awake while runs are active, where the platform allows it.
Closing the app stops the timer only: workers are separate processes and keep training.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from app.context import AppContext
from app.workers import Task, TaskContext
from spark_trainer.desktop import SleepInhibitor
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus, utcnow

TICK_MS = 1500
KEY_METRICS = ("loss", "eval_loss")  # shown per run in the Runs table
_NOTIFY = {RunStatus.COMPLETED: "completed", RunStatus.FAILED: "failed", RunStatus.INTERRUPTED: "was interrupted"}


class RunScheduler(QObject):
    runs_updated = Signal(list)  # list[Run], newest first; `last_metrics` is read in the same tick
    interrupted_found = Signal(list)  # list[Run] found interrupted at start (offer to resume)
    run_finished = Signal(object, str)  # Run, "completed" | "failed" | ...

    def __init__(self, ctx: AppContext, *, interval_ms: int = TICK_MS, start: bool = True) -> None:
        super().__init__(ctx)
        self.ctx = ctx
        self.store = ctx.store
        self.inhibitor = SleepInhibitor()
        self.runs: list[Run] = []
        self.last_metrics: dict[int, dict[str, float]] = {}
        self.interrupted_at_start: list[Run] = []
        self._last_status: dict[int, RunStatus] | None = None
        self._task: Task | None = None
        self._first = True
        self._count = 0
        self._since: datetime | None = None  # read only runs written since then (all on the first tick)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)
        self.tray: QSystemTrayIcon | None = None
        if start:
            self.start()

    @classmethod
    def of(cls, ctx: AppContext) -> RunScheduler:
        """The context's scheduler, created (and started) on first use."""
        existing = getattr(ctx, "_run_scheduler", None)
        if existing is None:
            existing = cls(ctx)
            ctx._run_scheduler = existing  # type: ignore[attr-defined]
            ctx.destroyed.connect(existing.inhibitor.release)
        return existing

    def start(self) -> None:
        self.timer.start()
        self.tick()

    def stop(self) -> None:
        self.timer.stop()
        if self._task is not None:
            self._task.done.wait(10.0)
        self.inhibitor.release()

    def tick(self) -> None:
        """Schedule and read runs off the GUI thread (one tick at a time)."""
        if self._task is not None and not self._task.done.is_set():
            return
        first = self._first
        self._first = False

        since = self._since

        def work(_ctx: TaskContext) -> tuple[list[Run], set[int], list[int], dict[int, dict[str, float]], datetime]:
            from spark_trainer.jobs.scheduler import schedule_once
            from spark_trainer.leaderboard import last_values

            # A little overlap: a write committed just before `since` with an older timestamp is not missed.
            now = utcnow() - timedelta(seconds=2)
            started = schedule_once(self.store)  # reconciles first
            changed, ids = runs.changed_since(self.store, since)
            return changed, ids, started, last_values(self.store, [r.id for r in changed], KEY_METRICS), now

        task = Task(work, name="run-scheduler")
        task.signals.succeeded.connect(lambda result: self._on_tick(result, first))
        task.signals.failed.connect(lambda message, _exc: self.ctx.status_message.emit(f"Scheduler: {message}"))
        self._task = task
        self.ctx.tasks.start(task, self.ctx.pool)

    def _on_tick(self, result: tuple[list[Run], set[int], list[int], dict[int, dict[str, float]], datetime],
                 first: bool) -> None:
        changed, ids, started, metrics, self._since = result
        known = {r.id: r for r in self.runs if r.id in ids}
        known.update((r.id, r) for r in changed)
        self.last_metrics = {k: v for k, v in self.last_metrics.items() if k in ids}
        self.last_metrics.update(metrics)
        all_runs = sorted(known.values(), key=lambda r: r.id, reverse=True)
        self.runs = all_runs
        statuses = {r.id: r.status for r in all_runs}
        if self._last_status is not None:
            for run in all_runs:
                before = self._last_status.get(run.id)
                if before is not None and before != run.status and run.status in _NOTIFY:
                    self._notify(run, _NOTIFY[run.status])
        self._last_status = statuses
        if first:
            interrupted = [r for r in all_runs if r.status == RunStatus.INTERRUPTED]
            self.interrupted_at_start = interrupted
            if interrupted:
                self.interrupted_found.emit(interrupted)
        active = any(r.status.is_active for r in all_runs)
        if active and not self.inhibitor.held:
            self.inhibitor.hold()
            self.ctx.status_message.emit(f"Runs are active: {self.inhibitor.status}")
        elif not active and self.inhibitor.held:
            self.inhibitor.release()
        if started:
            self.ctx.status_message.emit(f"Started run{'s' if len(started) > 1 else ''} "
                                         f"{', '.join(map(str, started))}")
        if changed or first or len(ids) != self._count:  # an idle tick redraws nothing
            self.runs_updated.emit(all_runs)
        self._count = len(ids)

    def _notify(self, run: Run, what: str) -> None:
        text = f"Run {run.id} ({run.experiment}) {what}"
        self.run_finished.emit(run, what)
        self.ctx.status_message.emit(text)
        if QSystemTrayIcon.isSystemTrayAvailable() and QApplication.instance() is not None:
            if self.tray is None:
                self.tray = QSystemTrayIcon(QApplication.windowIcon(), self)
                self.tray.show()
            icon = QSystemTrayIcon.MessageIcon.Information if what == "completed" else QSystemTrayIcon.MessageIcon.Warning
            self.tray.showMessage("SparkTrainer", text, icon, 8000)
