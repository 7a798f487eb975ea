"""A queued run worked in this process by the worker's own main (`jobs.worker.run_worker`): claimed,
marked running, trained, its checkpoints and outcome recorded, as a spawned worker does.

For tests that need a run trained by the worker but whose subject is not the worker's process: a worker
process pays about 11 CPU-seconds importing torch, transformers and the model's code before its first
step; this process has them loaded already. Tests of the process itself (spawning, signals, stop files,
a kill, a stall, the log on a full disk) start real workers."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_trainer.jobs.process import LOG_NAME
from spark_trainer.jobs.scheduler import make_picker
from spark_trainer.jobs.worker import run_worker
from spark_trainer.store import runs
from spark_trainer.store.store import Store


def work_here(store: Store, run_id: int, *, log: bool = True) -> int:
    """Claim the queued run `run_id` (CPU) and run its worker here; returns the worker's exit code.

    `log`: what the worker prints is appended to the run's worker.log, where `spawn_worker` sends a
    worker's output (`run logs` reads it). Off for a log on a disk the test fills: a spawned worker's
    log drops lines there (jobs.worker_log), a plain file would raise."""
    assert [r.id for r in runs.claim(store, make_picker([], 4, False))] == [run_id]
    return _run_worker(store, run_id, log)


def schedule_here(store: Store, **kwargs) -> list[int]:
    """A stand-in for `scheduler.schedule_once` that starts each queued run by working it here, one after
    another; returns their ids, as schedule_once returns those it started."""
    started = []
    while claimed := runs.claim(store, make_picker([], 1, False)):
        started.append(claimed[0].id)
        _run_worker(store, claimed[0].id, True)
    return started


def _run_worker(store: Store, run_id: int, log: bool) -> int:
    run_dir = Path(runs.get(store, run_id).run_dir)
    with as_a_worker(store, run_dir / LOG_NAME if log else None):
        return run_worker(run_id)


@contextlib.contextmanager
def as_a_worker(store: Store, log: Path | None) -> Iterator[None]:
    """What a worker started for `store` has around its main: SPARK_TRAINER_HOME naming the store, and
    what it prints appended to `log` (None: left to the test's output); the SIGTERM handler its main
    installs is put back afterwards."""
    before = signal.getsignal(signal.SIGTERM)
    with pytest.MonkeyPatch.context() as patch, contextlib.ExitStack() as stack:
        patch.setenv("SPARK_TRAINER_HOME", str(store.home.root))  # the worker opens the store it was started for
        if log is not None:
            out = stack.enter_context(open(log, "a", encoding="utf-8"))
            stack.enter_context(contextlib.redirect_stdout(out))
            stack.enter_context(contextlib.redirect_stderr(out))
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, before)


@contextlib.contextmanager
def queued_only() -> Iterator[None]:
    """`train` and `run start` run in this process (the `cli` fixture) submit and queue as ever but start
    no worker process, so that the test can `work_here`: the CLI's own scheduling pass is left out."""
    from spark_trainer.cli import runs as cli_runs

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli_runs, "schedule_once", lambda store, **kwargs: [])
        yield


@contextlib.contextmanager
def evaluated_here() -> Iterator[None]:
    """An evaluation submitted meanwhile (`eval` in this process, `evaluation.jobs.submit`) is run to its end
    by the evaluation worker's own main, here, instead of in a process of its own; what it prints goes to
    its log, as a worker's does. Its packages are not kept out of this process (`keep_out_for_run`), as
    training in process keeps none out either: that is for a process of the run's own."""
    from spark_trainer.evaluation import jobs
    from spark_trainer.evaluation import worker as eval_worker
    from spark_trainer.store import evaluations

    def start(store: Store, evaluation, run_dir: Path):
        log = jobs.log_path(evaluation, run_dir)
        log.parent.mkdir(parents=True, exist_ok=True)
        with as_a_worker(store, log), pytest.MonkeyPatch.context() as patch:
            patch.setattr(eval_worker, "keep_out_for_run", lambda run_dir: [])
            eval_worker.main(evaluation.run_id, evaluation.id)
        return evaluations.get(store, evaluation.id)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "start", start)
        yield
