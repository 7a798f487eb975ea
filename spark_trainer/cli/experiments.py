"""`exp create|list|show|delete`."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from spark_trainer.cli.confirm import ASKS, add_yes, declined, deleted_result
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, table
from spark_trainer.config import apply_overrides, config_to_yaml, validate_config
from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.config.yaml_io import load_yaml
from spark_trainer.errors import BadInput, NotFound
from spark_trainer.store import datasets, experiments, projects
from spark_trainer.store import sweeps as sweeps_store
from spark_trainer.store.entities import Dataset, Experiment, dataset_text
from spark_trainer.store.store import Store


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("exp", help="create, list, show and delete experiments", parents=[common])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", help="create an experiment from flags and/or a config file", parents=[common],
        description="Flags override the config file; --set key.sub=value overrides both.",
    )
    create.add_argument("--name", help="experiment name (unique in the project)")
    create.add_argument("--project", help="project name or id")
    create.add_argument("--recipe", help="recipe name; see `spark-trainer recipes`")
    create.add_argument("--dataset", help="dataset name or id in the project")
    create.add_argument("--base-model", help="local model folder or Hugging Face id in the local cache")
    create.add_argument("--config", metavar="FILE.yaml", help="a run file to start from")
    create.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. train.learning_rate=1e-4 (repeatable)")
    create.add_argument("--notes", help="free text")
    create.set_defaults(handler=cmd_create)

    lst = actions.add_parser("list", help="list experiments", parents=[common])
    lst.add_argument("--project", help="only this project's experiments")
    lst.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="show one experiment and its config", parents=[common])
    show.add_argument("experiment", help="experiment name or id")
    show.add_argument("--project", help="project, when the name is used in several")
    show.set_defaults(handler=cmd_show)

    delete = actions.add_parser(
        "delete", help="delete an experiment, its runs' records, folders and exports (asks first on a terminal)",
        description="Deletes the experiment with all its runs (queued ones too): their records, folders and the "
        "export folders the app made in the data home's exports/ folder; an export folder you chose elsewhere "
        "(--out) is kept. A run of it in progress refuses the delete. " + ASKS, parents=[common])
    delete.add_argument("experiment", help="experiment name or id")
    delete.add_argument("--keep-files", action="store_true", help="keep the runs' folders and exports on disk")
    add_yes(delete)
    delete.set_defaults(handler=cmd_delete)


def cmd_create(ctx: Context, args: argparse.Namespace) -> Result:
    data, node, source = {}, None, None
    if args.config:
        data, node = load_yaml(args.config)
        source = args.config
    for key, value in (("name", args.name), ("project", args.project), ("recipe", args.recipe),
                       ("dataset", args.dataset), ("base_model", args.base_model), ("notes", args.notes)):
        if value is not None:
            data[key] = value
    data = apply_overrides(data, args.set)
    config = validate_config(data, source, node, args.set, typed=True)
    for note in config.upgrade_notes:
        ctx.info(f"note: {source or 'config'}: {note}")
    store = ctx.store
    if "project" not in config.model_fields_set:  # the default's absence is not what the user typed
        try:
            projects.get(store, config.project)
        except NotFound:
            raise BadInput(f"--project: not given, and the default project {config.project!r} does not exist; "
                           "name the project that holds the dataset") from None
    base_dir = Path(source).expanduser().resolve().parent if source else Path.cwd()
    try:
        dataset = datasets.get(store, config.dataset, config.project)
    except NotFound:
        path = Path(config.dataset).expanduser()
        if (base_dir / path).exists():  # what `train FILE` would ingest: say how, not only "no dataset named"
            raise BadInput(f"dataset: {config.dataset!r} is a path, and exp create takes an ingested dataset; "
                           f"ingest it first (`spark-trainer dataset ingest {base_dir / path} --project "
                           f"{config.project}`), or `spark-trainer train` the run file, which ingests it") from None
        raise
    config = _model_beside_the_file(store, config, base_dir)
    warnings = _check_trainable(store, config, dataset)
    for warning in warnings:
        ctx.info(f"warning: {warning}")
    experiment = experiments.create(
        store, project=config.project, name=config.name, recipe=config.recipe, base_model=config.base_model,
        # A file without gpus: leaves it out, so `run start` takes Settings' Default GPUs as `train` does.
        dataset=dataset.id, notes=config.notes,
        config=config.model_dump(mode="json", exclude=None if "gpus" in config.model_fields_set else {"gpus"}),
    )
    return Result({**dataclasses.asdict(experiment), "warnings": warnings},
                  f"created experiment {experiment.name!r} (id {experiment.id}) in {experiment.project!r}")


def _model_beside_the_file(store: Store, config: ExperimentConfig, base_dir: Path) -> ExperimentConfig:
    """`base_model:` as `train FILE` reads it (beside the run file first). A folder found outside the
    data home is recorded by its absolute path: recorded as written, `run start` from another folder
    said the model does not exist. A name in the home's models/, or a Hub id, is kept as written."""
    from spark_trainer.errors import ConfigError
    from spark_trainer.jobs.submit import resolve_model
    from spark_trainer.models.loading import cache_repo_id

    try:
        found = Path(resolve_model(config.base_model, base_dir, store.home.root))
    except ConfigError:
        return config  # not there yet: `run start` looks again (and names what is missing)
    if found.is_relative_to(store.home.root.resolve()) or cache_repo_id(found) is not None:
        return config
    return config.model_copy(update={"base_model": str(found)})


