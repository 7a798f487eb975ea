"""diffusion-lora through managed workers: a run killed with SIGKILL mid-run and resumed produces
the same metric series, value for value, as an uninterrupted run of the same config."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
from tests.jobs.conftest import finished, wait_until


def _series(store: Store, run_id: int, key: str) -> dict[int, float]:
    return {m.step: m.value for m in metrics.read(store, run_id, keys=[key])}


@pytest.mark.slow  # two managed runs of a diffusion pipeline
def test_killed_and_resumed_diffusion_run_matches_an_uninterrupted_one(store: Store, tmp_path: Path, cli,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline, write_captioned_images

    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # workers inherit it: tiny models run faster on one thread
    model = create_tiny_sd_pipeline(tmp_path / "tiny-sd")
    images = write_captioned_images(tmp_path / "shapes", 16, size=32)
    config = {
        "project": "jobs", "recipe": "diffusion-lora", "base_model": str(model), "dataset": str(images), "gpus": "cpu",
        "train": {"max_steps": 30, "batch_size": 4, "learning_rate": 5e-3},
        "recipe_config": {"resolution": 32, "lora_r": 4, "lora_alpha": 4, "random_flip": True, "caption_dropout": 0.2,
                          "target_modules": "to_q,to_k,to_v,to_out.0,conv_in,conv_out"},
        "eval": {"every_steps": 5, "val_fraction": 0.2},
        "checkpoint": {"every_steps": 5, "keep": 2},
    }
    ids = []
    for name in ("straight", "killed"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**config, "name": name}))
        ids.append(submit_config(store, load_config(path), base_dir=tmp_path).run.id)
    straight, killed = ids
    schedule_once(store)
    wait_until(store, straight, finished, timeout_s=600)
    schedule_once(store)  # (a finishing worker may already have started it)
    run = wait_until(store, killed, lambda r: r.pid is not None and r.step >= 12
                     and latest_checkpoint(Path(r.run_dir)) is not None, timeout_s=600)
    os.kill(run.pid, signal.SIGKILL)
    lost = wait_until(store, killed, lambda r: r.status == RunStatus.INTERRUPTED, timeout_s=20, reconcile_too=True)
    assert 5 <= checkpoint_step(latest_checkpoint(Path(lost.run_dir))) < 30

    result = cli("run", "resume", str(killed), "--wait")
    assert result.code == 0, result.err
    for key in ("loss", "eval_loss"):
        expected = _series(store, straight, key)
        assert len(expected) == (30 if key == "loss" else 6)
        assert _series(store, killed, key) == expected  # exact float equality, every step
