"""One optimizer step (spark_trainer/training/steps.py): launched without reading anything back when the
optimizer is a fused AdamW (the skip of a non-finite step decided on the device), settled in one copy."""

from __future__ import annotations

import math

import pytest
import torch


def _model_and_step(fused: bool):
    """A Linear model and a launch function over it (fp32, CPU accelerator)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from spark_trainer.training import steps

    AcceleratorState._reset_state(reset_partial_state=True)
    torch.manual_seed(0)
    acc = Accelerator(cpu=True)
    model = torch.nn.Linear(4, 1)
    model, optimizer = acc.prepare(model, torch.optim.AdamW(model.parameters(), lr=1e-2, fused=fused,
                                                            foreach=None if fused else True))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)

    def loss(m, batch):
        return ((m(batch["x"]).squeeze(-1) - batch["y"]) ** 2).sum(), None

    def launch(x: torch.Tensor, max_grad_norm: float | None = None):
        return steps.launch_step(model=model, optimizer=optimizer, scheduler=scheduler, accelerator=acc, loss_fn=loss,
                                 loss_count=lambda b: len(b["y"]), micro_batches=[{"x": x, "y": torch.ones(len(x))}],
                                 work=len(x) * 3, params=list(model.parameters()), max_grad_norm=max_grad_norm)

    return model, optimizer, launch


def _state(model, optimizer):
    inner = optimizer.optimizer
    weights = [p.detach().clone() for p in model.parameters()]
    moments = {k: v.clone() for p in model.parameters() for k, v in inner.state.get(p, {}).items()}
    return weights, moments


def test_a_fused_optimizer_step_is_deferred_and_settles_to_the_same_numbers_as_the_read_back_one() -> None:
    x = torch.randn(6, 4)
    fused, fused_opt, launch_fused = _model_and_step(fused=True)
    plain, plain_opt, launch_plain = _model_and_step(fused=False)
    deferred, read_back = launch_fused(x), launch_plain(x)
    assert deferred.deferred and not read_back.deferred
    a, b = deferred.settle(), read_back.settle()
    assert not a.skipped and a.loss_units == 6 and a.work == 18 and a.bad_buffers == {}
    assert a.loss == pytest.approx(b.loss, rel=1e-6) and a.grad_norm == pytest.approx(b.grad_norm, rel=1e-6)
    assert a.loss == pytest.approx(((plain(x).squeeze(-1) - 1) ** 2).mean().item(), rel=0.5)  # a mean, not a sum
    for p, q in zip(fused.parameters(), plain.parameters(), strict=True):
        assert torch.allclose(p, q, atol=1e-6)  # the update was applied, as the plain optimizer applied it
    assert deferred.settle() is a  # read back once


def test_a_non_finite_step_is_skipped_on_the_device_leaving_weights_moments_and_step_count() -> None:
    model, optimizer, launch = _model_and_step(fused=True)
    launch(torch.randn(6, 4)).settle()
    weights, moments = _state(model, optimizer)
    x = torch.randn(6, 4)
    x[2, 1] = math.inf
    launched = launch(x)
    assert launched.deferred  # nothing was read back to decide the skip
    stats = launched.settle()
    assert stats.skipped and not math.isfinite(stats.loss)
    after_weights, after_moments = _state(model, optimizer)
    assert all(torch.equal(a, b) for a, b in zip(weights, after_weights, strict=True))
    assert moments.keys() == after_moments.keys() and all(torch.equal(moments[k], after_moments[k]) for k in moments)
    assert not hasattr(optimizer.optimizer, "found_inf")  # the next step is not skipped by a stale flag
    clean = launch(torch.randn(6, 4)).settle()
    assert not clean.skipped and not torch.equal(weights[0], next(model.parameters()))


def test_the_read_back_step_skips_a_non_finite_step_too() -> None:
    model, optimizer, launch = _model_and_step(fused=False)
    weights, _ = _state(model, optimizer)
    x = torch.randn(6, 4)
    x[0, 0] = math.nan
    stats = launch(x).settle()
    assert stats.skipped and all(torch.equal(a, b) for a, b in zip(weights, _state(model, optimizer)[0], strict=True))


def test_only_a_fused_optimizer_without_a_gradient_scaler_skips_on_the_device() -> None:
    from types import SimpleNamespace

    from spark_trainer.training.steps import make_optimizer, read_back_reason, skips_on_device

    params = [torch.nn.Parameter(torch.ones(2))]
    no_scaler, scaler = SimpleNamespace(scaler=None), SimpleNamespace(scaler=object())
    assert skips_on_device(make_optimizer(params, 1e-3, 0.0, "cpu"), no_scaler)
    assert not skips_on_device(make_optimizer(params, 1e-3, 0.0, "cpu"), scaler)  # fp16: the scaler decides
    assert read_back_reason(make_optimizer(params, 1e-3, 0.0, "cpu"), scaler) == \
        "fp16's gradient scaler decides which steps to skip"
    assert not skips_on_device(make_optimizer(params, 1e-3, 0.0, "cpu", sharded=True), no_scaler)
    assert not skips_on_device(torch.optim.AdamW(params, foreach=True), no_scaler)
    # A checkpoint's optimizer state from before the CPU's optimizer was fused keeps its groups' setting.
    fused = make_optimizer(params, 1e-3, 0.0, "cpu")
    fused.load_state_dict(torch.optim.AdamW(params, foreach=True).state_dict())
    assert not skips_on_device(fused, no_scaler)
