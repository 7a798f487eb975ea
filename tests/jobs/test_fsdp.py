"""FSDP through the real worker path: a two-process CPU (gloo) full fine-tune, sharded, is killed after
a checkpoint and resumed as one process; its losses equal an unsharded one-process run's."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml
from safetensors.torch import load_file

from spark_trainer.config import load_config
from spark_trainer.jobs import control
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import datasets, metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint, read_state
from tests.jobs.conftest import DEMO_DATA, finished, wait_until

# About 2.5 minutes on 2 busy cores: run with `make test-slow` (or `pytest -m slow tests/jobs/test_fsdp.py`).
pytestmark = pytest.mark.slow

STEPS = 15  # inside the first epoch (70 rows / 4 per step): the data order is then layout-free


def _run_file(tmp_path: Path, model: Path, **train) -> Path:
    data = {
        "project": "fsdp", "name": "full-fsdp", "recipe": "causal-lm", "base_model": str(model),
        "dataset": str(DEMO_DATA), "gpus": "cpu:2",
        "train": {"max_steps": STEPS, "batch_size": 2, "seq_len": 64, "learning_rate": 1e-3, "sharding": "fsdp",
                  **train},
        "recipe_config": {"method": "full"},
        "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 2},
        "checkpoint": {"every_steps": 3, "keep": 2},
    }
    path = tmp_path / "fsdp.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _losses(store: Store, run_id: int) -> dict[int, float]:
    return {m.step: m.value for m in metrics.read(store, run_id, keys=["loss"])}


def _reference_losses(store: Store, run_dir: Path, tmp_path: Path) -> dict[int, float]:
    """The same run unsharded, in one process with the same rows per step (batch 4), in this process."""
    from spark_trainer.training.engine import run_training
    from spark_trainer.training.reporting import Commands
    from tests.training.helpers import RecordingReporter

    config = frozen_config(run_dir)
    config.gpus, config.train.batch_size, config.train.sharding = "cpu", 4, "none"
    reporter = RecordingReporter()
    run_training(config, data_path=Path(datasets.get(store, config.dataset).path), run_dir=tmp_path / "reference",
                 reporter=reporter, commands=Commands())
    return {step: values["loss"] for step, values in reporter.metrics.items() if "loss" in values}


def test_fsdp_two_process_run_killed_then_resumed_as_one_process(store: Store, tmp_path: Path, tiny_model: Path) -> None:
    path = _run_file(tmp_path, tiny_model)
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    assert schedule_once(store) == [run.id]
    run = wait_until(store, run.id, lambda r: r.pid is not None and latest_checkpoint(Path(r.run_dir)) is not None,
                     timeout_s=240)
    os.killpg(run.pid, signal.SIGKILL)  # the worker and both rank processes
    run_dir = Path(run.run_dir)
    killed = wait_until(store, run.id, lambda r: r.status == RunStatus.INTERRUPTED, timeout_s=20, reconcile_too=True)
    log = (run_dir / "worker.log").read_text()
    assert "sharding fsdp over 2 processes" in log and "x2" in log, log
    checkpoint = latest_checkpoint(run_dir)
    assert checkpoint is not None
    state = read_state(checkpoint)
    assert (state["world_size"], state["global_batch"], state["sharding"]) == (2, 4, "fsdp")
    resumed_from = state["step"]
    assert resumed_from < STEPS, "the run finished before it was killed"
    # Full, unsharded weights under the model's own names, whatever the process count.
    weights = load_file(str(checkpoint / "trainable.safetensors"))
    assert weights["model.embed_tokens.weight"].shape == (300, 32)
    before = _losses(store, killed.id)

    control.resume(store, run.id, gpus="cpu")
    assert frozen_config(run_dir).gpus == "cpu"
    schedule_once(store)
    done = wait_until(store, run.id, finished, timeout_s=240)
    log = (run_dir / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log
    assert "train.grad_accum 1 -> 2 keeps 4 rows per step" in log
    assert (run_dir / "final" / "model.safetensors").is_file()
    after = _losses(store, run.id)
    assert sorted(after) == list(range(1, STEPS + 1))

    reference = _reference_losses(store, run_dir, tmp_path)
    for step in range(1, STEPS + 1):
        assert after[step] == pytest.approx(reference[step], rel=1e-4), step
    for step in range(1, resumed_from + 1):  # the two-process part, as recorded before the kill
        assert before[step] == pytest.approx(reference[step], rel=1e-4), step
    events = [e.reason for e in runs.events(store, run.id)]
    assert any(f"from checkpoint step {resumed_from} on cpu" in r for r in events), events
