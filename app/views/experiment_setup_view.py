"""Experiment setup: project, recipe, dataset, base model, GPUs and a generated config form.

Every edit re-validates: checks on the form's own values at once, those that need the store or
the disk (dataset look-up, the recipe's data check that submit runs, the base model's config.json,
the memory estimate) on the pool, a moment after the last keystroke (`setup_checks.check_setup`). Launch stays disabled while anything
is invalid, with the reason next to the field and beside the button. Launch freezes the config and
queues a run (the same `submit_config` that `spark-trainer train` uses) on a pool thread, then
opens the run (app/views/setup_launch.py). Projects and datasets come from the app model.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.context import AppContext
from app.forms.cells import ERROR_STYLE, error_label, scrolled_column, with_button, with_error
from app.forms.labels import label_inputs
from app.forms.model_form import ModelForm
from app.forms.tab_order import order_tabs, tab_stops
from app.views.base import BaseView
from app.views.memory_panel import MemoryEstimatePanel
from app.views.setup_checks import SetupCheck, check_setup, field_errors
from app.views.setup_choices import PathBox, SetupChoicesMixin, narrow_to_room
from app.views.setup_files import IMAGE_RECIPES, SetupFilesMixin
from app.views.setup_launch import SetupLaunchMixin
from app.views.sweep_panel import SweepPanel
from app.wheel_guard import guard_wheel
from app.widgets import MessageBanner, clear_layout
from app.workers import Task, pending
from spark_trainer.config.schema import CheckpointConfig, EvalConfig, TrainConfig
from spark_trainer.errors import BadInput
from spark_trainer.recipes.registry import get_recipe, list_recipes
from spark_trainer.store.store import Store

CHECK_DELAY_MS = 150  # the store and disk checks wait for a pause in typing

# The fields' labels, as Launch's reason names them ("name: give the experiment a name" said the key).
FIELD_LABELS = {"project": "Project", "name": "Experiment name", "dataset": "Dataset", "base_model": "Base model",
                "gpus": "GPUs"}


class ExperimentSetupView(SetupChoicesMixin, SetupFilesMixin, SetupLaunchMixin, BaseView):
    title = "Experiment setup"

    def __init__(self, store: Store, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(store, ctx, parent)
        self.banner = MessageBanner()
        self.body.addWidget(self.banner)
        columns = QHBoxLayout()
        self.body.addLayout(columns, 1)
        scroll, self.left = scrolled_column()
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
        self.picker: QDialog | None = None  # Open experiment… (SetupFilesMixin), once opened
        self._check_task: Task | None = None
        self._checks_asked = 0  # the newest check asked for; older answers are dropped
        self._check_again = False  # an edit came while a check ran: check the form again after it
        self._store_errors: dict[str, str] = {}  # from the last store and disk check
        self._checked_data: dict[str, Any] = {}  # the form values that check saw
        self._data_checks: dict[Any, str] = {}  # the recipe's data check's answers (it reads the dataset)
        self._launch_when_checked = False
        self._said_of: dict[str, Any] = {}  # the form the banner's message is about
        self._dataset_ref = ""  # a cloned config's dataset id, shown by name once the model knows it
        self._check_delay = QTimer(self)  # a debounce, not a poll: restarted by every edit
        self._check_delay.setSingleShot(True)
        self._check_delay.setInterval(CHECK_DELAY_MS)
        self._check_delay.timeout.connect(self._start_check)
        self.sweep.checked.connect(self._check_delay.start)  # its runs' data advice comes with the form's check
        self.sweep.rows_changed.connect(self.order_tabs)
        self._init_choices()
        ctx.model.projects.projects_reset.connect(self._on_projects)  # bound methods: see datasets_view
        ctx.model.datasets.datasets_reset.connect(self._on_datasets)
        ctx.model.runs.runs_updated.connect(self._on_runs)
        self._set_recipe(self.recipe.currentText())
        for area in (scroll, self.side_scroll):  # the wheel scrolls the form, never a choice under the pointer
            guard_wheel(area.widget())
        self.refresh()

    def order_tabs(self) -> None:
        """Tab goes down the left column (what to train, training, the recipe's settings, evaluation,
        checkpoints), then down the right-hand panel, then Launch: the order the layouts show. Set again
        when a part is rebuilt (the recipe's settings) or grows (a sweep row)."""
        if hasattr(self, "launch"):  # built
            order_tabs(tab_stops(self.body))

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
        self.dataset = PathBox("A dataset of the project, or a file or folder (ingested on first use)")
        self.dataset_browse = QPushButton("File…")
        self.base_model = PathBox("A local Hugging Face model folder (with config.json), or a model id "
                                  "found in the local Hugging Face cache")
        self.model_browse = QPushButton("Folder…")
        self.gpus = QComboBox()
        self.gpus.setEditable(True)
        self.gpus.setToolTip("auto | cpu | GPU ids like 0 or 0,1 | count:N (any N free GPUs)")
        # A new form shows name, dataset and base model in error: filled in from the top, each error
        # going must not move the fields below. GPUs keeps its hint line under it instead.
        self.errors = {key: error_label(room=key != "gpus")
                       for key in ("project", "name", "dataset", "base_model", "gpus")}
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
        label_inputs(form)  # the labels buddy and name the boxes, not their cells with the error line
        self.left.addWidget(box)
        self.project.currentTextChanged.connect(self._on_project)
        for signal in (self.name.textChanged, self.dataset.currentTextChanged, self.base_model.currentTextChanged,
                       self.gpus.currentTextChanged):
            signal.connect(self.revalidate)
        self.recipe.currentTextChanged.connect(self._set_recipe)
        for box in (self.project, self.recipe, self.dataset, self.base_model, self.gpus):
            narrow_to_room(box)
        self.ctx.gpu_monitor.sampled.connect(lambda _gpus: self._fill_gpus())
        self.dataset_browse.clicked.connect(self._browse_dataset)
        self.model_browse.clicked.connect(self._browse_model)

    def _build_side_panel(self) -> QVBoxLayout:
        """The estimate, presets and sweep scroll in a short window (1024 x 640 squeezed their wrapped
        lines over each other); the data advice, Launch and its reason stay in sight under them."""
        column = QVBoxLayout()
        self.side_scroll, side = scrolled_column(sideways=False)
        side.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.side_scroll, 1)
        self.memory_panel = MemoryEstimatePanel(self.ctx)
        self.memory = self.memory_panel.memory
        side.addWidget(self.memory_panel)
        presets = QGroupBox("Presets")
        preset_rows = QVBoxLayout(presets)
        preset_row = QHBoxLayout()
        self.load_preset = QPushButton("Load YAML…")
        self.save_preset = QPushButton("Save as YAML…")
        self.load_preset.setToolTip("A run file, as `spark-trainer train` reads")
        self.save_preset.setToolTip("Writes a run file that `spark-trainer train FILE` runs as is")
        preset_row.addWidget(self.load_preset)
        preset_row.addWidget(self.save_preset)
        preset_rows.addLayout(preset_row)
        self.open_experiment_button = QPushButton("Open experiment…")
        self.open_experiment_button.setToolTip("Fill the form from one of the project's experiments (those "
                                               "without runs too); Launch adds a run to it")
        preset_rows.addWidget(self.open_experiment_button)
        side.addWidget(presets)
        self.load_preset.clicked.connect(self._load_preset_dialog)
        self.save_preset.clicked.connect(self._save_preset_dialog)
        self.open_experiment_button.clicked.connect(self.open_experiment_dialog)
        self.sweep = SweepPanel(self.store, self.ctx, self)
        side.addWidget(self.sweep)
        side.addStretch(1)
        self.data_warning = MessageBanner()  # the recipe's advice on the data (upscaled images...)
        column.addWidget(self.data_warning)
        self.launch_reason = QLabel("")
        self.launch_reason.setStyleSheet(ERROR_STYLE)
        self.launch_reason.setWordWrap(True)
        self.launch = QPushButton("Launch")
        self.launch.setProperty("primary", True)
        self.launch.setMinimumHeight(34)
        self.launch.clicked.connect(self.launch_run)
        column.addWidget(self.launch_reason)
        column.addWidget(self.launch)
        self.export_cluster = QPushButton("Export as cluster job…")
        self.export_cluster.setToolTip("A job folder for slurm, torchrun or accelerate (spark-trainer launch)")
        self.export_cluster.clicked.connect(self.open_cluster_export)
        column.addWidget(self.export_cluster)
        return column

    # --- data ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Projects and datasets from the model; model folders are listed on the pool."""
        self._fill_projects()
        self._fill_datasets()
        self._list_models()
        self._fill_gpus()
        self.revalidate()
        self.memory_panel.load_measured()

    def _on_projects(self, _found: list) -> None:
        self._fill_projects()

    def _on_datasets(self, _found: list) -> None:
        self._fill_datasets()
        self._name_dataset_ref()
        self.revalidate()

    def _on_project(self) -> None:
        self._fill_datasets()
        self.revalidate()

    def _set_recipe(self, name: str) -> None:
        clear_layout(self.recipe_layout)  # hidden at once: never two forms shown at once
        try:
            spec = get_recipe(name)
        except BadInput:
            return
        form = ModelForm(spec.config_model, label="recipe_config")
        form.changed.connect(self.revalidate)
        form.changed.connect(self._fill_datasets)  # a column setting decides which datasets fit
        self.forms["recipe_config"] = form
        self._fill_datasets()
        self._fill_models()
        self.recipe_box.setTitle(f"Recipe settings: {spec.title}")
        # An image recipe trains on a folder of images (or a manifest): a file dialog could not pick one.
        self.dataset_browse.setText("Folder…" if name in IMAGE_RECIPES else "File…")
        self.recipe_layout.addWidget(form)
        self.sweep.set_recipe(name)
        guard_wheel(form)
        self.order_tabs()
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

    def revalidate(self) -> None:
        """Show what the form's own values say now; the store and disk checks follow on the pool."""
        if not hasattr(self, "launch"):
            return  # still building
        data = self.config_data()
        if self.banner.text() and data != self._said_of:
            self.banner.clear_message()  # "Run 3 queued" is not about the next experiment being filled in
        # A store or disk error stays shown only while its field still holds the value checked.
        still = {k: v for k, v in self._store_errors.items() if data.get(k) == self._checked_data.get(k)}
        self._show_errors({**field_errors(data), **still})
        self.sweep.revalidate()  # its runs are the form's, with one setting varied: checked as it changes
        self._check_delay.start()

    def _start_check(self) -> None:
        if pending(self._check_task):
            # One check at a time: a check may import torch and transformers (the memory estimate of
            # a convolutional image classifier, or of a causal LM spark_trainer.models.config_facts
            # does not know), and two pool threads importing torch at once break it ("cannot import
            # name 'AutoConfig'"). The running check's answer is about an older form.
            self._checks_asked += 1
            self._check_again = True
            return
        self._run_check()

    def _check_finished(self) -> None:
        if self._check_again:
            self._check_again = False
            self._run_check()

    def _run_check(self) -> None:
        data = self.config_data()
        offered = [self.dataset.itemText(i) for i in range(self.dataset.count())]
        store, gpus, answers = self.store, list(self.memory_panel.gpus), self._data_checks
        sweep = list(self.sweep.axes) if self.sweep.axes else None
        self._checks_asked += 1
        asked = self._checks_asked
        task = Task(lambda _ctx: check_setup(store, data, offered, gpus, answers, sweep), owner=self,
                    name="setup-check")
        # A form closed before the answer comes back gets nothing (the task is bound to it).
        task.signals.succeeded.connect(lambda result: self._on_checked(asked, data, result))
        task.signals.failed.connect(lambda message, _exc: self._on_check_failed(asked, message))
        task.signals.finished.connect(self._check_finished)
        self._check_task = self.ctx.tasks.start(task, self.ctx.pool)

    def _on_check_failed(self, asked: int, message: str) -> None:
        if asked == self._checks_asked:
            self._launch_when_checked = False
            self.launch_reason.setText(f"Cannot check the form: {message}")

    def _on_checked(self, asked: int, data: dict[str, Any], result: SetupCheck) -> None:
        if asked != self._checks_asked:
            return  # the form changed since: a newer check is on its way
        self._checked_data = data
        own = field_errors(data)
        self._store_errors = {k: v for k, v in result.errors.items() if k not in own}
        self._show_errors(result.errors)
        self.memory_panel.show_texts(result.estimate)
        if result.warnings:
            self.data_warning.show_message("\n".join(f"Warning: {w}" for w in result.warnings), "warning")
        else:
            self.data_warning.clear_message()
        self.sweep.show_warnings(result.sweep_warnings)
        if self._launch_when_checked:
            self._launch_when_checked = False
            self._submit()

    @property
    def checking(self) -> bool:
        """A store and disk check is waiting or running (Launch's state may still change)."""
        return self._check_delay.isActive() or pending(self._check_task)

    def _show_errors(self, errors: dict[str, str]) -> None:
        for key, label in self.errors.items():
            label.setText(errors.get(key, ""))
            label.setVisible(key in errors)
        # A check naming a setting ("... has no column 'category' (recipe_config.label_column)") marks that
        # field too: it was said only by the dataset and the Cannot launch line.
        for section, form in self.forms.items():
            named = {m.group(1): message for key, message in errors.items()  # or keyed by it (target_modules)
                     for m in re.finditer(rf"\b{section}\.(\w+)", f"{key} {message}") if m.group(1) in form.rows}
            form.show_outside(named)
        reasons = [f"{FIELD_LABELS.get(key, key)}: {msg}" for key, msg in errors.items()]  # the form's words
        reasons += [line for form in self.forms.values() for line in form.error_lines()]  # all, not one a form
        busy = pending(self._task)
        self.launch.setEnabled(not reasons and not busy)
        self.launch_reason.setText(("Cannot launch: " + reasons[0] + (f" (and {len(reasons) - 1} more)"
                                                                      if len(reasons) > 1 else "")) if reasons else "")
        self.sweep.update_button()  # Queue needs a form that can launch

    def busy(self) -> bool:
        return pending(self._task) or self.memory_panel.busy() or self.sweep.busy() \
            or self.checking or pending(self._models_task) or self.reading_facts
