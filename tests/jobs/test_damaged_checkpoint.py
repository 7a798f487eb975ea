"""A checkpoint damaged on disk between a pause and the resume (truncated by a failed copy or by
hand): the resume sets it aside and continues from the checkpoint before, instead of failing on
every resume."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training import checkpoints
from spark_trainer.training.checkpoints import checkpoint_step, list_checkpoints
from tests.worker_here import queued_only, work_here


def test_resume_sets_a_truncated_checkpoint_aside_and_continues_from_the_one_before(store: Store, cli,
                                                                                      run_file) -> None:
    """Trained and paused by the worker's code in this process (a pause is SIGTERM without a stop-request
    file, as `control.pause` sends it: here once step 8's checkpoint is written); resumed by a worker
    process, which meets the damaged checkpoint."""
    with queued_only():
        started = cli("--json", "train", str(run_file("cut", steps=30, ckpt_every=4)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    real_prune = checkpoints.prune

    def prune_then_pause(run_dir: Path, *args, **kwargs):
        removed = real_prune(run_dir, *args, **kwargs)
        if checkpoints.latest_checkpoint(run_dir).name == "step-00000008":
            signal.raise_signal(signal.SIGTERM)
        return removed

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(checkpoints, "prune", prune_then_pause)
        work_here(store, run_id)
    run = paused = runs.get(store, run_id)
    assert paused.status == RunStatus.PAUSED, paused.error
    found = list_checkpoints(Path(run.run_dir))
    assert len(found) >= 2
    damaged, before = found[-1], checkpoint_step(found[-2])
    weights = damaged / "trainable.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])

    result = cli("run", "resume", str(run_id), "--wait")
    assert result.code == 0, result.err
    after = runs.get(store, run_id)
    assert (after.status, after.step) == (RunStatus.COMPLETED, 30), after.error
    assert sorted(m.step for m in metrics.read(store, run_id, keys=["loss"])) == list(range(1, 31))
    notes = [e.reason for e in runs.events(store, run_id) if "damaged" in e.reason]
    assert len(notes) == 1 and f"{damaged.name} is damaged: trainable.safetensors is cut short" in notes[0]
    assert f"resumes from step {before}" in notes[0]
    assert Path(damaged.parent, f"damaged-{damaged.name}", "trainable.safetensors").is_file()  # nothing deleted
