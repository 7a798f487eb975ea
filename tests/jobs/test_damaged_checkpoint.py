"""A checkpoint damaged on disk between a pause and the resume (truncated by a failed copy or by
hand): the resume sets it aside and continues from the checkpoint before, instead of failing on
every resume."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.jobs import control
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import checkpoint_step, list_checkpoints
from tests.jobs.conftest import wait_until


def test_resume_sets_a_truncated_checkpoint_aside_and_continues_from_the_one_before(store: Store, cli,
                                                                                      run_file) -> None:
    started = cli("--json", "train", str(run_file("cut", steps=30, ckpt_every=4)))
    assert started.code == 0, started.err
    run_id = started.json()["id"]
    run = wait_until(store, run_id, lambda r: r.status == RunStatus.RUNNING and r.step >= 6, timeout_s=180)
    paused = control.pause(store, run_id, grace_s=60)
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
