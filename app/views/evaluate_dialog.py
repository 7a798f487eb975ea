"""Evaluate dialog: start an evaluation of a run (or its base model) in a worker process, follow its
progress from the store, cancel it. The GUI process never loads the model."""

from __future__ import annotations

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
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs
from app.context import AppContext
from app.forms.labels import label_inputs
from app.widgets import MessageBanner
from app.workers import Task, pending
from spark_trainer.evaluation.classification import skipped_line
from spark_trainer.numbers import metric_text
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store

TASK_HELP = {
    "perplexity": "a .txt file, or JSONL rows with text (or prompt + completion)",
    "mcq": "CSV or JSONL with subject, question, A, B, C, D, answer (a letter)",
    "classification": "CSV or JSONL with the run's text (or image path) and label columns; for an image "
                      "run also a folder of class folders",
}

# The files each task reads (spark_trainer.evaluation.data): a .txt offered for classification was read
# as JSONL and failed "line 1 is not valid JSON".
TABLES = "CSV or JSONL (*.csv *.jsonl *.json)"
TASK_FILES = {"perplexity": "Text, CSV or JSONL (*.txt *.md *.text *.csv *.jsonl *.json)", "mcq": TABLES,
              "classification": TABLES}


class EvaluateDialog(QDialog):
    """Emits `finished_evaluation(evaluation_id)` when an evaluation ends (any outcome)."""

    finished_evaluation = Signal(int)

    def __init__(self, store: Store, ctx: AppContext, run: Run, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from spark_trainer.evaluation.tasks import TASK_RECIPES

        self.store, self.ctx, self.run = store, ctx, run
        self.evaluation_id: int | None = None
        self.task: Task | None = None
        self.setWindowTitle(f"Evaluate run {run.id} · {run.experiment}")
        self.setMinimumWidth(540)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.task_choice = QComboBox()
        for name, recipes in TASK_RECIPES.items():
            if run.recipe in recipes:
                self.task_choice.addItem(name, name)
        self.data = QLineEdit()
        self.browse = QPushButton("File…" if run.recipe == "image-classification" else "Browse…")
        self.browse.clicked.connect(self._browse)
        data_row = QHBoxLayout()
        data_row.addWidget(self.data, 1)
        data_row.addWidget(self.browse)
        # An image run's evaluation data may also be a folder of class folders (like a dropped dataset).
        self.browse_folder = QPushButton("Folder…")
        self.browse_folder.clicked.connect(self._browse_folder)
        self.browse_folder.setVisible(run.recipe == "image-classification")
        data_row.addWidget(self.browse_folder)
        self.data_help = QLabel("")
        self.data_help.setObjectName("Muted")
        self.data_help.setWordWrap(True)
        self.checkpoint = QComboBox()
        self.checkpoint.addItems(["last", "best"])
        self.base = QCheckBox("Evaluate the base model instead (a baseline row in the leaderboard)")
        self.gpus = QComboBox()
        self.gpus.addItem("auto (first GPU, else CPU)", "auto")
        self.gpus.addItem("CPU", "cpu")
        for gpu in getattr(ctx.gpu_monitor, "gpus", None) or []:
            self.gpus.addItem(f"GPU {gpu.index}", str(gpu.index))
        form.addRow("Task", self.task_choice)
        form.addRow("Data" if run.recipe == "image-classification" else "Data file", data_row)
        form.addRow("", self.data_help)
        form.addRow("Checkpoint", self.checkpoint)
        form.addRow("", self.base)
        form.addRow("Device", self.gpus)
        label_inputs(form)
        layout.addLayout(form)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.banner = MessageBanner()
        layout.addWidget(self.progress)
        layout.addWidget(self.result)
        layout.addWidget(self.banner)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.start_button = QPushButton("Start")
        self.cancel_button = QPushButton("Cancel evaluation")
        self.cancel_button.setEnabled(False)
        close = QPushButton("Close")
        for button in (self.start_button, self.cancel_button, close):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.start_button.clicked.connect(self.start)
        # Return starts the evaluation: Qt made the first button, Browse…, the default, and Return typed
        # after a path opened the file picker. The pickers never take Return (autoDefault) either.
        self.start_button.setDefault(True)
        for picker in (self.browse, self.browse_folder):
            picker.setAutoDefault(False)
        self.cancel_button.clicked.connect(self.cancel)
        close.clicked.connect(self.reject)
        self.task_choice.currentIndexChanged.connect(self._sync)
        self.base.toggled.connect(lambda on: self.checkpoint.setEnabled(not on))
        ctx.model.runs.evaluation_changed.connect(self._on_evaluation)  # progress read by the store poller
        self._sync()

    def _sync(self) -> None:
        self.data_help.setText(TASK_HELP.get(self.task_choice.currentData() or "", ""))

    def _browse(self) -> None:
        task = self.task_choice.currentData() or ""
        path = file_dialogs.open_file(self, "Evaluation data", "", TASK_FILES.get(task, TABLES))
        if path:
            self.data.setText(path)

    def _browse_folder(self) -> None:
        path = file_dialogs.existing_dir(self, "Evaluation images (one sub-folder per class)")
        if path:
            self.data.setText(path)

    def start(self) -> Task | None:
        """Check the data and start the worker (on the pool: reading a big file must not stall the GUI)."""
        if not self.task_choice.currentData():
            self.banner.show_message("Choose a task first", "error")
            return None
        if not self.data.text().strip():
            self.banner.show_message("Choose a data file first", "error")
            return None
        request = {"task": self.task_choice.currentData(), "data_path": self.data.text().strip(),
                   "base": self.base.isChecked(), "checkpoint": self.checkpoint.currentText(),
                   "gpus": self.gpus.currentData()}
        run_id = self.run.id

        def work(_ctx: Any) -> Any:
            from spark_trainer.evaluation import jobs

            return jobs.submit(self.store, run_id, **request)

        self.start_button.setEnabled(False)
        self.banner.clear_message()
        self.result.setText("")
        task = Task(work, owner=self, name="evaluate")
        task.signals.succeeded.connect(self._started)
        task.signals.failed.connect(self._start_failed)
        self.task = task
        self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _started(self, evaluation: Any) -> None:
        self.evaluation_id = evaluation.id
        self.cancel_button.setEnabled(True)
        self.progress.setRange(0, 0)
        where = f"GPU {evaluation.gpus[0]}" if evaluation.gpus else "the CPU"
        self.banner.show_message(f"Evaluation {evaluation.id} running in a worker on {where}", "info")
        self.ctx.model.runs.follow_evaluation(evaluation.id)

    def _start_failed(self, message: str, _exc: object) -> None:
        self.start_button.setEnabled(True)
        self.banner.show_message(message, "error")

    def _on_evaluation(self, ev: Any) -> None:
        if ev.id != self.evaluation_id:
            return
        if ev.total:
            self.progress.setRange(0, ev.total)
            self.progress.setValue(ev.done)
        if ev.is_active:
            return
        self.ctx.model.runs.unfollow_evaluation(ev.id)
        self.cancel_button.setEnabled(False)
        self.start_button.setEnabled(True)
        if ev.status == "completed":
            self.progress.setRange(0, 1)
            self.progress.setValue(1)
            self.result.setText(summary_text(ev.result or {}))  # before the banner, which grows the dialog
            self.banner.show_message(f"Evaluation {ev.id} completed", "ok")
        else:
            self.banner.show_message(f"Evaluation {ev.id} {ev.status}: {(ev.error or '').strip().splitlines()[0] if ev.error else ''}",
                                     "error")
        self.ctx.model.refresh()
        self.finished_evaluation.emit(ev.id)

    def cancel(self) -> None:
        if self.evaluation_id is None:
            return
        evaluation_id = self.evaluation_id

        def work(_ctx: Any) -> Any:
            from spark_trainer.evaluation import jobs

            return jobs.cancel(self.store, evaluation_id)

        self.cancel_button.setEnabled(False)
        # Answers the app model, not the dialog: the poller reads the evaluation's end at once even
        # if the dialog is closed meanwhile.
        task = Task(work, owner=self.ctx.model, name="evaluate-cancel")
        task.signals.finished.connect(self.ctx.model.refresh)
        self.ctx.tasks.start(task, self.ctx.pool)

    def done(self, code: int) -> None:  # noqa: A003 - QDialog's name
        if self.evaluation_id is not None:
            self.ctx.model.runs.unfollow_evaluation(self.evaluation_id)
        super().done(code)

    @property
    def following(self) -> bool:
        return self.evaluation_id is not None and self.ctx.model.runs.follows_evaluation(self.evaluation_id)

    def busy(self) -> bool:
        return self.following or pending(self.task)


def summary_text(report: dict[str, Any]) -> str:
    """Metrics, and per-subject or per-class lines, for people."""
    parts = [", ".join(f"{k} {metric_text(v)}" for k, v in report.get("metrics", {}).items()),
             skipped_line(report, names=True, limit=5)]
    if report.get("by_subject"):
        parts.append("by subject: " + ", ".join(f"{s} {a:.3f}" for s, a in report["by_subject"].items()))
    if report.get("per_class"):
        parts.append("per class F1: " + ", ".join(f"{c} {m['f1']:.3f}" for c, m in report["per_class"].items()))
    return "\n".join(p for p in parts if p)
