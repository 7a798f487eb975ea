"""One setting of the setup form's sweep: the setting, its values (typed, or ticked for choices and
switches), what the schema allows and what the form has, and a button that takes the row away.

The row only collects texts; `spark_trainer.config.sweep` parses and checks them (see `SweepPanel`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.widgets import clear_layout
from spark_trainer.config.sweep import SweepField, value_text

EXAMPLES = {"float": "e.g. 1e-4, 3e-4, 1e-3", "int": "e.g. 4, 8, 16"}


class SweepAxisRow(QFrame):
    """Emits `changed` when its setting or values change and `remove_requested(row)` for its ✕."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, fields: Sequence[SweepField], form_value: Callable[[str], Any], key: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SweepAxisRow")
        self.form_value = form_value
        self.fields: list[SweepField] = []
        self._choice_mode = False
        self.boxes: list[QCheckBox] = []  # the chosen setting's check boxes, for choices and switches
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 4, 0, 4)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        self.field = QComboBox()
        self.field.setToolTip("A setting of the recipe's schema: numbers, choices or switches")
        self.remove = QToolButton()
        self.remove.setText("✕")
        self.remove.setToolTip("Remove this setting from the sweep")
        self.values = QLineEdit()
        self.values.setToolTip("Comma-separated values, as `spark-trainer train --sweep KEY=V1,V2` takes them")
        self.choices = QWidget()  # a check box per choice, for choice and on/off settings
        self.choice_row = QHBoxLayout(self.choices)
        self.choice_row.setContentsMargins(0, 0, 0, 0)
        self.hint = QLabel("")
        self.hint.setObjectName("Muted")
        self.hint.setWordWrap(True)
        # Each label buddies its input, which is named for assistive technology (app/forms/labels.py does so
        # for form rows; this row is a grid): neither box had a name.
        setting = QLabel("Setting")
        setting.setBuddy(self.field)
        self.field.setAccessibleName("Swept setting")
        self.values.setAccessibleName("Values to sweep")
        grid.addWidget(setting, 0, 0)
        grid.addWidget(self.field, 0, 1)
        grid.addWidget(self.remove, 0, 2)
        cell = QWidget()  # the text box or the check boxes, whichever the setting takes
        cell_layout = QVBoxLayout(cell)
        cell_layout.setContentsMargins(0, 0, 0, 0)
        cell_layout.addWidget(self.values)
        cell_layout.addWidget(self.choices)
        values = QLabel("Values")
        values.setBuddy(self.values)
        grid.addWidget(values, 1, 0)
        grid.addWidget(cell, 1, 1, 1, 2)
        grid.addWidget(self.hint, 2, 1, 1, 2)
        grid.setColumnStretch(1, 1)
        self.field.currentIndexChanged.connect(lambda _index: self._on_field())
        self.values.textChanged.connect(lambda _text: self.changed.emit())
        self.remove.clicked.connect(lambda _checked=False: self.remove_requested.emit(self))
        self.set_fields(fields, key)

    def set_fields(self, fields: Sequence[SweepField], key: str | None = None) -> None:
        """Offer `fields`, choosing `key` (else the setting chosen now, else the first); a row that
        stays on its setting keeps its values (those the new fields still allow)."""
        self.fields = list(fields)
        before, texts = self.field.currentText(), self.value_texts()
        keep = key or before
        self.field.blockSignals(True)
        self.field.clear()
        for spec in self.fields:
            self.field.addItem(spec.key)
            self.field.setItemData(self.field.count() - 1, spec.help, Qt.ItemDataRole.ToolTipRole)
        self.field.setCurrentIndex(max(self.field.findText(keep), 0))
        self.field.blockSignals(False)
        self._on_field(texts if before and self.key() == before else ())

    def current_field(self) -> SweepField | None:
        index = self.field.currentIndex()
        return self.fields[index] if 0 <= index < len(self.fields) else None

    def _on_field(self, texts: Sequence[str] = ()) -> None:
        """Show the chosen setting's text box or check boxes, holding `texts` (typed or ticked)."""
        spec = self.current_field()
        # The old boxes leave the lookup now: deleteLater alone left their ticks counted until the
        # event loop ran, after `changed` had fired.
        self.boxes = []
        clear_layout(self.choice_row)
        choices = () if spec is None else (spec.choices or ((True, False) if spec.kind == "bool" else ()))
        for choice in choices:
            box = QCheckBox(value_text(choice))
            box.setChecked(box.text() in texts)
            box.toggled.connect(lambda _on: self.changed.emit())
            self.choice_row.addWidget(box)
            self.boxes.append(box)
        self.choice_row.addStretch(1)
        self.choices.setVisible(bool(choices))
        self.values.setVisible(not choices)
        self._choice_mode = bool(choices)
        self.values.blockSignals(True)
        self.values.setText("" if choices else ",".join(texts))
        self.values.blockSignals(False)
        self.values.setPlaceholderText(EXAMPLES.get(spec.kind, "") if spec is not None else "")
        self.refresh_hint()
        self.changed.emit()

    def refresh_hint(self) -> None:
        """What the schema allows and what the form has now (the value the sweep replaces)."""
        spec = self.current_field()
        if spec is None:
            self.hint.setText("")
            return
        allowed = f" · allowed {spec.bounds}" if spec.bounds else ""
        self.hint.setText(f"{spec.help}{allowed} · the form has {value_text(self.form_value(spec.key))}")

    def key(self) -> str:
        return self.field.currentText()

    def value_texts(self) -> list[str]:
        if self._choice_mode:
            return [box.text() for box in self.boxes if box.isChecked()]
        text = self.values.text().strip()
        return text.split(",") if text else []

    def check_choice(self, text: str, checked: bool = True) -> None:
        for box in self.boxes:
            if box.text() == text:
                box.setChecked(checked)
