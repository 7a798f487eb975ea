"""Where base models come from: local folders in the data home, and the local Hugging Face cache.

The resolving itself is `spark_trainer.models.loading` (the same rules as submit and the worker);
this module only adapts it to the form.
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.models.loading import cached_model_ids, check_base_model, is_model_folder


def cached_models(cache: Path | None = None) -> list[str]:
    """Hugging Face ids (org/name) whose `main` snapshot in the local cache holds a config.json."""
    return cached_model_ids(cache)


def local_models(models_dir: Path) -> list[str]:
    """Model folders (with a config.json) directly under the data home's models/."""
    if not models_dir.is_dir():
        return []
    return [str(p) for p in sorted(models_dir.iterdir()) if is_model_folder(p)]


def resolve_base_model(text: str, models_dir: Path) -> tuple[Path | None, str | None]:
    """(folder holding config.json, None) for a usable model, or (None, why not) for the form.
    Relative names are looked for where submit looks (the GUI submits from the current folder)."""
    return check_base_model(text, (Path.cwd(), models_dir.parent, models_dir))
