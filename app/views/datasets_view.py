"""Datasets: drop files or folders to build a dataset (app/views/dataset_ingestion.py: off the GUI
thread, with progress and cancel), then browse it: the rejected-items report, a preview (table or
thumbnails) and the card. Rename (F2, the button, right-click) and Delete act on the selected one (app/views/dataset_actions.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QWidget,
)

from app.context import AppContext
from app.flow_layout import FlowLayout
from app.shortcuts import bind
from app.views.base import BaseView
from app.views.dataset_actions import DatasetActions
from app.views.dataset_ingestion import DatasetIngestion
from app.views.dataset_preview import DatasetPreview
from app.views.dataset_report import ReportView
from app.views.dataset_table import dataset_table, fill_row
from app.views.name_dialog import NameDialog
from app.views.row_filter import RowFilter
from app.views.run_actions import RefusalWatch
from app.widgets import (
    MessageBanner,
    select_row_id,
    selected_row_id,
    table_texts,
)
from app.workers import Task, TaskContext, pending
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store

KINDS = ["auto", "text", "image", "audio", "video"]
DROP_TEXT = ("Drop files or folders here to build a dataset in <b>{project}</b><br>"
             "<span>text: JSONL, JSON, CSV, TSV, TXT, Parquet · images: PNG, JPEG, WebP… (sub-folders become "
             "labels) · audio · videos (or use the video wizard for frames)</span>")


class DatasetsView(DatasetIngestion, DatasetActions, BaseView):
    title = "Datasets"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.setAcceptDrops(True)
        self.ingest_task: Task | None = None
        self.wizard: QWidget | None = None
        self._datasets: list[Dataset] = []
        self._filled_project: int | None = None  # the project whose datasets the rows show
        self._failure_report = False  # the Report tab shows why a drop produced no dataset
        self._build_header()
        self.banner = MessageBanner()
        self.banner.keep_room()  # each ingestion says how it went: the drop zone's buttons stay put
        self.banner.forget_on_leave()
        self.body.addWidget(self.banner)
        self._build_drop_zone()
        self._build_progress()
        self._build_main()
        # Bound methods, not lambdas: a lambda holding `self` on a long-lived object's signal keeps this view
        # alive after its window is gone.
        self.delete_task: Task | None = None
        self.rename_task: Task | None = None
        self.dialog: NameDialog | None = None
        self.confirm_box: QMessageBox | None = None  # "Delete anyway?" once experiments turned out to use it
        self.delete_box: QMessageBox | None = None  # "Delete x?", once no run in progress uses it
        ctx.current_project_changed.connect(self._on_current_project_changed)
        ctx.model.projects.projects_reset.connect(self._on_projects)  # another process added or removed some
        ctx.model.datasets.datasets_reset.connect(self._on_catalog)
        RefusalWatch(self.banner, ctx.model.runs)  # 'Cannot delete: ... run 6 ...' goes once run 6 moved on
        self.refresh()

    # -- layout -------------------------------------------------------------------------------
    def _build_header(self) -> None:
        self.project_combo = QComboBox()
        self.project_combo.setMinimumWidth(180)
        self.project_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # projects come later
        self.project_combo.setMaximumWidth(260)  # a long project name is cut (its tooltip has it whole)
        self.project_combo.currentIndexChanged.connect(self._on_project_chosen)
        self.kind_combo = QComboBox()
        self.kind_combo.addItems(KINDS)
        self.kind_combo.setToolTip("What kind of dataset to build; 'auto' decides from the files")
        self.wizard_button = QPushButton("Video wizard…")
        self.wizard_button.setToolTip("Frames from videos: sampling, scenes, dedupe, captions (Ctrl+Shift+V)")
        self.wizard_button.clicked.connect(self.open_video_wizard)
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Rename the selected dataset (F2); runs and experiments using it follow")
        self.rename_button.clicked.connect(self.rename_selected)
        self.delete_button = QPushButton("Delete dataset")
        self.delete_button.clicked.connect(self.delete_selected)
        self.project_label = QLabel("Project")
        self.kind_label = QLabel("Kind")
        # The controls wrap onto a second line rather than squeeze: at the window's smallest (760x520)
        # they needed ~650 px of a 590 px view, and the buttons read "Video wiza".
        controls = QWidget()
        row = FlowLayout(controls, spacing=12, one_row_hint=True)
        for label, box in ((self.project_label, self.project_combo), (self.kind_label, self.kind_combo)):
            pair = QWidget()  # a label and its box wrap together
            pair_layout = QHBoxLayout(pair)
            pair_layout.setContentsMargins(0, 0, 0, 0)
            pair_layout.addWidget(label)
            pair_layout.addWidget(box)
            row.addWidget(pair)
        row.addWidget(self.wizard_button)
        row.addWidget(self.rename_button)
        row.addWidget(self.delete_button)
        self.header.addWidget(controls)

    def _build_main(self) -> None:
        self.table = dataset_table()
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.setToolTip("F2 renames the selected dataset; Delete deletes it (after asking)")
        bind("datasets.delete", self.table, self.delete_selected)
        bind("datasets.rename", self.table, self.rename_selected)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._popup)
        self.empty = QLabel("No datasets in this project yet: drop some files above.")
        self.empty.setObjectName("Muted")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.row_filter = RowFilter(self.table, "datasets")
        left = QWidget()
        left_layout = QGridLayout(left)  # the filter box above the list (or the 'no datasets' line)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.row_filter, 0, 0, Qt.AlignmentFlag.AlignLeft)
        left_layout.addWidget(self.table, 1, 0)
        left_layout.addWidget(self.empty, 1, 0)
        self.tabs = QTabWidget()
        self.preview = DatasetPreview(self.ctx)
        self.report = ReportView()
        self.card = QTextBrowser()
        self.card.setOpenExternalLinks(False)
        self.tabs.addTab(self.preview, "Preview")
        self.tabs.addTab(self.report, "Report")
        self.tabs.addTab(self.card, "Card")
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 2)
        state = self.ctx.qsettings.value("datasets/splitter")
        if state is not None:
            self.splitter.restoreState(state)
        else:  # a third for the table however early the view shows (its rows may not be read yet)
            self.splitter.setSizes([250, 500])
        self.body.addWidget(self.splitter, 1)

    # -- reading ------------------------------------------------------------------------------
    def project_id(self) -> int | None:
        value = self.project_combo.currentData()
        return int(value) if value is not None else None

    def _on_catalog(self, _found: list) -> None:
        if self.isVisible():
            self.refresh()

    def _on_projects(self, _found: list) -> None:
        # Any dataset write touches its project (a new `updated_at`), so the read after a rename or an
        # ingestion brings a new project list too: the rows are redrawn only when the project shown changed.
        if self.isVisible():
            self.refresh(rows=False)

    def refresh(self, rows: bool = True) -> None:
        """Projects and datasets from the app model (no store read). `rows=False`: the dataset rows
        are refilled only if another project is shown now."""
        all_projects = self.ctx.model.projects.projects
        wanted = self.ctx.current_project if self.ctx.current_project is not None else self.project_id()
        self.project_combo.blockSignals(True)
        self.project_combo.clear()
        for project in all_projects:
            self.project_combo.addItem(project.name, project.id)
        index = self.project_combo.findData(wanted) if wanted is not None else -1
        self.project_combo.setCurrentIndex(index if index >= 0 else (0 if all_projects else -1))
        self.project_combo.blockSignals(False)
        has_project = bool(all_projects)
        name = self.project_combo.currentText()
        self.project_combo.setToolTip(name)  # whole, where the box cuts a long name
        self.drop_zone.label.setText(DROP_TEXT.format(project=name) if has_project else
                                     "Datasets belong to a project. Create one, then drop files here.")
        for widget in (self.files_button, self.folder_button, self.wizard_button, self.kind_combo, self.kind_label,
                       self.project_label, self.project_combo, self.rename_button, self.delete_button):
            widget.setVisible(has_project)
        self.new_project_button.setVisible(not has_project)
        if rows or self.project_id() != self._filled_project:
            self._fill_table()

    def _fill_table(self) -> None:
        project = self.project_id()
        self._filled_project = project
        selected = self.selected_dataset()
        self._datasets = self.ctx.model.datasets.of_project(project) if project is not None else []
        # Refilling rows in place keeps a row selected without a selection signal (removing the
        # selected last row selects row 0 while it still holds the old project's dataset), so the
        # lower pane is told below, once the rows hold the new datasets.
        shown = selected.id if selected is not None else None
        self.table.blockSignals(True)
        self.table.clearSelection()
        self.table.setRowCount(len(self._datasets))
        for row, d in enumerate(self._datasets):
            fill_row(self.table, row, d)
        self.table.setVisible(bool(self._datasets))
        # No box to filter nothing with in a home without projects (a project's empty list keeps it:
        # Ctrl+F there still lands in it, and its datasets come with the next drop)
        self.row_filter.setVisible(project is not None)
        self.empty.setVisible(not self._datasets and project is not None)
        self.tabs.setVisible(bool(self._datasets) or self._failure_report)
        ids = [d.id for d in self._datasets]
        if selected is not None and selected.id in ids:
            self.select(selected.id)
        elif ids:
            self.select(ids[-1])  # the newest
        else:
            self.tabs.setTabText(1, "Report")
        self.table.blockSignals(False)
        now = self.selected_dataset()
        if now is not None and now.id != shown:
            self._on_selection()
        self._enable_actions(now)

    def row_texts(self) -> list[list[str]]:
        """What the table shows, row by row (for tests and screenshots)."""
        return table_texts(self.table)

    def selected_dataset(self) -> Dataset | None:
        dataset_id = selected_row_id(self.table)
        return next((item for item in self._datasets if item.id == dataset_id), None)

    def select(self, dataset_id: int) -> None:
        select_row_id(self.table, dataset_id)

    def _on_current_project_changed(self, project_id: object) -> None:
        self.banner.moved_to(project_id)  # "Dataset x created" is about its project's list
        if self.banner.text().startswith("Cannot delete") and self.banner.about != project_id:
            self.banner.clear_message()  # "'walk2' is in use" stayed over another project's list (walk s52e)
        self.refresh()

    def _on_project_chosen(self, _index: int) -> None:
        self.ctx.set_current_project(self.project_id())  # refreshes through current_project_changed

    def _on_selection(self) -> None:
        dataset = self.selected_dataset()
        self._enable_actions(dataset)
        if dataset is None:
            return
        self._failure_report = False
        self.preview.show_dataset(dataset)
        self._load_report_and_card(dataset)

    def _load_report_and_card(self, dataset: Dataset) -> None:
        store = self.store

        def read(_ctx: TaskContext) -> tuple[Dataset, dict[str, Any], list[tuple[Any, ...]], str]:
            from spark_trainer.ingest import read_report
            from spark_trainer.ingest.browse import noted_card, read_card, report_rows, with_note
            from spark_trainer.store.dataset_counts import current, manifest_note

            now = current(store, dataset)  # a manifest edited by hand since: counted again, once per edit
            note = manifest_note(now)
            report = with_note(read_report(Path(dataset.path)), note)
            return now, report, report_rows(report), noted_card(read_card(dataset.path), note)  # rows: one per duplicate

        task = Task(read, owner=self, name="dataset report")
        task.signals.succeeded.connect(lambda result: self._show_report_and_card(dataset, *result))
        task.signals.failed.connect(lambda message, _e: self.card.setPlainText(f"Cannot read the dataset: {message}"))
        self.ctx.tasks.start(task, self.ctx.pool)

    def _show_report_and_card(self, dataset: Dataset, now: Dataset, report: dict[str, Any],
                              rows: list[tuple[Any, ...]], card: str) -> None:
        if now != dataset:  # its manifest was edited by hand: every view of it hears the counts it has now
            self.ctx.model.datasets.apply_written(now)
        current = self.selected_dataset()
        if current is None or current.id != dataset.id:
            return
        if (now.num_items, now.version) != (dataset.num_items, dataset.version):
            self.preview.show_dataset(now)  # its pages end where the manifest ends now
        dataset = now
        self.report.show_report(report, f"Dataset {dataset.name}", rows)
        # Notes count too: "Report (0)" over a note that 1 of 8 images has no caption read as all clear.
        notes = len(report.get("notes") or [])
        said = f", {notes} note{'' if notes == 1 else 's'}" if notes else ""
        self.tabs.setTabText(1, f"Report ({dataset.num_rejected + dataset.num_duplicates:,}{said})")
        self.card.setMarkdown(card or f"# {dataset.name}\n\n(no card was written for this dataset)")

    def open_item(self, payload: Any) -> None:
        """Show a dataset by id (from the video wizard's summary link)."""
        try:
            dataset = self.ctx.model.datasets.get(int(payload))
        except (TypeError, ValueError):
            return
        if dataset is None:
            return
        self.ctx.set_current_project(dataset.project_id)
        self.refresh()
        self.select(dataset.id)

    def busy(self) -> bool:
        return self.preview.busy() or any(pending(t) for t in (self.ingest_task, self.delete_task, self.rename_task))

    def open_video_wizard(self) -> QWidget:
        from app.views.video_wizard import VideoWizard

        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            return self.wizard
        self.wizard = VideoWizard(self.store, self.ctx, self.project_id(), parent=self)
        self.wizard.dataset_created.connect(self.open_item)
        self.wizard.open()
        return self.wizard

    def focus_target(self) -> QWidget:
        return self.table

    def search_box(self) -> RowFilter:
        return self.row_filter

    def save_state(self) -> None:
        self.ctx.qsettings.setValue("datasets/splitter", self.splitter.saveState())
