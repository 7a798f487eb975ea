"""Exact resume in fp16 (issue 14, item 4): the gradient scaler is saved in each checkpoint and
restored, so a stopped-and-resumed fp16 run gives the same losses step for step as a straight one.

On the CPU the engine runs fp16 with torch's CPU autocast and gradient scaler (accelerate leaves
fp16 off there), so the check runs in the default suite; on a GPU machine the same test runs on
CUDA with accelerate's own scaler."""

from __future__ import annotations

import shutil
import warnings

import pytest
import torch

from spark_trainer.training.checkpoints import SCALER_FILE, latest_checkpoint
from tests.training.helpers import make_config
from tests.training.test_engine import train

FIRST_SCALE = 2.0**24


class EagerScaler(torch.amp.GradScaler):
    """A scaler that starts far too high and grows every 2 good steps: fp16 gradients overflow, steps
    are skipped and the scale moves all through the run, so a resume with a fresh scaler would skip
    different steps and give different losses."""

    def __init__(self, device: str = "cuda", **kwargs):
        super().__init__(device, **{"init_scale": FIRST_SCALE, "growth_interval": 2, **kwargs})


@pytest.mark.parametrize("device", ["cpu", pytest.param("0", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_fp16_stopped_then_resumed_run_matches_an_uninterrupted_one(tiny_model, counting_data, tmp_path,
                                                                  monkeypatch, device):
    monkeypatch.setattr(torch.amp, "GradScaler", EagerScaler)  # where accelerate and the engine build it
    config = make_config(tiny_model, gpus=device, train={"max_steps": 8, "precision": "fp16", "learning_rate": 5e-2},
                         recipe_config={"lora_dropout": 0.1, "target_modules": "all-linear"})
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        _, straight = train(config, counting_data, tmp_path / "straight")
    # The scaler skips the first steps (their gradients overflow); torch's "scheduler before optimizer"
    # warning about that went into the run's log.
    assert not [w for w in said if "lr_scheduler.step" in str(w.message)]

    stopped, _first = train(config, counting_data, tmp_path / "resumed", stop_at=4)
    ckpt = latest_checkpoint(tmp_path / "resumed")
    assert stopped.step == 4 and (ckpt / SCALER_FILE).is_file()
    saved = torch.load(ckpt / SCALER_FILE, weights_only=True)
    assert saved["scale"] < FIRST_SCALE  # it overflowed and backed off: a fresh scaler would differ
    _, second = train(config, counting_data, tmp_path / "resumed", resume_from=ckpt)
    after = second.series("loss")
    assert list(after) == list(range(5, 9))
    assert after == {s: straight.series("loss")[s] for s in after}  # exact float equality


def test_fp16_resume_from_a_checkpoint_without_scaler_state_says_it_is_not_exact(tiny_model, counting_data, tmp_path):
    # Checkpoints from before scalers were saved (and CPU fp16 runs, which older versions trained in
    # fp32) hold no scaler.pt: the run goes on, and its history says why it differs from its first part.
    config = make_config(tiny_model, train={"max_steps": 4, "precision": "fp16"})
    stopped, _ = train(config, counting_data, tmp_path / "run", stop_at=2)
    ckpt = latest_checkpoint(tmp_path / "run")
    assert stopped.step == 2
    shutil.copytree(tmp_path / "run", tmp_path / "old")
    _, resumed = train(config, counting_data, tmp_path / "run", resume_from=ckpt)
    assert not any("scaler" in e or "fp16" in e for e in resumed.events)  # a current checkpoint: exact, no note

    old_ckpt = latest_checkpoint(tmp_path / "old")
    (old_ckpt / SCALER_FILE).unlink()  # as an older SparkTrainer wrote it
    outcome, old = train(config, counting_data, tmp_path / "old", resume_from=old_ckpt)
    assert outcome.status == "completed" and outcome.step == 4
    assert old.events == ["precision fp16: checkpoint step 2 was written by an older SparkTrainer, which trained fp16 "
                          "on the CPU in fp32; from here the run trains in fp16, so it will not continue exactly as it "
                          "began"]
