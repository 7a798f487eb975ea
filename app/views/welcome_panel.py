"""The first-start panel: what SparkTrainer does, and one click to a demo project with a real run."""

from __future__ import annotations

import importlib.util
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from app.context import AppContext
from app.forms.cells import keep_room
from app.widgets import EmptyState, MessageBanner
from app.workers import Task, TaskContext, pending
from spark_trainer.store.store import Store

# The demos `build_demo` can make: (recipe, what the choice says).
DEMO_CHOICES = (
    ("causal-lm", "Demo: text generation (causal LM, LoRA)"),
    ("text-classification", "Demo: text classification (support tickets)"),
    ("image-classification", "Demo: image classification (generated shapes)"),
    ("diffusion-lora", "Demo: image generation (diffusion LoRA, captioned shapes)"),
)

STEPS = (
    "1. Create a project, then drop files or folders on the Datasets view: text (JSONL, CSV, TXT, Parquet), "
    "images (a folder per class, or images with captions beside them), or videos through the video wizard.",
    "2. Set up an experiment: a recipe, a base model from disk, and your dataset.",
    "3. Start a run and watch its curves live; compare runs and export the best one.",
)


STEPS_WIDTH = 640


class _StepsLabel(QLabel):
    """The steps, 640 px wide where there is room (a wrapped label would ask for less)."""

    def sizeHint(self) -> QSize:
        return QSize(STEPS_WIDTH, self.heightForWidth(STEPS_WIDTH))

    def resizeEvent(self, event: QResizeEvent) -> None:  # every wrapped line shown at any width
        super().resizeEvent(event)
        self.setMinimumHeight(self.heightForWidth(event.size().width()))


def demo_available() -> bool:
    """The demo builder ships with the job runner; until it is installed the button is not offered."""
    try:
        return importlib.util.find_spec("spark_trainer.jobs.demo") is not None
    except ModuleNotFoundError:
        return False


def progress_text(value: Any) -> str:
    for attribute in ("message", "stage", "text"):
        text = getattr(value, attribute, None)
        if isinstance(text, str) and text:
            return text
    return str(value)


class _StatusLine(QLabel):
    """Hidden while it says nothing (where its room is kept, see `WelcomePanel.keep_activity_room`)."""

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        self.setVisible(bool(text))


