"""The experiment setup's checks that need the store or the disk, as one plain function for the pool.

The form re-checks (debounced) after every edit: `check_setup` looks the dataset up in the store
and on disk (once: a folder path means a search for a reused ingestion), runs the recipe's data
check and advice on it (submit's; for the sweep's runs too), finds the base model's config.json and
makes the memory estimate from it, so typing never waits on the disk or the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.views.memory_panel import estimate_texts
from app.views.model_sources import resolve_base_model
from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.config.sweep import SweepAxis
from spark_trainer.errors import BadInput, SparkError
from spark_trainer.store import datasets, projects
from spark_trainer.store.entities import Dataset
from spark_trainer.store.store import Store


@dataclass
class SetupCheck:
    errors: dict[str, str] = field(default_factory=dict)  # field -> why it is not valid
    estimate: tuple[str, str, str] = ("", "", "")  # the memory panel's texts
    warnings: list[str] = field(default_factory=list)  # the recipe's advice: shown, Launch stays enabled
    sweep_warnings: list[str] = field(default_factory=list)  # the same for the sweep's runs (its box shows them)


def field_errors(data: dict[str, Any]) -> dict[str, str]:
    """Checks on the form's own values (no store, no disk)."""
    from spark_trainer.jobs import gpus as gpu_alloc

    errors: dict[str, str] = {}

    def check(key: str, validate: Any, *args: Any) -> None:
        try:
            validate(*args)
        except BadInput as exc:
            errors[key] = str(exc)

    check("project", projects.validate_name, data["project"], "project")
    if not data["name"]:
        errors["name"] = "give the experiment a name"
    else:
        check("name", projects.validate_name, data["name"], "experiment")
    if not data["dataset"]:
        errors["dataset"] = "choose a dataset, or a file or folder to ingest"
    check("gpus", lambda text: gpu_alloc.parse_request(text, typed=True), data["gpus"])
    return errors


def dataset_known(store: Store, text: str, project: str, offered: list[str]) -> bool:
    if text in offered or Path(text).expanduser().exists():
        return True
    try:
        datasets.get(store, text, project)
    except BadInput:
        return False
    return True


def check_setup(store: Store, data: dict[str, Any], offered: list[str], gpus: list[Any],
                data_checks: dict[Any, str] | None = None, sweep: list[SweepAxis] | None = None) -> SetupCheck:
    """Every field check and the memory estimate for a run-file mapping (store and disk reads).
    `data_checks` keeps the data checks' answers between calls (see `data_errors`); `sweep` is the
    Sweep box's checked settings, whose runs' data advice is given too."""
    errors = field_errors(data)
    folder, why = resolve_base_model(data["base_model"], store.home.models_dir)
    if why:
        errors["base_model"] = why
    if "dataset" not in errors and not dataset_known(store, data["dataset"], data["project"], offered):
        hint = datasets.missing_hint(store, data["dataset"], data["project"])  # a run file older than a rename
        errors["dataset"] = (f"{data['dataset']} is not a dataset of this project nor an existing path"
                             + (f"; {hint}" if hint else ""))
    for key, message in recipe_fit_errors(store, data, folder).items():
        errors.setdefault(key, message)
    config, problems = _validated(data)
    dataset = stored_dataset(store, config) if config is not None and "dataset" not in errors else None
    if folder is not None and config is not None and "base_model" not in errors:
        errors.update(target_errors(config, folder))
    if folder is not None and dataset is not None and "base_model" not in errors and TARGETS not in errors:
        errors.update(data_errors(store, config, dataset, folder, {} if data_checks is None else data_checks))
    order = ("project", "name", "base_model", "dataset", "gpus", TARGETS)
    ordered = {key: errors[key] for key in order if key in errors}
    warnings, sweep_warnings = [], []
    if dataset is not None and "dataset" not in errors:
        warnings = data_warnings(store, config, dataset, folder)
        sweep_warnings = sweep_data_warnings(store, data, sweep, dataset, folder)
    # No estimate of a model the recipe cannot use (it said transformers' own long error instead), nor
    # of settings that are not valid (batch size 0 kept the last estimate, or one made with 0).
    unsettled = next((p for p in problems if p.split(":", 1)[0].split(".", 1)[0] in ESTIMATED_SECTIONS), None)
    estimated = (f"No estimate until the settings are valid ({unsettled})", "", "") if unsettled else \
        estimate_texts(data, folder if "base_model" not in errors else None, gpus)
    return SetupCheck(ordered, estimated, warnings, sweep_warnings)


# The run file's sections the memory estimate reads: an invalid value there makes any figure wrong.
ESTIMATED_SECTIONS = ("train", "eval", "checkpoint", "recipe_config")


def _validated(data: dict[str, Any]) -> tuple[ExperimentConfig | None, list[str]]:
    """The run file the form describes, validated once: the config, or None and its problems (the form's
    own fields say what is wrong; the memory estimate is withheld for those of the settings it reads)."""
    from spark_trainer.config import validate_config

    try:
        return validate_config(data), []
    except BadInput as exc:
        return None, list(getattr(exc, "problems", None) or [str(exc)])


