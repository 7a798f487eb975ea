"""`spark-trainer launch`: an experiment (or a run file) as a self-contained cluster job folder.

The folder is written in a staging folder beside `--out` and renamed at the end, so a failed
export leaves nothing behind; one killed outright leaves the staging, which the next launch to that
folder removes, and the home's next sweep of leftovers (jobs/leftovers.py) wherever it is. See spark_trainer/cluster/layout.py for what it holds.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path

from spark_trainer.cluster import layout, scripts
from spark_trainer.cluster.layout import JobSpec
from spark_trainer.config import ExperimentConfig, save_config
from spark_trainer.errors import BadInput
from spark_trainer.store import datasets, experiments
from spark_trainer.store.entities import Dataset, to_jsonable, utcnow
from spark_trainer.store.store import Store

MAX_NODES = 1024
MAX_PROCS = 64

# sbatch --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours[:minutes[:seconds]], or no limit.
SLURM_TIME = re.compile(r"\d+(:\d{1,2}){0,2}|\d+-\d+(:\d{1,2}){0,2}|UNLIMITED|unlimited|INFINITE|infinite")


@dataclass(frozen=True)
class LaunchOptions:
    nodes: int
    procs_per_node: int
    scheduler: str
    out: Path
    shared_data: str | None = None  # the dataset folder's path on shared storage (no copy)
    shared_model: str | None = None  # the base model's path on shared storage (no copy)
    partition: str | None = None  # slurm only
    time_limit: str | None = None  # slurm only

    def check(self) -> None:
        if self.scheduler not in layout.SCHEDULERS:
            raise BadInput(f"--scheduler {self.scheduler!r}: choose one of {', '.join(layout.SCHEDULERS)}")
        if not 1 <= self.nodes <= MAX_NODES:
            raise BadInput(f"--nodes {self.nodes}: must be 1 to {MAX_NODES}")
        if not 1 <= self.procs_per_node <= MAX_PROCS:
            raise BadInput(f"--procs-per-node {self.procs_per_node}: must be 1 to {MAX_PROCS}")
        for flag, value in (("--shared-data", self.shared_data), ("--shared-model", self.shared_model)):
            if value is not None and not Path(value).is_absolute():
                raise BadInput(f"{flag} {value!r}: give an absolute path, as every node sees it")
        for flag, value in (("Slurm partition (--partition)", self.partition),
                            ("Slurm time limit (--time)", self.time_limit)):
            if value is not None and self.scheduler != "slurm":
                raise BadInput(f"{flag} {value!r}: only a slurm job has one (this is a {self.scheduler} job)")
        if self.partition is not None and not re.fullmatch(r"[A-Za-z0-9_.,-]+", self.partition):
            raise BadInput(f"Slurm partition (--partition) {self.partition!r}: a partition name, or names with commas")
        if self.time_limit is not None and not SLURM_TIME.fullmatch(self.time_limit):
            raise BadInput(f"Slurm time limit (--time) {self.time_limit!r}: like 90 (minutes), 04:00:00 or "
                           "2-12:00:00 (days-hours:minutes:seconds)")
        out = Path(self.out)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise BadInput(f"--out {out}: already exists and is not an empty folder; pick a new folder")


@dataclass(frozen=True)
class JobFolder:
    path: Path
    spec: JobSpec
    files: list[str]

    @property
    def command(self) -> str:
        """The line a user runs next (on the cluster)."""
        if self.spec.scheduler == "slurm":
            return f"cd {self.path} && sbatch job.sbatch"
        if self.spec.nodes == 1:
            return f"bash {self.path / 'launch.sh'}"
        return f"NODE_RANK=<0..{self.spec.nodes - 1}> MASTER_ADDR=<node 0> bash {self.path / 'launch.sh'}"


def launch_experiment(store: Store, experiment_ref: str | int, options: LaunchOptions) -> JobFolder:
    """Export an existing experiment (its stored config and dataset). One stored before a recipe setting
    existed gets the value that keeps its behaviour, as `run start` gives it (the job's ranks read the
    folder's config.yaml as a run file)."""
    from spark_trainer.config.legacy import with_frozen_defaults
    from spark_trainer.errors import ConfigError
    from spark_trainer.jobs.submit import resolve_model

    options.check()
    experiment = experiments.get(store, experiment_ref)
    dataset_id = experiments.dataset_id_of(experiment)
    config = ExperimentConfig.model_validate(with_frozen_defaults(experiment.config)[0])
    config.project, config.name = experiment.project, experiment.name
    try:  # as `run start EXP` finds it: a stored `models/x` (a cloned run's config) is the data home's
        config.base_model = resolve_model(config.base_model, None, store.home.root)
    except ConfigError:
        pass  # not here: --shared-model may name it, else _write refuses it in words
    return _write(store, config, datasets.get(store, dataset_id), options)


def launch_config(store: Store, config: ExperimentConfig, options: LaunchOptions,
                  base_dir: Path | None = None) -> JobFolder:
    """Export a run file's config: its dataset is resolved (ingested on first use) as `train` does."""
    from spark_trainer.jobs.submit import resolve_dataset, resolve_model

    options.check()
    config = config.model_copy(deep=True)
    config.base_model = resolve_model(config.base_model, base_dir, store.home.root)
    dataset, _report = resolve_dataset(store, config, base_dir)
    return _write(store, config, dataset, options)


def _device(config: ExperimentConfig) -> str:
    return layout.job_device(config.gpus)


def _write(store: Store, config: ExperimentConfig, dataset: Dataset, options: LaunchOptions) -> JobFolder:
    from spark_trainer.recipes import get_recipe

    get_recipe(config.recipe).check_data_kind(dataset.kind, f"dataset {dataset.name!r}")
    model_source = Path(config.base_model)
    if options.shared_model is None and not model_source.is_dir():
        raise BadInput(f"base_model {config.base_model!r} is not a local folder, so it cannot be copied into the "
                       "job; give the path where every node finds it (Base model on shared storage in the app's "
                       "cluster dialog, --shared-model PATH on the command line)")
    data_source = Path(dataset.path)
    if options.shared_data is None and not data_source.exists():
        raise BadInput(f"dataset {dataset.name!r}: its folder {data_source} is missing")
    if options.scheduler == "accelerate" and _device(config) == "cpu" and options.nodes * options.procs_per_node > 1:
        # accelerate starts several CPU processes only through MPI; without it each node would train alone.
        raise BadInput(f"gpus: {config.gpus!r} trains on the CPU, and accelerate launches CPU processes on several "
                       "machines only through MPI; choose torchrun (or slurm) for a CPU job (Scheduler in the app's "
                       "cluster dialog, --scheduler on the command line)")
    frozen = config.model_copy(deep=True)
    frozen.dataset = str(dataset.id)
    frozen.gpus = "cpu" if _device(config) == "cpu" else "auto"
    spec = JobSpec(
        uuid=uuidlib.uuid4().hex, scheduler=options.scheduler, nodes=options.nodes,
        procs_per_node=options.procs_per_node, project=config.project, experiment=config.name,
        recipe=config.recipe, device=_device(config),
        data_path=options.shared_data or ("data" if data_source.is_dir() else f"data/{data_source.name}"),
        model_path=options.shared_model or "model",
        base_model=config.base_model, experiment_config=config.model_dump(mode="json"),
        dataset={k: v for k, v in to_jsonable(dataset).items() if k not in ("path", "project_id")},
        created_at=utcnow().isoformat(), notes=config.notes,
    )
    from spark_trainer.jobs import leftovers

    out = Path(options.out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # Named for its process and noted in the home (jobs/leftovers.py): the staging of a launch killed
    # outright goes at the next launch to this folder, and at the home's next sweep (`run list`).
    prefix = f".{out.name}.staging-"
    leftovers.remove_dead(out.parent, prefix)
    staging = out.with_name(f"{prefix}{leftovers.tag()}-{spec.uuid[:8]}")
    with leftovers.noted_away(store.home.root, staging):
        try:
            files = _fill(staging, spec, frozen, data_source, model_source, options)
            if out.exists():
                out.rmdir()  # checked empty above
            os.replace(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return JobFolder(out, spec, files)


def _fill(folder: Path, spec: JobSpec, frozen: ExperimentConfig, data_source: Path, model_source: Path,
          options: LaunchOptions) -> list[str]:
    from spark_trainer.training.checkpoints import write_identity

    folder.mkdir(parents=True)
    if options.shared_data is None:
        _copy(data_source, folder / "data")
    if options.shared_model is None:
        _copy(model_source, folder / "model")
    save_config(frozen, folder / layout.CONFIG_FILE)
    run_dir = folder / layout.RUN_DIR
    (run_dir / layout.LOGS_DIR).mkdir(parents=True)
    write_identity(run_dir, 0, spec.uuid)  # checkpoints carry the job's uuid; import keeps it as the run's
    spec.write(folder)
    written = {}
    if spec.scheduler == "slurm":
        written["job.sbatch"] = scripts.sbatch_script(spec, partition=options.partition, time_limit=options.time_limit)
        written["slurm_rank.sh"] = scripts.slurm_rank(spec)
    elif spec.scheduler == "torchrun":
        written["launch.sh"] = scripts.torchrun_launch(spec)
    else:
        written["launch.sh"] = scripts.accelerate_launch(spec)
        written["accelerate_config.yaml"] = scripts.accelerate_config(spec)
    for name, text in written.items():
        (folder / name).write_text(text, encoding="utf-8")
        if name.endswith((".sh", ".sbatch")):
            (folder / name).chmod(0o755)
    files = [layout.JOB_FILE, layout.CONFIG_FILE, *written, "README.md",
             *(["data/"] if options.shared_data is None else []),
             *(["model/"] if options.shared_model is None else []), "run/"]
    (folder / "README.md").write_text(scripts.readme(spec, files), encoding="utf-8")
    return files


def _copy(source: Path, target: Path) -> None:
    """A dataset or model folder (or a single file), links followed: the job must stand alone."""
    if source.is_dir():
        shutil.copytree(source, target, symlinks=False)
    else:
        target.mkdir(parents=True)
        shutil.copy2(source, target / source.name)
