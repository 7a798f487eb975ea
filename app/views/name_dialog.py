"""The dialog that names a new or renamed project, or a renamed dataset: the name (and a project's
description), checked as you type with the store's own rule (`projects.validate_name`).

A name taken by another project (or dataset) the window knows is refused as typed too (`taken`): renaming to
one closed the dialog, lost what was typed, then said so in the banner. One taken meanwhile by another
process is still only known to the store: the write that follows says so in the view's banner.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QWidget

from spark_trainer.errors import SparkError
from spark_trainer.store import projects


class NameDialog(QDialog):
    """Name (and description) of a new or renamed project or dataset, checked as you type."""

    def __init__(self, title: str, name: str = "", description: str = "", *, with_description: bool = True,
                 what: str = "project", placeholder: str = "e.g. support-bot", taken: Iterable[str] = (),
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.what = what
        self.taken = set(taken) - {name}  # its own name is not taken
        self.setWindowTitle(title)
        self.setMinimumWidth(420)
        form = QFormLayout(self)
        self.name = QLineEdit(name)
        self.name.setPlaceholderText(placeholder)
        self.description = QLineEdit(description)
        self.error = QLabel("")
        self.error.setProperty("role", "muted")
        form.addRow("Name", self.name)
        if with_description:
            form.addRow("Description", self.description)
        form.addRow("", self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
        self.name.textChanged.connect(self._check)
        self._check()

    def _check(self) -> None:
        try:
            valid = projects.validate_name(self.name.text(), self.what)
            where = " in this project" if self.what == "dataset" else ""
            message = f"a {self.what} named {valid!r} already exists{where}" if valid in self.taken else ""
        except SparkError as exc:
            message = str(exc)
        self.error.setText(message)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not message)
