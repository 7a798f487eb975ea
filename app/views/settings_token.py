"""The Settings page's Hugging Face token group: its status, Save in keyring and Remove.

The token goes to the OS keyring only (never the database); keyring calls run off the GUI thread
because some backends talk to a desktop service. A mixin of SettingsView (its store, ctx and banner).
"""

from __future__ import annotations

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from app.workers import Task
from spark_trainer import secrets


class TokenSettingsMixin:
    def _token_group(self) -> QGroupBox:
        group = QGroupBox("Hugging Face token")
        outer = QVBoxLayout(group)
        form = QFormLayout()
        outer.addLayout(form)
        self.token_status = QLabel("Checking the OS keyring…")
        self.token_status.setWordWrap(True)
        form.addRow("Status", self.token_status)
        self.token_edit = QLineEdit()
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText("hf_… (used only to push exports to the Hub)")
        self.save_token = QPushButton("Save in keyring")
        self.save_token.clicked.connect(lambda: self.set_token(self.token_edit.text()))
        self.remove_token = QPushButton("Remove")
        self.remove_token.clicked.connect(self.clear_token)
        row = QHBoxLayout()
        row.addWidget(self.token_edit, 1)
        row.addWidget(self.save_token)
        row.addWidget(self.remove_token)
        form.addRow("Token", row)
        note = QLabel("Kept in the operating system's keyring, never in the database, config files or logs. "
                      f"The {secrets.HF_TOKEN_ENV} environment variable is used when no token is saved.")
        note.setObjectName("Muted")
        note.setWordWrap(True)
        outer.addWidget(note)
        return group

    def refresh_token_status(self) -> Task:
        task = Task(lambda _ctx: secrets.token_status(), owner=self, name="keyring")
        task.signals.succeeded.connect(self._show_token_status)
        task.signals.failed.connect(lambda message, _exc: self.token_status.setText(f"Keyring error: {message}"))
        self.token_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _show_token_status(self, status: secrets.TokenStatus) -> None:
        self.token_status.setText(status.message[:1].upper() + status.message[1:] + ".")
        can_save = status.keyring.available
        self.token_edit.setEnabled(can_save)
        self.save_token.setEnabled(can_save)
        self.remove_token.setVisible(status.source == "keyring")
        self.save_token.setToolTip("" if can_save else status.keyring.help)

    def set_token(self, token: str) -> Task:
        def save(_ctx: object) -> secrets.TokenStatus:
            return secrets.set_hf_token(token)

        return self._token_task(save, "Token saved in the OS keyring.")

    def clear_token(self) -> Task:
        return self._token_task(lambda _ctx: secrets.delete_hf_token(), "Token removed from the OS keyring.")

    def _token_task(self, fn, done: str) -> Task:  # noqa: ANN001 - a TaskContext -> TokenStatus callable
        task = Task(fn, owner=self, name="keyring")
        task.signals.succeeded.connect(lambda status: (
            self._show_token_status(status),
            self.banner.show_message(f"{done[:-1]}; {status.note}." if status.note else done,
                                     "warning" if status.note else "ok")))
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(message, "error"))
        self.token_edit.clear()
        self.token_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task
