"""Export as cluster job: the experiment in the setup form as a job folder for slurm, torchrun or
accelerate, with the same options as `spark-trainer launch`.

The export (a dataset ingested on first use, data and model copied) runs on the pool; the dialog
then says where the folder is and the command to run next.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app import file_dialogs
from app.context import AppContext
from app.widgets import MessageBanner
from app.workers import Task
from spark_trainer.cluster.layout import job_device
from spark_trainer.store.store import Store

SCHEDULERS = (("torchrun", "torchrun: launch.sh on every node"),
              ("accelerate", "accelerate: launch.sh on every node, with a config file"),
              ("slurm", "Slurm: an sbatch script (srun starts every rank)"))


class ClusterExportDialog(QDialog):
    """Emits `exported(job folder)` once the folder is written."""

    exported = Signal(str)

    def __init__(self, store: Store, ctx: AppContext, config: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.ctx, self.config = store, ctx, dict(config)
        self.task: Task | None = None
        # An unnamed form's experiment is not called "experiment" (the export refuses it without a name).
        name = str(self.config.get("name") or "").strip()
        self.setWindowTitle(f"Export as cluster job · {name}" if name else "Export as cluster job")
        self.setMinimumWidth(620)
        layout = QVBoxLayout(self)
        which = (f"experiment <b>{escape(name)}</b>" if name else
                 "the setup form's experiment (it has no name yet: give it one in the form before exporting)")
        self.intro = intro = QLabel(f"Writes a self-contained job folder for {which} (project "
                       f"{self.config.get('project') or '-'}): the frozen config, the dataset and base model "
                       "(or their paths on shared storage), the launch script and a README. Run it on the "
                       "cluster, then bring the results back with <i>spark-trainer run import</i>.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.scheduler = QComboBox()
        for key, label in SCHEDULERS:
            self.scheduler.addItem(label, key)
        self.nodes = _spin(1, 1024, 2)
        self.procs = _spin(1, 64, 1)
        self.procs.setToolTip("One process per GPU; a CPU experiment runs this many processes (gloo)")
        self.out = QLineEdit()
        self.out.setPlaceholderText("a new (or empty) folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out, 1)
        out_row.addWidget(browse)
        self.shared_data = QLineEdit()
        self.shared_data.setPlaceholderText("empty: copy the dataset into the job")
        self.shared_model = QLineEdit()
        self.shared_model.setPlaceholderText("empty: copy the base model into the job")
        self.partition = QLineEdit()
        self.partition.setPlaceholderText("optional")
        self.time_limit = QLineEdit()
        self.time_limit.setPlaceholderText("optional, e.g. 04:00:00")
        form.addRow("Scheduler", self.scheduler)
        form.addRow("Nodes", self.nodes)
        form.addRow("Processes per node", self.procs)
        self.world = QLabel("")
        self.world.setObjectName("Muted")
        self.world.setWordWrap(True)
        form.addRow("", self.world)
        form.addRow("Job folder", out_row)
        form.addRow("Dataset on shared storage", self.shared_data)
        form.addRow("Base model on shared storage", self.shared_model)
        form.addRow("Slurm partition", self.partition)
        form.addRow("Slurm time limit", self.time_limit)
        layout.addLayout(form)
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
        for signal in (self.scheduler.currentIndexChanged, self.nodes.valueChanged, self.procs.valueChanged):
            signal.connect(self._sync)
        self._sync()

    def _browse(self) -> None:
        folder = file_dialogs.existing_dir(self, "Job folder")
        if folder:
            self.out.setText(folder)

    def _sync(self) -> None:
        slurm = self.scheduler.currentData() == "slurm"
        self.partition.setEnabled(slurm)
        self.time_limit.setEnabled(slurm)
        world = self.nodes.value() * self.procs.value()
        batch = (self.config.get("train") or {}).get("batch_size")
        per = f"; global batch {batch} x {world} = {batch * world}" if isinstance(batch, int) else ""
        cpu = job_device(self.config.get("gpus")) == "cpu"
        self.world.setText(f"{world} rank(s) in all, {'CPU processes (gloo)' if cpu else 'one GPU each'}{per}")
        self.world.setToolTip("The experiment's GPUs setting decides: cpu trains on CPUs, anything else on the "
                              "nodes' GPUs (a node where torch sees no CUDA GPU refuses the job)")

    def options(self) -> Any:
        from spark_trainer.cluster.launch import LaunchOptions
        from spark_trainer.errors import BadInput

        out = self.out.text().strip()
        if not out:
            raise BadInput("choose a job folder (a new or empty folder)")
        slurm = self.scheduler.currentData() == "slurm"  # the greyed-out Slurm fields keep their text
        return LaunchOptions(nodes=self.nodes.value(), procs_per_node=self.procs.value(),
                             scheduler=self.scheduler.currentData(), out=Path(out).expanduser(),
                             shared_data=self.shared_data.text().strip() or None,
                             shared_model=self.shared_model.text().strip() or None,
                             partition=(self.partition.text().strip() or None) if slurm else None,
                             time_limit=(self.time_limit.text().strip() or None) if slurm else None)

    def start(self) -> Task | None:
        """Write the job folder on the pool; returns the task (tests wait on it)."""
        from spark_trainer.config import validate_config
        from spark_trainer.errors import SparkError

        try:
            options = self.options()
            options.check()
            config = validate_config(self.config)
        except SparkError as exc:
            self.banner.show_message(str(exc), "error")
            return None

        def work(_ctx: Any) -> Any:
            from spark_trainer.cluster.launch import launch_config

            return launch_config(self.store, config, options, base_dir=Path.cwd())

        self.export_button.setEnabled(False)
        self.banner.show_message("Writing the job folder (copying the dataset and the model)…", "info")
        task = Task(work, owner=self, name="cluster-export")
        task.signals.succeeded.connect(self._on_done)
        task.signals.failed.connect(self._on_failed)
        self.task = task
        self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _on_done(self, job: Any) -> None:
        self.export_button.setEnabled(True)
        self.banner.show_message(f"Job written to {job.path}. Next, on the cluster: {job.command}. "
                                 f"Afterwards: spark-trainer run import {job.path}", "ok")
        self.exported.emit(str(job.path))

    def _on_failed(self, message: str, _exc: Any = None) -> None:
        self.export_button.setEnabled(True)
        self.banner.show_message(f"Export failed: {message}", "error")


def _spin(low: int, high: int, value: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    return box