class WelcomePanel(QWidget):
    new_project_requested = Signal()
    building = Signal(bool)  # a demo build started (True) or ended (False)

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.ctx = ctx
        self.task: Task | None = None
        self.demo_steps: int | None = None  # None: the demo's own length (tests make it short)
        self.demo_run_id: int | None = None
        ctx.model.runs.run_changed.connect(self._on_run_changed)
        ctx.model.runs.run_removed.connect(self._on_run_removed)
        layout = QVBoxLayout(self)
        self.empty = EmptyState(
            "Welcome to SparkTrainer",
            "Fine-tune models on this workstation: bring your data, pick a recipe, watch it train.",
        )
        steps = _StepsLabel("\n".join(STEPS))
        steps.setWordWrap(True)
        steps.setAlignment(Qt.AlignmentFlag.AlignLeft)
        steps.setMinimumWidth(380)  # narrower than the smallest window's view, wrapping (it was 640 fixed)
        steps.setMaximumWidth(STEPS_WIDTH)
        self.empty.layout().insertWidget(3, steps, 0, Qt.AlignmentFlag.AlignHCenter)
        self.demo_button: QPushButton | None = None
        if demo_available():
            self.demo_button = self.empty.add_button("Create demo project", primary=True)
            self.demo_button.setToolTip("A small text dataset, a tiny model and a short run with live curves")
            self.demo_button.clicked.connect(lambda: self.create_demo())
            self.demo_choice = QComboBox()
            for recipe, text in DEMO_CHOICES:
                self.demo_choice.addItem(text, recipe)
            self.demo_choice.setToolTip("Which recipe the demo project trains: a tiny local model and sample "
                                        "data, trained end to end offline")
            self.empty.layout().insertWidget(4, self.demo_choice, 0, Qt.AlignmentFlag.AlignHCenter)
        new_button = self.empty.add_button("New project", primary=self.demo_button is None)
        new_button.clicked.connect(self.new_project_requested)
        self.demo_note = QLabel("" if self.demo_button else
                                "The one-click demo project arrives with the job runner; "
                                "`spark-trainer demo` builds it from the command line once installed.")
        self.demo_note.setObjectName("Muted")
        self.demo_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.demo_note.setWordWrap(True)
        self.demo_note.setVisible(self.demo_button is None)
        self.empty.layout().insertWidget(6, self.demo_note)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.hide()
        self.status = _StatusLine("")
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.hide()
        self.banner = MessageBanner()
        # The build's progress, status and errors: the Projects view moves this under its pages, so a
        # demo started from its list (once projects exist) shows them as the first one did.
        self.activity = QWidget()
        activity = QVBoxLayout(self.activity)
        activity.setContentsMargins(0, 0, 0, 0)
        for widget in (self.progress, self.status, self.banner):
            activity.addWidget(widget)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.activity)

    def keep_activity_room(self, keep: bool) -> None:
        """Hold the demo's progress and status lines' room while they are hidden (`keep`: the welcome
        page is shown, its text centred in what is left above them; it moved 8 px up when the bar
        appeared under the "Create demo project" just clicked; its error line too), or give it to the list
        above them."""
        for widget in (self.progress, self.status, self.banner):
            keep_room(widget, keep)

    @property
    def busy(self) -> bool:
        return pending(self.task)

    def create_demo(self, recipe: str | None = None) -> Task | None:
        if self.busy:
            return None
        recipe = recipe or (self.demo_choice.currentData() if self.demo_button is not None else "causal-lm")

        def build(ctx: TaskContext) -> Any:
            from spark_trainer.jobs.demo import build_demo

            # wait=False: the model, data and queued run are made here; the app's run scheduler then
            # trains it while the Runs view shows its curves live.
            return build_demo(self.store, wait=False, progress=ctx.progress, recipe=recipe, steps=self.demo_steps)

        self.task = Task(build, owner=self, name="demo project")
        self.task.signals.progress.connect(self._on_progress)
        self.task.signals.succeeded.connect(self._on_demo_done)
        self.task.signals.failed.connect(
            lambda message, _exc: self.banner.show_message(f"The demo could not be built: {message}", "error"))
        self.task.signals.finished.connect(self._on_finished)
        if self.demo_button is not None:
            self.demo_button.setEnabled(False)
        self.building.emit(True)
        self.progress.show()
        self.status.setText("Building the demo project…")
        return self.ctx.tasks.start(self.task, self.ctx.pool)

    def _on_progress(self, value: Any) -> None:
        if getattr(value, "stage", "") == "queued":
            # The builder's "Run N queued" may already be stale (it schedules the run itself):
            # the run's state is told from the model once the build is done, as every view tells it.
            self.status.setText("Demo run submitted…")
        else:
            self.status.setText(progress_text(value))

    def _on_demo_done(self, result: Any) -> None:
        run = getattr(result, "run", None)
        if run is None:
            self.status.setText("Demo project ready.")
        else:
            self.demo_run_id = run.id
            self.ctx.model.runs.apply_written(run)  # every view shows the new run now, in the same state
            self._show_demo_run()
        self.ctx.model.refresh()
        self.ctx.navigate("runs", run.id if run is not None else None)

    def _on_run_changed(self, run: Any) -> None:
        if run.id == self.demo_run_id:
            self._show_demo_run()

    def _on_run_removed(self, run_id: int) -> None:
        """The demo's run deleted (with its project, say): its line would speak of a run that is gone."""
        if run_id == self.demo_run_id:
            self.demo_run_id = None
            self.status.setText("")

    def _show_demo_run(self) -> None:
        run = self.ctx.model.runs.get(self.demo_run_id) if self.demo_run_id is not None else None
        if run is not None:
            self.status.setText(f"Demo project ready: run {run.id} is {run.status.value}.")

    def _on_finished(self) -> None:
        self.progress.hide()
        self.building.emit(False)
        if self.demo_button is not None:
            self.demo_button.setEnabled(True)
