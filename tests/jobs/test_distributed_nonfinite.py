"""A loss that is not finite on one process only: every process skips that step, and the run goes on.

Two real rank processes (gloo on the CPU). Rank 1 alone multiplies its training loss by inf at step 3
(a real forward and backward: its gradients are inf/NaN, and DDP's all-reduce spreads them), through a
`sitecustomize` module only the rank processes pick up (PYTHONPATH). Skipping on the local loss would
have one process step and the other not; the engine decides on the loss summed over processes and on
the global gradient norm, so both skip, and the run completes with one skipped step.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until

INJECT = '''
import math
import os

if os.environ.get("RANK") == "1":
    from spark_trainer.recipes.causal_lm_impl import CausalLMRecipe

    real, calls = CausalLMRecipe.loss, [0]

    def loss(recipe, model, batch):
        import torch

        loss_sum, count = real(recipe, model, batch)
        if torch.is_grad_enabled():
            calls[0] += 1
            if calls[0] == 3:
                loss_sum = loss_sum * math.inf
        return loss_sum, count

    CausalLMRecipe.loss = loss
    print("test: non-finite loss armed on rank 1 at step 3", flush=True)
'''


@pytest.mark.slow
@pytest.mark.parametrize("sharding", ["none", "fsdp"])  # DDP's all-reduced gradients; FSDP2's DTensor norm
def test_a_loss_not_finite_on_one_rank_skips_the_step_on_every_rank(store: Store, run_file, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    sharding: str) -> None:
    inject = tmp_path / "inject"
    inject.mkdir()
    (inject / "sitecustomize.py").write_text(INJECT)
    monkeypatch.setenv("PYTHONPATH", f"{inject}:{Path(__file__).resolve().parents[2]}")
    path = run_file(name="ddp-nonfinite", steps=6, ckpt_every=3, gpus="cpu:2", batch_size=4, sharding=sharding)
    if sharding == "fsdp":  # FSDP shards a full fine-tune only
        data = yaml.safe_load(path.read_text())
        data["recipe_config"]["method"] = "full"
        path.write_text(yaml.safe_dump(data))
    run = submit_config(store, load_config(path), base_dir=path.parent).run
    schedule_once(store)
    done = wait_until(store, run.id, finished, timeout_s=420)
    log = (Path(done.run_dir) / "worker.log").read_text()
    assert done.status == RunStatus.COMPLETED, log[-3000:]
    assert "non-finite loss armed on rank 1" in log, log[-3000:]
    assert "rank exit codes: [0, 0]" in log, log[-3000:]
    assert ("sharding fsdp over 2 processes" in log) == (sharding == "fsdp"), log[-3000:]
    skipped = [(m.step, m.value) for m in metrics.read(store, run.id, keys=["skipped_steps"])]
    assert skipped == [(3, 1.0)]
    assert [m.step for m in metrics.read(store, run.id, keys=["loss"])] == [1, 2, 4, 5, 6]
    notes = [e.reason for e in runs.events(store, run.id) if "skipped" in e.reason]
    assert len(notes) == 2 and notes[0].startswith("step 3 skipped: the loss became inf"), notes
    assert notes[1] == "1 of 6 steps skipped (loss or gradients not finite)", notes  # once, at the end
    state = json.loads((Path(done.run_dir) / "checkpoints" / "step-00000006" / "state.json").read_text())
    assert state["skipped_steps"] == 1 and state["non_finite_since"] is None
