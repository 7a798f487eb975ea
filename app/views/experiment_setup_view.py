"""Experiment setup: project, recipe, dataset, base model, GPUs and a generated config form.

Every edit re-validates; Launch stays disabled while anything is invalid, with the reason next to
the field and beside the button. Launch freezes the config and queues a run (the same
`submit_config` that `spark-trainer train` uses) on a pool thread, then opens the run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import ERROR_STYLE, error_label, with_button, with_error
from app.forms.model_form import ModelForm
from app.views.base import BaseView
from app.views.memory_panel import MemoryEstimatePanel
from app.views.model_sources import cached_models, local_models, resolve_base_model
from app.widgets import MessageBanner
from app.workers import Task
from spark_trainer.config.schema import CheckpointConfig, EvalConfig, TrainConfig
from spark_trainer.errors import BadInput, SparkError
from spark_trainer.recipes.registry import get_recipe, list_recipes
from spark_trainer.store import datasets, projects
from spark_trainer.store.store import Store


class ExperimentSetupView(BaseView):
    title = "Experiment setup"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        columns = QHBoxLayout()
        self.body.addLayout(columns, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        inner = QWidget()
        self.left = QVBoxLayout(inner)
        scroll.setWidget(inner)
        columns.addWidget(scroll, 3)
        self._build_source_group()
        self.forms: dict[str, ModelForm] = {}
        self.recipe_box = QGroupBox("Recipe settings")
        self.recipe_layout = QVBoxLayout(self.recipe_box)
        for key, title, model in (("train", "Training", TrainConfig), ("eval", "Evaluation", EvalConfig),
                                  ("checkpoint", "Checkpoints", CheckpointConfig)):
            box = QGroupBox(title)
            box_layout = QVBoxLayout(box)
            form = ModelForm(model, label=key)
            form.changed.connect(self.revalidate)
            box_layout.addWidget(form)
            self.forms[key] = form
            self.left.addWidget(box)
            if key == "train":
                self.left.addWidget(self.recipe_box)
        self.left.addStretch(1)
        columns.addLayout(self._build_side_panel(), 2)
        self._task: Task | None = None
        self._set_recipe(self.recipe.currentText())
        self.refresh()

    # --- building ------------------------------------------------------------------------------
    def _build_source_group(self) -> None:
        box = QGroupBox("What to train")
        form = QFormLayout(box)
        self.project = QComboBox()
        self.project.setEditable(True)
        self.project.setToolTip("Project (created if missing)")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. lora-r16-lr2e-4")
        self.name.setToolTip("Experiment name, unique in its project")
        self.recipe = QComboBox()
        for spec in list_recipes():
            self.recipe.addItem(spec.name)
            self.recipe.setItemData(self.recipe.count() - 1, spec.description, 3)  # ToolTipRole
        self.dataset = QComboBox()
        self.dataset.setEditable(True)
        self.dataset.setToolTip("A dataset of the project, or a file or folder (ingested on first use)")
        self.dataset_browse = QPushButton("File…")
        self.base_model = QComboBox()
        self.base_model.setEditable(True)
        self.base_model.setToolTip("A local Hugging Face model folder (with config.json), or a model id "
                                   "found in the local Hugging Face cache")
        self.model_browse = QPushButton("Folder…")
        self.gpus = QComboBox()
        self.gpus.setEditable(True)
        self.gpus.setToolTip("auto | cpu | GPU ids like 0 or 0,1 | count:N (any N free GPUs)")
        self.errors = {key: error_label() for key in ("project", "name", "dataset", "base_model", "gpus")}
        form.addRow("Project", with_error(self.project, self.errors["project"]))
        form.addRow("Experiment name", with_error(self.name, self.errors["name"]))
        form.addRow("Recipe", self.recipe)
        form.addRow("Dataset", with_error(with_button(self.dataset, self.dataset_browse), self.errors["dataset"]))
        form.addRow("Base model", with_error(with_button(self.base_model, self.model_browse),
                                             self.errors["base_model"]))
        self.gpu_info = QLabel("")
        self.gpu_info.setObjectName("Muted")
        self.gpu_info.setWordWrap(True)
        gpu_cell = with_error(self.gpus, self.errors["gpus"])
        gpu_cell.layout().addWidget(self.gpu_info)
        form.addRow("GPUs", gpu_cell)
        self.left.addWidget(box)
        self.project.currentTextChanged.connect(self._on_project)
        for signal in (self.name.textChanged, self.dataset.currentTextChanged, self.base_model.currentTextChanged,
                       self.gpus.currentTextChanged):
            signal.connect(self.revalidate)
        self.recipe.currentTextChanged.connect(self._set_recipe)
        self.ctx.gpu_monitor.sampled.connect(lambda _gpus: self._fill_gpus())
        self.dataset_browse.clicked.connect(self._browse_dataset)
        self.model_browse.clicked.connect(self._browse_model)

    def _build_side_panel(self) -> QVBoxLayout:
        side = QVBoxLayout()
        self.memory_panel = MemoryEstimatePanel(self.ctx)
        self.memory = self.memory_panel.memory
        side.addWidget(self.memory_panel)
        presets = QGroupBox("Presets")
        preset_row = QHBoxLayout(presets)
        self.load_preset = QPushButton("Load YAML…")
        self.save_preset = QPushButton("Save as YAML…")
        self.load_preset.setToolTip("A run file, as `spark-trainer train` reads")
        self.save_preset.setToolTip("Writes a run file that `spark-trainer train FILE` runs as is")
        preset_row.addWidget(self.load_preset)
        preset_row.addWidget(self.save_preset)
        side.addWidget(presets)
        self.load_preset.clicked.connect(self._load_preset_dialog)
        self.save_preset.clicked.connect(self._save_preset_dialog)
        side.addStretch(1)
        self.launch_reason = QLabel("")
        self.launch_reason.setStyleSheet(ERROR_STYLE)
        self.launch_reason.setWordWrap(True)
        self.launch = QPushButton("Launch")
        self.launch.setProperty("primary", True)
        self.launch.setMinimumHeight(34)
        self.launch.clicked.connect(self.launch_run)
        side.addWidget(self.launch_reason)
        side.addWidget(self.launch)
        self.export_cluster = QPushButton("Export as cluster job…")
        self.export_cluster.setToolTip("A job folder for slurm, torchrun or accelerate (spark-trainer launch)")
        self.export_cluster.clicked.connect(self.open_cluster_export)
        side.addWidget(self.export_cluster)
        return side

    def open_cluster_export(self) -> QWidget:
        from app.views.cluster_export_dialog import ClusterExportDialog

        dialog = ClusterExportDialog(self.store, self.ctx, self.config_data(), self)
        dialog.show()
        return dialog

    # --- data ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        try:
            names = [p.name for p in projects.list_all(self.store)]
        except SparkError as exc:
            self.banner.show_message(f"Could not read the store: {exc}", "error")
            return
        current = self.project.currentText() or (names[-1] if names else "default")
        self.project.blockSignals(True)
        self.project.clear()
        self.project.addItems(names or ["default"])
        self.project.setCurrentText(current)
        self.project.blockSignals(False)
        self._fill_datasets()
        model = self.base_model.currentText()
        self.base_model.blockSignals(True)
        self.base_model.clear()
        self.base_model.addItems(local_models(self.store.home.models_dir) + cached_models())
        self.base_model.setCurrentText(model)
        self.base_model.blockSignals(False)
        self._fill_gpus()
        self.revalidate()
        self.memory_panel.load_measured()

    def _fill_datasets(self) -> None:
        text = self.dataset.currentText()
        self.dataset.blockSignals(True)
        self.dataset.clear()
        try:
            found = datasets.list_all(self.store, self.project.currentText())
        except BadInput:
            found = []  # a new project has no datasets yet
        kinds = self._accepted_kinds()
        for ds in found:
            if kinds and ds.kind not in kinds:  # the recipe cannot train on it (submit refuses it too)
                continue
            self.dataset.addItem(ds.name)
            self.dataset.setItemData(self.dataset.count() - 1,
                                     f"{ds.kind}, {ds.num_train} train / {ds.num_val} val items", 3)
        self.dataset.setCurrentText(text)
        self.dataset.blockSignals(False)

    def _fill_gpus(self) -> None:
        text = self.gpus.currentText() or "auto"
        self.gpus.blockSignals(True)
        self.gpus.clear()
        self.gpus.addItems(["auto", "cpu"])
        found = list(self.ctx.gpu_monitor.gpus)
        lines = []
        for gpu in found:
            self.gpus.addItem(str(gpu.index))
            lines.append(f"GPU {gpu.index} {gpu.name}: {gpu.memory_free / 2**30:.1f} of "
                         f"{gpu.memory_total / 2**30:.1f} GiB free")
        if len(found) > 1:
            self.gpus.addItem(",".join(str(g.index) for g in found))
        self.gpus.setCurrentText(text)
        self.gpus.blockSignals(False)
        self.gpu_info.setText("\n".join(lines) if lines else
                              "No NVIDIA GPU found: runs train on the CPU (auto picks the CPU).")

    def _on_project(self) -> None:
        self._fill_datasets()
        self.revalidate()

    def _accepted_kinds(self) -> tuple[str, ...]:
        try:
            return get_recipe(self.recipe.currentText()).data_kinds
        except (BadInput, AttributeError):  # no recipe chosen yet
            return ()

    def _set_recipe(self, name: str) -> None:
        if hasattr(self, "dataset"):
            self._fill_datasets()
        while self.recipe_layout.count():
            item = self.recipe_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()  # deleteLater waits for the event loop; never show two forms at once
                item.widget().deleteLater()
        try:
            spec = get_recipe(name)
        except BadInput:
            return
        form = ModelForm(spec.config_model, label="recipe_config")
        form.changed.connect(self.revalidate)
        self.forms["recipe_config"] = form
        self.recipe_box.setTitle(f"Recipe settings: {spec.title}")
        self.recipe_layout.addWidget(form)
        self.revalidate()

    # --- the config ----------------------------------------------------------------------------
    def config_data(self) -> dict[str, Any]:
        """The run file the form describes (what Save writes and Launch submits)."""
        return {
            "project": self.project.currentText().strip(),
            "name": self.name.text().strip(),
            "recipe": self.recipe.currentText(),
            "base_model": self.base_model.currentText().strip(),
            "dataset": self.dataset.currentText().strip(),
            "gpus": self.gpus.currentText().strip() or "auto",
            **{key: form.values() for key, form in self.forms.items()},
        }

    def set_config(self, data: dict[str, Any]) -> None:
        """Fill the form from a run file mapping (a preset, or a run being cloned)."""
        if data.get("project"):
            self.project.setCurrentText(str(data["project"]))
        if data.get("recipe"):
            self.recipe.setCurrentText(str(data["recipe"]))
        self.name.setText(str(data.get("name", "")))
        self.dataset.setCurrentText(str(data.get("dataset", "")))
        self.base_model.setCurrentText(str(data.get("base_model", "")))
        self.gpus.setCurrentText(str(data.get("gpus", "auto")))
        for key, form in self.forms.items():
            if isinstance(data.get(key), dict):
                form.set_values(data[key])
        self.revalidate()

    def _field_errors(self) -> dict[str, str]:
        from spark_trainer.jobs import gpus as gpu_alloc

        data = self.config_data()
        errors: dict[str, str] = {}
        try:
            projects.validate_name(data["project"], "project")
        except BadInput as exc:
            errors["project"] = str(exc)
        if not data["name"]:
            errors["name"] = "give the experiment a name"
        else:
            try:
                projects.validate_name(data["name"], "experiment")
            except BadInput as exc:
                errors["name"] = str(exc)
        _, why = resolve_base_model(data["base_model"], self.store.home.models_dir)
        if why:
            errors["base_model"] = why
        if not data["dataset"]:
            errors["dataset"] = "choose a dataset, or a file or folder to ingest"
        elif not self._dataset_known(data["dataset"], data["project"]):
            errors["dataset"] = f"{data['dataset']} is not a dataset of this project nor an existing path"
        try:
            gpu_alloc.parse_request(data["gpus"])
        except BadInput as exc:
            errors["gpus"] = str(exc)
        return errors

    def _dataset_known(self, text: str, project: str) -> bool:
        if self.dataset.findText(text) >= 0 or Path(text).expanduser().exists():
            return True
        try:
            datasets.get(self.store, text, project)
        except BadInput:
            return False
        return True

    def revalidate(self) -> None:
        if not hasattr(self, "launch"):
            return  # still building
        errors = self._field_errors()
        for key, label in self.errors.items():
            label.setText(errors.get(key, ""))
            label.setVisible(key in errors)
        reasons = [f"{key.replace('_', ' ')}: {msg}" for key, msg in errors.items()]
        reasons += [form.first_error() for form in self.forms.values() if form.first_error()]
        busy = self._task is not None and not self._task.done.is_set()
        self.launch.setEnabled(not reasons and not busy)
        self.launch_reason.setText(("Cannot launch: " + reasons[0] + (f" (and {len(reasons) - 1} more)"
                                                                      if len(reasons) > 1 else "")) if reasons else "")
        self._update_estimate("base_model" not in errors)

    def _update_estimate(self, model_ok: bool) -> None:
        folder, _ = resolve_base_model(self.base_model.currentText(), self.store.home.models_dir)
        self.memory_panel.show_estimate(self.config_data(), folder if model_ok else None)

    # --- presets -------------------------------------------------------------------------------
    def save_preset_to(self, path: Path) -> Path:
        """Write the form as a run file; raises ConfigError when the form is not valid."""
        from spark_trainer.config import save_config, validate_config

        return save_config(validate_config(self.config_data()), path)

    def load_preset_from(self, path: Path) -> None:
        from spark_trainer.config import load_config

        self.set_config(load_config(path).model_dump(mode="json"))

    def _save_preset_dialog(self) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Save preset", f"{self.name.text() or 'run'}.yaml", "YAML (*.yaml)")
        if name:
            try:
                self.banner.show_message(f"Saved {self.save_preset_to(Path(name))}", "ok")
            except SparkError as exc:
                self.banner.show_message(str(exc), "error")

    def _load_preset_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load preset", "", "YAML (*.yaml *.yml)")
        if name:
            try:
                self.load_preset_from(Path(name))
                self.banner.show_message(f"Loaded {name}", "ok")
            except SparkError as exc:
                self.banner.show_message(str(exc), "error")

    def _browse_dataset(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Training data", "", "Data (*.jsonl *.json *.csv *.parquet *.txt)")
        if name:
            self.dataset.setCurrentText(name)

    def _browse_model(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Base model folder", str(self.store.home.models_dir))
        if name:
            self.base_model.setCurrentText(name)

    # --- launch --------------------------------------------------------------------------------
    def launch_run(self) -> Task | None:
        """Validate, freeze and queue the run off the GUI thread; opens the run when it is queued."""
        self.revalidate()
        if not self.launch.isEnabled():
            return None
        from spark_trainer.config import validate_config

        try:
            config = validate_config(self.config_data())
        except SparkError as exc:
            self.launch_reason.setText(f"Cannot launch: {exc}")
            return None

        def submit(_ctx: Any) -> int:
            from spark_trainer.jobs.submit import submit_config

            return submit_config(self.store, config, base_dir=Path.cwd()).run.id

        task = Task(submit, name="launch")
        task.signals.succeeded.connect(self._launched)
        task.signals.failed.connect(lambda message, _exc: self._launch_failed(message))
        self._task = task
        self.launch.setEnabled(False)
        self.launch.setText("Queuing…")
        self.ctx.tasks.start(task, self.ctx.pool)
        return task

    def _launched(self, run_id: int) -> None:
        from app.run_scheduler import RunScheduler

        self.launch.setText("Launch")
        self.banner.show_message(f"Run {run_id} queued", "ok")
        self.revalidate()
        RunScheduler.of(self.ctx).tick()
        self.ctx.data_changed.emit("runs")
        self.ctx.navigate("runs", run_id)

    def _launch_failed(self, message: str) -> None:
        self.launch.setText("Launch")
        self.banner.show_message(f"Launch failed: {message}", "error")
        self.revalidate()

    def open_item(self, payload: Any) -> None:
        """`{"clone": config}` fills the form from a run's config, under a new name."""
        if isinstance(payload, dict) and isinstance(payload.get("clone"), dict):
            data = dict(payload["clone"])
            data["name"] = f"{data.get('name', 'run')}-copy"
            try:  # a frozen config names its dataset by id: show the name
                data["dataset"] = datasets.get(self.store, str(data.get("dataset", "")), data.get("project")).name
            except BadInput:
                pass
            self.set_config(data)

    def busy(self) -> bool:
        return (self._task is not None and not self._task.done.is_set()) or self.memory_panel.busy()
