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


def offered_models(models_dir: Path, cache: Path | None = None) -> list[tuple[str, dict[str, str]]]:
    """Every base model the form offers (local folders, then cached ids), each with why each recipe
    cannot start from it (`RecipeSpec.model_problem`: a few file look-ups, no config parsed); a recipe
    absent from the mapping can. Runs on the pool, once per listing, not once per recipe change."""
    from spark_trainer.recipes.registry import list_recipes

    specs = list_recipes()
    found: list[tuple[str, Path | None]] = [(name, Path(name)) for name in local_models(models_dir)]
    found += [(model_id, resolve_base_model(model_id, models_dir)[0]) for model_id in cached_models(cache)]
    offered = []
    for name, folder in found:
        problems = {} if folder is None else {s.name: why for s in specs if (why := s.model_problem(folder))}
        offered.append((name, problems))
    return offered
