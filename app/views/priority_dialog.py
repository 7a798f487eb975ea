"""A queued run's priority in the app: where it stands in the queue (the Runs list's Status tooltip, the
run's page) and the Priority… dialog that changes it (the Runs list's right-click menu, the run's page),
as `spark-trainer run priority RUN N` does, through the same core function
(`spark_trainer.store.run_priority.set_priority`: -100 to 100, only while the run is queued, recorded
as a run event). The write runs on the pool; a run that started meanwhile gets the core's refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QSpinBox, QWidget

from app.workers import Task, pending
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.run_priority import HIGHEST, LOWEST, changed_line, start_order

if TYPE_CHECKING:
    from app.context import AppContext
    from spark_trainer.store.store import Store

RULE = "Among queued runs the highest priority starts first; runs of equal priority in the order they were queued."


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def queue_places(runs: Iterable[Run], start: Callable[[int], str | None] | None = None) -> dict[int, str]:
    """Where each queued run stands (run id -> "priority 5, 1st of 3 queued to start"), from all runs known
    (any status); whether it fits its GPUs then is the scheduler's waiting reason. With `start` (a run id's
    estimated start, `QueueEndModel.start_text`), a second line says when it should start ("starts about 02:10")."""
    queued = start_order(r for r in runs if r.status == RunStatus.QUEUED)
    if len(queued) == 1:
        places = {queued[0].id: f"priority {queued[0].priority}, the only queued run"}
    else:
        places = {run.id: f"priority {run.priority}, {ordinal(place)} of {len(queued)} queued to start"
                  for place, run in enumerate(queued, start=1)}
    for run_id in places if start is not None else ():
        when = start(run_id)
        places[run_id] += f"\nstarts {when}" if when else ""
    return places


def place_text(run: Run, runs: Iterable[Run]) -> str:
    """`queue_places` of one queued run, as if it had the priority it has here (the dialog's value)."""
    return queue_places([r for r in runs if r.id != run.id] + [run])[run.id]


def capitalised(line: str) -> str:
    """The core's lines start lower-case ("run 7 is running; ..."); a banner's first word is capitalised."""
    return line[:1].upper() + line[1:]


class PriorityDialog(QDialog):
    """The priority of one queued run, -100 to 100, with where that puts it in the queue as you change it."""

    def __init__(self, run: Run, runs: list[Run], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run, self.runs = run, runs
        self.setWindowTitle(f"Priority of run {run.id}")
        self.setMinimumWidth(440)
        form = QFormLayout(self)
        about = QLabel(f"Run {run.id} · {run.experiment} is queued. {RULE}")
        about.setWordWrap(True)
        form.addRow(about)
        self.spin = QSpinBox()
        self.spin.setRange(LOWEST, HIGHEST)
        self.spin.setValue(run.priority)
        self.spin.setToolTip(f"{LOWEST} to {HIGHEST}, higher starts first (the run file's `priority:`)")
        form.addRow("Priority", self.spin)
        self.place = QLabel("")
        self.place.setProperty("role", "muted")
        form.addRow("", self.place)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.spin.valueChanged.connect(self._show_place)
        self._show_place(run.priority)

    def _show_place(self, value: int) -> None:
        self.place.setText(f"With {place_text(replace(self.run, priority=value), self.runs)}.")


class RunPriority(QObject):
    """Asks for a queued run's priority (`ask`) and sets it on the pool (`set`). Emits `said(text, role)`
    for the banner of the view that asked; `dialog` is the open dialog (tests answer it)."""

    said = Signal(str, str)

    def __init__(self, parent: QWidget, store: Store, ctx: AppContext) -> None:
        super().__init__(parent)
        self.parent_widget, self.store, self.ctx = parent, store, ctx
        self.dialog: PriorityDialog | None = None
        self.task: Task | None = None

    @property
    def busy(self) -> bool:
        return pending(self.task)

    def ask(self, run: Run) -> PriorityDialog | None:
        """Open the dialog for `run` (queued); OK sets the priority chosen."""
        if run.status != RunStatus.QUEUED or self.busy:
            return None
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = dialog = PriorityDialog(run, self.ctx.model.runs.all_runs(), self.parent_widget)
        dialog.accepted.connect(lambda: self.set(run.id, dialog.spin.value()))
        dialog.finished.connect(lambda _r: self._closed(dialog))
        dialog.open()
        return dialog

    def _closed(self, dialog: PriorityDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    def set(self, run_id: int, priority: int) -> Task | None:
        if self.busy:
            return None
        store = self.store

        def work(_ctx: Any) -> tuple[Run, int]:
            from spark_trainer.store.run_priority import set_priority

            return set_priority(store, run_id, priority)

        task = Task(work, owner=self, name="run-priority")
        task.signals.succeeded.connect(lambda result: self._set(*result))
        task.signals.failed.connect(self._refused)
        self.task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _set(self, run: Run, before: int) -> None:
        self.ctx.model.runs.apply_written(run)
        self.said.emit(capitalised(changed_line(run, before)), "ok")
        self.ctx.scheduler.tick()  # the queue's new order: every queued run's reason read again

    def _refused(self, message: str, _exc: object) -> None:
        self.said.emit(capitalised(message), "error")  # "Run 7 is running; only a queued run's priority can change"
        self.ctx.model.refresh()  # the run's status as it is now
