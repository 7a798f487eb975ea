"""Fixtures for run-lifecycle tests: one tiny model per session, run files, waiting helpers."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from spark_trainer.store import experiments, projects, runs, settings
from spark_trainer.store.entities import Experiment, Run, RunStatus
from spark_trainer.store.store import Store

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "resources" / "demo" / "train.jsonl"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny", vocab_size=300, hidden_size=32,
                                 num_layers=1, num_heads=2)


@pytest.fixture
def run_file(tmp_path: Path, tiny_model: Path) -> Callable[..., Path]:
    """Write a run file training the tiny model on the demo data; keyword arguments override."""

    def write(name: str = "tiny", *, steps: int = 8, ckpt_every: int = 4, gpus: str = "cpu", seq_len: int = 64,
              **train) -> Path:
        data = {
            "project": "jobs", "name": name, "recipe": "causal-lm", "base_model": str(tiny_model),
            "dataset": str(DEMO_DATA), "gpus": gpus,
            "train": {"max_steps": steps, "batch_size": 4, "learning_rate": 1e-3, **train},
            "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": seq_len},
            "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
            "checkpoint": {"every_steps": ckpt_every, "keep": 2},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@pytest.fixture
def experiment(store: Store) -> Experiment:
    """An experiment with no dataset, for runs that are scheduled, claimed and stopped but never trained."""
    projects.create(store, "scheduled")
    return experiments.create(store, project="scheduled", name="e", recipe="causal-lm", base_model="m", dataset=None,
                              config={})


@pytest.fixture
def fast_store(store: Store) -> Store:
    """A store whose stop grace period is short, so kill-after-grace tests stay quick."""
    settings.set_value(store, "stop_grace_seconds", 2)
    return store


def wait_until(store: Store, run_id: int, done: Callable[[Run], bool], timeout_s: float = 120.0,
               reconcile_too: bool = False) -> Run:
    """Poll the store (optionally reconciling) until `done(run)`; fail with the run's log on timeout."""
    from spark_trainer.jobs.process import log_tail
    from spark_trainer.jobs.reconcile import reconcile

    deadline = time.monotonic() + timeout_s
    while True:
        if reconcile_too:
            reconcile(store)
        run = runs.get(store, run_id)
        if done(run):
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} stuck at {run.status.value} step {run.step}:\n{log_tail(Path(run.run_dir), 40)}")
        time.sleep(0.05)


def finished(run: Run) -> bool:
    return run.status not in (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING)


def hold_the_only_slot(store: Store) -> None:
    """A live run (this test's own process) in the one slot, so that what `train` or `run start` queues stays
    queued: for tests that look at queued runs and need no worker to train them."""
    settings.set_value(store, "max_concurrent_runs", 1)
    projects.create(store, "busy")
    exp = experiments.create(store, project="busy", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    running_here(store, runs.create(store, exp.id, requested_gpus="cpu").id)


def running_here(store: Store, run_id: int) -> Run:
    """The queued run `run_id` marked running with this test's own process as its live worker (its
    heartbeat fresh): what reconcile, the delete guards and a home move see of a run that trains, for
    tests that need one running but no worker's training. Stop it with `runs.transition`, never through
    `jobs.control`, which would signal this process."""
    import os

    from spark_trainer.jobs.process import identity

    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        runs.transition(store, run_id, status, "test: running in the test's own process")
    me = identity(os.getpid())
    runs.update(store, run_id, pid=me.pid, pid_start_time=me.start_time)
    runs.beat(store, run_id)
    return runs.get(store, run_id)
