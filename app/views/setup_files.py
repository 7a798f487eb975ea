"""The experiment setup form's files: presets (run files) saved and loaded, a run's config cloned into
the form, an experiment opened in it (app.views.experiment_picker), the dataset and base-model
pickers, and the cluster-job export. A mixin of
ExperimentSetupView, which provides the form (`config_data`, `forms`, `project`, `recipe`, `name`,
`dataset`, `base_model`, `gpus`, `store`, `ctx`, `revalidate`) and its message line (`_say`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QWidget

from app import file_dialogs
from spark_trainer.errors import SparkError

# Recipes that train on a folder of images: the dataset's browse button picks a folder for them.
IMAGE_RECIPES = frozenset({"image-classification", "diffusion-lora"})

if TYPE_CHECKING:
    from spark_trainer.store.entities import Experiment


_NOT_IN_FILE_NAMES = re.compile(r'[/\\:*?"<>|\x00-\x1f]+')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def file_name_of(name: str) -> str:
    """An experiment's name as the file name Save preset offers: `a / b` was offered as the folder `a `
    with the file ` b.yaml` in it. Characters no file name may hold (here or on Windows) become "-"."""
    base = _NOT_IN_FILE_NAMES.sub("-", name).strip(" .-") or "run"
    return f"{base}-run" if base.split(".")[0].upper() in _RESERVED else base


class SetupFilesMixin:
    def save_preset_to(self, path: Path) -> Path:
        """Write the form as a run file; raises ConfigError when the form is not valid."""
        from spark_trainer.config import save_config, validate_config

        return save_config(validate_config(self.config_data()), path)

    def load_preset_from(self, path: Path) -> None:
        from spark_trainer.config import load_config

        self.set_config(load_config(path).model_dump(mode="json"))

    def _save_preset_dialog(self) -> None:
        name = file_dialogs.save_file(self, "Save preset", f"{file_name_of(self.name.text())}.yaml", "YAML (*.yaml)")
        if name:
            try:
                self._say(f"Saved {self.save_preset_to(Path(name))}", "ok")
            except SparkError as exc:
                self._say(str(exc), "error")

    def _load_preset_dialog(self) -> None:
        name = file_dialogs.open_file(self, "Load preset", "", "YAML (*.yaml *.yml)")
        if name:
            try:
                self.load_preset_from(Path(name))
                self._say(f"Loaded {name}", "ok")
            except SparkError as exc:
                self._say(str(exc), "error")

    def open_experiment_dialog(self) -> QDialog:
        """The form's project's experiments, to fill the form from one (or delete one)."""
        from app.views.experiment_picker import ExperimentPicker

        picker = ExperimentPicker(self.store, self.ctx, self.project.currentText(), self)
        picker.chosen.connect(self.open_experiment)
        picker.setWindowModality(Qt.WindowModality.WindowModal)
        picker.open()
        self.picker = picker
        return picker

    def open_experiment(self, experiment: Experiment) -> None:
        """Fill the form from `experiment`'s stored config, under its name: Launch adds a run to it. Its
        dataset is the one it holds by id (its config may name it by a file that was ingested into it)."""
        data = {**experiment.config, "project": experiment.project, "name": experiment.name,
                "recipe": experiment.recipe}
        if experiment.dataset_id is not None:
            data["dataset"] = experiment.dataset_id
        self._fill_from(data)
        runs = f"{experiment.num_runs} run{'' if experiment.num_runs == 1 else 's'}" if experiment.num_runs else "no runs"
        self._say(f"Opened experiment {experiment.name!r} ({runs}): Launch adds a run to it; another Name makes a "
                  "new experiment.", "ok")

    def _browse_dataset(self) -> None:
        if self.recipe.currentText() in IMAGE_RECIPES:  # a folder of images (class sub-folders, or captions)
            name = file_dialogs.existing_dir(self, "Training images (a folder)")
        else:
            name = file_dialogs.open_file(self, "Training data", "", "Data (*.jsonl *.json *.csv *.parquet *.txt)")
        if name:
            self.dataset.setCurrentText(name)

    def _browse_model(self) -> None:
        name = file_dialogs.existing_dir(self, "Base model folder", str(self.store.home.models_dir))
        if name:
            self.base_model.setCurrentText(name)

    def set_config(self, data: dict[str, Any]) -> None:
        """Fill the form from a run file mapping (a preset, or a run being cloned)."""
        if data.get("project"):
            self.project.setCurrentText(str(data["project"]))
        if data.get("recipe"):
            self.recipe.setCurrentText(str(data["recipe"]))
        self.name.setText(str(data.get("name", "")))
        self.dataset.setCurrentText(str(data.get("dataset", "")))
        self.base_model.setCurrentText(str(data.get("base_model", "")))
        self.gpus.setCurrentText(str(data.get("gpus", self._gpus_default)))  # a file without gpus: gets the default
        self._gpus_follow = "gpus" not in data  # and follows it; a file's own gpus: is kept
        for key, form in self.forms.items():
            if isinstance(data.get(key), dict):
                form.set_values(data[key])
        self.revalidate()

    def open_item(self, payload: Any) -> None:
        """`{"clone": config}` fills the form from a run's config as `jobs.clone.clone_config` makes it
        (named NAME-copy, its project by its current name), as `spark-trainer run config` writes it."""
        if isinstance(payload, dict) and isinstance(payload.get("clone"), dict):
            self._fill_from(dict(payload["clone"]))

    def _fill_from(self, data: dict[str, Any]) -> None:
        """`set_config`, for a config that may name its dataset by id (a run's frozen one, an experiment's):
        the form shows the dataset's name, now or once the model has read it."""
        self.set_config(data)
        self._dataset_ref = str(data.get("dataset", ""))
        self._name_dataset_ref()

    def _name_dataset_ref(self) -> None:
        ref = self._dataset_ref
        if ref and self.dataset.currentText() == ref:
            named = [d.name for d in self.ctx.model.datasets.datasets if str(d.id) == ref]
            if named:
                self.dataset.setCurrentText(named[0])
                self._dataset_ref = ""

    def open_cluster_export(self) -> QWidget:
        from app.views.cluster_export_dialog import ClusterExportDialog

        dialog = ClusterExportDialog(self.store, self.ctx, self.config_data(), self)
        dialog.show()
        return dialog
