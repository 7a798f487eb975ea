"""Deleting runs, or an experiment with all its runs, from the app: the Runs list (Delete key,
right-click) and the run page use this one flow.

What goes is read on the pool first (spark_trainer.jobs.deletion: the runs, their folders and size,
the export folders the app made; a run in progress refuses here, before anything is asked), then the
one destructive box asks (Cancel the default) with a "keep the folders" box, then the delete runs on
the pool and the app model reads afresh, so every view (Runs list, Projects counts) follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from app.confirm import ask_destructive
from app.context import AppContext
from app.workers import Task, pending
from spark_trainer.errors import Conflict
from spark_trainer.jobs.deletion import DeletePlan, Outcome
from spark_trainer.store.store import Store

# Where the store's refusal ("... in progress; cancel or pause it before deleting") is acted on, said by the
# view that refuses: short, as a title row's banner is one line (one wording for every view, "Pause and Cancel
# are on the Runs list's right-click menu and on the run's page", was cut with "…" at 1280 px).
ON_THE_LIST = "(right-click the run ▸ Pause or Cancel)"
ON_ITS_PAGE = "(Pause and Cancel are above)"
ON_THE_RUNS_LIST = "(Pause and Cancel are on the Runs list)"


class RunDeletes(QObject):
    """Emits `deleted(text)` once a delete is done (for the banner), `refused(text)` when nothing was
    deleted (a run in progress, or the delete failed). `box` is the open question (tests answer it)."""

    deleted = Signal(str)
    refused = Signal(str)

    def __init__(self, parent: QWidget, store: Store, ctx: AppContext, where_to_stop: str = ON_THE_LIST) -> None:
        super().__init__(parent)
        self.parent_widget, self.store, self.ctx = parent, store, ctx
        self.where_to_stop = where_to_stop
        self.box: QMessageBox | None = None
        self.task: Task | None = None
        self._focus: QWidget | None = None  # what had the keys when a delete was asked

    @property
    def busy(self) -> bool:
        return pending(self.task)

    def ask_runs(self, run_ids: list[int]) -> Task | None:
        """Say what deleting these runs removes, and delete them once the user says so."""
        if not run_ids or self.busy:
            return None
        from spark_trainer.jobs.deletion import plan_runs

        self._focus = QApplication.focusWidget()

        store, ids = self.store, sorted(run_ids)
        return self._read(lambda: plan_runs(store, ids), self._ask_runs)

    def ask_experiment(self, experiment_id: int) -> Task | None:
        """Say what deleting the experiment (all its runs, queued ones too) removes; delete it once told to."""
        if self.busy:
            return None
        from spark_trainer.jobs.deletion import plan_experiment

        self._focus = QApplication.focusWidget()

        store = self.store
        return self._read(lambda: plan_experiment(store, experiment_id), lambda plan: self._ask_experiment(
            plan, experiment_id))

    # -- reading, asking, deleting ---------------------------------------------------------------
    def _start(self, fn: Callable[[], Any], name: str, done: Callable[[Any], None]) -> Task:
        task = Task(lambda _ctx: fn(), owner=self, name=name)
        task.signals.succeeded.connect(done)
        task.signals.failed.connect(self._failed)
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _failed(self, message: str, exc: object) -> None:
        self.ctx.model.refresh()  # of several runs, those deleted before one refused are gone
        from spark_trainer.jobs.deletion import CheckpointInUse

        # Pause and Cancel help a run in progress, not an export reading the run's checkpoint.
        stoppable = isinstance(exc, Conflict) and not isinstance(exc, CheckpointInUse)
        self.refused.emit(f"Cannot delete: {message}" + (f" {self.where_to_stop}." if stoppable else "."))

    def _read(self, plan: Callable[[], DeletePlan], ask: Callable[[DeletePlan], None]) -> Task:
        return self._start(plan, "read-delete", ask)

    def _open(self, plan: DeletePlan, title: str, action: str, detail: str, keep: str,
              delete: Callable[[bool], Any]) -> None:
        box = ask_destructive(self.parent_widget, title, plan.question(), action,
                              lambda: self._delete(plan, delete, box.checkBox().isChecked()),
                              detail=detail + _kept_note(plan), checkbox=keep)
        box.checkBox().setEnabled(bool(plan.run_dirs or plan.export_dirs))
        box.checkBox().toggled.connect(lambda keep_files: box.setText(plan.question(keep_files=keep_files)))
        box.finished.connect(self._give_focus_back)
        self.box = box

    def _give_focus_back(self) -> None:
        """The keys back where they were (the Runs list: Delete again, arrows). The box opens once the
        read is delivered, not in the key press, and on closing it left no window active (seen on Xvfb
        and offscreen): the next Delete went nowhere."""
        self.parent_widget.window().activateWindow()
        if self._focus is not None and self._focus.isVisible():
            self._focus.setFocus()

    def _ask_runs(self, plan: DeletePlan) -> None:
        from spark_trainer.jobs import control

        one = len(plan.run_ids) == 1
        store = self.store

        def delete(keep_files: bool) -> None:
            for run_id in plan.run_ids:
                control.delete(store, run_id, keep_files=keep_files)

        self._open(plan, f"Delete run {plan.name}?" if one else f"Delete {len(plan.run_ids)} runs?", "&Delete",
                   ("Its metrics, checkpoints, logs and samples go with it." if one else
                    "Their metrics, checkpoints, logs and samples go with them.") + " This cannot be undone.",
                   "Keep the run's folder on disk" if one else "Keep the runs' folders on disk", delete)

    def _ask_experiment(self, plan: DeletePlan, experiment_id: int) -> None:
        from spark_trainer.jobs import control

        store = self.store
        listed = ", ".join(map(str, plan.run_ids))
        one = len(plan.run_ids) == 1
        runs_go = (f"Its run{'' if one else 's'} ({listed}) go{'es' if one else ''} with it, with {'its' if one else 'their'}"
                   " metrics, checkpoints, logs and samples. " if plan.run_ids else "")
        self._open(plan, f"Delete experiment {plan.name}?", "Delete experiment",
                   runs_go + "This cannot be undone.", "Keep the run's folder on disk" if one else
                   "Keep the run folders on disk",
                   lambda keep_files: control.delete_experiment(store, experiment_id, keep_files=keep_files))

    def _delete(self, plan: DeletePlan, delete: Callable[[bool], Any], keep_files: bool) -> Task:
        from spark_trainer.cli.confirm import deleted_text

        what = f"experiment {plan.name!r}" if plan.kind == "experiment" else (
            f"run {plan.name}" if len(plan.run_ids) == 1 else f"runs {plan.name}")

        def done(_result: Any) -> None:
            self.ctx.model.refresh()  # the rows go at the next read, in every view
            text = deleted_text(what, Outcome.after(plan), keep_files=keep_files)
            self.deleted.emit(text[:1].upper() + text[1:] + ".")

        return self._start(lambda: delete(keep_files), "delete", done)


def _kept_note(plan: DeletePlan) -> str:
    if not plan.user_exports:
        return ""
    return "\n\nExport folders you chose (not in the data home's exports folder) stay: " + ", ".join(plan.user_exports) + "."
