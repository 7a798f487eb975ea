"""Evaluation jobs run in a managed worker process, like training: submitted (data checked first),
spawned detached with its own log (`runs/<id>/evals/<eval id>.log`) and GPU, followed through the
store, cancelled by its stop file and SIGTERM (the file alone on Windows: see jobs/portable.py)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, OperationFailed
from spark_trainer.evaluation.tasks import check_task, read_data
from spark_trainer.jobs import portable, process
from spark_trainer.store import evaluations, runs
from spark_trainer.store.evaluations import Evaluation
from spark_trainer.store.store import Store

POLL_S = 0.2
# An evaluation recorded by a process that died before it started the worker (killed, the machine off)
# has no pid; like a run claimed by a scheduler that died (jobs/reconcile.SPAWN_TIMEOUT), it is given
# this long to start before it is failed.
START_TIMEOUT = timedelta(seconds=60)
NEVER_STARTED = "the process that started this evaluation ended before its worker started; run it again"


def eval_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "evals"


def log_path(evaluation: Evaluation, run_dir: Path) -> Path:
    return eval_dir(run_dir) / f"{evaluation.id}.log"


def parse_gpus(text: str | None) -> list[int]:
    """cpu -> []; "0" -> [0]; auto -> the first GPU of this machine, else the CPU."""
    from spark_trainer.jobs.scheduler import machine_gpus

    if text in (None, "", "auto"):
        return machine_gpus()[:1]
    if text == "cpu":
        return []
    try:
        chosen = [int(part) for part in str(text).split(",") if part.strip()][:1]
    except ValueError:
        chosen = []
    if not chosen:
        raise BadInput(f"--gpus {text!r} must be auto, cpu or a GPU id like 0")
    have = machine_gpus()
    if chosen[0] not in have:  # it ran on the CPU, saying and recording the GPU it was asked for
        ids = f"GPUs {','.join(map(str, have))}" if have else "no NVIDIA GPU (use auto or cpu)"
        raise BadInput(f"--gpus {text!r}: GPU {chosen[0]} requested but this machine has {ids}")
    return chosen


def submit(store: Store, run_ref: int | str, *, task: str, data_path: Path | str, base: bool = False,
           checkpoint: str = "last", gpus: str | None = "auto") -> Evaluation:
    """Check the request and its data, record the evaluation and start its worker.

    Raises:
        BadInput: unknown run, task or checkpoint; unreadable data or a missing column.
    """
    from spark_trainer.export.checkpoint import resolve_checkpoint
    from spark_trainer.jobs.submit import frozen_config

    run = runs.get(store, run_ref)
    config = frozen_config(Path(run.run_dir))
    check_task(task, config.recipe)
    data_path = _data_of(store, data_path, run.project_id)
    items = read_data(task, data_path, config)  # bad data fails here, before a process is started
    if task == "classification":
        _check_labels(store, run, config, items, data_path)
    if not base:
        resolve_checkpoint(Path(run.run_dir), checkpoint, run_id=run.id)
    evaluation = evaluations.create(store, run.id, task=task, data_path=str(data_path), base=base,
                                    checkpoint="base" if base else str(checkpoint), gpus=parse_gpus(gpus))
    try:
        return start(store, evaluation, Path(run.run_dir))
    except Exception as exc:  # no worker: the row must not stay queued
        from spark_trainer.errors import describe

        evaluations.update(store, evaluation.id, status="failed", error=f"the worker could not start: {describe(exc)}")
        raise


def _data_of(store: Store, data: Path | str, project_id: int) -> Path:
    """`--data`: an ingested dataset of the run's project by name or id, else a file or folder, else
    another project's dataset (read as training reads it). The run's own dataset comes before a
    folder of the same name where the command runs, as a run file's `dataset:` does; `./NAME` is the
    folder. Several projects may use a name ('train'), so the run's project is looked in first."""
    from spark_trainer.errors import NotFound
    from spark_trainer.store import datasets

    def dataset(project: int | None) -> Path | None:
        try:
            return Path(datasets.get(store, str(data), project).path).resolve()
        except NotFound:
            return None
        except BadInput as exc:  # a name only other projects use, several of them
            raise BadInput(f"evaluation data {data}: {exc}") from None

    path = Path(data).expanduser()
    found = dataset(project_id) or (path.resolve() if path.exists() else None) or dataset(None)
    if found is not None:
        return found
    hint = datasets.missing_hint(store, str(data), project_id)
    raise BadInput(f"evaluation data {data}: no such file, folder or dataset (see `spark-trainer dataset list`)"
                   + (f"; {hint}" if hint else ""))


