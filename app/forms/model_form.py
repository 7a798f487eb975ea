"""A form generated from a pydantic model.

Each field becomes a widget chosen by its type (check box for bool, combo box for a Literal, a
line edit for numbers and text, a text box for lists), with the default filled in and the help and
allowed range as tooltip. Values are validated by the model itself on every edit; a field whose
value is invalid gets a red border and the reason right under it, and `errors()` lists them so the
caller can disable its action and say why.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel, ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.forms.labels import label_inputs
from app.forms.plain_errors import error_line, plain_error
from app.widgets import restyle
from spark_trainer.recipes.registry import describe_fields, interval_text


def _args(annotation: Any) -> tuple[Any, ...]:
    return typing.get_args(annotation)


def _is_optional(annotation: Any) -> bool:
    return type(None) in _args(annotation)


def _base(annotation: Any) -> Any:
    """The annotation without `| None`."""
    args = [a for a in _args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and len(args) == 1:
        return args[0]
    return annotation


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def _parse_number(text: str, kind: type) -> Any:
    try:
        return int(text) if kind is int else float(text)
    except ValueError:
        try:
            as_float = float(text)
        except ValueError:
            return text  # the model reports "not a valid number" next to the field
        return int(as_float) if kind is int and as_float.is_integer() else as_float


class FieldRow:
    """One field: its editor, the error label under it, and how to read and write its value."""

    def __init__(self, name: str, annotation: Any, default: Any, info: dict[str, Any]) -> None:
        self.name = name
        self.annotation = annotation
        self.base = _base(annotation)
        self.optional = _is_optional(annotation)
        # A template's line breaks are part of it: edited in a text box, kept exactly as typed.
        self.multiline = bool(info.get("multiline")) and self.base is str
        self.placeholder = str(info.get("placeholder", ""))  # what an empty field means, where "none" is not it
        self.widget = self._make_editor(default)
        tip = info.get("help", "")
        allowed = interval_text(info)  # as `recipes NAME` and the sweep box write it: [0, 1)
        if allowed:
            tip = f"{tip}\nAllowed: {allowed}" if tip else f"Allowed: {allowed}"
        if self.optional:
            tip += "\nLeave empty for none."
        self.widget.setToolTip(tip.strip())
        self.error = QLabel("")
        self.error.setObjectName("FieldError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #e5534b;")
        self.error.hide()
        self.set_value(default)

    def _make_editor(self, default: Any) -> QWidget:
        if self.base is bool:
            return QCheckBox()
        if typing.get_origin(self.base) is typing.Literal:
            combo = QComboBox()
            combo.addItems([str(c) for c in _args(self.base)])
            return combo
        if self.multiline:
            text = QPlainTextEdit()
            text.setTabChangesFocus(True)
            text.setFixedHeight(84)
            text.setPlaceholderText(self.placeholder or ("none" if self.optional else ""))
            return text
        if _is_list(self.base):
            box = QPlainTextEdit()
            box.setTabChangesFocus(True)  # a list holds no tab characters: Tab goes on to the next field
            box.setPlaceholderText("one per line")
            box.setFixedHeight(54)
            return box
        edit = QLineEdit()
        if self.optional:
            edit.setPlaceholderText(self.placeholder or "none")
        return edit

    def set_value(self, value: Any) -> None:
        w = self.widget
        if isinstance(w, QCheckBox):
            w.setChecked(bool(value))
        elif isinstance(w, QComboBox):
            w.setCurrentText(str(value))
        elif isinstance(w, QPlainTextEdit) and self.multiline:
            w.setPlainText("" if value is None else str(value))
        elif isinstance(w, QPlainTextEdit):
            w.setPlainText("\n".join(str(v) for v in (value or [])))
        elif isinstance(value, list):
            w.setText(", ".join(str(v) for v in value))
        else:
            w.setText("" if value is None else (f"{value:g}" if isinstance(value, float) else str(value)))

    def value(self) -> Any:
        w = self.widget
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox):
            text = w.currentText()
            choices = _args(self.base)
            return next((c for c in choices if str(c) == text), text)
        if isinstance(w, QPlainTextEdit) and self.multiline:
            typed = w.toPlainText()
            return None if self.optional and not typed.strip() else typed
        if isinstance(w, QPlainTextEdit):
            return [line.strip() for line in w.toPlainText().splitlines() if line.strip()]
        text = w.text().strip()
        if text == "" and self.optional:
            return None
        if self.base in (int, float):
            return _parse_number(text, self.base) if text else text
        if typing.get_origin(self.base) in (typing.Union, __import__("types").UnionType) and "," in text:
            return [part.strip() for part in text.split(",") if part.strip()]  # str | list[str]
        return text

    def connect(self, slot: Any) -> None:
        w = self.widget
        if isinstance(w, QCheckBox):
            w.toggled.connect(slot)
        elif isinstance(w, QComboBox):
            w.currentTextChanged.connect(slot)
        else:
            w.textChanged.connect(slot)

    def show_error(self, message: str | None) -> None:
        self.widget.setProperty("invalid", bool(message))
        self.widget.setStyleSheet("border: 1px solid #e5534b;" if message else "")
        restyle(self.widget)
        self.error.setText(message or "")
        self.error.setVisible(bool(message))


class ModelForm(QWidget):
    """Edits one pydantic model. `changed` fires after every edit (already validated)."""

    changed = Signal()

    def __init__(self, model: type[BaseModel], values: dict[str, Any] | None = None, *,
                 label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.label = label  # prefix for error messages, e.g. "train"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout.addLayout(self.form)
        self.model_error = QLabel("")
        self.model_error.setObjectName("FieldError")
        self.model_error.setStyleSheet("color: #e5534b;")
        self.model_error.setWordWrap(True)
        self.model_error.hide()
        layout.addWidget(self.model_error)
        self.rows: dict[str, FieldRow] = {}
        described = {d["name"]: d for d in describe_fields(model)}
        for name, field in model.model_fields.items():
            row = FieldRow(name, field.annotation, described[name]["default"], described[name])
            self.rows[name] = row
            cell = QWidget()
            cell_layout = QVBoxLayout(cell)
            cell_layout.setContentsMargins(0, 0, 0, 0)
            cell_layout.setSpacing(2)
            cell_layout.addWidget(row.widget)
            cell_layout.addWidget(row.error)
            title = QLabel(name.replace("_", " "))
            title.setToolTip(row.widget.toolTip())
            self.form.addRow(title, cell)
            row.connect(lambda *_: self._on_edit())
        label_inputs(self.form)  # each title buddies its editor, which it names (not the editor's cell)
        self._errors: dict[str, str] = {}
        if values:
            self.set_values(values)
        self.validate()

    def set_values(self, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in self.rows:
                self.rows[name].set_value(value)
        self.validate()

    def values(self) -> dict[str, Any]:
        return {name: row.value() for name, row in self.rows.items()}

    def _on_edit(self) -> None:
        self.validate()
        self.changed.emit()

    def validate(self) -> BaseModel | None:
        """Validate the current values; mark each invalid field. Returns the model, or None."""
        self._errors = {}
        try:
            result = self.model.model_validate(self.values())
        except ValidationError as exc:
            result = None
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else ""
                self._errors.setdefault(field, plain_error(error, field))
        for name, row in self.rows.items():
            row.show_error(self._errors.get(name))
        general = self._errors.get("", "")
        self.model_error.setText(general)
        self.model_error.setVisible(bool(general))
        return result

    def show_outside(self, errors: dict[str, str]) -> None:
        """Mark fields another check found wrong (field -> why: a dataset without the label column the
        field names), below the form's own errors; a field not named is cleared of an earlier mark."""
        for name, row in self.rows.items():
            row.show_error(self._errors.get(name) or errors.get(name))

    def errors(self) -> dict[str, str]:
        """Field name ('' for the whole model) -> why its value is not accepted."""
        return dict(self._errors)

    def first_error(self) -> str | None:
        found = self.error_lines()
        return found[0] if found else None

    def error_lines(self) -> list[str]:
        """Every field's error on a line naming the field as the form does ("Max steps must be at least
        1"; "train.max_steps: Input should be ..." said the run file's key and pydantic's words)."""
        return [error_line(name, message) for name, message in self._errors.items()]
