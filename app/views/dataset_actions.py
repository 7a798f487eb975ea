"""Renaming and deleting the Datasets view's selected dataset: the buttons' and the right-click menu's
actions, the name dialog and the confirmations, the work on the pool, and what the banner says after."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMenu, QMessageBox

from app.confirm import ask_destructive
from app.views.name_dialog import NameDialog
from app.workers import Task, TaskContext, pending
from spark_trainer.errors import NotFound, SparkError
from spark_trainer.store import datasets, in_use

if TYPE_CHECKING:
    from spark_trainer.store.entities import Dataset


class DatasetActions:
    """The Datasets view's Rename and Delete (a mixin of DatasetsView). It uses the view's store, ctx,
    table, banner, rename_button and delete_button, and its selected_dataset(), refresh() and
    _load_report_and_card()."""

    rename_task: Task | None
    delete_task: Task | None
    dialog: NameDialog | None
    confirm_box: QMessageBox | None
    delete_box: QMessageBox | None

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
        taken = {d.name for d in self.ctx.model.datasets.of_project(dataset.project_id)}
        dialog = NameDialog(f"Rename {dataset.name}", dataset.name, with_description=False, what="dataset",
                            placeholder="e.g. flowers", taken=taken, parent=self)
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
        task.signals.failed.connect(lambda message, exc: self._gone(dataset) if isinstance(exc, NotFound) else
                                    self.banner.show_message(f"Could not rename: {message}", "error"))
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

    def delete_selected(self) -> Task | None:
        """Check on the pool that no run in progress uses the selected dataset, then ask (`delete_box`).
        Asked first, the box was answered only to hear that run 6 uses it (the walk's s50, s51)."""
        dataset = self.selected_dataset()
        if dataset is None or pending(self.delete_task):
            return None
        store = self.store

        def check(_ctx: TaskContext) -> str:
            datasets.get(store, dataset.id)  # NotFound: deleted elsewhere, nothing to ask about
            try:
                in_use.check(store, "dataset", dataset.id)
            except SparkError as exc:
                return f"Cannot delete: {exc}."
            return ""

        task = Task(check, owner=self, name="check-dataset")
        task.signals.succeeded.connect(lambda refused: self._ask_delete(dataset, refused))
        task.signals.failed.connect(lambda message, exc: self._delete_failed(dataset, message, exc))
        self.delete_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _ask_delete(self, dataset: Dataset, refused: str) -> None:
        if refused:
            self.banner.show_message(refused, "error", about=dataset.project_id)
            return
        self.delete_box = ask_destructive(self, f"Delete {dataset.name}?",
                                          f"Delete dataset {dataset.name!r} ({dataset.num_items:,} items) and its "
                                          f"folder {dataset.path}? Your original files are not touched.",
                                          "Delete dataset", lambda: self._delete(dataset))

    def _delete(self, dataset: Dataset, force: bool = False) -> Task:
        """Delete the dataset and its folder on the pool (`force`: though experiments use it)."""
        store = self.store

        def delete(_ctx: TaskContext) -> None:
            from spark_trainer.jobs.dataset_delete import delete_dataset

            delete_dataset(store, dataset.id, force=force)  # on a full disk the folder goes first, making room

        task = Task(delete, owner=self, name="delete-dataset")
        task.signals.succeeded.connect(lambda _r: self._deleted(dataset))
        task.signals.failed.connect(lambda message, exc: self._delete_failed(dataset, message, exc))
        self.delete_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _delete_failed(self, dataset: Dataset, message: str, exc: object) -> None:
        """Experiments use it, or paused runs train on it: ask again, saying what that leaves them (the store's
        words ask for --force, which this window has no place for, and it has no way to delete an experiment
        either)."""
        if isinstance(exc, NotFound):
            self._gone(dataset)
            return
        if not isinstance(exc, datasets.DatasetInUse):
            self.banner.show_message(f"Could not delete: {message}", "error")
            return
        self.confirm_box = ask_destructive(self, f"Delete {dataset.name} anyway?", in_use_text(dataset.name, exc),
                                           "Delete anyway", lambda: self._delete(dataset, force=True))

    def _gone(self, dataset: Dataset) -> None:
        """The dataset was deleted by another process (`dataset delete`, or `project delete` with its project)
        since the list was read: the store's words named its id and a command to run; say it in the window's
        words, and the list drops it now."""
        self.banner.show_message(f"Dataset {dataset.name!r} no longer exists (deleted elsewhere); the list has been "
                                 "refreshed.", "warning", about=dataset.project_id)
        self.ctx.model.datasets.apply_removed(dataset.id)
        self.ctx.model.refresh()
        self.refresh()

    def _deleted(self, dataset: Dataset) -> None:
        self.banner.show_message(f"Deleted dataset {dataset.name!r}.", "ok", about=dataset.project_id)
        self.ctx.model.datasets.apply_removed(dataset.id)
        self.ctx.model.refresh()
        self.refresh()


def in_use_text(name: str, exc: datasets.DatasetInUse) -> str:
    """What deleting a dataset anyway leaves its users: experiments without a dataset, and paused or
    interrupted runs that can no longer be resumed (the worker reads the dataset again on resume)."""
    parts = []
    if exc.experiments:
        users = (f"Experiment {exc.experiments[0]} uses" if len(exc.experiments) == 1
                 else f"Experiments {', '.join(exc.experiments)} use")
        parts.append(f"{users} dataset {name!r}. Deleted, it leaves them without a dataset: their runs, "
                     "charts and exports stay, and new runs need an experiment with another dataset.")
    if exc.runs:
        listed = datasets.resumable_text(exc.runs)
        runs = f"Run {listed} trains" if len(exc.runs) == 1 else f"Runs {listed} train"
        one = len(exc.runs) == 1
        parts.append(f"{runs} on dataset {name!r}{' too' if exc.experiments else ''}. Deleted, "
                     f"{'it' if one else 'they'} can no longer be resumed: only {'its' if one else 'their'} charts, "
                     "checkpoints and exports stay.")
    return "\n\n".join(parts)
