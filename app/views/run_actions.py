"""Pause, resume and cancel runs: which statuses allow each, and the Runs list's right-click menu
that applies them to the selected runs (the run page's buttons follow the same rules)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QMenu, QMessageBox

from app.confirm import ask_destructive
from app.workers import Task
from spark_trainer.errors import SparkError
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
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            shortcut = QShortcut(QKeySequence(key), table, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(view._open_selected)
        delete = QShortcut(QKeySequence(QKeySequence.StandardKey.Delete), table,
                           context=Qt.ShortcutContext.WidgetShortcut)
        delete.activated.connect(self.ask_delete)

    def ask_delete(self) -> QMessageBox | None:
        """The Delete key: delete the selected runs (records and folders) once the user says so; Enter
        is Cancel. A run still active is refused by the store, with its reason, in the banner."""
        chosen = self.selected_runs()
        if not chosen or self.busy:
            return None
        ids = sorted(run.id for run in chosen)
        names = ", ".join(f"{run.id} ({run.experiment})" for run in sorted(chosen, key=lambda r: r.id))
        return ask_destructive(
            self.view, f"Delete run {ids[0]}?" if len(ids) == 1 else f"Delete {len(ids)} runs?",
            f"Delete run {names}, its metrics and its folder?" if len(ids) == 1
            else f"Delete runs {names}, their metrics and their folders?", "&Delete",
            lambda: self.apply("delete", ids))

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
        return menu

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.delivered

    def _popup(self, pos: QPoint) -> None:
        self.menu().popup(self.view.table.viewport().mapToGlobal(pos))

    def _apply_later(self, action: str, run_ids: list[int]) -> Callable[[], None]:
        return lambda: self.apply(action, run_ids)

    def apply(self, action: str, run_ids: list[int]) -> Task | None:
        """Pause, resume, cancel or delete the runs on the pool (a pause or cancel waits for the worker's
        checkpoint); the list shows their new status, the banner what happened."""
        if not run_ids or self.busy:
            return None
        store = self.view.store

        def work(_ctx: Any) -> tuple[list[Run], list[str]]:
            from spark_trainer.jobs import control

            done, errors = [], []
            for run_id in run_ids:
                try:
                    done.append(getattr(control, action)(store, run_id))
                except SparkError as exc:
                    errors.append(f"Run {run_id}: {exc}")
            return done, errors

        names = ", ".join(map(str, run_ids))
        self.view.banner.show_message(f"{action.capitalize()} requested for run{'s' if len(run_ids) > 1 else ''} "
                                      f"{names}…", "info")
        task = Task(work, owner=self, name=f"runs-{action}")
        task.signals.succeeded.connect(lambda result: self._done(*result, deleted=action == "delete"))
        task.signals.failed.connect(lambda message, _exc: self.view.banner.show_message(message, "error"))
        self.task = task
        return self.view.ctx.tasks.start(task, self.view.ctx.pool)

    def _done(self, done: list[Run], errors: list[str], deleted: bool = False) -> None:
        if deleted:
            self.view.ctx.model.refresh()  # the rows go at the next read
        for run in [] if deleted else done:
            self.view.model.apply_written(run)
        if errors:
            self.view.banner.show_message("; ".join(errors), "error")
        elif done:
            self.view.banner.show_message("; ".join(f"Run {r.id} " + ("deleted" if deleted else f"is now {r.status.value}")
                                                    for r in done), "ok")
        self.view.scheduler.tick()
