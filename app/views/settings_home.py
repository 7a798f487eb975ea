"""The Settings page's Data home group: the home in use and the next start's, Change…, Move…, and the
database's size with Compact (its unused space back to the disk). A mixin of SettingsView (its store,
ctx and banner); reading and compacting the database run on the pool.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout

from app import file_dialogs
from app.relaunch import env_home_line
from app.workers import Task, pending
from spark_trainer import home_record
from spark_trainer.disk import human_bytes
from spark_trainer.errors import SparkError
from spark_trainer.paths import HOME_ENV, DataHome

HOME_NOTE = "The database, datasets, runs, models and exports live here."
ADVICE = "Compact gives it back to the disk"


class HomeSettingsMixin:
    def _data_home_group(self) -> QGroupBox:
        group = QGroupBox("Data home")
        outer = QVBoxLayout(group)
        form = QFormLayout()
        outer.addLayout(form)
        self.home_label = QLabel(str(self.store.home.root))
        self.home_label.setWordWrap(True)
        self.change_home = QPushButton("Change…")
        self.change_home.clicked.connect(self.choose_data_home)
        self.change_home.setToolTip("Use another data home from the next start (this one stays where it is)")
        self.move_home = QPushButton("Move data home to…")
        self.move_home.setToolTip("Move this data home, runs, datasets and all, to another folder or disk")
        self.move_home.clicked.connect(lambda: self.move_data_home())
        self.move_dialog = None
        row = QHBoxLayout()
        row.addWidget(self.home_label, 1)
        row.addWidget(self.change_home)
        row.addWidget(self.move_home)
        form.addRow("In use", row)
        self.database_size = QLabel("Measuring…")
        self.database_size.setWordWrap(True)
        self.compact_button = QPushButton("Compact")
        self.compact_button.setToolTip("Give the database's unused space (left by deleted runs) back to the disk; "
                                       "not while a run or an evaluation is running")
        self.compact_button.clicked.connect(lambda: self.compact_database())
        self.compact_button.setEnabled(False)
        self.database_task: Task | None = None
        self.compact_task: Task | None = None
        database = QHBoxLayout()
        database.addWidget(self.database_size, 1)
        database.addWidget(self.compact_button)
        form.addRow("Database", database)
        self.home_note = QLabel(HOME_NOTE)
        self.home_note.setObjectName("Muted")
        self.home_note.setWordWrap(True)
        # Another home chosen (Change…, or moved here): this window keeps the one it opened until it
        # restarts there (app.relaunch), which this button does when this start can restart.
        self.restart_home = QPushButton("Restart at the new home")
        self.restart_home.clicked.connect(self.restart_at_chosen)
        self.restart_home.setVisible(False)
        self.next_home: Path | None = None
        note_row = QHBoxLayout()
        note_row.addWidget(self.home_note, 1)
        note_row.addWidget(self.restart_home)
        outer.addLayout(note_row)
        return group

    def _update_home_note(self) -> None:
        """Say where the next start goes; when that is another home than this window's, offer the restart."""
        self.next_home = None
        self.restart_home.setVisible(False)
        try:
            chosen = home_record.read_record().chosen
        except SparkError as exc:
            self.home_note.setText(str(exc))
            return
        if not chosen or Path(chosen).resolve() == self.store.home.root:
            self.home_note.setText(f"Set by the {HOME_ENV} environment variable, which wins over the chosen home."
                                   if os.environ.get(HOME_ENV) else HOME_NOTE)
            return
        self.next_home = Path(chosen)
        if self.ctx.restart is None:
            self.home_note.setText(f"Set by the {HOME_ENV} environment variable, which wins over the chosen home "
                                   f"({chosen})." if os.environ.get(HOME_ENV)
                                   else f"Next start will use {chosen}. Restart SparkTrainer to switch.")
            return
        self.home_note.setText(env_home_line(self.next_home) or f"Next start will use {chosen}: restart to switch "
                               "now (runs training in the background keep training).")
        self.restart_home.setVisible(True)

    def restart_at_chosen(self) -> None:
        """Close the app and start it again at the chosen home; if it cannot, one line in the banner."""
        if self.ctx.restart is None or self.next_home is None:
            return
        error = self.ctx.restart(self.next_home)
        if error is not None:
            self.banner.show_message(error, "error")

    def choose_data_home(self, folder: str | None = None) -> None:
        if folder is None:
            folder = file_dialogs.existing_dir(self, "Choose the data home", str(self.store.home.root))
            if not folder:
                return
        try:
            DataHome(Path(folder).expanduser().resolve()).ensure()
        except SparkError as exc:
            self.banner.show_message(str(exc), "error")
            return
        try:
            home_record.set_chosen(Path(folder))  # `spark-trainer` uses it too
        except (SparkError, OSError) as exc:
            self.banner.show_message(f"Not saved: {exc}", "error")
            return
        self._update_home_note()
        self.banner.show_message(f"{folder} is now the chosen data home.", "ok")

    def move_data_home(self, folder: str | None = None) -> None:
        """Ask where to (a new or empty folder; inside a folder holding other things, a SparkTrainer
        folder in it), then let the move dialog check, confirm and move."""
        from app.views.move_home_dialog import MoveHomeDialog, destination_for

        if folder is None:
            folder = file_dialogs.existing_dir(self, "Move the data home to", str(self.store.home.root.parent))
            if not folder:
                return
        self.move_dialog = MoveHomeDialog(self.store, self.ctx, destination_for(Path(folder).expanduser().resolve()),
                                          self)
        self.move_dialog.open()

    def refresh_database_size(self) -> Task | None:
        """Measure the database on the pool: its size, and how much of it deleted runs left unused (not
        while it is being compacted: the compaction measures it when done)."""
        from spark_trainer.jobs.compact import database_size

        if self.compacting:
            return None
        store = self.store
        task = Task(lambda _ctx: database_size(store), owner=self, name="database size")
        task.signals.succeeded.connect(self._show_database_size)
        task.signals.failed.connect(lambda message, _exc: self.database_size.setText(f"Cannot measure it: {message}"))
        self.database_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _show_database_size(self, size: object) -> None:
        self.database_size.setText(size.line(ADVICE) + ".")
        self.compact_button.setEnabled(size.worth_compacting)

    def compact_database(self) -> Task:
        """Compact on the pool (refused, in the banner, while a run or an evaluation is running)."""
        from spark_trainer.jobs.compact import compact

        store = self.store
        task = Task(lambda _ctx: compact(store, app=True), owner=self, name="compact database")
        task.signals.succeeded.connect(self._compacted)
        task.signals.failed.connect(lambda message, _exc: self._not_compacted(message))
        self.compact_button.setEnabled(False)
        self.database_size.setText("Compacting…")
        self.database_task = self.compact_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    @property
    def compacting(self) -> bool:
        return pending(self.compact_task)

    def _not_compacted(self, message: str) -> None:
        self.compact_task = None  # ended: the database is measured again as it is
        self.banner.show_message(f"Not compacted: {message}", "error")
        self.refresh_database_size()

    def _compacted(self, done: object) -> None:
        before, after = done.before.file_bytes, done.after.file_bytes
        text = (f"Compacted the database: {human_bytes(before)} → {human_bytes(after)} "
                f"({human_bytes(max(0, before - after))} given back to the disk).")
        if done.in_log:
            text += " Another window or command was reading it: the file shrinks once it stops."
        self.banner.show_message(text, "ok")
        self._show_database_size(done.after)
