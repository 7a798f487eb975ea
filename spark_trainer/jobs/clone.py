"""A run's settings as a new run file: what `spark-trainer run config RUN` prints and what the app's
"Clone into new experiment" puts in the setup form. One function for both, so a clone names the same
project, dataset and base model whichever side made it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from spark_trainer.store.entities import Run
    from spark_trainer.store.store import Store


def clone_config(store: Store, run: Run, name: str | None = None) -> dict[str, Any]:
    """The run's config (`leaderboard.run_config`) as a run file mapping, not yet validated: named `name`
    (default: the run's experiment name + '-copy'), its project by its current name (a project renamed
    since the run was frozen is no longer found by the old one), its dataset by name, and a base model in
    the home's models/ as `models/NAME`."""
    from spark_trainer.leaderboard import run_config

    data: dict[str, Any] = dict(run_config(store, run))
    data["name"] = name or f"{data.get('name') or run.experiment}-copy"
    data["project"] = _project_name(store, run) or data.get("project")
    data["dataset"] = _dataset_name(store, data.get("dataset"))
    data["base_model"] = _home_model_name(store, data.get("base_model"))
    return data


def _project_name(store: Store, run: Run) -> str | None:
    from spark_trainer.store import projects

    return next((p.name for p in projects.list_all(store) if p.id == run.project_id), None)


def _home_model_name(store: Store, ref: Any) -> Any:
    """A base model in the home's models/ as `models/NAME`, which a run file looks up in the data home:
    the file then still trains after the home is moved (the absolute path would name the old place)."""
    if not isinstance(ref, str) or not Path(ref).is_absolute():
        return ref
    try:
        inside = Path(ref).resolve().relative_to(store.home.models_dir.resolve())
    except ValueError:
        return ref
    return (Path("models") / inside).as_posix()


def _dataset_name(store: Store, ref: Any) -> Any:
    """A frozen config names its dataset by id: the file names it as the app's clone shows it, by name."""
    from spark_trainer.store import datasets

    if isinstance(ref, (int, str)) and str(ref).isdigit():
        return next((d.name for d in datasets.list_all(store) if d.id == int(ref)), ref)
    return ref
