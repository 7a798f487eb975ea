"""Exact resume in fp16 (issue 14, item 4): the gradient scaler is saved in each checkpoint and
restored, so a stopped-and-resumed fp16 run gives the same losses step for step as a straight one.
accelerate allows fp16 autocast only on accelerators, so this runs on the GPU check."""

from __future__ import annotations

import pytest
import torch

from spark_trainer.training.checkpoints import SCALER_FILE, latest_checkpoint
from tests.training.helpers import make_config
from tests.training.test_engine import train

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]


def test_fp16_stopped_then_resumed_run_matches_an_uninterrupted_one(tiny_model, counting_data, tmp_path):
    # A high learning rate and a tiny initial scale make the scaler grow and skip steps: its state
    # then differs from a fresh one, which is what a resume without it would get.
    config = make_config(tiny_model, gpus="0", train={"max_steps": 12, "precision": "fp16", "learning_rate": 5e-2},
                         recipe_config={"lora_dropout": 0.1, "target_modules": "all-linear"})
    _, straight = train(config, counting_data, tmp_path / "straight")

    stopped, _first = train(config, counting_data, tmp_path / "resumed", stop_at=6)
    ckpt = latest_checkpoint(tmp_path / "resumed")
    assert stopped.step == 6 and (ckpt / SCALER_FILE).is_file()
    saved = torch.load(ckpt / SCALER_FILE, weights_only=True)
    assert saved["scale"] != 65536.0 or saved["_growth_tracker"] > 0  # it has evolved since the start
    _, second = train(config, counting_data, tmp_path / "resumed", resume_from=ckpt)
    after = second.series("loss")
    assert list(after) == list(range(7, 13))
    assert after == {s: straight.series("loss")[s] for s in after}  # exact float equality
