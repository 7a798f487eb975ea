"""The experiment setup form's files: presets (run files) saved and loaded, and the dataset and
base-model pickers. A mixin of ExperimentSetupView, which provides the form (`config_data`,
`set_config`, `name`, `dataset`, `base_model`, `store`) and its message line (`_say`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from spark_trainer.errors import SparkError


class SetupFilesMixin:
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
                self._say(f"Saved {self.save_preset_to(Path(name))}", "ok")
            except SparkError as exc:
                self._say(str(exc), "error")

    def _load_preset_dialog(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Load preset", "", "YAML (*.yaml *.yml)")
        if name:
            try:
                self.load_preset_from(Path(name))
                self._say(f"Loaded {name}", "ok")
            except SparkError as exc:
                self._say(str(exc), "error")

    def _browse_dataset(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Training data", "", "Data (*.jsonl *.json *.csv *.parquet *.txt)")
        if name:
            self.dataset.setCurrentText(name)

    def _browse_model(self) -> None:
        name = QFileDialog.getExistingDirectory(self, "Base model folder", str(self.store.home.models_dir))
        if name:
            self.base_model.setCurrentText(name)
