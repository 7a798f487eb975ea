"""`spark-trainer run import DIR`: a cluster job folder (finished, failed or still running) as a run.

Everything is read and checked before anything is written: a partial or corrupt folder is one
BadInput naming the file (and line), and nothing is imported. The run keeps the job's uuid, so a
second import of the same folder updates the same run, unless that run has been trained here since
(refused: the update would delete that work); `as_new` imports the job as a run of its own instead.
A job whose rank 0 is gone without recording an outcome (killed) becomes `interrupted`, resumable
here from its last checkpoint.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import uuid as uuidlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from spark_trainer.cluster import layout
from spark_trainer.cluster.layout import JobSpec
from spark_trainer.config import load_config, save_config
from spark_trainer.errors import BadInput, NotFound
from spark_trainer.store import datasets, experiments, imported_runs, settings
from spark_trainer.store.entities import Run, RunStatus, utcnow
from spark_trainer.store.store import Store

_RUNNING = {"starting", "running"}
_KNOWN = {s.value for s in RunStatus}


@dataclass(frozen=True)
class Imported:
    run: Run
    updated: bool  # the job had been imported before: the same run was rewritten
    metric_points: int
    artifacts: int
    earlier: tuple[int, ...] = ()  # as a new run: the runs holding this job's earlier imports, oldest first


def import_job(store: Store, job_dir: Path, *, as_new: bool = False) -> Imported:
    """Read, check, then record the job in one transaction (see the module docstring).

    Args:
        as_new: record the job as a new run (a uuid of its own), leaving an earlier import of it as it is.

    Raises:
        BadInput: the folder is not a whole job folder, or a file in it is corrupt.
        Conflict: the job's earlier import is training here, or has been trained here since.
    """
    job_dir = Path(job_dir).expanduser().resolve()
    if not job_dir.is_dir():
        raise BadInput(f"{job_dir}: no such folder")
    spec = JobSpec.read(job_dir)
    config = load_config(job_dir / layout.CONFIG_FILE)
    source = job_dir / layout.RUN_DIR
    status = _read_status(source / layout.STATUS_FILE)
    live = status["status"] in _RUNNING
    metrics = _read_metrics(source / layout.METRICS_FILE, live)
    events = _read_events(source / layout.EVENTS_FILE, live)
    artifacts = _read_artifacts(source, live)
    _check_checkpoints(source)
    _check_final(source, artifacts)
    final_status, why = _judge(store, status)
    earlier = imported_runs.holding(store, spec.uuid) if as_new else []
    imp = imported_runs.ImportedRun(
        uuid=uuidlib.uuid4().hex if as_new else spec.uuid, project=spec.project, experiment=spec.experiment, recipe=spec.recipe,
        base_model=spec.base_model, experiment_config=spec.experiment_config, status=final_status,
        ran_on=spec.ran_on, requested_gpus="cpu" if spec.device == "cpu" else "auto",
        step=status["step"], total_steps=status.get("total_steps"), error=status.get("error") or why,
        created_at=_time(spec.created_at, "job.json created_at"), started_at=_opt_time(status, "started_at"),
        finished_at=_opt_time(status, "finished_at") or (utcnow() if final_status != RunStatus.RUNNING else None),
        heartbeat_at=_opt_time(status, "heartbeat_at"), metrics=metrics, artifacts=artifacts, notes=spec.notes,
        job_dir=str(job_dir))
    world = int(status.get("world_size") or spec.world_size)
    imp.events = [(None, RunStatus.QUEUED.value, f"exported as a cluster job ({spec.ran_on}, {world} processes)",
                   imp.created_at), *events]
    if final_status.value != status["status"]:
        imp.events.append((status["status"], final_status.value, why or "", utcnow()))
    if as_new:  # names the job's uuid: a later `--as-new` finds this run by it
        held = (f": {imported_runs.name_runs(earlier)} {'holds' if len(earlier) == 1 else 'hold'} its earlier "
                f"import{'s' if len(earlier) > 1 else ''}") if earlier else ""
        imp.events.append((final_status.value, final_status.value, f"{imported_runs.AS_NEW_OF}{spec.uuid}{held}",
                           utcnow()))
    imp.events.append((final_status.value, final_status.value, f"{imported_runs.IMPORTED_FROM}{job_dir}", utcnow()))
    _place_dataset(store, spec, job_dir, imp)
    staging = store.home.runs_dir / f".import-{spec.uuid[:8]}-{uuidlib.uuid4().hex[:6]}"
    try:
        _stage_run_folder(source, staging)
        if as_new:
            _restamp_checkpoints(staging, imp.uuid)
        local = config.model_copy(deep=True)
        local.base_model = _local_model(spec, job_dir)
        if imp.dataset_id is not None:
            local.dataset = str(imp.dataset_id)
        if world > 1:  # a resume here runs one process: the same global batch keeps the same data order
            local.train.batch_size *= world
            imp.events.append((final_status.value, final_status.value,
                               f"the job ran {world} processes of batch {config.train.batch_size}: resuming here "
                               f"uses batch_size {local.train.batch_size} on one process (the same global batch)",
                               utcnow()))
        save_config(local, staging / "config.yaml")
        registering = imp.dataset_id is None
        run, existed = imported_runs.save(store, imp, staging)
        if registering:  # a dataset registered just now: the run's config names it
            local.dataset = str(imp.dataset_id)
            save_config(local, Path(run.run_dir) / "config.yaml")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if imp.dataset_staging is not None:
            shutil.rmtree(imp.dataset_staging, ignore_errors=True)
    return Imported(run, existed, len(metrics), len(artifacts), tuple(earlier))


# --- reading -----------------------------------------------------------------------------------
def _read_status(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise BadInput(f"{path}: missing; the job has not started yet (or this is not a whole job folder)")
    data = layout.read_json(path, what="run status")
    if not isinstance(data, dict) or data.get("status") not in _KNOWN:
        raise BadInput(f"{path}: corrupt run status (status {data.get('status') if isinstance(data, dict) else data!r})")
    if not isinstance(data.get("step"), int) or data["step"] < 0:
        raise BadInput(f"{path}: corrupt run status (step {data.get('step')!r})")
    return data


def _read_metrics(path: Path, live: bool) -> list[tuple[str, int, float, float]]:
    """(key, step, value, wall time); points past a `resumed_from` marker written before it are dropped."""
    points: dict[tuple[str, int], tuple[float, float]] = {}
    for number, item in enumerate(layout.read_jsonl(path, allow_torn_tail=live), start=1):
        if "resumed_from" in item:
            mark = item["resumed_from"]
            points = {k: v for k, v in points.items() if k[1] <= mark}
            continue
        step, values, when = item.get("step"), item.get("values"), item.get("time")
        if not isinstance(step, int) or not isinstance(values, dict) or not isinstance(when, (int, float)):
            raise BadInput(f"{path}: entry {number} is not a metric record (step, values, time)")
        for key, value in values.items():
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise BadInput(f"{path}: entry {number}: metric {key!r} is not a number")
            points[(key, step)] = (float(value), float(when))
    return [(k, s, v, t) for (k, s), (v, t) in points.items() if not math.isnan(t)]


def _read_events(path: Path, live: bool) -> list[tuple[str | None, str, str, datetime]]:
    found = []
    for number, item in enumerate(layout.read_jsonl(path, allow_torn_tail=live), start=1):
        to, before, reason = item.get("to"), item.get("from"), item.get("reason")
        if to not in _KNOWN or (before is not None and before not in _KNOWN) or not isinstance(reason, str):
            raise BadInput(f"{path}: entry {number} is not a run event (from, to, reason, time)")
        found.append((before, to, reason, _time(item.get("time"), f"{path} entry {number}")))
    return found


def _read_artifacts(run_dir: Path, live: bool) -> list[tuple[str, str, int | None, dict[str, Any], datetime | None]]:
    path = run_dir / layout.ARTIFACTS_FILE
    found = []
    for number, item in enumerate(layout.read_jsonl(path, allow_torn_tail=live), start=1):
        kind, relative, step, meta = item.get("kind"), item.get("path"), item.get("step"), item.get("meta") or {}
        if not isinstance(kind, str) or not isinstance(relative, str) or not isinstance(meta, dict) \
                or (step is not None and not isinstance(step, int)):
            raise BadInput(f"{path}: entry {number} is not an artifact record (kind, path, step, meta)")
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise BadInput(f"{path}: entry {number}: path {relative!r} is outside the run folder")
        if not (run_dir / relative).exists():
            if kind == "checkpoint":
                continue  # pruned by checkpoint.keep, as in a local run
            raise BadInput(f"{path}: entry {number}: {kind} {relative!r} is missing from {run_dir}")
        when = item.get("time")
        found.append((kind, relative, step, meta, _time(when, f"{path} entry {number}") if when else None))
    return found


def _check_checkpoints(run_dir: Path) -> None:
    """BadInput naming the first of the job's checkpoints missing a file or holding one cut short (seen: a
    checkpoint without trainable.safetensors imported without a word over a good earlier import, and its
    export failed on the missing file). Published checkpoints are whole, so this is a copy that stopped
    half-way or a file removed by hand."""
    from spark_trainer.training.checkpoint_check import damage
    from spark_trainer.training.checkpoints import list_checkpoints

    for checkpoint in list_checkpoints(run_dir):
        why = damage(checkpoint)
        if why is not None and checkpoint.exists():  # gone meanwhile: pruned by a job still running
            raise BadInput(f"{checkpoint}: this checkpoint of the job is incomplete ({why}); copy it from the "
                           "cluster again, or delete the folder to import the job without it")


def _check_final(run_dir: Path, artifacts: list[tuple[str, str, int | None, dict[str, Any], datetime | None]]) -> None:
    """BadInput naming the job's final model folder when a file of it is cut short or it holds no weights
    (seen: a truncated final/adapter_model.safetensors imported, then `generate --checkpoint final` failed)."""
    from spark_trainer.training.checkpoint_check import final_damage

    for kind, relative, *_rest in artifacts:
        if kind == "final" and (why := final_damage(run_dir / relative)) is not None:
            raise BadInput(f"{run_dir / relative}: the job's final model is damaged ({why}); copy it from the "
                           "cluster again; nothing was imported")


def _time(text: Any, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(text)).replace(tzinfo=None)
    except ValueError:
        raise BadInput(f"{where}: {text!r} is not a time") from None


def _opt_time(status: dict[str, Any], key: str) -> datetime | None:
    return _time(status[key], f"status.json {key}") if status.get(key) else None


# --- deciding ----------------------------------------------------------------------------------
def _judge(store: Store, status: dict[str, Any]) -> tuple[RunStatus, str | None]:
    """The run's status here: a job still marked running whose rank 0 is known gone is interrupted."""
    recorded = RunStatus(status["status"])
    if status["status"] not in _RUNNING:
        return recorded, None
    host, pid = status.get("host"), status.get("pid")
    if host == socket.gethostname() and isinstance(pid, int):
        from spark_trainer.jobs.process import identity

        if identity(pid) is None:
            return RunStatus.INTERRUPTED, f"the job's rank 0 (pid {pid} on {host}) is gone without an outcome (killed)"
        return RunStatus.RUNNING, None
    beat = _opt_time(status, "heartbeat_at")
    limit = float(settings.get(store, "heartbeat_timeout_seconds"))
    silent = (utcnow() - beat).total_seconds() if beat else math.inf
    if silent > limit:
        return RunStatus.INTERRUPTED, (f"the job's rank 0 on {host} has written no heartbeat for {silent:.0f} s "
                                       f"(threshold {limit:g} s): it was killed or lost")
    return RunStatus.RUNNING, None


