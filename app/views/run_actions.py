"""Pause, resume and cancel runs: which statuses allow each, and the Runs list's right-click menu
that applies them to the selected runs (the run page's buttons follow the same rules), with a queued
run's Priority… (app/views/priority_dialog.py), Delete and Delete experiment (app/views/run_deletes.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtWidgets import QMenu

from app.shortcuts import bind
from app.views.priority_dialog import RunPriority
from app.views.run_deletes import RunDeletes
from app.workers import Task
from spark_trainer.errors import SparkError
from spark_trainer.store import in_use
from spark_trainer.store.entities import Run, RunStatus

if TYPE_CHECKING:
    from app.views.runs_view import RunsView

STOPPED = (RunStatus.PAUSED, RunStatus.INTERRUPTED, RunStatus.FAILED, RunStatus.CANCELLED)


# "Run 2 is now queued" (the run page, the Runs list) and "Run 7 queued" (the setup form).
SAID_NOW = re.compile(rf"Run (\d+) (?:is now )?({'|'.join(s.value for s in RunStatus)})\b")


def outdated(message: str, status_of: Callable[[int], RunStatus | None]) -> bool:
    """Whether a 'Run N is now <status>' or 'Run N <status>' message no longer holds: a resumed run
    said 'queued' for the rest of its training under a 'running' badge, and the setup form said
    'Run 7 queued' after that run had finished."""
    for run_id, said in SAID_NOW.findall(message):
        status = status_of(int(run_id))
        if status is not None and status.value != said:
            return True
    return False


def stale_refusal(message: str, status_of: Callable[[int], RunStatus | None]) -> bool:
    """Whether a 'Cannot delete: ... run 6 is in progress (running)' line no longer holds: a run it
    names has moved on (the walk's Runs list said so minutes after run 6 was cancelled). A run
    `status_of` does not know (None) is taken as unchanged."""
    if "delete" not in message.split(":", 1)[0]:
        return False
    for run_id, said in in_use.runs_named_in(message):
        status = status_of(run_id)
        if status is not None and status.value != said:
            return True
    return False


class RefusalWatch(QObject):
    """Clears `banner`'s 'Cannot delete: ... run 6 is in progress (running)' once that run moves on,
    on views that do not list runs (Datasets, Projects). A child of the banner: it goes with it."""

    def __init__(self, banner: Any, runs_model: Any) -> None:
        super().__init__(banner)
        self.banner = banner
        runs_model.run_changed.connect(self._on_run_changed)

    def _on_run_changed(self, run: Run) -> None:
        if self.banner.role == "error" and stale_refusal(self.banner.text(), {run.id: run.status}.get):
            self.banner.clear_message()


RUN_ERROR = "run-error"  # `about` of the run page's banner while it shows the run's own error


def page_banner_outdated(banner: Any, run: Run) -> bool:
    """Whether the run page's banner no longer holds for `run`: the run's own error (`about` RUN_ERROR) once
    the run has none, a 'Run 2 is now queued' once it moved on, a 'Cannot delete: run 6 is in progress'
    once it is not. Any other error or warning (an action refused, a full disk) stays until the next action
    replaces it: cleared because the run had no error of its own, it went at the next poll, unread."""
    status_of = {run.id: run.status}.get
    if banner.role == "error" and banner.about == RUN_ERROR:
        return not run.error or run.status not in (RunStatus.FAILED, RunStatus.INTERRUPTED)
    if banner.role == "error":
        return stale_refusal(banner.text(), status_of)
    return banner.role == "ok" and outdated(banner.text(), status_of)


def can(action: str, status: RunStatus) -> bool:
    """Whether a run in `status` can be paused, resumed or cancelled."""
    if action == "pause":
        return status.is_active
    if action == "resume":
        return status in STOPPED
    if action == "cancel":
        return status.is_active or status in (RunStatus.QUEUED, RunStatus.PAUSED, RunStatus.INTERRUPTED)
    raise ValueError(f"unknown run action {action!r}")


class RunListActions(QObject):
    """Right-click on the Runs list: Open, Compare, and Pause / Resume / Cancel for the selected runs
    whose status allows it; Enter opens the selected run. Seen on a real display: the list offered
    only Open and Compare, so stopping three runs meant opening each one."""

    def __init__(self, view: RunsView) -> None:
        super().__init__(view)
        self.view = view
        self.task: Task | None = None
        table = view.table
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.customContextMenuRequested.connect(self._popup)
        bind("runs.open", table, view._open_selected)
        bind("runs.delete", table, self.ask_delete)
        self.deletes = RunDeletes(view, view.store, view.ctx)
        self.deletes.deleted.connect(self._deleted)
        self.deletes.refused.connect(lambda text: self.view.banner.show_message(text, "error"))
        self.priority = RunPriority(view, view.store, view.ctx)
        self.priority.said.connect(lambda text, role: self.view.banner.show_message(text, role))

    def ask_priority(self) -> object | None:
        """The selected queued run's Priority… dialog (its OK sets it on the pool)."""
        chosen = self.selected_runs()
        if len(chosen) != 1 or self.busy:
            return None
        return self.priority.ask(chosen[0])

    def ask_delete(self) -> Task | None:
        """The Delete key, or the menu: say what deleting the selected runs removes (read on the pool),
        and delete them once the user says so; Enter is Cancel. A run in progress is refused first."""
        chosen = self.selected_runs()
        if not chosen or self.busy:
            return None
        return self.deletes.ask_runs([run.id for run in chosen])

    def ask_delete_experiment(self) -> Task | None:
        """Delete the experiment of the selected runs, with all its runs, once the user says so."""
        experiments = {run.experiment_id for run in self.selected_runs()}
        if len(experiments) != 1 or self.busy:
            return None
        return self.deletes.ask_experiment(experiments.pop())

    def _deleted(self, text: str) -> None:
        self.view.banner.show_message(text, "ok")
        self.view.scheduler.tick()

    def selected_runs(self) -> list[Run]:
        model = self.view.model
        return [run for run in (model.get(i) for i in self.view.selected_ids()) if run is not None]

    def menu(self) -> QMenu:
        """The menu for the rows selected now (built per right-click)."""
        chosen = self.selected_runs()
        menu = QMenu(self.view.table)
        opened = menu.addAction("Open", self.view._open_selected)
        opened.setEnabled(bool(chosen))
        compared = menu.addAction("Compare selected", self.view._compare_selected)
        compared.setEnabled(len(chosen) >= 2)
        menu.addSeparator()
        for action, text in (("pause", "Pause"), ("resume", "Resume"), ("cancel", "Cancel")):
            fits = sorted(run.id for run in chosen if can(action, run.status))
            label = text if len(fits) <= 1 else f"{text} {len(fits)} runs"
            item = menu.addAction(label, self._apply_later(action, fits))
            item.setData(action)
            item.setEnabled(bool(fits) and not self.busy)
        queued = len(chosen) == 1 and chosen[0].status == RunStatus.QUEUED
        item = menu.addAction(f"Priority ({chosen[0].priority})…" if queued else "Priority…", self.ask_priority)
        item.setData("priority")
        item.setEnabled(queued and not self.busy)
        item.setToolTip("" if queued else "Select one queued run: its priority orders the queue")
        menu.addSeparator()
        item = menu.addAction("Delete…" if len(chosen) <= 1 else f"Delete {len(chosen)} runs…", self.ask_delete)
        item.setData("delete")
        item.setEnabled(bool(chosen) and not self.busy)
        names = {run.experiment_id: run.experiment for run in chosen}
        label = f"Delete experiment {next(iter(names.values()))!r}…" if len(names) == 1 else "Delete experiment…"
        item = menu.addAction(label, self.ask_delete_experiment)
        item.setData("delete-experiment")
        item.setEnabled(len(names) == 1 and not self.busy)
        item.setToolTip("Select runs of one experiment" if len(names) > 1 else "")
        return menu

    @property
    def busy(self) -> bool:
        return (self.task is not None and not self.task.delivered) or self.deletes.busy or self.priority.busy

    def _popup(self, pos: QPoint) -> None:
        self.menu().popup(self.view.table.viewport().mapToGlobal(pos))

    def _apply_later(self, action: str, run_ids: list[int]) -> Callable[[], None]:
        return lambda: self.apply(action, run_ids)

    def apply(self, action: str, run_ids: list[int]) -> Task | None:
        """Pause, resume or cancel the runs on the pool (a pause or cancel waits for the worker's
        checkpoint); the list shows their new status, the banner what happened."""
        if not run_ids or self.busy:
            return None
        store = self.view.store

        def work(_ctx: Any) -> tuple[list[tuple[Run, str | None]], list[str]]:
            from spark_trainer.jobs import control

            done, errors = [], []
            for run_id in run_ids:
                try:
                    done.append(control.acted(store, run_id, action))
                except SparkError as exc:
                    errors.append(f"Run {run_id}: {exc}")
            return done, errors

        names = ", ".join(map(str, run_ids))
        self.view.banner.show_message(f"{action.capitalize()} requested for run{'s' if len(run_ids) > 1 else ''} "
                                      f"{names}…", "info")
        task = Task(work, owner=self, name=f"runs-{action}")
        task.signals.succeeded.connect(lambda result: self._done(*result))
        task.signals.failed.connect(lambda message, _exc: self.view.banner.show_message(message, "error"))
        self.task = task
        return self.view.ctx.tasks.start(task, self.view.ctx.pool)

    def _done(self, done: list[tuple[Run, str | None]], errors: list[str]) -> None:
        for run, _said in done:
            self.view.model.apply_written(run)
        if errors:
            self.view.banner.show_message("; ".join(errors), "error")
        elif done:  # a worker that died before its checkpoint was saved: where a resume starts
            self.view.banner.show_message("; ".join(f"Run {r.id} is now {r.status.value}" + (f": {said}" if said else "")
                                                    for r, said in done),
                                          "warning" if any(said for _r, said in done) else "ok")
        self.view.scheduler.tick()
