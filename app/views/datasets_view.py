"""Datasets: drop files or folders to build a dataset (app/views/dataset_ingestion.py: off the GUI
thread, with progress and cancel), then browse it: the rejected-items report, a preview (table or
thumbnails) and the card. Rename (F2, the button, right-click) and Delete act on the selected one."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QWidget,
)

from app.confirm import ask_destructive
from app.context import AppContext
from app.flow_layout import FlowLayout
from app.views.base import BaseView
from app.views.dataset_ingestion import DatasetIngestion
from app.views.dataset_preview import DatasetPreview
from app.views.dataset_report import ReportView
from app.views.dataset_table import dataset_table, fill_row
from app.views.name_dialog import NameDialog
from app.views.row_filter import RowFilter
from app.widgets import (
    MessageBanner,
    select_row_id,
    selected_row_id,
    table_texts,
)
from app.workers import Task, TaskContext, pending
from spark_trainer.store import datasets
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store

KINDS = ["auto", "text", "image", "audio", "video"]
DROP_TEXT = ("Drop files or folders here to build a dataset in <b>{project}</b><br>"
             "<span>text: JSONL, JSON, CSV, TSV, TXT, Parquet · images: PNG, JPEG, WebP… (sub-folders become "
             "labels) · audio · videos (or use the video wizard for frames)</span>")


class DatasetsView(DatasetIngestion, BaseView):
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
        ctx.current_project_changed.connect(self._on_current_project_changed)
        ctx.model.projects.projects_reset.connect(self._on_projects)  # another process added or removed some
        ctx.model.datasets.datasets_reset.connect(self._on_catalog)
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
        QShortcut(QKeySequence.StandardKey.Delete, self.table, context=Qt.ShortcutContext.WidgetShortcut).activated.connect(
            self.delete_selected)
        QShortcut(QKeySequence(Qt.Key.Key_F2), self.table, context=Qt.ShortcutContext.WidgetShortcut).activated.connect(
            self.rename_selected)
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
        def read(_ctx: TaskContext) -> tuple[dict[str, Any], list[tuple[Any, ...]], str]:
            from spark_trainer.ingest import read_report
            from spark_trainer.ingest.browse import read_card, report_rows

            report = read_report(Path(dataset.path))
            return report, report_rows(report), read_card(dataset.path)  # rows here: one per duplicate

        task = Task(read, owner=self, name="dataset report")
        task.signals.succeeded.connect(lambda result: self._show_report_and_card(dataset, *result))
        task.signals.failed.connect(lambda message, _e: self.card.setPlainText(f"Cannot read the dataset: {message}"))
        self.ctx.tasks.start(task, self.ctx.pool)

    def _show_report_and_card(self, dataset: Dataset, report: dict[str, Any], rows: list[tuple[Any, ...]],
                              card: str) -> None:
        current = self.selected_dataset()
        if current is None or current.id != dataset.id:
            return
        self.report.show_report(report, f"Dataset {dataset.name}", rows)
        self.tabs.setTabText(1, f"Report ({dataset.num_rejected + dataset.num_duplicates:,})")
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

    # -- other actions ------------------------------------------------------------------------
    def _enable_actions(self, dataset: Dataset | None) -> None:
        self.rename_button.setEnabled(dataset is not None)
        self.delete_button.setEnabled(dataset is not None)

    def menu(self) -> QMenu:
        """The right-click menu for the selected dataset (built per click)."""
        menu = QMenu(self.table)
        chosen = self.selected_dataset() is not None
        menu.addAction("Rename…", self.rename_selected).setEnabled(chosen)
        menu.addAction("Delete dataset…", self.delete_selected).setEnabled(chosen)
        return menu

    def _popup(self, pos: QPoint) -> None:
        self.menu().popup(self.table.viewport().mapToGlobal(pos))

    def rename_selected(self) -> NameDialog | None:
        """Ask for the selected dataset's new name (checked as typed, as ingestion checks one)."""
        dataset = self.selected_dataset()
        if dataset is None or pending(self.rename_task):
            return None
        dialog = NameDialog(f"Rename {dataset.name}", dataset.name, with_description=False, what="dataset",
                            placeholder="e.g. flowers", parent=self)
        dialog.accepted.connect(lambda: self._rename(dataset, dialog.name.text()))
        self.dialog = dialog
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.open()
        dialog.name.selectAll()
        return dialog

    def _rename(self, dataset: Dataset, new_name: str) -> Task:
        """Rename on the pool (the record, then the card's heading); a taken name comes back in the banner."""
        from spark_trainer.ingest.rename import rename_dataset

        store = self.store
        task = Task(lambda _ctx: rename_dataset(store, dataset.id, new_name), owner=self, name="rename-dataset")
        task.signals.succeeded.connect(self._renamed)
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(f"Could not rename: {message}",
                                                                                   "error"))
        self.rename_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _renamed(self, renamed: Any) -> None:
        dataset = renamed.dataset
        if renamed.old_name == dataset.name:  # the name it had: the store wrote nothing
            self.banner.show_message(f"{dataset.name!r} already has that name: nothing changed.", "info")
            return
        note = f" Note: {renamed.card_note}." if renamed.card_note else ""
        self.banner.show_message(f"Renamed dataset {renamed.old_name!r} to {dataset.name!r}. Runs and experiments "
                                 f"that use it follow; a saved run file naming {renamed.old_name!r} needs the new "
                                 f"name.{note}", "warning" if note else "ok")
        # Every view listing datasets hears it from the model, this one too (`_on_catalog`, or at its next show).
        self.ctx.model.datasets.apply_written(dataset)
        self.ctx.model.refresh()
        if self.selected_dataset() is not None and self.selected_dataset().id == dataset.id:
            self._load_report_and_card(dataset)  # the card's heading and the report's title name it anew

    def delete_selected(self) -> QMessageBox | None:
        dataset = self.selected_dataset()
        if dataset is None:
            return None
        return ask_destructive(self, f"Delete {dataset.name}?",
                               f"Delete dataset {dataset.name!r} ({dataset.num_items:,} items) and its folder "
                               f"{dataset.path}? Your original files are not touched.", "Delete dataset",
                               lambda: self._delete(dataset))

    def _delete(self, dataset: Dataset, force: bool = False) -> Task:
        """Delete the dataset and its folder on the pool (`force`: though experiments use it)."""
        store = self.store

        def delete(_ctx: TaskContext) -> None:
            datasets.delete(store, dataset.id, force=force)
            folder = Path(dataset.path)
            if folder.is_dir() and folder.is_relative_to(store.home.datasets_dir):
                shutil.rmtree(folder)

        task = Task(delete, owner=self, name="delete-dataset")
        task.signals.succeeded.connect(lambda _r: self._deleted(dataset))
        task.signals.failed.connect(lambda message, exc: self._delete_failed(dataset, message, exc))
        self.delete_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _delete_failed(self, dataset: Dataset, message: str, exc: object) -> None:
        """Experiments use it: ask again, saying what that leaves them (the store's words ask for --force,
        which this window has no place for, and it has no way to delete an experiment either)."""
        if not isinstance(exc, datasets.DatasetInUse):
            self.banner.show_message(f"Could not delete: {message}", "error")
            return
        users = (f"Experiment {exc.experiments[0]} uses" if len(exc.experiments) == 1
                 else f"Experiments {', '.join(exc.experiments)} use")
        self.confirm_box = ask_destructive(
            self, f"Delete {dataset.name} anyway?",
            f"{users} dataset {dataset.name!r}. Deleted, it leaves them without a dataset: "
            "their runs, charts and exports stay, and new runs need an experiment with another dataset.",
            "Delete anyway", lambda: self._delete(dataset, force=True))

    def _deleted(self, dataset: Dataset) -> None:
        self.banner.show_message(f"Deleted dataset {dataset.name!r}.", "ok", about=dataset.project_id)
        self.ctx.model.datasets.apply_removed(dataset.id)
        self.ctx.model.refresh()
        self.refresh()

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
