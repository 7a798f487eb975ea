"""Submit: resolve a run file's project, dataset and model, freeze the config, queue the run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timezone
from pathlib import Path

from spark_trainer.config import ExperimentConfig, save_config
from spark_trainer.errors import BadInput, ConfigError, NotFound
from spark_trainer.jobs import gpus as gpu_alloc
from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.entities import Dataset, Experiment, Run, RunStatus
from spark_trainer.store.store import Store

CONFIG_NAME = "config.yaml"


@dataclass(frozen=True)
class Submitted:
    run: Run
    experiment: Experiment
    dataset: Dataset
    ingested: bool


def _newest_mtime(path: Path) -> float:
    if path.is_file():
        return path.stat().st_mtime
    return max((p.stat().st_mtime for p in path.rglob("*") if p.is_file()), default=path.stat().st_mtime)


def _reusable(store: Store, project: str, source: Path) -> Dataset | None:
    """An ingested dataset of the project made from `source` that is still current (the source has
    not changed since; its version is the manifest's hash, so a changed source means a new one)."""
    newest = _newest_mtime(source)
    for ds in reversed(datasets.list_all(store, project)):
        if str(source) in ds.sources and ds.status == "ready":
            created = ds.created_at.replace(tzinfo=timezone.utc).timestamp()
            if newest <= created:
                return ds
    return None


def resolve_dataset(store: Store, config: ExperimentConfig, base_dir: Path | None) -> tuple[Dataset, bool]:
    """The config's `dataset:` as an existing dataset (name or id), else a path ingested on first
    use. Returns (dataset, whether it was ingested now)."""
    try:
        found = datasets.get(store, config.dataset, config.project)
    except NotFound:
        found = None
    if found is not None:
        check_dataset_kind(config.recipe, found.kind, found.name)
        return found, False
    path = Path(config.dataset).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    path = path.resolve()
    if not path.exists():
        raise ConfigError(f"dataset: {config.dataset!r} is neither a dataset in project {config.project!r} "
                          f"nor an existing path ({path} does not exist)")
    from spark_trainer.ingest.detect import detect_kind

    check_dataset_kind(config.recipe, detect_kind([path]), str(path))  # before anything is ingested
    projects.get_or_create(store, config.project)
    found = _reusable(store, config.project, path)
    if found is not None:
        return found, False
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.ingest.types import IngestOptions

    result = ingest_paths(store, [path], project=config.project,
                          options=IngestOptions(val_fraction=config.eval.val_fraction))
    return result.dataset, True


def check_dataset_kind(recipe: str, kind: str, what: str) -> None:
    """ConfigError unless recipe `recipe` trains on datasets of `kind`."""
    from spark_trainer.recipes.registry import get_recipe

    accepted = get_recipe(recipe).data_kinds
    if kind not in accepted:
        raise ConfigError(f"dataset: {what} is a {kind} dataset, but recipe {recipe} trains on "
                          f"{' or '.join(accepted)} datasets")


def resolve_model(base_model: str, base_dir: Path | None, home_root: Path) -> str:
    """A local folder as an absolute path (relative to the run file, else to the data home);
    anything else is a Hugging Face id left to the engine."""
    candidate = Path(base_model).expanduser()
    if candidate.is_absolute():
        return str(candidate)
    for root in (base_dir, home_root):
        if root is not None and (root / candidate).exists():
            return str((root / candidate).resolve())
    return base_model


def _experiment(store: Store, config: ExperimentConfig, dataset: Dataset) -> Experiment:
    try:
        existing = experiments.get(store, config.name, config.project)
    except NotFound:
        return experiments.create(
            store, project=config.project, name=config.name, recipe=config.recipe, base_model=config.base_model,
            dataset=dataset.id, config=config.model_dump(mode="json"), notes=config.notes,
        )
    if existing.recipe != config.recipe:
        raise ConfigError(f"name: experiment {config.name!r} in project {config.project!r} uses recipe "
                          f"{existing.recipe!r}, not {config.recipe!r}; pick another name")
    return existing


def submit_config(
    store: Store,
    config: ExperimentConfig,
    *,
    base_dir: Path | None = None,
    gpus: str | None = None,
    machine: list[int] | None = None,
) -> Submitted:
    """Validate, resolve and freeze a run file into `runs/<id>/config.yaml`; the run is queued.

    Raises BadInput (nothing recorded) for a missing dataset path or a GPU request this machine
    can never satisfy.
    """
    from spark_trainer.jobs.scheduler import machine_gpus

    request = gpu_alloc.parse_request(gpus or config.gpus)
    gpu_alloc.check_fits(request, machine_gpus() if machine is None else machine)
    dataset, ingested = resolve_dataset(store, config, base_dir)
    frozen = config.model_copy(deep=True)
    frozen.dataset = str(dataset.id)
    frozen.gpus = request.text
    frozen.base_model = resolve_model(config.base_model, base_dir, store.home.root)
    experiment = _experiment(store, frozen, dataset)
    return Submitted(_queue(store, experiment, frozen, request.text), experiment, dataset, ingested)


def submit_experiment(store: Store, experiment_ref: str | int, *, gpus: str | None = None,
                      machine: list[int] | None = None) -> Submitted:
    """Queue a run of an existing experiment (`run start EXP`), with its stored config."""
    from spark_trainer.jobs.scheduler import machine_gpus

    experiment = experiments.get(store, experiment_ref)
    config = ExperimentConfig.model_validate(experiment.config)
    request = gpu_alloc.parse_request(gpus or config.gpus)
    gpu_alloc.check_fits(request, machine_gpus() if machine is None else machine)
    if experiment.dataset_id is None:
        raise BadInput(f"experiment {experiment.name!r} has no dataset; recreate it with --dataset")
    dataset = datasets.get(store, experiment.dataset_id)
    check_dataset_kind(config.recipe, dataset.kind, dataset.name)
    frozen = config.model_copy(deep=True)
    frozen.dataset = str(dataset.id)
    frozen.gpus = request.text
    return Submitted(_queue(store, experiment, frozen, request.text), experiment, dataset, False)


def _queue(store: Store, experiment: Experiment, frozen: ExperimentConfig, gpus: str) -> Run:
    run = runs.create(store, experiment.id, requested_gpus=gpus, priority=frozen.priority,
                      total_steps=frozen.train.max_steps)
    try:
        save_config(frozen, Path(run.run_dir) / CONFIG_NAME)
    except OSError:
        runs.transition(store, run.id, RunStatus.FAILED, "could not write config.yaml")
        raise
    return run


def frozen_config(run_dir: Path) -> ExperimentConfig:
    from spark_trainer.config import load_config

    return load_config(Path(run_dir) / CONFIG_NAME)