def _check_trainable(store: Store, config: ExperimentConfig, dataset: Dataset) -> list[str]:
    """What `run start` would refuse about the data (its kind, a missing column, one class...),
    refused now; returns what it would warn of (`data_advice`: images smaller than the training
    size...). The base model may be added to the models folder before the run starts, so a missing
    one is left to `run start`; the check then sees the name as written."""
    from spark_trainer.errors import ConfigError
    from spark_trainer.jobs.advice import data_advice
    from spark_trainer.jobs.submit import check_trainable, resolve_model

    try:
        base_model = resolve_model(config.base_model, None, store.home.root)
    except ConfigError:
        base_model = config.base_model
    check_trainable(store, config, dataset, base_model)
    return data_advice(store, config, dataset, base_model)


def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    items = experiments.list_all(ctx.store, args.project)
    # The dataset too, as the app's Open experiment… lists it (docs/cli-parity.md): experiments that differ
    # only in their data were told apart by `exp show`, one at a time.
    names = {d.id: d.name for d in datasets.list_all(ctx.store)} if items else {}
    rows = [(e.id, e.project, e.name, e.recipe, e.dataset_text(names) or "-", e.base_model, e.num_runs, e.created_at)
            for e in items]
    return Result(items, table(["id", "project", "name", "recipe", "dataset", "base model", "runs", "created"], rows,
                               empty=f"no experiments in project {args.project!r} yet" if args.project else
                                     "no experiments yet; `spark-trainer exp create` or `spark-trainer train` makes one"))


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.config.legacy import with_frozen_defaults

    e = experiments.get(ctx.store, args.experiment, args.project)
    swept = sweeps_store.for_experiment(ctx.store, e.id)
    # An experiment stored before a recipe setting existed: its runs get the value that keeps the
    # behaviour it had (run start, clone and launch read it so), so that is the value shown.
    config = with_frozen_defaults(e.config)[0] if e.config else e.config
    kept = [f"recipe_config.{key}" for key in (config or {}).get("recipe_config", {})
            if key not in (e.config or {}).get("recipe_config", {})]
    names = {d.id: d.name for d in datasets.list_all(ctx.store, e.project_id)}
    dataset = names.get(e.dataset_id) if e.dataset_id is not None else None
    shown = e.dataset_text(names)
    dataset_line = shown or "-" if e.dataset_id is None else f"{shown} (id {e.dataset_id})"
    other = _other_runs(ctx.store, e)

    def text() -> str:
        from spark_trainer.config import ExperimentConfig

        listed = [f"{s.name} ({s.num_runs} runs: {', '.join(s.values)})" for s in swept]
        head = fields([("id", e.id), ("name", e.name), ("project", e.project), ("recipe", e.recipe),
                       ("base model", e.base_model), ("dataset", dataset_line),
                       *[("runs on other data" if i == 0 else "", _other_line(did, deleted, ids, names))
                         for i, (did, deleted, ids) in enumerate(other)],
                       ("runs", e.num_runs),
                       *[("sweeps" if i == 0 else "", line) for i, line in enumerate(listed)],
                       ("notes", e.notes or "-")])
        body = config_to_yaml(ExperimentConfig.model_validate(config)) if config else ""
        marked = mark_swept(body, swept, kept)
        return head + "\n\nconfig:\n" + "\n".join("  " + line for line in marked.splitlines())

    return Result({**dataclasses.asdict(e), "dataset": dataset, "config": config, "sweeps": swept,
                   "runs_on_other_data": [{"dataset_id": did, "dataset": names.get(did) if did is not None else None,
                                           "deleted_dataset": deleted, "runs": ids} for did, deleted, ids in other]},
                  text)


