"""Experiment setup's "Open experiment…": the experiments of the form's project, those without runs
too (made by `spark-trainer exp create`, or left when their runs were deleted), which had no place
in the app. One opens in the form under its own name, so Launch adds a run to it (`submit` reuses an
experiment by name); Delete… asks and deletes as the Runs list does (app.views.run_deletes).

The list is read on the pool when the dialog opens and after each delete.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.views.run_deletes import ON_THE_RUNS_LIST, RunDeletes
from app.widgets import MessageBanner, row_table, select_row_id, selected_row_id, table_texts
from app.workers import Task, pending
from spark_trainer.store.entities import Experiment, local_time
from spark_trainer.store.store import Store

COLUMNS = ["Name", "Recipe", "Dataset", "Runs", "Created", "Base model"]  # the model last: a path is long


class ExperimentPicker(QDialog):
    """Emits `chosen(experiment)` when one is opened (then closes)."""

    chosen = Signal(object)  # Experiment

    def __init__(self, store: Store, ctx: AppContext, project: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx, self.project = store, ctx, project.strip()
        self.setWindowTitle("Open an experiment")
        self.setMinimumSize(720, 360)
        self.experiments: list[Experiment] = []
        self.read_task: Task | None = None
        layout = QVBoxLayout(self)
        self.heading = QLabel(f"Experiments in project {self.project!r}. The one you open fills the form under "
                              "its name: Launch adds a run to it.")
        self.heading.setWordWrap(True)
        layout.addWidget(self.heading)
        self.banner = MessageBanner()
        layout.addWidget(self.banner)
        self.table = row_table(COLUMNS)
        self.table.itemSelectionChanged.connect(self._enable)
        self.table.itemDoubleClicked.connect(lambda _item: self.open_selected())
        layout.addWidget(self.table, 1)
        self.empty = QLabel("")
        self.empty.setObjectName("Muted")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty, 1)
        self.empty.hide()
        self.buttons = QDialogButtonBox()
        self.open_button = self.buttons.addButton("Open in the form", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setDefault(True)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the experiment with its runs' records, folders and exports (asks first)")
        self.buttons.addButton(self.delete_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.open_selected)
        self.buttons.rejected.connect(self.reject)
        self.delete_button.clicked.connect(self.delete_selected)
        layout.addWidget(self.buttons)
        self.deletes = RunDeletes(self, store, ctx, ON_THE_RUNS_LIST)
        self.deletes.deleted.connect(self._deleted)
        self.deletes.refused.connect(lambda text: self.banner.show_message(text, "error"))
        self._enable()
        self.reload()

    # -- reading ------------------------------------------------------------------------------
    def reload(self) -> Task | None:
        """Read the project's experiments on the pool (none to read for a project not made yet)."""
        if not any(p.name == self.project for p in self.ctx.model.projects.projects):
            self._fill([])
            return None
        from spark_trainer.store import experiments

        store, project = self.store, self.project
        task = Task(lambda _ctx: experiments.list_all(store, project), owner=self, name="read-experiments")
        task.signals.succeeded.connect(self._fill)
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(
            f"Could not read the experiments: {message}", "error"))
        self.read_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def busy(self) -> bool:
        return pending(self.read_task) or self.deletes.busy

    def _fill(self, found: list[Experiment]) -> None:
        selected = selected_row_id(self.table)
        self.experiments = sorted(found, key=lambda e: e.created_at, reverse=True)  # the newest first
        self.table.setRowCount(len(self.experiments))
        for row, experiment in enumerate(self.experiments):
            self._fill_row(row, experiment)
        self.table.setVisible(bool(self.experiments))
        self.empty.setVisible(not self.experiments)
        self.empty.setText(f"No experiments in project {self.project!r} yet: Launch makes one, named as the form's "
                           "Name says." if self.project else "Pick a project in the form first.")
        ids = [e.id for e in self.experiments]
        if ids:
            select_row_id(self.table, selected if selected in ids else ids[0])
        self._enable()

    def _fill_row(self, row: int, experiment: Experiment) -> None:
        dataset_text = experiment.dataset_text(self.ctx.model.datasets.names()) or "-"
        model = experiment.base_model
        cells = [experiment.name, experiment.recipe, dataset_text, f"{experiment.num_runs:,}",
                 f"{local_time(experiment.created_at):%Y-%m-%d %H:%M}", Path(model).name if Path(model).is_absolute() else model]
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, experiment.id)
            if column == 0 and experiment.notes:
                item.setToolTip(experiment.notes)  # `exp create --notes`, a run file's notes
            if column == 5:
                item.setToolTip(model)  # a model folder is shown by its name
            if column == 3:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.table.setItem(row, column, item)

    def row_texts(self) -> list[list[str]]:
        """What the table shows, row by row (for tests and screenshots)."""
        return table_texts(self.table)

    def selected(self) -> Experiment | None:
        chosen = selected_row_id(self.table)
        return next((e for e in self.experiments if e.id == chosen), None)

    def select(self, experiment_id: int) -> None:
        select_row_id(self.table, experiment_id)

    def _enable(self) -> None:
        has = self.selected() is not None
        self.open_button.setEnabled(has)
        self.delete_button.setEnabled(has)  # a second click while one is read or asked does nothing

    # -- acting -------------------------------------------------------------------------------
    def open_selected(self) -> None:
        experiment = self.selected()
        if experiment is not None:
            self.chosen.emit(experiment)
            self.accept()

    def delete_selected(self) -> Task | None:
        experiment = self.selected()
        if experiment is None:
            return None
        return self.deletes.ask_experiment(experiment.id)

    def _deleted(self, text: str) -> None:
        self.banner.show_message(text, "ok")
        self.reload()

