"""One run: live charts, the log tail, samples, checkpoints, and the actions a run allows.

Everything shown comes from the app model (no timer, no store read on the GUI thread): the run's
state from `run_changed`, its log from `log_appended`, its curves from a `MetricFeed` (rows after
the last id seen), so a run started anywhere — this app, `spark-trainer train` in a terminal, a
script — shows live, and a run opened after the app restarted shows its whole curve. Checkpoints,
samples, reports and events are read on the pool when the run opens and when its status changes
(`run_detail_reads.read_static`) and shown by `run_record_tabs`. Actions (cancel, pause, delete...) run on the pool.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.charts.feed import MetricFeed
from app.charts.panel import ChartPanel
from app.context import AppContext
from app.flow_layout import FlowLayout
from app.line_banner import LineBanner
from app.views.eval_report_panel import EvalReportPanel
from app.views.priority_dialog import RunPriority, queue_places
from app.views.run_actions import RUN_ERROR, can, page_banner_outdated
from app.views.run_deletes import ON_ITS_PAGE, RunDeletes
from app.views.run_detail_reads import RunStatic, read_static
from app.views.run_exports import RunExportsWidget
from app.views.run_record_tabs import CheckpointsTable, SamplesPanel, events_text
from app.views.runs_columns import badge_colour, page_reason, page_state_line
from app.views.sweep_filter import swept_cell, swept_tip
from app.widgets import ElidedLabel
from app.workers import Task, pending
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

LOG_MAX_LINES = 2000
NO_WEIGHTS = "This run saved no checkpoint and no final model: there is nothing to export or evaluate"


class RunDetailView(QWidget):
    """Shows one run (set with `show_run`). Emits `back` and `clone_requested(config)`."""

    back = Signal()
    clone_requested = Signal(dict)
    playground_requested = Signal(int, object)  # run id, checkpoint step as text (None: the last weights)
    deleted = Signal(int)

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.model = ctx.model.runs
        self.run: Run | None = None
        self.run_id: int | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.back_button = QPushButton("← All runs")
        self.back_button.clicked.connect(self.back.emit)
        self.heading = ElidedLabel("")  # an experiment name and 5 swept settings may pass a 1024 px window
        self.heading.setObjectName("ViewTitle")
        self.badge = QLabel("")
        self.badge.setObjectName("StatusBadge")
        top.addWidget(self.back_button)
        top.addWidget(self.heading)
        top.addWidget(self.badge)
        self.banner = LineBanner()  # in the title row: see LineBanner
        top.addWidget(self.banner, 1)
        layout.addLayout(top)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("step %v of %m")
        self.progress.setMinimumWidth(200)
        # A queued run's place and why it waits ("... queue is held (it starts once ...)"): shortened with "…"
        # in a narrow window (whole in its tooltip) rather than squeezing the bar to nothing.
        self.eta = ElidedLabel("")
        self.priority_button = QPushButton("Priority…")  # beside the run's priority, while it is queued
        self.priority_button.setToolTip("Change where this queued run stands in the queue (higher starts first)")
        self.priority_button.clicked.connect(lambda: self.priority.ask(self.run) if self.run is not None else None)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.eta)
        progress_row.addWidget(self.priority_button)
        layout.addLayout(progress_row)
        layout.addWidget(self._build_actions())
        self.deletes = RunDeletes(self, store, ctx, ON_ITS_PAGE)  # the Runs list's flow: says what goes, keeps folders if asked
        self.deletes.deleted.connect(lambda _text: self._deleted(self.run_id) if self.run_id is not None else None)
        self.deletes.refused.connect(lambda text: self.banner.show_message(text, "error"))
        self.priority = RunPriority(self, store, ctx)  # the Runs list's Priority… dialog
        self.priority.said.connect(lambda text, role: self.banner.show_message(text, role))
        self.tabs = QTabWidget()
        self.charts = ChartPanel()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.samples = SamplesPanel()
        self.checkpoints = CheckpointsTable()
        self.checkpoints.cellDoubleClicked.connect(lambda _r, _c: self._open_playground())
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(self.samples, "Samples")
        self.tabs.addTab(self.checkpoints, "Checkpoints")
        self.eval_report = EvalReportPanel()
        self.tabs.addTab(self.eval_report, "Evaluation")
        self.tabs.addTab(self.events, "Events")
        self.exports_tab = RunExportsWidget(store, ctx)
        self.tabs.addTab(self.exports_tab, "Exports and evaluations")
        layout.addWidget(self.tabs, 1)
        self.feed = MetricFeed(self.model, parent=self)
        self.feed.points.connect(self.charts.add_batch)
        self.charts.evaluated.connect(self._load_static)  # `spark-trainer eval` results: drawn from the evaluations
        ctx.model.poller.polled.connect(self._say_ended)
        self.model.run_changed.connect(self._on_run_changed)
        self.model.run_removed.connect(self._on_run_removed)
        self.model.runs_updated.connect(self._queue_moved)
        ctx.model.queue_end.changed.connect(self._queue_moved)  # a queued run's estimated start
        self.model.log_appended.connect(self._on_log)
        self._task: Task | None = None
        self._static_task: Task | None = None
        self._export_tip: str | None = None  # the exports tab's own tooltip for Export…
        self._following = False

    def _build_actions(self) -> QWidget:
        """The run's actions, wrapping onto a second line in a narrow window instead of squeezing
        their labels ("in Playgrou")."""
        actions = QWidget()
        row = FlowLayout(actions)
        self.cancel_button = QPushButton("Cancel")
        self.pause_button = QPushButton("Pause")
        self.resume_button = QPushButton("Resume")
        self.extend_steps = QSpinBox()
        self.extend_steps.setRange(1, 10_000_000)
        self.extend_steps.setValue(100)
        self.extend_steps.setSuffix(" steps")
        self.extend_button = QPushButton("Extend by")
        self.extend_button.setToolTip("Continue this completed run from its last checkpoint, with the learning "
                                      "rate re-warmed and decayed again over the new steps")
        self.playground_button = QPushButton("Try in Playground")
        self.playground_button.setToolTip("Prompt the model this run trained (the checkpoint selected in the "
                                          "Checkpoints tab, else the last one), side by side with its base model")
        self.clone_button = QPushButton("Clone into new experiment")
        self.delete_button = QPushButton("Delete")
        self.export_button = QPushButton("Export…")
        self.evaluate_button = QPushButton("Evaluate…")
        self.export_button.clicked.connect(lambda: self.exports_tab.open_export())
        self.evaluate_button.clicked.connect(lambda: self.exports_tab.open_evaluate())
        extend = QWidget()  # the button and its step count wrap together
        extend_row = QHBoxLayout(extend)
        extend_row.setContentsMargins(0, 0, 0, 0)
        extend_row.addWidget(self.extend_button)
        extend_row.addWidget(self.extend_steps)
        for widget in (self.cancel_button, self.pause_button, self.resume_button, extend, self.playground_button,
                       self.clone_button, self.export_button, self.evaluate_button, self.delete_button):
            row.addWidget(widget)
        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.pause_button.clicked.connect(lambda: self._act("pause"))
        self.resume_button.clicked.connect(lambda: self._act("resume"))
        self.extend_button.clicked.connect(lambda: self._act("extend"))
        self.playground_button.clicked.connect(self._open_playground)
        self.clone_button.clicked.connect(self._clone)
        self.delete_button.clicked.connect(self._delete)
        return actions

    # --- showing a run -------------------------------------------------------------------------
    def show_run(self, run_id: int) -> None:
        """Show a run: at once if the model knows it, else as soon as the poller has read it."""
        self.stop()
        self.run_id, self.run = int(run_id), None
        self.charts.clear()
        self.log.clear()
        self.banner.clear_message()
        self.heading.setText(f"Run {run_id}")
        self.feed.watch([self.run_id])
        self.feed.start()
        self._following = True
        run = self.model.get(self.run_id)
        if run is not None:
            self._on_run_changed(run)
        else:
            self.ctx.model.refresh()

    def stop(self) -> None:
        self.feed.stop()
        if self.run_id is not None:
            self.model.unfollow_log(self.run_id)
        self._following = False

    def _on_run_changed(self, run: Run) -> None:
        if run.id != self.run_id or not self._following:
            return
        first = self.run is None
        changed = first or run.status != self.run.status
        self.run = run
        if first:
            self.model.follow_log(run.id, str(Path(run.run_dir) / "worker.log"))
            self.charts.expect_recipe(run.recipe)
        if changed:  # a run shown while queued learns its GPUs (or the CPU) when it starts
            self.charts.charts["memory"].set_empty_text(
                "No GPU memory reported yet" if run.gpus else
                "No points yet" if run.status == RunStatus.QUEUED else
                "No GPU memory to show: this run " + ("trains" if run.status.is_active else "trained") + " on the CPU")
            self._say_ended()
        self._show_state(run)
        if changed:
            self._load_static()

    def _queue_moved(self, _runs: object) -> None:
        """A queued run's place in the queue moves with the other runs' (their priority, a run queued), and
        its estimated start with the queue's estimate."""
        if self.run is not None and self._following and self.run.status == RunStatus.QUEUED:
            self._show_state(self.run)

    def _say_ended(self, _polled: object = None) -> None:
        """The empty charts of an ended run say none will come, once its points are read (at each poll
        until then): a completed run's charts said "the run ended without logging any" while its points
        were still being read."""
        if self.run is not None and self._following:
            self.charts.run_ended(self.run.status.is_finished and not self.feed.busy)

    def _on_run_removed(self, run_id: int) -> None:
        if run_id == self.run_id and self._following:
            self.stop()
            # Deleted by another process (`run delete`, another window): no action may act on the ghost.
            self.run = None
            self._set_actions_enabled(False, all_of_them=True)
            here = self.ctx.deleted_here.get(run_id)
            self.banner.show_message(f"Run {run_id} no longer exists: it was deleted {here}." if here else
                                     f"Run {run_id} no longer exists (deleted by another window or command)", "error")
            self.exports_tab.run_gone(self.banner.text())  # their records went with it
            self.badge.setText("deleted")  # not the status it last had, beside "no longer exists"
            self.eta.clear()  # its devices ("asked auto") and queue place: none of it holds now
            self.badge.setStyleSheet("padding: 2px 8px; border-radius: 8px; background: #6e7681; color: white;")

    def _on_log(self, run_id: int, text: str, reset: bool) -> None:
        if run_id != self.run_id:
            return
        if reset:
            self.log.clear()
        self.log.appendPlainText(text.rstrip("\n"))

    def _show_state(self, run: Run) -> None:
        # A sweep's runs share one experiment: the run's own values say which run this is.
        swept = f" · {swept_cell(run)}" if run.sweep else ""
        self.heading.setText(f"Run {run.id} · {run.experiment}{swept}")
        self.heading.setToolTip(swept_tip(run) or "")
        self.badge.setText(run.status.value)
        self.badge.setProperty("status", run.status.value)
        self.badge.setStyleSheet(f"padding: 2px 8px; border-radius: 8px; background: {badge_colour(run.status)};"
                                 " color: white;")
        total = run.total_steps or max(run.step, 1)
        self.progress.setMaximum(total)
        self.progress.setValue(min(run.step, total))
        queued = run.status == RunStatus.QUEUED  # devices: the Runs list's word ("cpu" queued, "CPU" started)
        start = self.ctx.model.queue_end.start_text(run.id) if queued else None
        waiting = self.model.waiting.get(run.id) if queued else None
        self.eta.setText(page_state_line(run, [queue_places(self.model.all_runs()).get(run.id), start and f"starts {start}",
                                               waiting and page_reason(waiting)] if queued else []))
        self.eta.setToolTip(waiting or "")
        status = run.status
        self.priority_button.setVisible(queued)
        self.cancel_button.setEnabled(can("cancel", status))
        self.pause_button.setEnabled(can("pause", status))
        self.resume_button.setEnabled(can("resume", status))
        self.extend_button.setEnabled(status == RunStatus.COMPLETED)
        self.extend_steps.setEnabled(status == RunStatus.COMPLETED)
        self.delete_button.setEnabled(not status.is_active)
        self.clone_button.setEnabled(True)
        if run.error and status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            self.banner.show_message(run.error.splitlines()[0], "error", about=RUN_ERROR)
        elif page_banner_outdated(self.banner, run):
            self.banner.clear_message()

    def _load_static(self) -> Task | None:
        """Checkpoints, samples, reports and events (they change only at checkpoints and status
        changes): read on the pool, shown when read."""
        if self.run is None:
            return None
        run, store = self.run, self.store
        task = Task(lambda _ctx: read_static(store, run), owner=self, name="run-static")
        task.signals.succeeded.connect(self._show_static)
        self._static_task = task
        return self.ctx.tasks.start(task, self.ctx.pool)

    def _show_static(self, static: RunStatic) -> None:
        if self.run is None or static.run_id != self.run.id:
            return  # another run is shown by now
        self.checkpoints.show_rows(static.checkpoints)
        self.playground_button.setEnabled(static.has_weights)
        self.samples.show_samples(static.samples)
        self.eval_report.show_report(static.report)
        self.exports_tab.show_run(self.run, (static.exports, static.evaluations, static.data_names))
        self.charts.show_evaluations(static.evaluations, static.data_names)
        self._offer_weights(static.has_weights)
        self.events.setPlainText(events_text(static.events))

    def _offer_weights(self, has_weights: bool) -> None:
        """Export… and Evaluate… (here and in their tab) only for a run with weights: a failed run with
        no checkpoint offered both, and the export dialog listed 'last' and 'best', then failed. The
        weights are read with the run's static parts, again at each status change (a run ending, or
        paused, has its checkpoints by then), so they are offered once the run has some."""
        tab = self.exports_tab
        if self._export_tip is None:
            self._export_tip = tab.export_button.toolTip()  # what the tab says of a run with weights
        tab.export_button.setToolTip(self._export_tip)
        for inner, outer in ((tab.export_button, self.export_button), (tab.evaluate_button, self.evaluate_button)):
            if not has_weights and inner.isEnabled():
                inner.setEnabled(False)
                inner.setToolTip(NO_WEIGHTS)
            outer.setEnabled(inner.isEnabled())
            outer.setToolTip(inner.toolTip())

    # --- actions -------------------------------------------------------------------------------
    def _act(self, action: str) -> None:
        if self.run is None:
            return
        run_id, steps = self.run.id, self.extend_steps.value()

        def work(_ctx: Any) -> tuple[Run, str | None]:
            from spark_trainer.jobs import control, extend

            if action == "extend":
                return extend.extend(self.store, run_id, steps), None
            return control.acted(self.store, run_id, action)

        self.banner.show_message(f"{action.capitalize()} requested…", "info")
        # A second click (a double-click, an impatient user) must not send the request again: the
        # second resume of a run the first just queued failed with "only a paused ... run can be resumed".
        self._set_actions_enabled(False)
        self._task = self._start(work, f"run-{action}", lambda result: self._acted(action, *result))

    def _start(self, work: Callable[[Any], Any], name: str, done: Callable[[Any], None]) -> Task:
        """`work` on the pool, then `done(result)`; a failure is said in the banner."""
        task = Task(work, owner=self, name=name)
        task.signals.succeeded.connect(done)
        task.signals.failed.connect(lambda message, _exc: self._act_failed(message))
        return self.ctx.tasks.start(task, self.ctx.pool)

    def _act_failed(self, message: str) -> None:
        self.banner.show_message(message, "error")
        if self.run is not None:
            self._show_state(self.run)

    def _set_actions_enabled(self, enabled: bool, *, all_of_them: bool = False) -> None:
        """The buttons that change the run's status (`_show_state` sets them again), or with
        `all_of_them` every action (a run that is gone)."""
        buttons = [self.cancel_button, self.pause_button, self.resume_button, self.extend_button, self.extend_steps,
                   self.delete_button]
        if all_of_them:
            buttons += [self.playground_button, self.clone_button, self.export_button, self.evaluate_button]
        for button in buttons:
            button.setEnabled(enabled)

    def _acted(self, action: str, run: Run, said: str | None = None) -> None:
        # `said`: a worker that died before its checkpoint was saved; where a resume starts.
        self.banner.show_message(f"Run {run.id} is now {run.status.value}" + (f": {said}" if said else ""),
                                 "warning" if said else "ok")
        self.model.apply_written(run)
        self.ctx.scheduler.tick()

    def _open_playground(self) -> None:
        if self.run is None or not self.playground_button.isEnabled():
            return
        self.playground_requested.emit(self.run.id, self.checkpoints.selected_step())

    def _clone(self) -> None:
        if self.run is not None:
            from spark_trainer.jobs.clone import clone_config  # what `spark-trainer run config` writes

            run, store = self.run, self.store
            self._start(lambda _ctx: clone_config(store, run), "run-config", self.clone_requested.emit)

    def _delete(self) -> None:
        """Say what deleting the run removes (read on the pool), then delete it once the user says so."""
        if self.run is not None:
            self._task = self.deletes.ask_runs([self.run.id])

    def _deleted(self, run_id: int) -> None:
        self.stop()
        self.run = None
        self.deleted.emit(run_id)

    def busy(self) -> bool:
        return self.feed.busy or any(pending(t) for t in (self._task, self._static_task)) \
            or (self.run_id is not None and self.run is None and self._following)
