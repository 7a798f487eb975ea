"""One run: live charts, the log tail, samples, checkpoints, and the actions a run allows.

Charts are fed by a `MetricFeed` (rows after the last id seen, read off the GUI thread), so a run
started anywhere — this app, `spark-trainer train` in a terminal, a script — shows live, and a run
opened after the app restarted shows its whole curve. Actions that wait on a worker (cancel,
pause) run on the pool.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.charts.feed import MetricFeed
from app.charts.panel import ChartPanel
from app.context import AppContext
from app.views.eval_report_panel import EvalReportPanel
from app.views.run_exports import RunExportsWidget
from app.views.samples import sample_widget
from app.widgets import MessageBanner
from app.workers import Task
from spark_trainer.errors import SparkError
from spark_trainer.store import artifacts, runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

LOG_POLL_MS = 500
LOG_MAX_LINES = 2000


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m {seconds % 60:02d}s"


class RunDetailView(QWidget):
    """Shows one run (set with `show_run`). Emits `back` and `clone_requested(config)`."""

    back = Signal()
    clone_requested = Signal(dict)
    playground_requested = Signal(int, object)  # run id, checkpoint step as text (None: the last weights)
    deleted = Signal(int)

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.run: Run | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.back_button = QPushButton("← All runs")
        self.back_button.clicked.connect(self.back.emit)
        self.heading = QLabel("")
        self.heading.setObjectName("ViewTitle")
        self.badge = QLabel("")
        self.badge.setObjectName("StatusBadge")
        top.addWidget(self.back_button)
        top.addWidget(self.heading)
        top.addWidget(self.badge)
        top.addStretch(1)
        layout.addLayout(top)
        progress_row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setFormat("step %v of %m")
        self.eta = QLabel("")
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.eta)
        layout.addLayout(progress_row)
        layout.addLayout(self._build_actions())
        self.banner = MessageBanner()
        layout.addWidget(self.banner)
        self.tabs = QTabWidget()
        self.charts = ChartPanel()
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(LOG_MAX_LINES)
        self.log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.samples = QWidget()
        self.samples_layout = QVBoxLayout(self.samples)
        samples_scroll = QScrollArea()
        samples_scroll.setWidgetResizable(True)
        samples_scroll.setWidget(self.samples)
        self.checkpoints = QTableWidget(0, 4)
        self.checkpoints.setHorizontalHeaderLabels(["Step", "Eval metric", "Size", "Folder"])
        self.checkpoints.horizontalHeader().setStretchLastSection(True)
        self.checkpoints.verticalHeader().setVisible(False)
        self.checkpoints.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.checkpoints.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.checkpoints.cellDoubleClicked.connect(lambda _r, _c: self._open_playground())
        self.events = QPlainTextEdit()
        self.events.setReadOnly(True)
        self.tabs.addTab(self.charts, "Charts")
        self.tabs.addTab(self.log, "Log")
        self.tabs.addTab(samples_scroll, "Samples")
        self.tabs.addTab(self.checkpoints, "Checkpoints")
        self.eval_report = EvalReportPanel()
        self.tabs.addTab(self.eval_report, "Evaluation")
        self.tabs.addTab(self.events, "Events")
        self.exports_tab = RunExportsWidget(store, ctx)
        self.tabs.addTab(self.exports_tab, "Exports and evaluations")
        layout.addWidget(self.tabs, 1)
        self.feed = MetricFeed(store, ctx.pool, parent=self)
        self.feed.points.connect(self.charts.add_batch)
        self.feed.failed.connect(lambda message: self.banner.show_message(f"Metrics: {message}", "error"))
        self._log_offset = 0
        self._timer = QTimer(self)
        self._timer.setInterval(LOG_POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._task: Task | None = None

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
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
        for widget in (self.cancel_button, self.pause_button, self.resume_button, self.extend_button,
                       self.extend_steps, self.playground_button, self.clone_button, self.export_button,
                       self.evaluate_button,
                       self.delete_button):
            row.addWidget(widget)
        row.addStretch(1)
        self.cancel_button.clicked.connect(lambda: self._act("cancel"))
        self.pause_button.clicked.connect(lambda: self._act("pause"))
        self.resume_button.clicked.connect(lambda: self._act("resume"))
        self.extend_button.clicked.connect(lambda: self._act("extend"))
        self.playground_button.clicked.connect(self._open_playground)
        self.clone_button.clicked.connect(self._clone)
        self.delete_button.clicked.connect(self._delete)
        return row

    # --- showing a run -------------------------------------------------------------------------
    def show_run(self, run_id: int) -> None:
        self.run = runs.get(self.store, run_id)
        self.charts.clear()
        self.log.clear()
        self._log_offset = 0
        self.feed.watch([run_id])
        self.feed.start()
        self._timer.start()
        self._show_state(self.run)
        self._load_static()
        self.charts.charts["memory"].set_empty_text("No GPU memory reported yet" if self.run.gpus else
                       "No GPU memory to show: this run trains on the CPU" if self.run.status != RunStatus.QUEUED
                       else "No points yet")
        self.poll()

    def stop(self) -> None:
        self._timer.stop()
        self.feed.stop()

    def poll(self) -> None:
        """Status, progress and the log tail (cheap reads: one row, the new bytes of a file)."""
        if self.run is None:
            return
        try:
            run = runs.get(self.store, self.run.id)
        except SparkError:
            self.stop()
            self.banner.show_message(f"Run {self.run.id} no longer exists", "error")
            return
        changed = run.status != self.run.status
        self.run = run
        self._show_state(run)
        self._follow_log(Path(run.run_dir) / "worker.log")
        if changed:
            self._load_static()

    def _show_state(self, run: Run) -> None:
        self.heading.setText(f"Run {run.id} · {run.experiment}")
        self.badge.setText(run.status.value)
        self.badge.setProperty("status", run.status.value)
        self.badge.setStyleSheet(f"padding: 2px 8px; border-radius: 8px; background: {badge_colour(run.status)};"
                                 " color: white;")
        total = run.total_steps or max(run.step, 1)
        self.progress.setMaximum(total)
        self.progress.setValue(min(run.step, total))
        gpus = ",".join(map(str, run.gpus)) or ("CPU" if run.status.is_active or run.status.is_finished else
                                                 run.requested_gpus)
        self.eta.setText(f"ETA {format_eta(run.eta_seconds)} · {gpus}" if run.status.is_active else gpus)
        status = run.status
        self.cancel_button.setEnabled(status.is_active or status in (RunStatus.QUEUED, RunStatus.PAUSED,
                                                                     RunStatus.INTERRUPTED))
        self.pause_button.setEnabled(status.is_active)
        self.resume_button.setEnabled(status in (RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.FAILED,
                                                 RunStatus.CANCELLED))
        self.extend_button.setEnabled(status == RunStatus.COMPLETED)
        self.extend_steps.setEnabled(status == RunStatus.COMPLETED)
        self.delete_button.setEnabled(not status.is_active)
        if run.error and status in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            self.banner.show_message(run.error.splitlines()[0], "error")
        elif self.banner.role == "error" and not run.error:
            self.banner.clear_message()

    def _follow_log(self, path: Path) -> None:
        try:
            with open(path, "rb") as fh:
                size = fh.seek(0, 2)
                if size < self._log_offset:  # the log was replaced
                    self._log_offset = 0
                    self.log.clear()
                if size == self._log_offset:
                    return
                fh.seek(max(self._log_offset, size - 256_000))
                text = fh.read().decode("utf-8", errors="replace")
                self._log_offset = size
        except FileNotFoundError:
            return
        self.log.appendPlainText(text.rstrip("\n"))

    def _load_static(self) -> None:
        """Checkpoints, samples and events: they change only at checkpoints and status changes."""
        from spark_trainer.training.checkpoints import list_checkpoints, read_state

        assert self.run is not None
        found = list_checkpoints(Path(self.run.run_dir)) if self.run.run_dir else []
        self.checkpoints.setRowCount(len(found))
        for r, path in enumerate(reversed(found)):
            state = read_state(path)
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            metric = state.get("metric")
            for c, value in enumerate((state.get("step"), "-" if metric is None else f"{metric:.4f}",
                                       f"{size / 2**20:.1f} MB", str(path))):
                self.checkpoints.setItem(r, c, QTableWidgetItem(str(value)))
        self.playground_button.setEnabled(bool(found) or (Path(self.run.run_dir) / "final").is_dir())
        self._load_samples()
        self.eval_report.load(self.store, self.run.id)
        self.exports_tab.show_run(self.run)
        self.export_button.setEnabled(self.exports_tab.export_button.isEnabled())
        self.evaluate_button.setEnabled(self.exports_tab.evaluate_button.isEnabled())
        self.events.setPlainText("\n".join(
            f"{e.created_at:%Y-%m-%d %H:%M:%S}  {e.from_status or '-'} -> {e.to_status}: {e.reason}"
            for e in runs.events(self.store, self.run.id)))

    def _load_samples(self) -> None:
        while self.samples_layout.count():
            item = self.samples_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        assert self.run is not None
        found = artifacts.list_for(self.store, self.run.id, "sample")
        if not found:
            note = QLabel("No samples yet. Set eval.samples_every_steps (and the recipe's sample prompts) to generate "
                          "text, images or a classifier's predictions every N steps.")
            note.setObjectName("Muted")
            note.setWordWrap(True)
            self.samples_layout.addWidget(note)
        for art in reversed(found[-10:]):
            self.samples_layout.addWidget(sample_widget(Path(art.path), art.step))
        self.samples_layout.addStretch(1)

    # --- actions -------------------------------------------------------------------------------
    def _act(self, action: str) -> None:
        if self.run is None:
            return
        run_id, steps = self.run.id, self.extend_steps.value()

        def work(_ctx: Any) -> Run:
            from spark_trainer.jobs import control, extend

            if action == "extend":
                return extend.extend(self.store, run_id, steps)
            return getattr(control, action)(self.store, run_id)

        task = Task(work, name=f"run-{action}")
        task.signals.succeeded.connect(lambda run: self._acted(action, run))
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(message, "error"))
        self.banner.show_message(f"{action.capitalize()} requested…", "info")
        self._task = task
        self.ctx.tasks.start(task, self.ctx.pool)

    def _acted(self, action: str, run: Run) -> None:
        from app.run_scheduler import RunScheduler

        self.banner.show_message(f"Run {run.id} is now {run.status.value}", "ok")
        self.ctx.data_changed.emit("runs")
        RunScheduler.of(self.ctx).tick()
        self.poll()

    def _open_playground(self) -> None:
        if self.run is None or not self.playground_button.isEnabled():
            return
        rows = self.checkpoints.selectionModel().selectedRows()
        step = self.checkpoints.item(rows[0].row(), 0).text() if rows else None
        self.playground_requested.emit(self.run.id, step)

    def _clone(self) -> None:
        if self.run is not None:
            from spark_trainer.leaderboard import run_config

            self.clone_requested.emit(run_config(self.store, self.run))

    def _delete(self) -> None:
        if self.run is None:
            return
        run = self.run
        if QMessageBox.question(self, "Delete run", f"Delete run {run.id} ({run.experiment}), its metrics and its "
                                f"folder {run.run_dir}?") != QMessageBox.StandardButton.Yes:
            return
        from spark_trainer.jobs import control

        try:
            control.delete(self.store, run.id)
        except SparkError as exc:
            self.banner.show_message(str(exc), "error")
            return
        self.stop()
        self.run = None
        self.ctx.data_changed.emit("runs")
        self.deleted.emit(run.id)

    def busy(self) -> bool:
        return self.feed.busy or (self._task is not None and not self._task.done.is_set())


def badge_colour(status: RunStatus) -> str:
    return {RunStatus.RUNNING: "#2f81f7", RunStatus.STARTING: "#2f81f7", RunStatus.QUEUED: "#6e7681",
            RunStatus.COMPLETED: "#2da44e", RunStatus.FAILED: "#cf222e", RunStatus.INTERRUPTED: "#bf8700",
            RunStatus.PAUSED: "#8250df", RunStatus.CANCELLED: "#6e7681", RunStatus.STALLED: "#d1242f"}.get(status, "#6e7681")
