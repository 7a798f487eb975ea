"""The evaluation worker: `worker RUN_ID --evaluation EVAL_ID` (started by jobs.start, not by people).

Loads the run's checkpoint (or its base model), runs the task with progress in the store, and
records the result: as the evaluation's result, as run metrics (`evals/...`) and as an artifact
(`runs/<id>/evals/<eval id>.json`). A base-model evaluation is kept only on the evaluation row (the
leaderboard shows it as a baseline), so it never mixes with the run's own numbers.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from spark_trainer.errors import SparkError, describe
from spark_trainer.jobs.lean_imports import keep_out_for_run
from spark_trainer.store import evaluations, runs
from spark_trainer.store.store import Store

PROGRESS_EVERY_S = 0.5


class Cancelled(Exception):
    """A stop was asked (SIGTERM, or the stop file: see stop_event): stop between items."""


def stop_path(run_dir: Path, evaluation_id: int) -> Path:
    """The file `jobs.cancel` writes to stop an evaluation (all it gets on Windows, where there is no SIGTERM)."""
    return Path(run_dir) / "evals" / f"{evaluation_id}.stop"


def stop_event(run_dir: Path, evaluation_id: int) -> threading.Event:
    """Set when this evaluation is asked to stop: SIGTERM (POSIX), or its stop file, polled (every platform)."""
    from spark_trainer.jobs import portable

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _s, _f: stop.set())
    portable.watch(stop_path(run_dir, evaluation_id), stop.set, until=stop.is_set)
    return stop


def _device_and_dtype() -> tuple[str, str]:
    import torch

    if torch.cuda.is_available():
        return "cuda", "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "cpu", "fp32"


def main(run_id: int, evaluation_id: int) -> int:
    store = Store.open(upgrade=False)
    stop = threading.Event()
    try:
        run = runs.get(store, run_id)
        stop = stop_event(Path(run.run_dir), evaluation_id)
        ev = evaluations.update(store, evaluation_id, status="running", pid=os.getpid())
        keep_out_for_run(Path(run.run_dir))  # this process is the evaluation's own: before peft and transformers
        _say(f"evaluation {ev.id}: {ev.task} on {ev.data_path} ({'base model' if ev.base else ev.checkpoint})")
        try:
            result, step = _evaluate(store, ev, Path(run.run_dir), stop)
            _write_report(ev, Path(run.run_dir), result, step)
        except Cancelled:
            evaluations.update(store, evaluation_id, status="cancelled", error="cancelled")
            _say("cancelled")
            return 1
        except SparkError as exc:
            evaluations.update(store, evaluation_id, status="failed", error=str(exc))
            _say(f"failed: {exc}")
            return 1
        except Exception as exc:  # noqa: BLE001 - any failure ends as a failed evaluation with its message
            traceback.print_exc()
            evaluations.update(store, evaluation_id, status="failed", error=describe(exc))
            return 1
        _record(store, ev, Path(run.run_dir), result, step)
        _say(f"completed: {json.dumps(result.get('metrics'))}")
        return 0
    finally:
        stop.set()  # ends the watch
        store.close()


def _evaluate(store: Store, ev: Any, run_dir: Path, stop: threading.Event) -> tuple[dict[str, Any], int | None]:
    from spark_trainer.evaluation.tasks import run_task
    from spark_trainer.export.checkpoint import pinned_checkpoint
    from spark_trainer.jobs.submit import frozen_config

    config = frozen_config(run_dir)
    last = [0.0]

    def tick(done: int, total: int) -> None:
        if stop.is_set():
            raise Cancelled()
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or done == total:
            last[0] = now
            evaluations.update(store, ev.id, done=done, total=total)

    device, dtype = _device_and_dtype()
    from spark_trainer.recipes.classification import run_label_names
    from spark_trainer.store import datasets

    labels = run_label_names(run_dir)  # the run's own class names; its dataset only when it holds none
    try:
        dataset: Path | None = None if labels else Path(datasets.get(store, config.dataset).path)
    except SparkError:
        dataset = None
    if ev.base:
        return run_task(ev.task, config, None, Path(ev.data_path), device=device, dtype=dtype, tick=tick,
                        data_path=dataset, labels=labels), None
    # Pinned: a run still training prunes the checkpoint being read (see pinned_checkpoint).
    with pinned_checkpoint(run_dir, ev.checkpoint, run_id=ev.run_id, by="evaluation") as (checkpoint, step):
        return run_task(ev.task, config, checkpoint, Path(ev.data_path), device=device, dtype=dtype, tick=tick,
                        data_path=dataset, labels=labels), step


def _say(line: str) -> None:
    """A line in the evaluation's log; a log on a full disk does not stop the outcome being recorded."""
    try:
        print(line, flush=True)
    except OSError:
        pass


def _report(ev: Any, result: dict[str, Any], step: int | None) -> dict[str, Any]:
    return {"task": ev.task, "data": ev.data_path, "base": ev.base, "checkpoint": ev.checkpoint, "step": step,
            **result}


def _report_path(ev: Any, run_dir: Path) -> Path:
    return run_dir / "evals" / f"{ev.id}.json"


def _write_report(ev: Any, run_dir: Path, result: dict[str, Any], step: int | None) -> None:
    """`runs/<id>/evals/<eval id>.json`, whole or not at all (written aside, then renamed); a full disk is
    one line naming the folder."""
    from spark_trainer import disk

    report = json.dumps(_report(ev, result, step), indent=2)
    disk.write_whole(_report_path(ev, run_dir), lambda aside: aside.write_text(report),
                     "the evaluation's report was not written, nothing was recorded")


def _record(store: Store, ev: Any, run_dir: Path, result: dict[str, Any], step: int | None) -> None:
    from spark_trainer.evaluation.tasks import metric_key

    report = _report(ev, result, step)
    points = [(metric_key(ev.task, k), step or 0, float(v)) for k, v in result["metrics"].items()]
    evaluations.complete(store, ev.id, step=step, result=report, points=points,
                         report_path=None if ev.base else str(_report_path(ev, run_dir)),
                         artifact_meta={"task": ev.task, "evaluation": ev.id, "data": ev.data_path})
