"""The setup form's sweep: one setting of the recipe's schema, several values, one run per value.

The values are parsed and every run's config checked by `spark_trainer.config.sweep` (as `train
--sweep` does) as they are typed; Queue submits them on the pool with `jobs.sweeps.queue_sweep`.
Once queued, "Compare sweep" opens the runs side by side in the Runs view's compare page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import ERROR_STYLE
from app.workers import Task, pending
from spark_trainer.config.sweep import SweepAxis, SweepField, make_axis, sweep_configs, sweepable_fields
from spark_trainer.errors import BadInput, SparkError
from spark_trainer.store.store import Store


class SetupForm(Protocol):
    """What the panel needs of the setup view."""

    launch: QPushButton

    def config_data(self) -> dict[str, Any]: ...

    def _say(self, text: str, role: str) -> None: ...


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class SweepPanel(QGroupBox):
    def __init__(self, store: Store, ctx: AppContext, form: SetupForm, parent: QWidget | None = None) -> None:
        super().__init__("Sweep", parent)
        self.store, self.ctx, self.form = store, ctx, form
        self.fields: list[SweepField] = []
        self.axis: SweepAxis | None = None
        self.queued_ids: list[int] = []
        self._choice_mode = False
        self._task: Task | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("Queue one run per value of one setting; the rest of the form is shared.")
        intro.setObjectName("Muted")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        rows = QFormLayout()
        self.field = QComboBox()
        self.field.setToolTip("A setting of the recipe's schema: numbers, choices or switches")
        self.values = QLineEdit()
        self.values.setToolTip("Comma-separated values, as `spark-trainer train --sweep KEY=V1,V2` takes them")
        self.choices = QWidget()  # a check box per choice, for choice and on/off settings
        self.choice_row = QHBoxLayout(self.choices)
        self.choice_row.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("")
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        cell = QWidget()  # the text box or the check boxes, whichever the setting takes
        cell_layout = QVBoxLayout(cell)
        cell_layout.setContentsMargins(0, 0, 0, 0)
        cell_layout.addWidget(self.values)
        cell_layout.addWidget(self.choices)
        cell_layout.addWidget(self.hint)
        rows.addRow("Setting", self.field)
        rows.addRow("Values", cell)
        layout.addLayout(rows)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        buttons = QHBoxLayout()
        self.queue = QPushButton("Queue sweep")
        self.compare = QPushButton("Compare sweep")
        self.compare.setToolTip("Open the sweep's runs side by side (Runs ▸ compare)")
        self.compare.hide()
        buttons.addWidget(self.queue, 1)
        buttons.addWidget(self.compare, 1)
        layout.addLayout(buttons)
        self.field.currentIndexChanged.connect(self._on_field)
        self.values.textChanged.connect(self.revalidate)
        self.queue.clicked.connect(self.queue_sweep)
        self.compare.clicked.connect(self.open_compare)

    # --- the setting and its values --------------------------------------------------------------
    def set_recipe(self, recipe: str) -> None:
        """Offer `recipe`'s settings (the shared sections' first), keeping the chosen one if it is there."""
        try:
            self.fields = sweepable_fields(recipe)
        except BadInput:
            self.fields = []
        keep = self.field.currentText()
        self.field.blockSignals(True)
        self.field.clear()
        for spec in self.fields:
            self.field.addItem(spec.key)
            self.field.setItemData(self.field.count() - 1, spec.help, 3)  # ToolTipRole
        index = self.field.findText(keep)
        self.field.setCurrentIndex(index if index >= 0 else max(self.field.findText("train.learning_rate"), 0))
        self.field.blockSignals(False)
        self._on_field()

    def current_field(self) -> SweepField | None:
        index = self.field.currentIndex()
        return self.fields[index] if 0 <= index < len(self.fields) else None

    def _on_field(self) -> None:
        spec = self.current_field()
        while self.choice_row.count():
            item = self.choice_row.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()
                item.widget().deleteLater()
        choices = () if spec is None else (spec.choices or ((True, False) if spec.kind == "bool" else ()))
        for choice in choices:
            box = QCheckBox(_text(choice))
            box.toggled.connect(self.revalidate)
            self.choice_row.addWidget(box)
        self.choice_row.addStretch(1)
        self.choices.setVisible(bool(choices))
        self.values.setVisible(not choices)
        self._choice_mode = bool(choices)
        self.values.clear()
        if spec is not None:
            example = {"float": "e.g. 1e-4, 3e-4, 1e-3", "int": "e.g. 4, 8, 16"}.get(spec.kind, "")
            self.values.setPlaceholderText(example)
            allowed = f" · allowed {spec.bounds}" if spec.bounds else ""
            self.hint.setText(f"{spec.help}{allowed} · the form has {_text(self._form_value(spec.key))}")
        self.revalidate()

    def _form_value(self, key: str) -> Any:
        section, _, name = key.partition(".")
        return (self.form.config_data().get(section) or {}).get(name)

    def value_texts(self) -> list[str]:
        if self._choice_mode:
            return [box.text() for box in self.choices.findChildren(QCheckBox) if box.isChecked()]
        text = self.values.text().strip()
        return text.split(",") if text else []

    def check_choice(self, text: str, checked: bool = True) -> None:
        for box in self.choices.findChildren(QCheckBox):
            if box.text() == text:
                box.setChecked(checked)

    # --- checking and queuing ----------------------------------------------------------------------
    def revalidate(self) -> None:
        """Check every run the sweep would queue, as `train --sweep` does; say how many or what is wrong."""
        spec = self.current_field()
        texts = self.value_texts()
        self.axis = None
        if spec is None or not texts:
            self._show("Give two or more values.", ok=False, quiet=True)
            return
        try:
            axis = make_axis(spec.key, texts)
            count = len(sweep_configs(self.form.config_data(), [axis]))
        except SparkError as exc:
            self._show(str(exc), ok=False)
            return
        self.axis = axis
        self._show(f"{count} runs: {spec.key} = {', '.join(axis.texts)}", ok=True)

    def _show(self, text: str, *, ok: bool, quiet: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("" if ok or quiet else ERROR_STYLE)
        self.status.setObjectName("Muted" if quiet else "")
        self.update_button()

    def update_button(self) -> None:
        """Queue needs a valid sweep and a form that can launch (the setup view calls this as it checks)."""
        busy = pending(self._task)
        count = len(self.axis.values) if self.axis is not None else 0
        self.queue.setText("Queuing…" if busy else (f"Queue sweep ({count} runs)" if count else "Queue sweep"))
        self.queue.setEnabled(self.axis is not None and self.form.launch.isEnabled() and not busy)
        self.queue.setToolTip("" if self.form.launch.isEnabled() else "The form must be ready to launch first")

    def queue_sweep(self) -> Task | None:
        """Queue the sweep's runs on the pool; the form's values are checked again there by submit."""
        self.revalidate()
        if not self.queue.isEnabled() or self.axis is None:
            return None
        data, axis, store = self.form.config_data(), self.axis, self.store

        def submit(_ctx: Any) -> Any:
            from spark_trainer.jobs.sweeps import queue_sweep

            return queue_sweep(store, data, [axis], base_dir=Path.cwd())

        task = Task(submit, owner=self, name="queue-sweep")
        task.signals.succeeded.connect(self._queued)
        task.signals.failed.connect(lambda message, _exc: self._failed(message))
        self._task = task
        self.ctx.tasks.start(task, self.ctx.pool)
        self.update_button()
        return task

    def _queued(self, queued: Any) -> None:
        self._task = None
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
        if self.queued_ids:
            self.ctx.navigate("runs", list(self.queued_ids))

    def busy(self) -> bool:
        return pending(self._task)
