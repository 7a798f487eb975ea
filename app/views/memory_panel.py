"""The experiment setup's memory panel: the peak-GPU-memory estimate, and measured peaks of past runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QGroupBox, QLabel, QVBoxLayout, QWidget

from app.context import AppContext
from app.widgets import human_bytes
from app.workers import Task, pending
from spark_trainer import estimate, estimate_measured
from spark_trainer.errors import BadInput
from spark_trainer.estimate_sharding import sharding_note

NO_MODEL = "Choose a base model to see the estimate."


class MemoryEstimatePanel(QGroupBox):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__("Estimated peak GPU memory", parent)
        self.ctx = ctx
        layout = QVBoxLayout(self)
        self.memory = QLabel(NO_MODEL)
        self.memory.setWordWrap(True)
        self.parts = QLabel("")
        self.fit = QLabel("")  # the largest micro-batch that fits in 90% of the planned GPU's free memory
        self.fit.setWordWrap(True)
        self.measured_label = QLabel("")
        cal = estimate.current_calibration()
        formula = QLabel("weights + 16 B per trainable parameter + activations (+ logits for language models) "
                         f"+ {human_bytes(cal.overhead_bytes)}"
                         + (f" (fitted to {cal.measured_points} peaks measured on a GPU)" if cal.measured_points else "")
                         + "; spark-trainer estimate RUN_FILE "
                         "gives the same figure on the command line")
        for label in (self.parts, self.measured_label, formula):
            label.setObjectName("Muted")
            label.setWordWrap(True)
        for widget in (self.memory, self.fit, self.parts, self.measured_label, formula):
            layout.addWidget(widget)
        self.parts.hide()  # shown with something to say (`show_texts`)
        self.fit.hide()
        self.measured: list[estimate_measured.MeasuredPeak] = []
        self.gpus: list[Any] = []  # NVML's view, read off the GUI thread with the measured peaks
        self.task: Task | None = None

    def load_measured(self) -> None:
        """Measured GPU peaks of past runs, read off the GUI thread (it scans the metrics table)."""
        if self.busy():
            return
        from spark_trainer.gpu import list_gpus

        task = Task(lambda _ctx: (estimate_measured.compare_measured(self.ctx.store, limit=3), list_gpus()),
                    owner=self, name="measured-peaks")
        task.signals.succeeded.connect(self._on_measured)
        self.task = task
        self.ctx.tasks.start(task, self.ctx.pool)

    def _on_measured(self, result: tuple[list[estimate_measured.MeasuredPeak], list[Any]]) -> None:
        found, self.gpus = result
        self.measured = found
        lines = [f"run {m.run_id}: measured {human_bytes(m.measured_bytes)}"
                 + (f", estimated {human_bytes(m.estimated_bytes)}" if m.estimated_bytes else "") for m in found]
        self.measured_label.setText("Measured peaks: " + "; ".join(lines) if lines else
                                    "No run has reported a measured GPU peak yet (CPU runs do not).")

    def show_estimate(self, config: dict[str, Any], model_folder: Path | None) -> None:
        """The estimate for a run-file mapping and its model folder (None: no usable model chosen).
        It reads the model's config.json: the setup form calls `estimate_texts` on the pool instead."""
        self.show_texts(estimate_texts(config, model_folder, self.gpus))

    def show_texts(self, texts: tuple[str, str, str]) -> None:
        """(headline, parts, fit) as `estimate_texts` made them."""
        memory, parts, fit = texts
        self.memory.setText(memory)
        for label, text in ((self.parts, parts), (self.fit, fit)):  # an empty one left an empty line
            label.setText(text)
            label.setVisible(bool(text))

    def busy(self) -> bool:
        return pending(self.task)


def estimate_texts(config: dict[str, Any], model_folder: Path | None, gpus: list[Any]) -> tuple[str, str, str]:
    """(headline, parts, fit) for a run-file mapping; reads the model's config.json (off the GUI thread)."""
    if model_folder is None:
        return NO_MODEL, "", ""
    try:
        result = estimate.estimate_for_config(config, model_folder)
    except (BadInput, ValueError, TypeError) as exc:
        return f"No estimate: {exc}", "", ""
    return (f"<b>~{human_bytes(result.total_bytes)}</b> per GPU ({result.trainable_params:,} trainable parameters)",
            " · ".join(f"{k} {human_bytes(v)}" for k, v in result.shown_parts()),
            fit_text(config, model_folder, gpus))


def fit_text(config: dict[str, Any], model_folder: Path, gpus_found: list[Any]) -> str:
    """What `spark-trainer estimate` suggests for this form on the GPU(s) it would use."""
    from spark_trainer.jobs.gpus import planned_gpus

    try:
        gpus = planned_gpus(str(config.get("gpus") or "auto"), gpus_found)
    except BadInput as exc:
        return str(exc)
    if not gpus:  # said, or a CPU-only machine showed a 'per GPU' figure as if a GPU would be used
        why = "No NVIDIA GPU here" if not gpus_found else f"gpus: {config.get('gpus')}"
        return f"{why}: this run trains on the CPU, in system memory; the figure above is what one GPU would need."
    free = min(g.memory_free for g in gpus)
    plan = estimate.suggest_micro_batch(config, model_folder, free)
    where = ", ".join(f"GPU {g.index}" for g in gpus)
    sharded = sharding_note(config, model_folder, len(gpus), free)
    sharded = f" {sharded[0].upper()}{sharded[1:]}." if sharded else ""
    if plan.micro_batch is None:
        return f"Does not fit in 90% of {where}'s free {human_bytes(free)} even at micro-batch 1.{sharded}"
    return (f"Fits {where} (90% of {human_bytes(free)} free) up to micro-batch {plan.micro_batch} "
            f"with grad_accum {plan.grad_accum}.{sharded}")
