"""Export dialog: a run's checkpoint as a Hugging Face folder, optionally pushed to the Hub.

The export (and the push) run on the pool; progress arrives as (phase, done, total). The token is
never shown or asked for here: it comes from Settings (OS keyring) or HF_TOKEN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs
from app.context import AppContext
from app.forms.cells import keep_room
from app.widgets import MessageBanner, grow_to_fit
from app.workers import Task, pending
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store


class ExportDialog(QDialog):
    """Emits `exported(export_id)` once an export is written (and pushed, when asked)."""

    exported = Signal(int)

    def __init__(self, store: Store, ctx: AppContext, run: Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx, self.run = store, ctx, run
        self.task: Task | None = None
        self.setWindowTitle(f"Export run {run.id} · {run.experiment}")
        self.setMinimumWidth(560)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.checkpoint = QComboBox()
        self._fill_checkpoints()
        self.adapter_only = QRadioButton("Adapter only (small; loads with PeftModel on the base)")
        self.merge = QRadioButton("Merge into the base model (a full model for from_pretrained)")
        self.adapter_only.setChecked(True)
        self.dtype = QComboBox()
        self.dtype.addItems(["auto", "bf16", "fp16", "fp32"])
        self.dtype.setToolTip("auto: the base model's dtype for merged models, fp32 for adapters")
        self.out = QLineEdit()
        self.out.setPlaceholderText("default: exports/<id>/ in the data home")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("Weights", self.adapter_only)
        form.addRow("", self.merge)
        self.weights_note = QLabel("")
        self.weights_label = QLabel("")
        form.addRow(self.weights_label, self.weights_note)
        self._fit_weights_to_run(form)
        form.addRow("Dtype", self.dtype)
        form.addRow("Folder", out_row)
        self.push = QCheckBox("Push to Hub")
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("your-name/model-name")
        self.private = QCheckBox("Private repository")
        self.private.setChecked(True)
        self.token_note = QLabel("")
        self.token_note.setObjectName("Muted")
        self.token_note.setWordWrap(True)
        form.addRow(self.push)
        form.addRow("Repository", self.repo)
        form.addRow("", self.private)
        layout.addLayout(form)
        layout.addWidget(self.token_note)
        self.push.toggled.connect(self._sync)
        # No bar until an export starts (an empty one read as an export stalled at 0%), its room kept so
        # the Export button does not move under the mouse when it appears; it ends saying Done or Failed.
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        keep_room(self.progress)
        self.progress.hide()
        self.phase = QLabel("")
        self.phase.setObjectName("Muted")
        layout.addWidget(self.progress)
        layout.addWidget(self.phase)
        self.banner = MessageBanner()
        layout.addWidget(self.banner)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.close_button = QPushButton("Close")
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        layout.addLayout(buttons)
        self.export_button.clicked.connect(self.start)
        self.close_button.clicked.connect(self.reject)
        self._sync()
        self._load_token_status()

    def _fill_checkpoints(self) -> None:
        from spark_trainer.training.checkpoints import checkpoint_step, list_checkpoints

        found = list_checkpoints(Path(self.run.run_dir)) if self.run.run_dir else []
        self.checkpoint.addItem("last", "last")
        self.checkpoint.addItem("best (by eval metric)", "best")
        for path in reversed(found):
            self.checkpoint.addItem(f"step {checkpoint_step(path)}", str(checkpoint_step(path)))

    def _fit_weights_to_run(self, form: QFormLayout) -> None:
        """Offer only the layouts the run's weights have (its frozen config says how it trained)."""
        from spark_trainer.errors import SparkError
        from spark_trainer.jobs.submit import frozen_config

        try:
            method = (frozen_config(Path(self.run.run_dir)).recipe_config or {}).get("method", "lora")
        except (SparkError, OSError):  # no readable config: the export says what is wrong
            method = "lora"
        note = ""
        if method == "full":  # no adapter to keep or merge
            note = "The whole model (this run fine-tuned every weight)"
            for radio in (self.adapter_only, self.merge):
                radio.setEnabled(False)
                form.setRowVisible(radio, False)
            self.weights_label.setText("Weights")
        elif self.run.recipe == "diffusion-lora":
            note = "A diffusion LoRA is not merged into its pipeline"
            self.adapter_only.setText("LoRA only (loads with pipe.load_lora_weights on the base pipeline)")
            self.merge.setEnabled(False)
            form.setRowVisible(self.merge, False)
        self.weights_note.setText(note)
        form.setRowVisible(self.weights_note, bool(note))

    def _browse(self) -> None:
        folder = file_dialogs.existing_dir(self, "Export folder")
        if folder:
            self.out.setText(folder)

    def _sync(self) -> None:
        on = self.push.isChecked()
        self.repo.setEnabled(on)
        self.private.setEnabled(on)

    def _load_token_status(self) -> None:
        def work(_ctx: Any) -> str:
            from spark_trainer.export.hub import shown_endpoint
            from spark_trainer.secrets import token_status

            return f"Pushes to {shown_endpoint()}; {token_status().message}."

        task = Task(work, owner=self, name="token-status")
        task.signals.succeeded.connect(self._show_token_note)
        self.ctx.tasks.start(task, self.ctx.pool)

    def _show_token_note(self, text: str) -> None:
        """The note comes from the pool after the dialog was laid out: grow it, or the wrapped note is
        drawn over the form."""
        self.token_note.setText(text)
        grow_to_fit(self)

    def options(self) -> Any:
        from spark_trainer.export import ExportOptions

        out = self.out.text().strip()
        return ExportOptions(checkpoint=self.checkpoint.currentData(), merge=self.merge.isChecked(),
                             dtype=self.dtype.currentText(), out=Path(out) if out else None)

    def start(self) -> Task | None:
        """Export (then push, if asked) on the pool; returns the task (tests wait on it)."""
        from spark_trainer.errors import SparkError

        repo = self.repo.text().strip() if self.push.isChecked() else None
        try:
            options = self.options()
            if repo is not None:
                from spark_trainer.export.hub import check_repo_id

                check_repo_id(repo)
        except SparkError as exc:
            self.banner.show_message(str(exc), "error")
            return None
        private, run_id = self.private.isChecked(), self.run.id

        def work(tctx: Any) -> dict[str, Any]:
            from spark_trainer.export import export_run, push_export

            def report(phase: str, done: int, total: int) -> None:
                tctx.progress((phase, done, total), force=True)

            result = export_run(self.store, run_id, options, progress=report)
            outcome: dict[str, Any] = {"export": result.export, "reused": result.reused, "pushed": None,
                                       "note": result.note}
            if repo is not None:
                outcome["export"], outcome["pushed"] = push_export(self.store, result.export, repo,
                                                                   private=private, progress=report)
            return outcome

        self.export_button.setEnabled(False)
        self.banner.clear_message()
        self.progress.setRange(0, 0)
        self.progress.setFormat("Starting…")
        self.progress.show()
        task = Task(work, owner=self, name="export")
        task.signals.progress.connect(self._on_progress)
        task.signals.succeeded.connect(self._on_done)
        task.signals.failed.connect(self._on_failed)
        self.task = task
        self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _on_progress(self, value: tuple[str, int, int]) -> None:
        phase, done, total = value
        self.progress.setFormat("%p%")
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.phase.setText(f"{phase} ({done}/{total})")

    def _on_done(self, outcome: dict[str, Any]) -> None:
        export = outcome["export"]
        self.export_button.setEnabled(True)
        self._end_progress("Done", 1)
        where = f"{'Already exported' if outcome['reused'] else 'Exported'} to {export.path}"
        if outcome["pushed"] is not None:
            where += f" and pushed to {outcome['pushed'].url}"
        self.phase.setText("")
        note = outcome.get("note")  # "best" whose best evaluation has no checkpoint: a warning, said whole
        self.banner.show_message(f"{where}. {note[0].upper()}{note[1:]}" if note else where, "warning" if note else "ok")
        self.exported.emit(export.id)

    def _on_failed(self, message: str, _exc: object) -> None:
        self.export_button.setEnabled(True)
        if self.progress.maximum() == 0:  # failed before its first step: no share of it done
            self._end_progress("Failed", 0)
        else:  # the bar stays where it stopped
            self.progress.setFormat("Failed")
        self.phase.setText("")
        self.banner.show_message(message, "error")
        self.ctx.model.refresh()  # an export written before a failed push is listed

    def _end_progress(self, text: str, value: int) -> None:
        self.progress.setRange(0, 1)
        self.progress.setValue(value)
        self.progress.setFormat(text)

    def busy(self) -> bool:
        return pending(self.task)
