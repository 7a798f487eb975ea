"""Training paths that only a CUDA GPU exercises: QLoRA, fp16, gradient checkpointing, compile with
fixed shapes (no recompilation per step), and liger-kernel's fused loss against the chunked one."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import pytest

from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, make_config

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _needs_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")


def _train(tiny_model: Path, data: Path, tmp_path: Path, **sections):
    config = make_config(tiny_model, gpus="0", **sections)
    rec = RecordingReporter()
    outcome = run_training(config, data_path=data, run_dir=tmp_path / "run", reporter=rec, commands=Commands())
    assert outcome.status == "completed", rec.logs
    losses = rec.series("loss")
    assert all(math.isfinite(v) for v in losses.values())
    assert rec.series("gpu_mem_gb"), "a CUDA run reports its peak memory"
    return rec, losses


@pytest.mark.parametrize("settings", [
    {"train": {"precision": "fp16", "max_steps": 12, "compile": False}},
    {"train": {"precision": "bf16", "gradient_checkpointing": True, "max_steps": 12, "compile": False}},
    {"train": {"precision": "bf16", "max_steps": 12}, "recipe_config": {"method": "qlora"}},
], ids=["fp16", "gradient-checkpointing", "qlora"])
def test_trains_on_cuda(tiny_model: Path, counting_data: Path, tmp_path: Path, settings: dict) -> None:
    if settings.get("recipe_config", {}).get("method") == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        pytest.skip("bitsandbytes is not installed")
    rec, losses = _train(tiny_model, counting_data, tmp_path, **settings)
    first, last = losses[1], losses[max(losses)]
    assert last < first, losses
    if settings.get("recipe_config", {}).get("method") == "qlora":
        assert any("4-bit" in line for line in rec.logs)


def test_default_run_compiles_once_on_cuda(tiny_model: Path, counting_data: Path, tmp_path: Path) -> None:
    import torch._dynamo.utils

    torch._dynamo.reset()
    graphs: dict[int, int] = {}

    class Counting(RecordingReporter):
        def on_metrics(self, step: int, values: dict) -> None:
            super().on_metrics(step, values)
            if "loss" in values:
                graphs[step] = int(torch._dynamo.utils.counters["stats"]["unique_graphs"])

    # The run-file defaults: compile auto, all-linear targets (so the loss runs on the hidden states).
    config = make_config(tiny_model, gpus="0", train={"max_steps": 10}, recipe_config={"target_modules": "all-linear"})
    rec = Counting()
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=rec,
                           commands=Commands())
    assert outcome.status == "completed" and not rec.events, rec.events
    assert rec.series("compile_warmup_s"), "auto compiles on CUDA and reports the warm-up"
    assert graphs[3] > 0 and graphs[10] == graphs[3], graphs  # fixed row shapes: no recompilation per step


@pytest.mark.skipif(importlib.util.find_spec("liger_kernel") is None, reason="liger-kernel is not installed")
def test_liger_fused_loss_matches_the_chunked_loss_on_cuda() -> None:
    import torch

    from spark_trainer.training.losses import IGNORE, chunked_linear_cross_entropy, liger_linear_cross_entropy

    gen = torch.Generator(device="cuda").manual_seed(0)
    hidden = torch.randn(4096, 256, device="cuda", dtype=torch.bfloat16, generator=gen).requires_grad_()
    weight = (0.05 * torch.randn(32000, 256, device="cuda", generator=gen)).to(torch.bfloat16).requires_grad_()
    targets = torch.randint(0, 32000, (4096,), device="cuda", generator=gen)
    targets[::5] = IGNORE
    got = liger_linear_cross_entropy(hidden, weight, targets)
    want = chunked_linear_cross_entropy(hidden, weight, targets)
    g_got = torch.autograd.grad(got, [hidden, weight])
    g_want = torch.autograd.grad(want, [hidden, weight])
    assert float(got) == pytest.approx(float(want), rel=2e-3)
    for a, b in zip(g_got, g_want, strict=True):
        assert float((a.float() - b.float()).norm() / b.float().norm()) < 2e-2


def test_a_cuda_step_is_read_back_from_a_pinned_copy_queued_with_it() -> None:
    # Reading a device tensor queues its copy behind every step queued since: settling step n after
    # queuing n + 1 would then wait for n + 1 as well, and the GPU would idle as before.
    import torch
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from spark_trainer.training import steps

    AcceleratorState._reset_state(reset_partial_state=True)
    acc = Accelerator()
    model = torch.nn.Linear(64, 1).cuda()
    model, optimizer = acc.prepare(model, steps.make_optimizer(list(model.parameters()), 1e-3, 0.0, "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)

    def launch(x):
        return steps.launch_step(
            model=model, optimizer=optimizer, scheduler=scheduler, accelerator=acc,
            loss_fn=lambda m, b: (((m(b["x"]).squeeze(-1) - 1) ** 2).sum(), None), loss_count=lambda b: len(b["x"]),
            micro_batches=[{"x": x}], work=len(x), params=list(model.parameters()), max_grad_norm=1.0)

    x = torch.randn(32, 64, device="cuda")
    expected = ((model(x).squeeze(-1) - 1) ** 2).mean().item()
    first, second = launch(x), launch(x)
    assert first.deferred and first.copied is not None and first.numbers.is_pinned()
    stats = first.settle()
    assert stats.loss == pytest.approx(expected, rel=1e-5) and not stats.skipped and stats.loss_units == 32
    assert second.settle().loss < stats.loss  # the second step trained on the first's update
    from spark_trainer.training.batches import _pinned

    assert _pinned({"input_ids": torch.ones(2, 3), "n": 2})["input_ids"].is_pinned()  # batches go up without waiting
