"""Runs: a table with status badges, progress, ETA, GPUs and key metrics; filters; run detail and compare.

The table shows the app model's runs (`ctx.model.runs.runs_updated`); building this view turns the
GUI's scheduling on (`ctx.scheduler`), which starts queued runs and reconciles from the store
poller's thread. Runs found interrupted at start are offered for resuming.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.views.base import BaseView
from app.views.priority_dialog import queue_places
from app.views.queue_hold_bar import QueueHoldBar
from app.views.row_filter import RowFilter
from app.views.run_actions import RunListActions, outdated, stale_refusal
from app.views.runs_columns import COLUMNS, RUN_COLUMNS, RunRow
from app.views.sweep_filter import NAME_WIDTH, SweepFilterBox
from app.views.table_models import RowsModel, RowsTable
from app.widgets import add_elided_item, back_keys, tip_chosen
from app.workers import Task
from spark_trainer.errors import SparkError
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

if TYPE_CHECKING:  # imported with their page: charts (pyqtgraph, numpy) are not needed to show the list
    from app.views.compare_view import CompareView
    from app.views.playground_view import PlaygroundView
    from app.views.run_detail_view import RunDetailView

SELECT_TIP = "Select two or more runs (Ctrl+click) to overlay their curves"
PROJECT_TIP = "Only one project's runs (and its sweeps in the Sweep filter)"
PROGRESS_WIDTH_PX = 120  # room for "12000 / 12000"; 160 helped push the last columns past a 1280-pixel window


class RunsView(BaseView):
    title = "Runs"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.stack = QStackedWidget()
        self.body.addWidget(self.stack)
        self.list_page = QWidget()
        self._build_list(self.list_page)
        self.stack.addWidget(self.list_page)
        # Right of the title (the filters' row is full at 1024 px), with Hold queue; shown with the list only.
        self.row_filter = RowFilter(self.table, "runs")
        self.header.addWidget(self.queue_hold.button)  # Hold queue / Release queue
        self.header.addWidget(self.row_filter)
        self.stack.currentChanged.connect(self._list_shown)
        # The run, compare and playground pages (a dozen charts) are built, and their modules imported
        # (pyqtgraph, numpy: most of a second), when first opened: opening the Runs list waits for neither.
        self._detail: RunDetailView | None = None
        self._compare: CompareView | None = None
        self._playground: PlaygroundView | None = None
        self.model = ctx.model.runs
        self.scheduler = ctx.scheduler
        self.scheduler.start()
        self.model.runs_updated.connect(self._show_runs)
        self.queue_end = ctx.model.queue_end  # a queued run's estimated start, in its Status tooltip
        self.queue_end.changed.connect(self._estimated)
        self.model.interrupted_found.connect(self._offer_resume)
        ctx.model.projects.projects_reset.connect(self._on_projects)
        self._interrupted: list[int] = []
        if self.model.interrupted_at_start:  # found before this view was first shown
            self._offer_resume(self.model.interrupted_at_start)
        self.refresh()

    def _build_list(self, page: QWidget) -> None:
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        self.resume_button = QPushButton("Resume them")
        self.resume_button.hide()
        self.resume_button.clicked.connect(self.resume_interrupted)
        # "Select two or more runs ... (Ctrl+click rows)": in the title row, the rows stay where they were.
        self.banner = self.title_banner(self.resume_button)
        filters = QHBoxLayout()
        self.project_filter = QComboBox()
        self.project_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # projects come later
        self.project_filter.setToolTip(PROJECT_TIP)
        self.status_filter = QComboBox()
        self.status_filter.addItems(["all statuses", "active", *[s.value for s in RunStatus]])
        self.sweep_filter = SweepFilterBox()
        self.open_button = QPushButton("Open")
        self.compare_button = QPushButton("Compare selected")
        self.compare_button.setToolTip(SELECT_TIP)
        filters.addWidget(QLabel("Project"))
        filters.addWidget(self.project_filter)
        filters.addWidget(QLabel("Status"))
        filters.addWidget(self.status_filter)
        filters.addWidget(QLabel("Sweep"))
        filters.addWidget(self.sweep_filter)
        filters.addStretch(1)
        filters.addWidget(self.open_button)
        filters.addWidget(self.compare_button)
        layout.addLayout(filters)
        self.queue_hold = QueueHoldBar(self.store, self.ctx, self)  # the queue as a whole: hold or release it
        self.queue_hold.said.connect(lambda text, role: self.banner.show_message(text, role))
        self.queue_hold.unsaid.connect(lambda text: self.banner.text() == text and self.banner.clear_message())
        layout.addWidget(self.queue_hold.line)  # "Queue held since 16:50: ...", only while held
        self.rows = RowsModel(RUN_COLUMNS, key=lambda r: r.run.id, parent=self)
        self.table = RowsTable(self.rows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        self.table.stretch_column(COLUMNS.index("Experiment"))  # the experiment's name: never squeezed to 't…'
        header.setSectionResizeMode(COLUMNS.index("Progress"), QHeaderView.ResizeMode.Fixed)
        self.table.setColumnWidth(COLUMNS.index("Progress"), PROGRESS_WIDTH_PX)
        self.table.sort_by(1, Qt.SortOrder.DescendingOrder)  # newest first, as the model lists them
        layout.addWidget(self.table, 1)
        self.empty = QLabel("No runs yet. Set one up under Experiments, or run `spark-trainer train run.yaml`.")
        self.empty.setObjectName("Muted")
        # The table's room while it is hidden: the filters stay at the top, not half way down the page.
        layout.addWidget(self.empty, 1, Qt.AlignmentFlag.AlignTop)
        self.project_filter.currentIndexChanged.connect(lambda _i: self._show_runs(self.model.all_runs()))
        self.project_filter.currentIndexChanged.connect(lambda _i: tip_chosen(self.project_filter, PROJECT_TIP))
        self.status_filter.currentIndexChanged.connect(lambda _i: self._show_runs(self.model.all_runs()))
        self.sweep_filter.currentIndexChanged.connect(lambda _i: self._show_runs(self.model.all_runs()))
        self.table.doubleClicked.connect(lambda index: self.open_run(self._row_id(index.row())))
        self.open_button.clicked.connect(self._open_selected)
        self.compare_button.clicked.connect(self._compare_clicked)
        self.table.selectionModel().selectionChanged.connect(lambda *_a: self._update_compare())
        self.list_actions = RunListActions(self)  # right-click: pause, resume, cancel; Enter opens

    def _list_shown(self) -> None:
        """The filter box and the message line belong to the list: a run's page has its own line."""
        on_list = self.stack.currentWidget() is self.list_page
        self.row_filter.setVisible(on_list)
        self.queue_hold.button.setVisible(on_list)
        self.banner.parentWidget().setVisible(on_list)

    # --- pages, built when first wanted ------------------------------------------------------------
    @property
    def detail(self) -> RunDetailView:
        if self._detail is None:
            from app.views.run_detail_view import RunDetailView

            self._detail = page = RunDetailView(self.store, self.ctx)
            self.stack.addWidget(page)
            page.back.connect(self.show_list)
            page.deleted.connect(lambda _id: self.show_list())
            page.deletes.deleted.connect(lambda text: self.banner.show_message(text, "ok"))
            page.clone_requested.connect(lambda config: self.ctx.navigate("experiments", {"clone": config}))
            page.playground_requested.connect(self.open_playground)
            back_keys(page, page.back_button, "page.back")
        return self._detail

    @property
    def compare_page(self) -> CompareView:
        if self._compare is None:
            from app.views.compare_view import CompareView

            self._compare = page = CompareView(self.store, self.ctx)
            self.stack.addWidget(page)
            page.back.connect(self.show_list)
            back_keys(page, page.back_button, "page.back")
        return self._compare

    @property
    def playground(self) -> PlaygroundView:
        if self._playground is None:
            from app.views.playground_view import PlaygroundView

            self._playground = page = PlaygroundView(self.store, self.ctx)
            self.stack.addWidget(page)
            page.back.connect(self.open_run)
            page.pick_run.connect(self.show_list)
            back_keys(page, page.back_button, "playground.back")  # Escape stays the prompt's
        return self._playground

    def _stop_pages(self, keep: QWidget | None = None) -> None:
        """Stop the run and compare pages' feeds (those built), except `keep`."""
        for page in (self._detail, self._compare):
            if page is not None and page is not keep:
                page.stop()

    # --- list ----------------------------------------------------------------------------------
    def _on_projects(self, _found: list) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Project filter and table from the model (no store read)."""
        names = [(p.id, p.name) for p in self.ctx.model.projects.projects]
        current = self.project_filter.currentData()
        self.project_filter.blockSignals(True)
        self.project_filter.clear()
        self.project_filter.addItem("all projects", None)
        for pid, name in names:
            add_elided_item(self.project_filter, name, pid, NAME_WIDTH)  # the filters fit 1024 px
        index = self.project_filter.findData(current)
        self.project_filter.setCurrentIndex(max(index, 0))
        self.project_filter.blockSignals(False)
        tip_chosen(self.project_filter, PROJECT_TIP)
        self._project_names = dict(names)
        self._show_runs(self.model.all_runs())

    def visible_runs(self, all_runs: list[Run]) -> list[Run]:
        project = self.project_filter.currentData()
        status = self.status_filter.currentText()
        sweep = self.sweep_filter.current()
        shown = [r for r in all_runs if (project is None or r.project_id == project)
                 and (sweep is None or r.sweep == sweep)]
        if status == "active":
            return [r for r in shown if r.status.is_active or r.status == RunStatus.QUEUED]
        if status != "all statuses":
            return [r for r in shown if r.status.value == status]
        return shown

    def _show_runs(self, all_runs: list[Run]) -> None:
        """Show the runs the filters let through; only rows that changed are repainted, and the
        selection stays on the same runs."""
        project = self.project_filter.currentData()  # the sweeps of the chosen project (all for "all projects")
        self.sweep_filter.set_runs([r for r in all_runs if project is None or r.project_id == project])
        shown = self.visible_runs(all_runs)
        metrics = self.model.last_metrics
        names = getattr(self, "_project_names", {})
        places = queue_places(all_runs, self.queue_end.start_text)  # a queued run's place, its estimated start
        self.rows.set_rows([RunRow(run, metrics.get(run.id, {}), names.get(run.project_id, run.project_id),
                                   self.model.status_text(run, short=True), self.model.status_text(run),
                                   places.get(run.id, "")) for run in shown])
        self.table.setVisible(bool(shown))
        self.empty.setVisible(not shown)
        self._update_compare()
        statuses = {run.id: run.status for run in all_runs}
        if (self.banner.role == "ok" and outdated(self.banner.text(), statuses.get)) or \
                (self.banner.role == "error" and stale_refusal(self.banner.text(), statuses.get)):
            self.banner.clear_message()  # 'Run 2 is now queued' under a table that says running

    def _estimated(self, _end: object) -> None:
        self._show_runs(self.model.all_runs())

    def _row_id(self, row: int) -> int:
        return self.rows.row(row).run.id

    def selected_ids(self) -> list[int]:
        return [int(k) for k in self.table.selected_keys()]  # type: ignore[call-overload]

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

    def sweep_compared(self) -> bool:
        """Compare shows the chosen sweep's listed runs: a sweep is chosen and fewer than two rows are selected."""
        return self.sweep_filter.current() is not None and len(self.table.selected_keys()) < 2

    def _update_compare(self) -> None:
        """One Compare button: the selection's, or with a sweep chosen and fewer than two selected, the sweep's."""
        sweep = self.sweep_compared()
        self.compare_button.setText("Compare sweep" if sweep else "Compare selected")
        self.compare_button.setToolTip(f"Overlay the curves of sweep {self.sweep_filter.current()}'s runs listed "
                                       "here (select two or more to compare those)" if sweep else SELECT_TIP)

    def _compare_clicked(self) -> None:
        if self.sweep_compared():
            self.compare_sweep()
        else:
            self._compare_selected()

    def compare_sweep(self) -> None:
        """Compare the chosen sweep's runs the filters list, in the order they were queued."""
        ids = sorted(row.run.id for row in self.rows.rows)
        if self.sweep_filter.current() is None or len(ids) < 2:
            self.banner.show_message("Fewer than two of the sweep's runs are listed: choose another status "
                                     "or project.", "warning")
            return
        self.compare(ids)

    def show_sweep(self, name: str) -> None:
        """List sweep `name`'s runs (every project and status) and compare them."""
        if not any(run.sweep == name for run in self.model.all_runs()):
            self.show_list()
            self.banner.show_message(f"No run of sweep {name} is known yet.", "warning")
            return
        for box in (self.project_filter, self.status_filter):
            box.setCurrentIndex(0)  # every project's sweeps listed
        self.sweep_filter.set_runs(self.model.all_runs())
        self.sweep_filter.choose(name)
        self.compare_sweep()

    # --- interrupted runs ------------------------------------------------------------------------
    def _offer_resume(self, interrupted: list[Run]) -> None:
        self._interrupted = [r.id for r in interrupted]
        ids = ", ".join(str(r.id) for r in interrupted)
        self.banner.show_message(f"{len(interrupted)} run{'s were' if len(interrupted) > 1 else ' was'} interrupted "
                                 f"(the machine or the worker stopped): {ids}. Resume from the last checkpoint?",
                                 "warning")
        self.resume_button.show()

    def resume_interrupted(self) -> Task:
        """Resume the interrupted runs on the pool; the task's result is the ids resumed."""
        wanted, store = list(self._interrupted), self.store

        def work(_ctx: Any) -> tuple[list[Run], list[str]]:
            from spark_trainer.jobs import control

            resumed, errors = [], []
            for run_id in wanted:
                try:
                    resumed.append(control.resume(store, run_id))
                except SparkError as exc:
                    errors.append(f"Run {run_id}: {exc}")
            return resumed, errors

        self._interrupted = []
        self.resume_button.hide()
        task = Task(work, owner=self, name="resume-runs")
        task.signals.succeeded.connect(lambda result: self._resumed(*result))
        return self.ctx.tasks.start(task, self.ctx.pool)

    def _resumed(self, resumed: list[Run], errors: list[str]) -> None:
        for run in resumed:
            self.model.apply_written(run)
        if errors:
            self.banner.show_message("; ".join(errors), "error")
        elif resumed:
            self.banner.show_message(f"Resuming run{'s' if len(resumed) > 1 else ''} "
                                     f"{', '.join(str(r.id) for r in resumed)}", "ok")
        self.scheduler.tick()

    # --- pages ---------------------------------------------------------------------------------
    def open_run(self, run_id: int) -> None:
        self._stop_pages(keep=self._detail)
        self.detail.show_run(run_id)
        self.stack.setCurrentWidget(self.detail)

    def open_playground(self, run_id: int, checkpoint: str | None = None) -> None:
        """Try a run's model; its model process keeps running while other pages are shown."""
        self._stop_pages()
        self.playground.open_run(run_id, checkpoint)
        self.stack.setCurrentWidget(self.playground)

    def compare(self, run_ids: list[int]) -> None:
        self._stop_pages(keep=self._compare)
        self.compare_page.compare(run_ids)
        self.stack.setCurrentWidget(self.compare_page)

    def show_list(self) -> None:
        self._stop_pages()
        self.stack.setCurrentWidget(self.list_page)
        self.table.setFocus()  # the keys back in the list, on the run it left

    def focus_target(self) -> QWidget:
        return self.table if self.stack.currentWidget() is self.list_page else self.stack.currentWidget()

    def search_box(self) -> RowFilter:
        return self.row_filter

    def go_home(self) -> None:
        if self.stack.currentWidget() is not self.list_page:
            self.show_list()

    def open_item(self, payload: Any) -> None:
        """A run id opens its detail; a list of ids opens the compare page; {"sweep": NAME} lists
        that sweep's runs and compares them."""
        if isinstance(payload, dict) and "sweep" in payload:
            self.show_sweep(str(payload["sweep"]))
        elif isinstance(payload, (list, tuple)):
            self.compare([int(p) for p in payload])
        elif payload is not None:
            self.open_run(int(payload))

    def on_theme_changed(self) -> None:
        pages = [p for p in (self._detail, self._compare) if p is not None]
        for chart in [c for p in pages for c in p.charts.charts.values()]:
            chart.apply_theme()

    def busy(self) -> bool:
        return not self.model.loaded or any(p is not None and p.busy()
                                            for p in (self._detail, self._compare, self._playground))

    def shutdown(self) -> None:
        self._stop_pages()
        if self._playground is not None:
            self._playground.shutdown()