def _place_dataset(store: Store, spec: JobSpec, job_dir: Path, imp: imported_runs.ImportedRun) -> None:
    """Use the experiment's dataset, or one of the project's with the same content (version), or
    register the job's copy as a new dataset."""
    try:
        exp = experiments.get(store, spec.experiment, spec.project)
    except NotFound:
        exp = None
    if exp is not None and exp.dataset_id is not None:
        imp.dataset_id = exp.dataset_id
        return
    record = spec.dataset
    try:
        same = [d for d in datasets.list_all(store, spec.project)
                if d.version and d.version == record.get("version") and d.kind == record.get("kind")]
    except NotFound:
        same = []
    if same:
        imp.dataset_id = same[0].id
        return
    source = spec.resolve(job_dir, spec.data_path)
    if not source.exists():
        raise BadInput(f"{source}: the job's dataset is missing, and project {spec.project!r} has no dataset "
                       "with the same content to use instead")
    folder = source if source.is_dir() else source.parent
    staging = store.home.datasets_dir / f".import-{uuidlib.uuid4().hex[:8]}"
    shutil.copytree(folder, staging)
    name = str(record.get("name") or "imported")
    try:
        taken = {d.name for d in datasets.list_all(store, spec.project)}
    except NotFound:
        taken = set()
    while name in taken:
        name = f"{record.get('name') or 'imported'}-{uuidlib.uuid4().hex[:4]}"
    imp.new_dataset = datasets.NewDataset(
        name=name, kind=str(record.get("kind") or "text"), path=str(staging),
        version=str(record.get("version") or ""), num_items=int(record.get("num_items") or 0),
        num_train=int(record.get("num_train") or 0), num_val=int(record.get("num_val") or 0),
        num_rejected=int(record.get("num_rejected") or 0), num_duplicates=int(record.get("num_duplicates") or 0),
        size_bytes=int(record.get("size_bytes") or 0), sources=list(record.get("sources") or []),
        meta={**(record.get("meta") or {}), "imported_from_job": spec.uuid})
    imp.dataset_staging = staging


