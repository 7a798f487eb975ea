"""Submit: resolve a run file's project, dataset and model, freeze the config, queue the run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer import disk
from spark_trainer.config import ExperimentConfig, save_config
from spark_trainer.errors import BadInput, ConfigError, DiskFull, NotFound, OperationFailed, SparkError
from spark_trainer.ingest.types import IngestReport
from spark_trainer.jobs.advice import data_advice, data_settings, runs_advice, settings_differ
from spark_trainer.jobs.gpu_request import check_device_fit, fitting_request, this_machine
from spark_trainer.jobs.submit_data import ingested_dataset, resolve_dataset
from spark_trainer.store import datasets, experiments, projects, runs, sweeps
from spark_trainer.store.entities import Dataset, Experiment, Run, RunStatus
from spark_trainer.store.store import Store

CONFIG_NAME = "config.yaml"
__all__ = ["CONFIG_NAME", "Submitted", "ingested_dataset", "resolve_dataset", "submit_config", "submit_configs"]


@dataclass(frozen=True)
class Submitted:
    run: Run
    experiment: Experiment
    dataset: Dataset
    ingested: bool
    report: IngestReport | None = None  # the ingestion's report when the dataset was ingested now
    warnings: tuple[str, ...] = ()  # the recipe's advice on this run's data (it is queued all the same)


def resolve_model(base_model: str, base_dir: Path | None, home_root: Path) -> str:
    """The model's absolute folder, frozen into the run's config: a local folder (relative to the run
    file, else to the data home or its models/), or the `main` snapshot of a Hugging Face id in the
    local cache (the rules are spark_trainer.models.loading's, shared with the GUI and the worker).

    Raises:
        ConfigError: `base_model: ...` naming the path and what is missing; nothing is recorded.
    """
    from spark_trainer.models.loading import freeze_base_model

    dirs = tuple(d for d in (base_dir, home_root, home_root / "models") if d is not None)
    return freeze_base_model(base_model, dirs)


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

    Raises BadInput (no run recorded) for a missing dataset path, a GPU request this machine can
    never satisfy, a base model that is not there, or data the recipe cannot train on (a dataset of
    another kind, a missing label column, one class only, images without captions...).
    """
    return submit_configs(store, [config], base_dir=base_dir, gpus=gpus, machine=machine)[0]


def submit_configs(
    store: Store,
    configs: list[ExperimentConfig],
    *,
    base_dir: Path | None = None,
    gpus: str | None = None,
    machine: list[int] | None = None,
    sweep: str | None = None,
    sweep_values: list[dict[str, Any]] | None = None,
) -> list[Submitted]:
    """`submit_config` for several configs of one experiment (a sweep's combinations): the first
    one's project, name, recipe, dataset, base model and GPUs serve them all, so the others may differ
    from it only in the sections a sweep varies (`config.sweep.SECTIONS`, which `sweep_configs` holds
    its axes to). Every config passes the recipe's checks before any run is queued; then one run
    each, in order, tagged with `sweep` and its `sweep_values`, all in one transaction (`runs.create_all`).

    Raises:
        BadInput: as `submit_config`, for the first config that fails; no run is queued.
        DiskFull/OperationFailed: a run folder that cannot be written, named; no run of a sweep is queued
            (a single run is recorded failed with that line as its error).
    """
    from spark_trainer.recipes import get_recipe

    first = configs[0]
    machine = this_machine(machine)  # NVML asked once: the request's fit and the CPU check both read it
    request = fitting_request(store, first, gpus, machine)
    check_device_fit(configs, request, machine)
    base_model = resolve_model(first.base_model, base_dir, store.home.root)
    # Two submits of the same file at once: the second waits, then reuses the dataset and the
    # experiment the first created (instead of failing on their names).
    with _submit_lock(store):
        if sweep is not None and sweeps.exists(store, sweep):
            raise BadInput(f"sweep name {sweep!r} is taken; pick another")
        new_project = not any(projects.nfc(p.name) == projects.nfc(first.project) for p in projects.list_all(store))
        try:
            dataset, report = resolve_dataset(store, first, base_dir)
        except BaseException:  # nothing ingested (a refused file, Ctrl-C): a project made for it goes too
            if new_project:
                _forget_project(store, first.project)
            raise
        values = sweep_values or [{} for _ in configs]
        try:
            if len(configs) > 1 and Path(base_model).is_dir():  # the model's fault is no value's: said once
                get_recipe(first.recipe).check_model_fit(Path(base_model))
            # The recipe's checks read the data as recipe_config and eval say: once per distinct pair,
            # not once per run (a 64-run learning-rate sweep read its dataset 64 times under the lock).
            # What the check decided (causal-LM's `format: auto`) is frozen into every run that shares it.
            checked: dict[str, ExperimentConfig] = {}  # data settings -> the first run's checked config
            frozen = []
            for config, swept in zip(configs, values, strict=True):
                key = data_settings(config)
                if key in checked:
                    frozen.append(_freeze(config, dataset, base_model, request.text))
                    frozen[-1].recipe_config = dict(checked[key].recipe_config)
                else:
                    frozen.append(_check_one(store, config, dataset, base_model, request.text, swept))
                    checked[key] = frozen[-1]
            warned = runs_advice(store, list(zip(values, configs, strict=True)), dataset, base_model)
            experiment = _experiment(store, frozen[0], dataset)
            if sweep is None and (other := settings_differ(experiment.config, frozen[0])):
                warned = [(*warned[0], f"experiment {experiment.name!r} already exists with other settings ({other}); "
                           "this run trains with the file's, while `run start` of the experiment keeps its own")]
        except BadInput:
            if report is not None:  # ingested for this refused file: leave the store as it was
                _forget_ingested(store, dataset, project=first.project if new_project else None)
            raise
        if sweep is None and len(frozen) == 1:
            queued = [_queue(store, experiment, frozen[0], request.text, dataset.id)]
        else:  # a sweep is queued whole or not at all
            queued = runs.create_all(
                store, experiment.id,
                [runs.NewRun(request.text, config.priority, config.train.max_steps, sweep=sweep, sweep_values=swept,
                             notes=tuple(f"config: {note}" for note in config.upgrade_notes), dataset_id=dataset.id)
                 for config, swept in zip(frozen, values, strict=True)],
                lambda run, index: _write_folder(run, frozen[index]))
    return [Submitted(run, experiment, dataset, report is not None and i == 0, report if i == 0 else None,
                      warnings=said) for i, (run, said) in enumerate(zip(queued, warned, strict=True))]


def _check_one(store: Store, config: ExperimentConfig, dataset: Dataset, base_model: str, gpus: str,
               swept: dict[str, Any]) -> ExperimentConfig:
    try:
        return check_trainable(store, config, dataset, base_model, gpus=gpus)
    except BadInput as exc:
        if not swept:
            raise
        named = ", ".join(f"{k}={v}" for k, v in swept.items())
        raise type(exc)(f"sweep {named}: {exc}") from None


def check_trainable(store: Store, config: ExperimentConfig, dataset: Dataset, base_model: str, *,
                    gpus: str | None = None) -> ExperimentConfig:
    """`config` frozen onto a stored `dataset` (its id, the `base_model` folder, `gpus` if given), once
    the recipe has checked it can train on that data: its kind, then the recipe's `check_data` (a
    missing text or label column, a single class, images without captions...). No model is loaded;
    the data is read. Submit, `run start`, `exp create` and the GUI's setup form all check this way.

    Raises:
        BadInput: what the recipe cannot train on, naming the dataset and the field; nothing is recorded.
    """
    from spark_trainer.recipes import get_recipe
    from spark_trainer.recipes.fit import dataset_facts

    spec = get_recipe(config.recipe)
    # The setup form's rules, from the dataset's per-field counts and the model folder's files: the same
    # one-line reason here as the form's greyed-out entries give.
    facts = dataset_facts(store, dataset)
    spec.check_data_fit(facts, f"dataset {dataset.name!r}", config.recipe_config)
    frozen = _freeze(config, dataset, base_model, gpus)
    # Settings the data decides (causal-LM's `format: auto`), from its facts, else from the recipe's
    # full check when they are unknown: frozen with the run, which trains, and is tried, so.
    decided = spec.decided(facts, config.recipe_config)
    if decided:
        frozen.recipe_config = {**frozen.recipe_config, **decided}
    decided = spec.check_data(frozen, Path(dataset.path), f"dataset {dataset.name!r}")
    if decided:
        frozen.recipe_config = {**frozen.recipe_config, **decided}
    if Path(base_model).is_dir():  # `exp create` may name a model not downloaded yet: `run start` checks it
        spec.check_model_fit(Path(base_model))
        from spark_trainer.recipes.target_precheck import check_folder

        check_folder(config.recipe, frozen.recipe_config, Path(base_model))  # not at the run's start, hours later
    return frozen


def _freeze(config: ExperimentConfig, dataset: Dataset, base_model: str, gpus: str | None) -> ExperimentConfig:
    """A copy of `config` that names the stored dataset (by id), the model folder and `gpus` if given."""
    frozen = config.model_copy(deep=True)
    frozen.dataset = str(dataset.id)
    frozen.base_model = base_model
    if gpus is not None:
        frozen.gpus = gpus
    return frozen


def _forget_ingested(store: Store, dataset: Dataset, *, project: str | None) -> None:
    """Remove a dataset ingested by a submit that was then refused (and the project it created)."""
    import shutil

    datasets.delete(store, dataset.id, force=True)
    folder = Path(dataset.path)
    if folder.is_dir() and folder.is_relative_to(store.home.datasets_dir):
        shutil.rmtree(folder, ignore_errors=True)
    if project is not None:
        _forget_project(store, project)


def _forget_project(store: Store, name: str) -> None:
    """Remove the project a refused submit created, unless something was put in it meanwhile."""
    try:
        found = projects.contents(store, name)
        if not found.dataset_dirs and not found.run_dirs:
            projects.delete(store, name)
    except NotFound:
        pass


@contextmanager
def _submit_lock(store: Store) -> Iterator[None]:
    from filelock import FileLock

    with FileLock(str(store.home.root / ".submit.lock")):
        yield


def submit_experiment(store: Store, experiment_ref: str | int, *, gpus: str | None = None,
                      machine: list[int] | None = None) -> Submitted:
    """Queue a run of an existing experiment (`run start EXP`), with its stored config."""
    experiment = experiments.get(store, experiment_ref)
    config = ExperimentConfig.model_validate(experiment.config)
    machine = this_machine(machine)
    request = fitting_request(store, config, gpus, machine, stored=True)
    check_device_fit([config], request, machine)
    dataset = datasets.get(store, experiments.dataset_id_of(experiment))
    base_model = resolve_model(config.base_model, None, store.home.root)
    frozen = check_trainable(store, config, dataset, base_model, gpus=request.text)
    return Submitted(_queue(store, experiment, frozen, request.text, dataset.id), experiment, dataset, False,
                     warnings=tuple(data_advice(store, config, dataset, base_model)))


def _queue(store: Store, experiment: Experiment, frozen: ExperimentConfig, gpus: str, dataset_id: int) -> Run:
    run = runs.create(store, experiment.id, requested_gpus=gpus, priority=frozen.priority,
                      total_steps=frozen.train.max_steps, dataset_id=dataset_id)
    try:
        _write_folder(run, frozen)
    except (DiskFull, OperationFailed) as exc:
        # Recorded as the run's error. Where the database is on the full disk too, that fails: the run stays
        # queued without a folder (the scheduler fails it in one line); the user hears of the folder first.
        try:
            runs.transition(store, run.id, RunStatus.FAILED, "could not write config.yaml", error=str(exc))
        except SparkError as unrecorded:
            raise exc from unrecorded
        raise
    for note in frozen.upgrade_notes:  # the file (or stored experiment) used fields that have moved
        runs.note(store, run.id, f"config: {note}")
    return run


def _write_folder(run: Run, frozen: ExperimentConfig) -> None:
    """A new run's files (its identity, the frozen config). Raises DiskFull or OperationFailed in one line
    naming the place, with the folder removed: this submit made it, and nothing half-written stays."""
    from spark_trainer.training.checkpoints import write_identity

    run_dir = Path(run.run_dir)
    try:
        write_identity(run_dir, run.id, run.uuid)
        save_config(frozen, run_dir / CONFIG_NAME)  # in the current layout
    except OSError as exc:
        # A full disk fails at the write, where the error carries no file name: name the place here.
        full = disk.is_write_error(exc)
        message = (disk.describe(exc, run_dir.parent, target=run_dir / CONFIG_NAME) if full
                   else f"could not write {run_dir / CONFIG_NAME}: {exc.strerror or exc}")
        shutil.rmtree(run_dir, ignore_errors=True)
        raise (DiskFull if full else OperationFailed)(message) from None


def frozen_config(run_dir: Path) -> ExperimentConfig:
    return _load_frozen(Path(run_dir) / CONFIG_NAME)[0]


def _load_frozen(path: Path) -> tuple[ExperimentConfig, list[str]]:
    """A run's frozen config, with the recipe's `frozen_defaults` for settings it predates (so a run
    queued or paused across an upgrade goes on as it began), and a note for each. The file is read
    once; the defaults go in before validation, so they are checked like any written value."""
    from spark_trainer.config import validate_config
    from spark_trainer.config.legacy import with_frozen_defaults
    from spark_trainer.config.yaml_io import load_yaml

    data, node = load_yaml(path)
    data, notes = with_frozen_defaults(data)
    return validate_config(data, str(path), node), notes


def upgrade_frozen_config(store: Store, run_id: int, run_dir: Path) -> list[str]:
    """A run frozen before fields moved into recipe_config, or before a setting it lacks (queued or
    paused across an upgrade): rewrite its config.yaml in the current layout and record each change as
    an event of the run. Returns the notes (empty when the file is current, the usual case)."""
    config, added = _load_frozen(Path(run_dir) / CONFIG_NAME)
    notes = config.upgrade_notes + added
    if notes:
        save_config(config, Path(run_dir) / CONFIG_NAME)
        for note in notes:
            runs.note(store, run_id, f"config: {note}")
    return notes