def stored_dataset(store: Store, config: ExperimentConfig) -> Dataset | None:
    """The stored dataset a launch would train on: the one named, or a current ingestion of the path
    named (None: the launch ingests it first)."""
    from spark_trainer.jobs.submit import ingested_dataset

    return ingested_dataset(store, config, Path.cwd())  # the launch submits with this base folder


def data_warnings(store: Store, config: ExperimentConfig, dataset: Dataset, folder: Path | None) -> list[str]:
    """What `spark-trainer train` would warn of this run file's stored dataset before queuing it
    (submit's `data_advice`: most images smaller than the training size...), in the same words."""
    from spark_trainer.jobs.advice import data_advice

    return data_advice(store, config, dataset, str(folder or ""))


def sweep_data_warnings(store: Store, data: dict[str, Any], sweep: list[SweepAxis] | None, dataset: Dataset,
                        folder: Path | None) -> list[str]:
    """What `train --sweep` would warn of the sweep's runs, in its words ("sweep K=V: ...")."""
    from spark_trainer.config.sweep import sweep_configs
    from spark_trainer.jobs.advice import sweep_advice

    if not sweep:
        return []
    try:
        combos = sweep_configs(data, sweep)
    except SparkError:  # the Sweep box says what is wrong with its values
        return []
    return sweep_advice(store, combos, dataset, str(folder or ""))


def recipe_fit_errors(store: Store, data: dict[str, Any], folder: Path | None) -> dict[str, str]:
    """A stored dataset or a base model the recipe cannot use, by the recipe's own rules (its kinds,
    the dataset's per-field counts, the model folder's files: `spark_trainer.recipes.fit`), said at once in
    submit's words. The form keeps both fields when the recipe changes, so they are checked against
    the new recipe."""
    from spark_trainer.recipes.fit import dataset_facts
    from spark_trainer.recipes.registry import get_recipe

    errors: dict[str, str] = {}
    try:
        spec = get_recipe(str(data.get("recipe") or ""))
    except BadInput:
        return errors
    try:
        found = datasets.get(store, data["dataset"], data["project"]) if data.get("dataset") else None
    except BadInput:  # a path to ingest, or an unknown name (the other check says so)
        found = None
    if found is not None:
        try:
            spec.check_data_fit(dataset_facts(store, found), f"dataset {found.name!r}",
                                data.get("recipe_config"))
        except BadInput as exc:  # a ConfigError
            errors["dataset"] = str(exc).removeprefix("dataset: ")
    if folder is not None and (why := spec.model_problem(folder)):
        errors["base_model"] = f"{folder.name}: {why}"
    return errors


TARGETS = "recipe_config.target_modules"


def target_errors(config: ExperimentConfig, folder: Path) -> dict[str, str]:
    """Submit's check of the LoRA targets against the model's layers (`target_precheck`), keyed by the
    field, whatever the dataset: a name the model lacks is said before Launch, not by a run failing
    at its start."""
    from spark_trainer.errors import ConfigError
    from spark_trainer.recipes.target_precheck import check_folder

    try:
        check_folder(config.recipe, config.recipe_config, folder)
    except ConfigError as exc:
        return {TARGETS: str(exc).removeprefix(f"{TARGETS}: ")}
    return {}


# Parts of a run file that the recipes' data checks never read (they read the data settings in
# recipe_config and eval, and the base model): editing these does not read the dataset again.
_NOT_READ_BY_DATA_CHECKS = ("name", "notes", "gpus", "priority", "train", "checkpoint")


def data_errors(store: Store, config: ExperimentConfig, dataset: Dataset, folder: Path,
                answers: dict[Any, str]) -> dict[str, str]:
    """Submit's data check (`check_trainable`: a missing text or label column, a single class,
    images without captions...) on the stored dataset the form names (`stored_dataset`), so the form
    says it before Launch. A path not ingested yet is checked by submit once ingested. The check
    reads the whole dataset, so its answer is kept in `answers` for the same dataset and data settings."""
    import json

    from spark_trainer.jobs.submit import check_trainable

    settings = config.model_dump(mode="json", exclude=set(_NOT_READ_BY_DATA_CHECKS))
    key = (dataset.id, str(folder), json.dumps(settings, sort_keys=True, default=str))
    if key not in answers:
        if len(answers) >= 64:  # a form edited for a long while: forget the old answers
            answers.clear()
        try:
            check_trainable(store, config, dataset, str(folder))
            answers[key] = ""
        except BadInput as exc:  # said next to the dataset's name: its folder need not be repeated
            answers[key] = str(exc).removeprefix("dataset: ").removeprefix(f"dataset {Path(dataset.path)}: ")
    return {"dataset": answers[key]} if answers[key] else {}