def _local_model(spec: JobSpec, job_dir: Path) -> str:
    """The base model as this machine finds it: the exporting machine's path, else the job's copy."""
    if Path(spec.base_model).exists():
        return spec.base_model
    copy = spec.resolve(job_dir, spec.model_path)
    return str(copy) if copy.exists() else spec.base_model


def _stage_run_folder(source: Path, staging: Path) -> None:
    """A copy of the job's run folder, in a local run's layout (worker.log is rank 0's log)."""
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(".staging-*", ".pinned-*", "*.tmp"))
    logs = staging / layout.LOGS_DIR
    for name in ("node-0.log", "rank-0.log"):
        if (logs / name).exists():
            shutil.copy2(logs / name, staging / "worker.log")
            break


def _restamp_checkpoints(run_dir: Path, run_uuid: str) -> None:
    """A new run's uuid in each checkpoint: a run lists (resumes from, exports) only checkpoints carrying its own."""
    from spark_trainer.training.checkpoints import STATE_FILE, checkpoint_dir

    for state_file in sorted(checkpoint_dir(run_dir).glob(f"*/{STATE_FILE}")):
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as exc:
            raise BadInput(f"{state_file}: unreadable ({exc})") from None
        if isinstance(state, dict) and state.get("run_uuid"):
            state["run_uuid"] = run_uuid
            state_file.write_text(json.dumps(state, indent=2))
