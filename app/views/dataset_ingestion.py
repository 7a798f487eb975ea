"""Building a dataset from the Datasets view: the drop zone and its buttons, the progress row, and the
ingestion itself, run off the GUI thread (a pool Task) with progress and cancel; the outcome goes to
the view's banner, list and Report tab."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QPushButton

from app import file_dialogs
from app.widgets import DropZone, TaskProgressRow, paths_from_mime
from app.workers import Task, TaskContext, pending
from spark_trainer.errors import BadInput
from spark_trainer.store.store import Store

if TYPE_CHECKING:
    from spark_trainer.store.entities import Dataset


class IngestionRefused(BadInput):
    """Every item was rejected: the Report tab's document and rows, made by `_ingest` on the pool."""

    def __init__(self, message: str, report: dict[str, Any], rows: list[Any]) -> None:
        super().__init__(message)
        self.report = report
        self.rows = rows


def _ingest(store: Store, paths: list[Path], project: int, kind: str, ctx: TaskContext) -> Any:
    from spark_trainer.ingest import ingest_paths  # imports the ingestion stack off the GUI thread
    from spark_trainer.ingest.browse import report_rows
    from spark_trainer.ingest.types import NothingIngested

    try:
        return ingest_paths(store, paths, project=project, kind=kind, progress=ctx.progress, cancel=ctx.cancel)
    except NothingIngested as exc:  # the Report tab's rows are made here, on the pool
        shown = exc.report.to_dict()  # (300,000 rejected lines: 1.9 s of the GUI thread, bench_report_view.py)
        raise IngestionRefused(str(exc), shown, report_rows(shown)) from exc


class DatasetIngestion:
    """The Datasets view's ingestion (a mixin of DatasetsView, before its Qt base: it overrides the drag
    and drop events). It uses the view's store, ctx, body, banner, kind_combo, tabs, report and preview,
    and its project_id(), refresh() and select()."""

    ingest_task: Task | None
    _failure_report: bool

    def _build_drop_zone(self) -> None:
        self.drop_zone = DropZone("")
        self.drop_zone.paths_dropped.connect(self.ingest)
        self.files_button = QPushButton("Add files…")
        self.files_button.setToolTip("Ctrl+O")
        self.files_button.clicked.connect(self.add_files)
        self.folder_button = QPushButton("Add a folder…")
        self.folder_button.setToolTip("Ctrl+Shift+O")
        self.folder_button.clicked.connect(self.add_folder)
        self.new_project_button = QPushButton("Create a project first…")
        self.new_project_button.setProperty("primary", True)
        self.new_project_button.clicked.connect(lambda: self.ctx.navigate("projects", "new"))
        for button in (self.files_button, self.folder_button, self.new_project_button):
            self.drop_zone.add_button(button)
        self.body.addWidget(self.drop_zone)

    def _build_progress(self) -> None:
        self.progress_row = TaskProgressRow()
        self.progress_row.cancel_requested.connect(self.cancel_ingest)
        self.body.addWidget(self.progress_row)

    # -- ingestion ----------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
            self.drop_zone.set_active(True)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        self.drop_zone.set_active(False)
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.ingest(paths)

    def add_files(self) -> None:
        files = file_dialogs.open_files(self, "Choose files for a new dataset")
        if files:
            self.ingest([Path(f) for f in files])

    def add_folder(self) -> None:
        folder = file_dialogs.existing_dir(self, "Choose a folder for a new dataset")
        if folder:
            self.ingest([Path(folder)])

    def ingest(self, paths: list[Path]) -> Task | None:
        """Build a dataset from `paths` in the chosen project, off the GUI thread."""
        project = self.project_id()
        if project is None:
            self.banner.show_message("Create a project first: datasets belong to a project.", "error")
            return None
        if pending(self.ingest_task):
            self.banner.show_message("An ingestion is already running; wait for it or cancel it.", "warning")
            return None
        kind = self.kind_combo.currentText()
        names = ", ".join(p.name or str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        task = Task(lambda ctx: _ingest(self.store, list(paths), project, kind, ctx), owner=self, name="ingestion")
        task.signals.progress.connect(self.progress_row.report)
        task.signals.succeeded.connect(self._on_ingested)
        task.signals.failed.connect(lambda message, exc: self._on_ingest_failed(names, message, exc))
        task.signals.cancelled.connect(
            lambda: self.banner.show_message("Ingestion cancelled; nothing was saved.", "warning"))
        task.signals.finished.connect(self._on_ingest_finished)
        self.banner.clear_message()
        self.progress_row.begin(f"Reading {names}…")
        self.drop_zone.setEnabled(False)
        self.ingest_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def cancel_ingest(self) -> None:
        if pending(self.ingest_task):
            self.ingest_task.cancel()
            self.progress_row.mark_cancelling()

    def _on_ingested(self, result: Any) -> None:
        dataset: Dataset = result.dataset
        report = result.report
        text = (f"Dataset <b>{dataset.name}</b> created: {dataset.num_items:,} items "
                f"(train {dataset.num_train:,}, val {dataset.num_val:,})")
        if report.num_rejected or report.num_duplicates:
            text += (f"; {report.num_rejected:,} rejected and {report.num_duplicates:,} duplicates, "
                     "listed under Report.")
        for note in report.notes:  # as the command says them: a second copy of a dataset, files left out...
            text += f"<br>Note: {escape(note)}"
        role = "warning" if report.num_rejected or report.notes else "ok"
        self.banner.show_message(text, role, about=dataset.project_id)
        self.ctx.model.datasets.apply_written(dataset)  # listed now; the poller re-reads the counts
        self.ctx.set_current_project(dataset.project_id)
        self.ctx.model.refresh()
        self.refresh()
        self.select(dataset.id)
        self.tabs.setCurrentWidget(self.report if report.num_rejected else self.preview)

    def _on_ingest_failed(self, names: str, message: str, exc: object) -> None:
        self.banner.show_message(f"No dataset was created from {names}: {message}", "error")
        if isinstance(exc, IngestionRefused):  # every item was rejected: show why, item by item
            self._failure_report = True
            self.tabs.setVisible(True)
            self.report.show_report(exc.report, f"Rejected: {names}", exc.rows)
            self.tabs.setTabText(1, f"Report ({len(exc.rows):,})")
            self.tabs.setCurrentWidget(self.report)

    def _on_ingest_finished(self) -> None:
        self.progress_row.hide()
        self.drop_zone.setEnabled(True)
