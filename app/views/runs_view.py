"""Runs: a table with status badges, progress, ETA, GPUs and key metrics; filters; run detail and compare.

The GUI's scheduler (`RunScheduler`) ticks on a timer: it starts queued runs and reconciles, and
this view redraws from what it read. Runs found interrupted at start are offered for resuming.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.run_scheduler import KEY_METRICS, RunScheduler
from app.views.base import BaseView
from app.views.compare_view import CompareView
from app.views.playground_view import PlaygroundView
from app.views.run_detail_view import RunDetailView, badge_colour, format_eta
from app.widgets import MessageBanner
from spark_trainer.errors import SparkError
from spark_trainer.store import projects
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

COLUMNS = ("", "ID", "Project", "Experiment", "Status", "Progress", "ETA", "GPUs", "Ran on", "loss", "eval_loss",
           "Created")


class RunsView(BaseView):
    title = "Runs"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.stack = QStackedWidget()
        self.body.addWidget(self.stack)
        self.list_page = QWidget()
        self._build_list(self.list_page)
        self.detail = RunDetailView(store, ctx)
        self.compare_page = CompareView(store, ctx)
        self.playground = PlaygroundView(store, ctx)
        for page in (self.list_page, self.detail, self.compare_page, self.playground):
            self.stack.addWidget(page)
        self.detail.back.connect(self.show_list)
        self.detail.deleted.connect(lambda _id: self.show_list())
        self.detail.clone_requested.connect(lambda config: ctx.navigate("experiments", {"clone": config}))
        self.compare_page.back.connect(self.show_list)
        self.detail.playground_requested.connect(self.open_playground)
        self.playground.back.connect(self.open_run)
        self.scheduler = RunScheduler.of(ctx)
        self.scheduler.runs_updated.connect(self._show_runs)
        self.scheduler.interrupted_found.connect(self._offer_resume)
        self._interrupted: list[int] = []
        if self.scheduler.interrupted_at_start:  # found before this view was first shown
            self._offer_resume(self.scheduler.interrupted_at_start)
        self.refresh()

    def _build_list(self, page: QWidget) -> None:
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.banner = MessageBanner()
        self.resume_button = QPushButton("Resume them")
        self.resume_button.hide()
        self.resume_button.clicked.connect(self.resume_interrupted)
        banner_row = QHBoxLayout()
        banner_row.addWidget(self.banner, 1)
        banner_row.addWidget(self.resume_button)
        layout.addLayout(banner_row)
        filters = QHBoxLayout()
        self.project_filter = QComboBox()
        self.status_filter = QComboBox()
        self.status_filter.addItems(["all statuses", "active", *[s.value for s in RunStatus]])
        self.open_button = QPushButton("Open")
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip("Select two or more runs (Ctrl+click) to overlay their curves")
        filters.addWidget(QLabel("Project"))
        filters.addWidget(self.project_filter)
        filters.addWidget(QLabel("Status"))
        filters.addWidget(self.status_filter)
        filters.addStretch(1)
        filters.addWidget(self.open_button)
        filters.addWidget(self.compare_button)
        layout.addLayout(filters)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(5, 160)
        layout.addWidget(self.table, 1)
        self.empty = QLabel("No runs yet. Set one up under Experiments, or run `spark-trainer train run.yaml`.")
        self.empty.setObjectName("Muted")
        layout.addWidget(self.empty)
        self.project_filter.currentIndexChanged.connect(lambda _i: self._show_runs(self.scheduler.runs))
        self.status_filter.currentIndexChanged.connect(lambda _i: self._show_runs(self.scheduler.runs))
        self.table.cellDoubleClicked.connect(lambda row, _col: self.open_run(self._row_id(row)))
        self.open_button.clicked.connect(self._open_selected)
        self.compare_button.clicked.connect(self._compare_selected)

    # --- list ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            names = [(p.id, p.name) for p in projects.list_all(self.store)]
        except SparkError as exc:
            self.banner.show_message(f"Could not read the store: {exc}", "error")
            return
        current = self.project_filter.currentData()
        self.project_filter.blockSignals(True)
        self.project_filter.clear()
        self.project_filter.addItem("all projects", None)
        for pid, name in names:
            self.project_filter.addItem(name, pid)
        index = self.project_filter.findData(current)
        self.project_filter.setCurrentIndex(max(index, 0))
        self.project_filter.blockSignals(False)
        self._project_names = dict(names)
        self.scheduler.tick()

    def visible_runs(self, all_runs: list[Run]) -> list[Run]:
        project = self.project_filter.currentData()
        status = self.status_filter.currentText()
        shown = [r for r in all_runs if project is None or r.project_id == project]
        if status == "active":
            return [r for r in shown if r.status.is_active or r.status == RunStatus.QUEUED]
        if status != "all statuses":
            return [r for r in shown if r.status.value == status]
        return shown

    def _show_runs(self, all_runs: list[Run]) -> None:
        shown = self.visible_runs(all_runs)
        metrics = self.scheduler.last_metrics
        names = getattr(self, "_project_names", {})
        selected = set(self.selected_ids())
        self.table.setRowCount(len(shown))
        for row, run in enumerate(shown):
            found = metrics.get(run.id, {})
            cells = ["●", run.id, names.get(run.project_id, run.project_id), run.experiment, run.status.value, None,
                     format_eta(run.eta_seconds) if run.status.is_active else "-",
                     _gpus_cell(run),
                     run.ran_on,  # "local", or a cluster job's "scheduler NxM" (nodes x processes per node)
                     *(f"{found[k]:.4f}" if k in found else "-" for k in KEY_METRICS),
                     f"{run.created_at:%Y-%m-%d %H:%M}"]
            for col, value in enumerate(cells):
                if value is None:
                    continue
                item = QTableWidgetItem(str(value))
                item.setData(Qt.ItemDataRole.UserRole, run.id)
                if col == 0:
                    item.setForeground(_colour(badge_colour(run.status)))
                    item.setToolTip(run.status.value)
                self.table.setItem(row, col, item)
            bar = self.table.cellWidget(row, 5)
            if not isinstance(bar, QProgressBar):
                bar = QProgressBar()
                bar.setFormat("%v / %m")
                self.table.setCellWidget(row, 5, bar)
            total = run.total_steps or max(run.step, 1)
            bar.setMaximum(total)
            bar.setValue(min(run.step, total))
            if run.id in selected:
                self.table.selectRow(row)
        self.table.setVisible(bool(shown))
        self.empty.setVisible(not shown)

    def _row_id(self, row: int) -> int:
        return int(self.table.item(row, 1).text())

    def selected_ids(self) -> list[int]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        return [self._row_id(r) for r in rows if self.table.item(r, 1) is not None]

    def _open_selected(self) -> None:
        ids = self.selected_ids()
        if ids:
            self.open_run(ids[0])

    def _compare_selected(self) -> None:
        ids = self.selected_ids()
        if len(ids) < 2:
            self.banner.show_message("Select two or more runs to compare (Ctrl+click rows).", "warning")
            return
        self.compare(ids)

    # --- interrupted runs ------------------------------------------------------------------------
    def _offer_resume(self, interrupted: list[Run]) -> None:
        self._interrupted = [r.id for r in interrupted]
        ids = ", ".join(str(r.id) for r in interrupted)
        self.banner.show_message(f"{len(interrupted)} run{'s were' if len(interrupted) > 1 else ' was'} interrupted "
                                 f"(the machine or the worker stopped): {ids}. Resume from the last checkpoint?",
                                 "warning")
        self.resume_button.show()

    def resume_interrupted(self) -> list[int]:
        from spark_trainer.jobs import control

        resumed = []
        for run_id in self._interrupted:
            try:
                control.resume(self.store, run_id)
                resumed.append(run_id)
            except SparkError as exc:
                self.banner.show_message(f"Run {run_id}: {exc}", "error")
        self._interrupted = []
        self.resume_button.hide()
        if resumed:
            self.banner.show_message(f"Resuming run{'s' if len(resumed) > 1 else ''} {', '.join(map(str, resumed))}",
                                     "ok")
        self.scheduler.tick()
        return resumed

    # --- pages ---------------------------------------------------------------------------------
    def open_run(self, run_id: int) -> None:
        self.compare_page.stop()
        self.detail.show_run(run_id)
        self.stack.setCurrentWidget(self.detail)

    def open_playground(self, run_id: int, checkpoint: str | None = None) -> None:
        """Try a run's model; its model process keeps running while other pages are shown."""
        self.detail.stop()
        self.compare_page.stop()
        self.playground.open_run(run_id, checkpoint)
        self.stack.setCurrentWidget(self.playground)

    def compare(self, run_ids: list[int]) -> None:
        self.detail.stop()
        self.compare_page.compare(run_ids)
        self.stack.setCurrentWidget(self.compare_page)

    def show_list(self) -> None:
        self.detail.stop()
        self.compare_page.stop()
        self.stack.setCurrentWidget(self.list_page)
        self.scheduler.tick()

    def open_item(self, payload: Any) -> None:
        """A run id opens its detail; a list of ids opens the compare page."""
        if isinstance(payload, (list, tuple)):
            self.compare([int(p) for p in payload])
        elif payload is not None:
            self.open_run(int(payload))

    def on_theme_changed(self) -> None:
        for chart in [*self.detail.charts.charts.values(), *self.compare_page.charts.charts.values()]:
            chart.apply_theme()

    def busy(self) -> bool:
        task = self.scheduler._task
        return (task is not None and not task.done.is_set()) or self.detail.busy() or self.compare_page.busy() \
            or self.playground.busy()

    def shutdown(self) -> None:
        self.detail.stop()
        self.compare_page.stop()
        self.playground.shutdown()
        self.scheduler.stop()


def _gpus_cell(run: Run) -> str:
    if run.ran_on != "local":  # a cluster job: its GPUs were the nodes', not this machine's
        return "CPU" if run.requested_gpus.startswith("cpu") else "GPUs"
    return ",".join(map(str, run.gpus)) or ("CPU" if run.started_at else run.requested_gpus)


def _colour(name: str):
    from PySide6.QtGui import QColor

    return QColor(name)
