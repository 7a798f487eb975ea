"""The setup form's sweep: one or more settings of the recipe's schema, several values each, one
run per combination (the cross product), as `spark-trainer train --sweep K=... --sweep K=...` queues.

The values are parsed and every run's config checked by `spark_trainer.config.sweep` (as `train
--sweep` does) as they are typed; Queue submits them on the pool with `jobs.sweeps.queue_sweep`.
Once queued, "Compare SWEEP" shows the sweep's runs in the Runs view, side by side.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import ERROR_STYLE
from app.views.sweep_axis_row import SweepAxisRow
from app.widgets import MessageBanner
from app.workers import Task, pending
from spark_trainer.config.sweep import (
    MAX_RUNS,
    SweepAxis,
    SweepField,
    SweptTwice,
    make_axis,
    run_count,
    sweep_configs,
    sweepable_fields,
)
from spark_trainer.errors import BadInput, SparkError
from spark_trainer.store.store import Store

# The settings a new row offers first, in this order, when the sweep does not have them yet.
USUAL = ("train.learning_rate", "recipe_config.lora_r", "train.batch_size", "train.seed", "train.max_steps")
MAX_ROWS = int(math.log2(MAX_RUNS))  # two values each already make MAX_RUNS runs


class SetupForm(Protocol):
    """What the panel needs of the setup view."""

    launch: QPushButton

    def config_data(self) -> dict[str, Any]: ...

    def _say(self, text: str, role: str) -> None: ...


class SweepPanel(QGroupBox):
    """Emits `checked` after each check of its values: the setup form then checks the sweep's runs
    against the store (their data advice) and answers with `show_warnings`."""

    checked = Signal()
    rows_changed = Signal()  # a setting row came or went (the setup view puts it in its Tab order)

    def __init__(self, store: Store, ctx: AppContext, form: SetupForm, parent: QWidget | None = None) -> None:
        super().__init__("Sweep", parent)
        self.store, self.ctx, self.form = store, ctx, form
        self.fields: list[SweepField] = []
        self.rows: list[SweepAxisRow] = []
        self.axes: list[SweepAxis] | None = None  # checked: what Queue submits
        self.queued_name: str | None = None
        self.queued_ids: list[int] = []
        self._task: Task | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("Queue one run per combination of the values below; the rest of the form is shared.")
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setSpacing(0)
        layout.addLayout(self.rows_layout)
        self.add_button = QPushButton("+ Add setting")
        self.add_button.setToolTip("Sweep another setting too: every value with every value of the others")
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        layout.addLayout(add_row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.data_warning = MessageBanner()  # the recipe's advice on the sweep's runs (`train --sweep`'s words)
        layout.addWidget(self.data_warning)
        buttons = QHBoxLayout()
        self.queue = QPushButton("Queue sweep")
        self.compare = QPushButton("Compare sweep")
        self.compare.setToolTip("Show the sweep's runs in the Runs view, side by side")
        self.compare.hide()
        buttons.addWidget(self.queue, 1)
        buttons.addWidget(self.compare, 1)
        layout.addLayout(buttons)
        self.add_button.clicked.connect(lambda: self.add_row())
        self.queue.clicked.connect(self.queue_sweep)
        self.compare.clicked.connect(self.open_compare)
        self._append_row(None)  # checked once the form is built (set_recipe)

    # --- the settings and their values ------------------------------------------------------------
    def set_recipe(self, recipe: str) -> None:
        """Offer `recipe`'s settings (the shared sections' first) in every row, keeping each row's
        setting where the recipe has it."""
        try:
            self.fields = sweepable_fields(recipe)
        except BadInput:
            self.fields = []
        keys = {f.key for f in self.fields}
        for row in self.rows:  # a setting this recipe lacks gives way to one no row has
            row.blockSignals(True)
            row.set_fields(self.fields, row.key() if row.key() in keys else self._next_key())
            row.blockSignals(False)
        self._update_rows()
        self.revalidate()

    def _next_key(self) -> str | None:
        taken = {row.key() for row in self.rows}
        keys = [f.key for f in self.fields]
        usual = [k for k in USUAL if k in keys and k not in taken]
        rest = [k for k in keys if k not in taken]
        return (usual or rest or [None])[0]

    def add_row(self, key: str | None = None) -> SweepAxisRow:
        """A new setting row, on `key` or the next usual setting the sweep lacks."""
        row = self._append_row(key)
        self.revalidate()
        return row

    def _append_row(self, key: str | None) -> SweepAxisRow:
        row = SweepAxisRow(self.fields, self._form_value, key or self._next_key())
        row.changed.connect(self.revalidate)
        row.remove_requested.connect(self.remove_row)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        self._update_rows()
        return row

    def remove_row(self, row: SweepAxisRow) -> None:
        if row not in self.rows or len(self.rows) == 1:
            return
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.hide()
        row.deleteLater()
        self._update_rows()
        self.revalidate()

    def _update_rows(self) -> None:
        self.rows_changed.emit()
        for row in self.rows:
            row.remove.setEnabled(len(self.rows) > 1)
        full = len(self.rows) >= min(MAX_ROWS, len(self.fields) or 1)
        self.add_button.setEnabled(not full)
        self.add_button.setToolTip(f"A sweep queues at most {MAX_RUNS} runs: {MAX_ROWS} settings of two values"
                                   if full else "Sweep another setting too: every value with every value of the others")

    def _form_value(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return (self.form.config_data().get(section) or {}).get(name)

    # --- checking and queuing ----------------------------------------------------------------------
    def revalidate(self) -> None:
        """Check every run the sweep would queue, as `train --sweep` does; say how many or what is wrong."""
        self.axes = None
        if not self.rows:
            return  # still building
        for row in self.rows:
            row.refresh_hint()  # "the form has ...": the form changes under the rows
        missing = [row.key() for row in self.rows if not row.value_texts()]
        if not self.fields or missing:
            self._show(f"Give two or more values of {missing[0]}." if missing and missing[0] else
                       "Give two or more values.", ok=False, quiet=True)
            return
        single = next((row.key() for row in self.rows if len(row.value_texts()) == 1), None)
        if single:  # the CLI's words for it name --set
            self._show(f"Give two or more values of {single} (one value: set it in the form instead)", ok=False)
            return
        try:
            axes = [make_axis(row.key(), row.value_texts()) for row in self.rows]
            count = len(sweep_configs(self.form.config_data(), axes))
        except SweptTwice as exc:  # the CLI's words name --sweep; here it is two rows
            self._show(f"{exc.key} is in two rows; give all its values in one row and choose another setting "
                       "in the other", ok=False)
            return
        except SparkError as exc:  # the CLI's "sweep KEY=V: ..."; the panel is the sweep
            self._show(str(exc).removeprefix("sweep ").removeprefix(": "), ok=False)
            return
        self.axes = axes
        listed = [f"{a.key} = {', '.join(a.texts)}" for a in axes]
        if len(axes) == 1:
            self._show(f"{count} runs: {listed[0]}", ok=True)
        else:
            sizes = " × ".join(str(len(a.values)) for a in axes)
            self._show(f"{count} runs ({sizes}):\n" + "\n".join(listed), ok=True)

    def _show(self, text: str, *, ok: bool, quiet: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("" if ok or quiet else ERROR_STYLE)
        self.status.setObjectName("Muted" if quiet else "")
        if self.axes is None:
            self.data_warning.clear_message()  # no runs to warn of
        self.update_button()
        self.checked.emit()

    def show_warnings(self, warnings: list[str]) -> None:
        """The data advice on the sweep's runs (the setup form's check, on the pool, found it)."""
        if warnings and self.axes is not None:
            self.data_warning.show_message("\n".join(f"Warning: {w}" for w in warnings), "warning")
        else:
            self.data_warning.clear_message()

    def update_button(self) -> None:
        """Queue needs a valid sweep and a form that can launch (the setup view calls this as it checks)."""
        busy = pending(self._task)
        count = run_count(self.axes) if self.axes is not None else 0
        self.queue.setText("Queuing…" if busy else (f"Queue sweep ({count} runs)" if count else "Queue sweep"))
        self.queue.setEnabled(self.axes is not None and self.form.launch.isEnabled() and not busy)
        self.queue.setToolTip("" if self.form.launch.isEnabled() else "The form must be ready to launch first")

    def queue_sweep(self) -> Task | None:
        """Queue the sweep's runs on the pool; the form's values are checked again there by submit."""
        self.revalidate()
        if not self.queue.isEnabled() or self.axes is None:
            return None
        data, axes, store = self.form.config_data(), list(self.axes), self.store

        def submit(_ctx: Any) -> Any:
            from spark_trainer.jobs.sweeps import queue_sweep

            return queue_sweep(store, data, axes, base_dir=Path.cwd())

        task = Task(submit, owner=self, name="queue-sweep")
        task.signals.succeeded.connect(self._queued)
        task.signals.failed.connect(lambda message, _exc: self._failed(message))
        self._task = task
        self.ctx.tasks.start(task, self.ctx.pool)
        self.update_button()
        return task

    def _queued(self, queued: Any) -> None:
        self._task = None
        self.queued_name = queued.name
        self.queued_ids = [run.id for run in queued.runs]
        self.compare.setText(f"Compare {queued.name}")
        self.compare.show()
        ids = ", ".join(str(i) for i in self.queued_ids)
        self.form._say(f"Sweep {queued.name}: runs {ids} queued", "ok")
        for run in queued.runs:
            self.ctx.model.runs.apply_written(run)
        self.ctx.model.refresh()
        self.ctx.scheduler.tick()
        self.update_button()

    def _failed(self, message: str) -> None:
        self._task = None
        self.form._say(f"Sweep not queued: {message}", "error")
        self.update_button()

    def open_compare(self) -> None:
        """The Runs view, filtered on the sweep, comparing its runs."""
        if self.queued_name is not None:
            self.ctx.navigate("runs", {"sweep": self.queued_name})

    def busy(self) -> bool:
        return pending(self._task)