def _other_runs(store: Store, experiment: Experiment) -> list[tuple[int | None, str | None, list[int]]]:
    """(dataset id, its name once deleted, run ids) of the experiment's runs that trained on another dataset
    than its own: a run file whose data changed queues its run on the new ingestion under the same experiment."""
    from spark_trainer.store import runs

    own = (experiment.dataset_id, experiment.deleted_dataset)
    found: dict[tuple[int | None, str | None], list[int]] = {}
    for run in runs.list_all(store, experiment=experiment.id):
        if (run.dataset_id, run.deleted_dataset) != own:
            found.setdefault((run.dataset_id, run.deleted_dataset), []).append(run.id)
    return [(did, deleted, ids) for (did, deleted), ids in found.items()]


def _other_line(dataset_id: int | None, deleted: str | None, ids: list[int], names: dict[int, str]) -> str:
    """`exp show`'s line for one of `_other_runs`: "run 2 on d-2 (id 2)", "runs 3, 4 on d-3 (deleted)"."""
    shown = dataset_text(dataset_id, deleted, names) or "no dataset"
    on = f"{shown} (id {dataset_id})" if dataset_id is not None else shown
    return f"{'runs' if len(ids) > 1 else 'run'} {', '.join(map(str, ids))} on {on}"


def mark_swept(body: str, swept: list[sweeps_store.ExperimentSweep], kept: list[str] | None = None) -> str:
    """The config's YAML with a comment on each swept setting (the experiment keeps its first run's
    value, which is no more the experiment's than any other run's) and on each setting in `kept`
    (given the value it had before the setting existed)."""
    from spark_trainer.config.sweep import value_text

    notes: dict[str, list[str]] = {}
    for sweep in swept:
        for key, values in sweep.values.items():
            notes.setdefault(key, []).append(f"{sweep.name}: {', '.join(value_text(v) for v in values)}")
    section, lines = "", []
    for line in body.splitlines():
        if line and not line.startswith(" "):
            section = line.split(":", 1)[0]
        elif line.startswith("  ") and not line.startswith("   ") and ":" in line:
            key = f"{section}.{line.strip().split(':', 1)[0]}"
            if key in notes:
                line += f"  # swept by {'; '.join(notes[key])}; each run has its own (run show ID)"
            elif key in (kept or []):
                line += "  # kept for this experiment: it was stored before this setting existed"
        lines.append(line)
    return "\n".join(lines)


def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.control import delete_experiment
    from spark_trainer.jobs.deletion import Outcome, plan_experiment

    plan = plan_experiment(ctx.store, args.experiment)  # refuses one with a run in progress before asking
    cancelled = declined(args, plan.question(keep_files=args.keep_files))
    if cancelled is not None:
        return cancelled
    experiment, _found = delete_experiment(ctx.store, args.experiment, keep_files=args.keep_files)
    return deleted_result(experiment, f"experiment {experiment.name!r}", Outcome.after(plan),
                          keep_files=args.keep_files)
