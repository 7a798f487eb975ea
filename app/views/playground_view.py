"""The Playground: try a run's model (its final model or any checkpoint) right after training.

The model runs in a serving worker process (`PlaygroundClient`) on the chosen GPU or the CPU; it
stays loaded between prompts and goes away after the `playground_idle_seconds` setting (600 s) of idleness, when a training run
is scheduled on its GPU, or when the view closes. Answers stream in token by token; nothing here
waits on the model, so the window stays responsive while it loads and generates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.context import AppContext
from app.playground_client import PlaygroundClient
from app.views.playground_events import PlaygroundEventsMixin
from app.views.playground_panels import PANELS
from app.widgets import MessageBanner
from app.workers import Task, pending
from spark_trainer.store import runs
from spark_trainer.store.entities import Run
from spark_trainer.store.store import Store


class PlaygroundView(PlaygroundEventsMixin, QWidget):
    """Open with `open_run(run_id, checkpoint)`. Emits `back(run_id)`, `sample_saved(run_id)`, and
    `pick_run()` when the run shown was deleted and the user asks for another."""

    back = Signal(int)
    sample_saved = Signal(int)
    pick_run = Signal()

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None, *,
                 idle_s: float | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx = store, ctx
        self.run: Run | None = None
        self.kind: str | None = None
        self.panel: Any = None
        self.client = PlaygroundClient(store.home.root, self)
        if idle_s is not None:
            self.client.idle_s = idle_s
        else:  # one small read when the view is built (on the pool), not per prompt
            from spark_trainer.store import settings

            task = Task(lambda _ctx: float(settings.get(store, "playground_idle_seconds")), owner=self, name="playground-idle")
            task.signals.succeeded.connect(self._set_idle_seconds)
            ctx.tasks.start(task, ctx.pool)
        self.client.event.connect(self._on_event)
        self.loaded: tuple[int, str] | None = None  # (run, checkpoint) the server holds or is loading
        self._loaded_text = ""  # "Loaded on CPU · 3 MiB": said again when the run loaded is shown again
        self._answered: tuple[str, str] = ("", "")  # the checkpoint (data, label) of the answer shown
        self.pending: dict[int, str] = {}  # request id -> "load" | variant
        self._load_error: str | None = None  # why the last load failed: the prompts behind it failed for it
        self._save_task: Task | None = None
        self.opening: int | None = None  # the run being read by open_run, until it is shown
        self.gone: int | None = None  # the run shown, once the server said it was deleted
        self._open_task: Task | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._build_top())
        self.banner = MessageBanner()
        layout.addWidget(self.banner)
        self.panel_holder = QVBoxLayout()
        layout.addLayout(self.panel_holder, 1)
        layout.addLayout(self._build_actions())
        self._set_idle()

    def _build_top(self) -> QVBoxLayout:
        row = QHBoxLayout()
        self.back_button = QPushButton("← Run")
        self.back_button.clicked.connect(self._go_back)
        self.heading = QLabel("Playground")
        self.heading.setObjectName("ViewTitle")
        self.checkpoint = QComboBox()
        self.checkpoint.setToolTip("Which weights of the run to try")
        self.checkpoint.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # never "Final mo…"
        self.device = QComboBox()
        self.device.setToolTip("Where the model runs: a GPU, or the CPU")
        self.device.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # "GPU 0 (training)"
        self.status = QLabel("")
        self.status.setObjectName("Muted")
        self.unload_button = QPushButton("Unload")
        self.unload_button.setToolTip("Stop the model process and free its memory")
        self.unload_button.clicked.connect(self.unload)
        for widget in (self.back_button, self.heading):
            row.addWidget(widget)
        row.addStretch(1)
        # The model controls have a row of their own: beside a heading with a long experiment name,
        # a 1024-px window clipped both ('Playground · Run 5 · tir', 'Final mo').
        model_row = QHBoxLayout()
        for widget in (QLabel("Model"), self.checkpoint, QLabel("on"), self.device, self.status):
            model_row.addWidget(widget)
        model_row.addStretch(1)
        model_row.addWidget(self.unload_button)
        rows = QVBoxLayout()
        rows.addLayout(row)
        rows.addLayout(model_row)
        return rows

    def _build_actions(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("Primary")
        self.generate_button.clicked.connect(self.generate)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.cancel)
        self.save_button = QPushButton("Save as sample")
        self.save_button.setToolTip("Save the prompt and the answers to the run; they show in its Samples tab")
        self.save_button.clicked.connect(self.save_sample)
        self.pick_button = QPushButton("Pick another run")
        self.pick_button.setToolTip("This run was deleted: go to the runs list and open another one")
        self.pick_button.clicked.connect(self.pick_run.emit)
        self.pick_button.hide()
        for widget in (self.generate_button, self.stop_button, self.save_button, self.pick_button):
            row.addWidget(widget)
        row.addStretch(1)
        return row

    def _go_back(self) -> None:
        if self.gone is not None:  # its page would only say "no run N"
            self.pick_run.emit()
        else:
            self.back.emit(self.run.id if self.run else 0)

    def _set_idle_seconds(self, seconds: float) -> None:
        self.client.idle_s = seconds

    # ---- opening a run ----------------------------------------------------------------------------
    def open_run(self, run_id: int, checkpoint: str | None = None) -> Task:
        """Show a run: the run (when the model does not hold it) and its checkpoint folders are read on
        the pool, then shown (`opening` is None once they are)."""
        self.banner.clear_message()
        self.opening = run_id
        known = self.ctx.model.runs.get(run_id)
        store = self.store

        def read(_ctx: Any) -> tuple[Run, list]:
            from spark_trainer.playground.source import choices

            run = known if known is not None else runs.get(store, run_id)
            return run, list(choices(Path(run.run_dir)))

        def failed(message: str, _exc: object) -> None:
            if self.opening == run_id:
                self.opening = None
                self.banner.show_message(message, "error")

        task = Task(read, owner=self, name="playground-open")
        task.signals.succeeded.connect(
            lambda found: self._show_run(*found, checkpoint) if self.opening == run_id else None)
        task.signals.failed.connect(failed)
        self._open_task = self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _show_run(self, run: Run, found: list, checkpoint: str | None) -> None:
        from spark_trainer.playground.generators import GENERATORS

        self.opening = None
        switched = self.run is None or self.run.id != run.id
        if switched:  # nothing of the run tried before is shown, or saved, as this run's
            self.cancel()
            self.pending = {rid: what for rid, what in self.pending.items() if what == "load"}
            held = self.loaded is not None and self.loaded[0] == run.id
            self.status.setText(self._loaded_text if held else "Not loaded")
        self.run, self.gone = run, None
        self.pick_button.hide()
        self.heading.setText(f"Playground · Run {self.run.id} · {self.run.experiment}")
        self.back_button.setText(f"← Run {self.run.id}")
        self.checkpoint.clear()
        for spec, label in found:
            self.checkpoint.addItem(label, spec)
        if checkpoint is not None:
            index = self.checkpoint.findData(str(checkpoint))
            self.checkpoint.setCurrentIndex(max(index, 0))
        self._fill_devices()
        spec = GENERATORS.get(self.run.recipe)
        self._set_panel(spec.kind if spec else None, fresh=switched)
        self.generate_button.setText(getattr(self.panel, "action_text", "Generate"))
        if self.panel is not None and hasattr(self.panel, "configure"):
            self.panel.configure(self.run.recipe)  # e.g. a text box or an image drop area
        if spec is None:
            self.banner.show_message(f"The playground cannot try {self.run.recipe} runs yet.", "warning")
        elif self.checkpoint.count() == 0:
            self.banner.show_message(f"Run {self.run.id} has no final model or checkpoint to try yet.", "warning")
        self._set_idle()

    def _fill_devices(self) -> None:
        keep = self.device.currentData()
        self.device.clear()
        busy = {g for r in self.ctx.model.runs.all_runs() if r.status.is_active for g in r.gpus}
        for gpu in self.ctx.gpu_monitor.gpus:
            note = " (training)" if gpu.index in busy else ""
            self.device.addItem(f"GPU {gpu.index}{note}", str(gpu.index))
        self.device.addItem("CPU", "cpu")
        free = [i for i in range(self.device.count()) if "(training)" not in self.device.itemText(i)]
        index = self.device.findData(keep) if keep is not None else -1
        self.device.setCurrentIndex(index if index >= 0 else free[0])

    def _set_panel(self, kind: str | None, fresh: bool = False) -> None:
        if kind == self.kind and self.panel is not None and not fresh:
            return
        if self.panel is not None:
            self.panel.setParent(None)
            self.panel.deleteLater()
        self.kind, self.panel = kind, None
        if kind in PANELS:
            self.panel = PANELS[kind]()
            self.panel.generate_requested.connect(self.generate)
            self.panel_holder.addWidget(self.panel)

    # ---- talking to the server --------------------------------------------------------------------
    def generate(self) -> None:
        if (self.run is None or self.panel is None or self.pending or self.checkpoint.count() == 0
                or self.gone is not None):
            return
        problem = self.panel.problem()
        if problem:
            self.banner.show_message(problem, "warning")
            return
        self.banner.clear_message()
        device, checkpoint = self.device.currentData(), self.checkpoint.currentData()
        if not self.client.running or self.client.device != device:
            self.client.start(device)
            self.loaded = None
        if self.loaded != (self.run.id, checkpoint):
            self._load_error = None
            rid = self.client.request("load", run=self.run.id, checkpoint=checkpoint)
            self.pending[rid] = "load"
            self.loaded = (self.run.id, checkpoint)
            self.status.setText(f"Loading {self.checkpoint.currentText().lower()}…")
        self._answered = (checkpoint, self.checkpoint.currentText())
        wanted = self.panel.requests()
        self.panel.begin([variant for variant, _, _ in wanted])
        for variant, inputs, settings in wanted:
            rid = self.client.request("generate", variant=variant, inputs=inputs, settings=settings)
            self.pending[rid] = variant
        self._set_busy()

    def cancel(self) -> None:
        for rid, what in list(self.pending.items()):
            if what != "load" and self.client.running:
                self.client.send({"op": "cancel", "id": rid})

    def unload(self) -> None:
        self.client.stop()
        self._end_answers("Unloaded before it answered", failed=False)
        self._forget("Unloaded")

    def _set_busy(self) -> None:
        self.stop_button.setEnabled(True)
        _pass_focus(self.generate_button, self.stop_button)
        self.generate_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.checkpoint.setEnabled(False)
        self.device.setEnabled(False)
        self.unload_button.setEnabled(self.client.running)  # a load too can be abandoned

    def _set_idle(self) -> None:
        can = self.panel is not None and self.checkpoint.count() > 0 and self.gone is None
        self.generate_button.setEnabled(can)
        if can:
            _pass_focus(self.stop_button, self.generate_button)
        self.stop_button.setEnabled(False)
        self.save_button.setEnabled(self.panel is not None and self.panel.sample_item() is not None
                                    and self.gone is None)  # a deleted run keeps no samples
        self.checkpoint.setEnabled(True)
        self.device.setEnabled(True)
        self.unload_button.setEnabled(self.client.running)
        if not self.client.running and not self.status.text():
            self.status.setText("Not loaded")

    @property
    def generating(self) -> bool:
        return any(what != "load" for what in self.pending.values())

    # ---- samples ----------------------------------------------------------------------------------
    def save_sample(self) -> None:
        if self.run is None or self.panel is None:
            return
        item = self.panel.sample_item()
        if item is None:
            return
        run_id, (checkpoint, label) = self.run.id, self._answered  # the weights that wrote it, not the ones picked since
        step = int(checkpoint) if str(checkpoint).isdigit() else None

        def work(_ctx: Any) -> str:
            from spark_trainer.playground.samples import save_sample

            return save_sample(self.store, run_id, {**item, "checkpoint": label}, step=step,
                               checkpoint=checkpoint).path

        task = Task(work, owner=self, name="playground-save-sample")
        task.signals.succeeded.connect(lambda path: self._saved(run_id, path))
        task.signals.failed.connect(lambda message, _exc: self.banner.show_message(message, "error"))
        self._save_task = task
        self.ctx.tasks.start(task, self.ctx.pool)

    def _saved(self, run_id: int, path: str) -> None:
        self.banner.show_message(f"Saved to run {run_id}'s samples ({Path(path).name})", "ok")
        self.sample_saved.emit(run_id)
        self.ctx.model.refresh()

    def busy(self) -> bool:
        return pending(self._save_task)

    def shutdown(self, wait: bool = True) -> None:
        """Stop the model process (the app is closing, or the view is gone)."""
        if wait:
            self.client.wait_stopped(5000)
        else:
            self.client.stop()
        self.pending.clear()



def _pass_focus(going: QWidget, to: QWidget) -> None:
    """Give `going`'s keyboard focus to `to` before `going` is disabled: Qt would hand it on down the tab
    order, into a setting whose text it selects, which the next key typed would replace."""
    if going.hasFocus():
        to.setFocus(Qt.FocusReason.OtherFocusReason)
