"""Which stored dataset a run file's `dataset:` means: a dataset's name or id, else a path, ingested on
first use and again once it changed (submit, the cluster launch and the app's setup form ask here)."""

from __future__ import annotations

from datetime import timezone
from pathlib import Path

from spark_trainer.config import ExperimentConfig
from spark_trainer.errors import ConfigError, NotFound
from spark_trainer.ingest.types import IngestReport
from spark_trainer.store import datasets, projects
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store


def _newest_mtime(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=path.stat().st_mtime)


def _reusable(store: Store, project: str, source: Path, val_fraction: float) -> Dataset | None:
    """An ingested dataset of the project made from `source` that is still current (the source has
    not changed since; its version is the manifest's hash, so a changed source means a new one) and
    split as the run file asks (`eval.val_fraction`: a second run of the file with another fraction
    trained on the first one's split, unsaid)."""
    newest = _newest_mtime(source)
    for ds in reversed(datasets.list_all(store, project)):
        split = (ds.meta.get("options") or {}).get("val_fraction")
        if str(source) in ds.sources and ds.status == "ready" and split == val_fraction:
            created = ds.created_at.replace(tzinfo=timezone.utc).timestamp()
            if newest <= created:
                return ds
    return None


def _dataset_path(text: str, base_dir: Path | None) -> Path:
    path = Path(text).expanduser()
    return (path if path.is_absolute() else (base_dir or Path.cwd()) / path).resolve()


def _ingested_from(store: Store, project: str, path: Path) -> bool:
    """Whether `path` exists and a dataset of the project was ingested from it. Such a `dataset:` is
    that path, checked for changes (`_reusable`), before it is a name: a folder `pics` is ingested as
    dataset `pics`, and matching the name first trained every later run on the first ingestion."""
    try:
        return path.exists() and any(str(path) in ds.sources for ds in datasets.list_all(store, project))
    except NotFound:  # a project not created yet holds no datasets
        return False


def _named(store: Store, config: ExperimentConfig, path: Path) -> Dataset | None:
    """The dataset `dataset:` names (a name or id of the project), unless it is a path a dataset was
    ingested from (`_ingested_from`); None when it names none."""
    if _ingested_from(store, config.project, path):
        return None
    try:
        return datasets.get(store, config.dataset, config.project)
    except NotFound:
        return None


def ingested_dataset(store: Store, config: ExperimentConfig, base_dir: Path | None) -> Dataset | None:
    """The stored dataset submit would train `config` on without ingesting anything: the one its
    `dataset:` names, or a current ingestion of the path it names. None when submit would ingest
    the path first (or refuse it)."""
    path = _dataset_path(config.dataset, base_dir)
    named = _named(store, config, path)
    if named is not None:
        return named
    try:
        return _reusable(store, config.project, path, config.eval.val_fraction) if path.exists() else None
    except NotFound:  # a project not created yet holds no datasets
        return None


def resolve_dataset(store: Store, config: ExperimentConfig, base_dir: Path | None
                    ) -> tuple[Dataset, IngestReport | None]:
    """The config's `dataset:` as an existing dataset (name or id), else a path ingested on first
    use and again once changed (a path a dataset was ingested from is a path first, see `_ingested_from`). Returns (dataset, the ingestion's report if it was ingested now). A dataset of a kind the
    recipe does not train on is refused before anything is ingested or recorded."""
    from spark_trainer.recipes import get_recipe

    spec = get_recipe(config.recipe)
    path = _dataset_path(config.dataset, base_dir)
    existing = _named(store, config, path)
    if existing is not None:
        spec.check_data_kind(existing.kind, f"dataset {existing.name!r}")
        return existing, None
    if not path.exists():
        hint = datasets.missing_hint(store, config.dataset, config.project)  # a run file older than a rename
        raise ConfigError(f"dataset: {config.dataset!r} is neither a dataset in project {config.project!r} "
                          f"nor an existing path ({path} does not exist)" + (f"; {hint}" if hint else ""))
    from spark_trainer.ingest.detect import detect_kind, gather

    spec.check_data_kind(detect_kind(gather([path])), str(path))
    projects.get_or_create(store, config.project)
    found = _reusable(store, config.project, path, config.eval.val_fraction)
    if found is not None:
        return found, None
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.ingest.types import IngestOptions

    result = ingest_paths(store, [path], project=config.project,
                          options=IngestOptions(val_fraction=config.eval.val_fraction,
                                                label_field=str(config.recipe_config.get("label_column") or "label")))
    return result.dataset, result.report