def _check_labels(store: Store, run: Any, config: ExperimentConfig, items: list[Any], data_path: Path) -> None:
    """Labels in the data that the run's model does not have: its classes are the run's own (its final
    model's or validation report's), else its dataset's; with neither, no worker is started."""
    from spark_trainer.evaluation.classification import check_labels
    from spark_trainer.export.classifier import NO_LABELS, dataset_folder
    from spark_trainer.recipes.classification import run_label_names
    from spark_trainer.recipes.registry import get_recipe

    known = run_label_names(Path(run.run_dir))
    if known is None:
        dataset = dataset_folder(store, config)
        if dataset is None:
            raise BadInput(f"run {run.id}: " + NO_LABELS.format(recipe=config.recipe))
        known = get_recipe(config.recipe).load()(config).label_names(dataset)
    check_labels(items, known, where=f"evaluation data {data_path}: ", whose=f"run {run.id}'s model")


def start(store: Store, evaluation: Evaluation, run_dir: Path) -> Evaluation:
    log = log_path(evaluation, run_dir)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SPARK_TRAINER_HOME=str(store.home.root), PYTHONUNBUFFERED="1",
               CUDA_VISIBLE_DEVICES=",".join(map(str, evaluation.gpus)))
    with open(log, "ab") as out:
        proc = subprocess.Popen(process.worker_command(evaluation.run_id, "--evaluation", str(evaluation.id)),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                                cwd=str(run_dir), close_fds=True, **portable.spawn_options())
    found = process.identity(proc.pid)
    return evaluations.update(store, evaluation.id, pid=proc.pid,
                              pid_start_time=found.start_time if found else None)


def refresh(store: Store, evaluation_id: int) -> Evaluation:
    """The evaluation, marked failed (with its log's tail) if its worker died without saying so."""
    from spark_trainer.store.entities import utcnow

    ev = evaluations.get(store, evaluation_id)
    if ev.status == "queued" and ev.pid is None and utcnow() - ev.created_at > START_TIMEOUT:
        return evaluations.update(store, ev.id, status="failed", error=NEVER_STARTED)
    if ev.is_active and ev.pid is not None and not process.is_alive(ev.pid, ev.pid_start_time):
        time.sleep(POLL_S)  # the worker may have written its outcome just before exiting
        ev = evaluations.get(store, evaluation_id)
        if ev.is_active:
            tail = _log_tail(store, ev)
            ev = evaluations.update(store, ev.id, status="failed",
                                    error=f"the evaluation worker exited unexpectedly\n{tail}")
    return ev


def refresh_active(store: Store) -> list[Evaluation]:
    """Every evaluation in progress, refreshed (one whose worker is gone, or never started, is failed);
    returns those still in progress. Reconcile calls it, so a dead one blocks no delete or move."""
    active = [e for status in evaluations.ACTIVE for e in evaluations.list_all(store, status=status)]
    return [ev for ev in (refresh(store, e.id) for e in active) if ev.is_active]


def _log_tail(store: Store, ev: Evaluation) -> str:
    run = runs.get(store, ev.run_id)
    path = log_path(ev, Path(run.run_dir))
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-15:])
    except OSError:
        return ""


def wait(store: Store, evaluation_id: int, *, on_progress: Callable[[Evaluation], None] | None = None,
         timeout_s: float | None = None) -> Evaluation:
    """Poll until the evaluation finishes (Ctrl-C cancels it) and return it."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    last = (-1, -1)
    try:
        while True:
            ev = refresh(store, evaluation_id)
            if on_progress is not None and (ev.done, ev.total) != last:
                last = (ev.done, ev.total)
                on_progress(ev)
            if not ev.is_active:
                return ev
            if deadline is not None and time.monotonic() > deadline:
                raise OperationFailed(f"evaluation {evaluation_id} did not finish in {timeout_s:.0f} s")
            time.sleep(POLL_S)
    except KeyboardInterrupt:
        cancel(store, evaluation_id)
        return wait(store, evaluation_id, timeout_s=30)


def cancel(store: Store, evaluation_id: int, grace_s: float = 10.0) -> Evaluation:
    """Stop a running evaluation: its stop file and SIGTERM (it stops between items), then a kill of
    its group after `grace_s`."""
    from spark_trainer.evaluation.worker import stop_path

    ev = evaluations.get(store, evaluation_id)
    if not ev.is_active:
        return ev
    if ev.pid is not None and process.is_alive(ev.pid, ev.pid_start_time):
        request = stop_path(Path(runs.get(store, ev.run_id).run_dir), ev.id)
        request.parent.mkdir(parents=True, exist_ok=True)
        request.write_text("cancel")
        try:
            process.stop_group(ev.pid, ev.pid_start_time, grace_s)
        finally:
            request.unlink(missing_ok=True)
    ev = evaluations.get(store, evaluation_id)
    if ev.is_active:
        ev = evaluations.update(store, evaluation_id, status="cancelled", error="cancelled")
    return ev


def list_for_run(store: Store, run_ref: int | str) -> list[Evaluation]:
    """A run's evaluations, newest first; one still running is refreshed from its worker (one that
    died shows as failed), as the run page's Exports tab and `eval RUN --list` show them."""
    run = runs.get(store, run_ref)
    return [refresh(store, e.id) if e.is_active else e for e in evaluations.list_for(store, run.id)]
