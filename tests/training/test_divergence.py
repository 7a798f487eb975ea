"""Steps whose loss or gradients are not numbers (spark_trainer/training/divergence.py): each is
skipped (weights and optimizer state untouched) and the run goes on; a spell longer than
`train.max_skipped_steps` ends it, keeping the checkpoints written before; NaN weights never reach a
checkpoint. Real steps on the tiny model; the bad gradients come from tests/training/nonfinite.py."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint, list_checkpoints
from spark_trainer.training.divergence import (
    FP16_PATIENCE,
    SKIP_EVENTS,
    SKIP_LOG_EVERY,
    Diverged,
    DivergenceWatch,
)
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, StopAtStep, make_config
from tests.training.nonfinite import NonFiniteLoss
from tests.training.test_engine import train


def _none() -> str | None:
    return None


def check(watch: DivergenceWatch, *args, **kwargs) -> str | None:
    """What the engine does with a step's verdict: raise the Diverged that ends the run, else the note."""
    verdict = watch.judge(*args, **kwargs)
    if verdict.diverged is not None:
        raise verdict.diverged
    return verdict.note


def test_skipped_steps_are_counted_and_more_in_a_row_than_allowed_end_the_run() -> None:
    watch = DivergenceWatch("bf16", max_skipped=2)
    assert check(watch, 1, 2.5, 0.7, 1e-4, _none) is None
    note = check(watch, 2, math.inf, math.nan, 1e-4, _none, skipped=True)
    assert note == ("step 2 skipped: the loss became inf; the weights and optimizer state are unchanged and "
                    "training goes on (1 in a row of at most 2; 1 in this run)")
    assert check(watch, 3, 2.4, 0.6, 1e-4, _none) is None  # the spell ended
    check(watch, 4, 2.4, math.inf, 1e-4, _none, skipped=True)
    assert "(2 in a row of at most 2; 3 in this run)" in check(watch, 5, 2.4, math.nan, 1e-4, _none, skipped=True)
    assert watch.state() == {"skipped_steps": 3, "non_finite_since": 4}
    resumed = DivergenceWatch("bf16", max_skipped=2)
    resumed.restore(watch.state())
    with pytest.raises(Diverged, match=r"^training diverged at step 6: the gradient norm became inf \(learning "
                       r"rate 0.0001, 3 steps in a row since step 4; train.max_skipped_steps is 2\); the step was "
                       r"skipped \(the weights are those of step 3\).*the latest: step-00000004"):
        check(resumed, 6, 2.4, math.inf, 1e-4, lambda: "step-00000004", skipped=True)
    assert resumed.summary(6) == "4 of 6 steps skipped (loss or gradients not finite)"
    assert DivergenceWatch("bf16").summary(6) is None
    with pytest.raises(Diverged, match=r"the step was skipped \(the weights are the starting weights\)"):
        check(DivergenceWatch("bf16", max_skipped=0), 1, math.nan, None, 1e-4, _none, skipped=True)


def test_only_the_first_skipped_steps_are_run_events_then_every_hundredth_a_log_line() -> None:
    # 100k skipped steps wrote 100k log lines (25 MB); now 50 events, then one log line per 100 skips.
    watch = DivergenceWatch("fp32", max_skipped=1)
    routes = []
    for step in range(2, 2 * 1000 + 1, 2):
        note = check(watch, step, math.nan, math.nan, 1e-4, _none, skipped=True)
        routes.append(watch.skip_route)
        if watch.skipped == SKIP_EVENTS:
            assert note.endswith(f"; of later ones every {SKIP_LOG_EVERY}th is a log line, all are in the "
                                 "skipped_steps metric and the count at the run's end")
        assert check(watch, step + 1, 2.0, 0.5, 1e-4, _none) is None
    assert routes[:SKIP_EVENTS] == ["event"] * SKIP_EVENTS
    assert [i + 1 for i, r in enumerate(routes) if r == "log"] == list(range(100, 1001, 100))
    assert routes.count(None) == 1000 - SKIP_EVENTS - 10
    assert watch.summary(2000) == "1000 of 2000 steps skipped (loss or gradients not finite)"


def test_the_checkpoint_weight_check_names_non_finite_tensors_and_never_raises() -> None:
    from spark_trainer.training.side_work import _non_finite

    huge = torch.full((4,), 3e38, dtype=torch.float32)  # finite, but its norm overflows: looked at exactly
    weights = {"a": torch.randn(8, dtype=torch.bfloat16), "b": torch.tensor([1.0, math.inf]).bfloat16(),
               "c": torch.tensor([math.nan, 1.0]), "huge": huge, "ids": torch.arange(3)}
    if hasattr(torch, "float8_e4m3fn"):  # no CPU norm for float8: read through float32, never an exception
        weights["f8"] = torch.tensor([1.0, math.nan]).to(torch.float8_e4m3fn)
        weights["f8_ok"] = torch.ones(3).to(torch.float8_e4m3fn)
    assert _non_finite(weights) == ["b", "c"] + (["f8"] if "f8" in weights else [])


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_with_max_skipped_steps_0_the_first_non_finite_step_ends_the_run(precision: str) -> None:
    watch = DivergenceWatch(precision, max_skipped=0)
    check(watch, 1, 2.5, 0.7, 1e-4, _none)
    with pytest.raises(Diverged, match=r"^training diverged at step 2: the loss became nan \(learning rate 0.0001; "
                       r"train.max_skipped_steps is 0\).*no checkpoint had been written yet"):
        check(watch, 2, math.nan, 0.7, 1e-4, _none, skipped=True)
    # A step applied although its numbers are not finite (not one train_step let through): weights untrustworthy.
    with pytest.raises(Diverged, match=r"at step 3: the gradient norm became inf .*can no longer be trusted"):
        check(DivergenceWatch(precision, max_skipped=5), 3, 2.5, math.inf, 1e-4, _none)


def test_fp16_tolerates_overflowing_gradients_and_a_short_spell_of_non_finite_losses() -> None:
    watch = DivergenceWatch("fp16", max_skipped=0)  # the scaler's skips are its own: never counted
    check(watch, 1, 2.5, math.inf, 1e-4, _none)  # the scaler skipped the step: how it finds its scale
    for step in range(2, 2 + FP16_PATIENCE - 1):
        check(watch, step, math.inf, math.inf, 1e-4, _none)
    check(watch, 20, 2.4, 0.5, 1e-4, _none)  # the spell ended: counting starts again
    for step in range(21, 21 + FP16_PATIENCE - 1):
        check(watch, step, math.nan, None, 1e-4, _none)
    with pytest.raises(Diverged, match=rf"the loss was nan for {FP16_PATIENCE} steps in a row \(since step 21\)"):
        check(watch, 21 + FP16_PATIENCE - 1, math.nan, None, 1e-4, lambda: "step-00000018")
    assert watch.skipped == 0


def _weights(run_dir: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "checkpoints" / f"step-{step:08d}" / "trainable.safetensors"))


def _optimizer(run_dir: Path, step: int) -> dict:
    return torch.load(run_dir / "checkpoints" / f"step-{step:08d}" / "optimizer.pt", weights_only=False)["state"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        _same(a[k], b[k]) if isinstance(a[k], dict) else torch.equal(a[k], b[k]) for k in a)


def test_a_step_with_non_finite_gradients_is_skipped_and_the_run_goes_on(tiny_model, counting_data, tmp_path,
                                                                        monkeypatch) -> None:
    config = make_config(tiny_model, train={"max_steps": 6, "warmup_steps": 2},
                         checkpoint={"every_steps": 1, "keep": 10, "keep_best": False})
    _, clean = train(config, counting_data, tmp_path / "clean")
    NonFiniteLoss(monkeypatch, at={3})
    run_dir = tmp_path / "run"
    outcome, rep = train(config, counting_data, run_dir)

    assert outcome.status == "completed" and outcome.step == 6 and outcome.final_path is not None
    assert _same(_weights(run_dir, 3), _weights(run_dir, 2))  # the skipped step changed no weight...
    assert _same(_optimizer(run_dir, 3), _optimizer(run_dir, 2))  # ...nor AdamW's moments or step count
    assert not _same(_weights(run_dir, 4), _weights(run_dir, 3))  # and training went on
    assert all(torch.isfinite(w).all() for w in _weights(run_dir, 6).values())
    assert "loss" not in rep.metrics[3] and "grad_norm" not in rep.metrics[3]  # an inf would flatten the charts
    assert rep.series("skipped_steps") == {3: 1}
    assert [e for e in rep.events if "skipped" in e] == [
        "step 3 skipped: the loss became inf; the weights and optimizer state are unchanged and training goes on "
        "(1 in a row of at most 5; 1 in this run)",
        "1 of 6 steps skipped (loss or gradients not finite)"]  # at the run's end
    assert rep.series("lr") == clean.series("lr")  # the schedule follows the step counter, skip or not
    assert rep.series("loss")[2] == clean.series("loss")[2]


def test_more_skipped_steps_in_a_row_than_allowed_fail_the_run_and_keep_its_checkpoints(
        tiny_model, counting_data, tmp_path, monkeypatch) -> None:
    NonFiniteLoss(monkeypatch, at={2, 5, 6, 7})  # step 2 alone is forgiven; 5-7 are a spell of 3
    config = make_config(tiny_model, train={"max_steps": 12, "max_skipped_steps": 2},
                         checkpoint={"every_steps": 2, "keep": 2, "keep_best": False})
    run_dir = tmp_path / "run"
    reporter = RecordingReporter()
    with pytest.raises(Diverged) as raised:
        from spark_trainer.training.engine import run_training

        run_training(config, data_path=counting_data, run_dir=run_dir, reporter=reporter, commands=Commands())
    message = str(raised.value)
    assert message.startswith("training diverged at step 7: the loss became inf (learning rate "), message
    assert message.split(", ", 1)[1].startswith(
        "3 steps in a row since step 5; train.max_skipped_steps is 2); the step was skipped (the weights are those "
        "of step 4) and nothing more was saved; the checkpoints written before it are kept (the latest: "
        "step-00000006)"), message
    assert [checkpoint_step(p) for p in list_checkpoints(run_dir)] == [4, 6]
    assert _same(_weights(run_dir, 6), _weights(run_dir, 4))  # saved at a skipped step: step 4's weights
    assert reporter.series("skipped_steps") == {2: 1, 5: 2, 6: 3, 7: 4}
    assert reporter.events[-1] == "4 of 7 steps skipped (loss or gradients not finite)"  # a failed run's too
    assert not (run_dir / "final").exists()


def test_with_max_skipped_steps_0_the_first_bad_step_fails_the_run_as_before(tiny_model, counting_data, tmp_path,
                                                                            monkeypatch) -> None:
    NonFiniteLoss(monkeypatch, at={5})
    config = make_config(tiny_model, train={"max_steps": 12, "max_skipped_steps": 0},
                         checkpoint={"every_steps": 2, "keep": 2, "keep_best": False})
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged, match=r"^training diverged at step 5: the loss became inf .*the latest: step-00000004"):
        train(config, counting_data, run_dir)
    assert checkpoint_step(latest_checkpoint(run_dir)) == 4
    assert not (run_dir / "final").exists()


def test_nan_weights_never_reach_a_checkpoint_nor_rotate_a_good_one_out(tiny_model, counting_data, tmp_path,
                                                                       monkeypatch) -> None:
    """Weights gone bad by a path the step's check does not see (here: set to NaN before step 5's
    forward; every later step is then skipped) are refused at the next checkpoint."""
    NonFiniteLoss(monkeypatch, at={5}, poison_weights=True)
    config = make_config(tiny_model, train={"max_steps": 12, "max_skipped_steps": 10},
                         checkpoint={"every_steps": 2, "keep": 1, "keep_best": False})
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged, match=r"^training diverged by step 6: the weights are not finite \(.*lora_A.*\), so "
                       r"the checkpoint of step 6 was not written; the checkpoints written before it are kept "
                       r"\(the latest: step-00000004\)"):
        train(config, counting_data, run_dir)
    assert [checkpoint_step(p) for p in list_checkpoints(run_dir)] == [4]
    assert all(torch.isfinite(w).all() for w in _weights(run_dir, 4).values())
    assert not list((run_dir / "checkpoints").glob(".staging-*"))


def _train_stopping(config, data: Path, run_dir: Path, stop_at: int):
    commands = StopAtStep(stop_at)  # also at a skipped step, which reports no loss
    reporter = RecordingReporter(commands)
    from spark_trainer.training.engine import run_training

    return run_training(config, data_path=data, run_dir=run_dir, reporter=reporter, commands=commands), reporter


@pytest.mark.parametrize("stop_at", [3, 4])  # at the skipped step, and after it
def test_a_run_stopped_and_resumed_across_a_skipped_step_matches_an_uninterrupted_one(
        tiny_model, counting_data, tmp_path, monkeypatch, stop_at) -> None:
    # Dropout on the LoRA path consumes random numbers, so RNG state must be restored too.
    config = make_config(tiny_model, train={"max_steps": 8}, recipe_config={"lora_dropout": 0.1,
                                                                           "target_modules": "all-linear"})
    NonFiniteLoss(monkeypatch, at={3})
    _, straight = train(config, counting_data, tmp_path / "straight")
    assert straight.series("skipped_steps") == {3: 1}

    NonFiniteLoss(monkeypatch, at={3})
    stopped, first = _train_stopping(config, counting_data, tmp_path / "resumed", stop_at)
    assert stopped.status == "stopped" and stopped.step == stop_at
    NonFiniteLoss(monkeypatch, at={3}, first_step=stop_at + 1)
    resumed, second = train(config, counting_data, tmp_path / "resumed", resume_from=stopped.last_checkpoint)

    assert resumed.status == "completed" and resumed.step == 8
    after = second.series("loss")
    assert list(after) == list(range(stop_at + 1, 9))
    assert after == {s: straight.series("loss")[s] for s in after}  # exact float equality
    assert _same(_weights(tmp_path / "resumed", 8), _weights(tmp_path / "straight", 8))


def test_a_spell_of_skipped_steps_goes_on_counting_across_a_resume(tiny_model, counting_data, tmp_path,
                                                                  monkeypatch) -> None:
    config = make_config(tiny_model, train={"max_steps": 8, "max_skipped_steps": 1})
    NonFiniteLoss(monkeypatch, at={3, 4})
    with pytest.raises(Diverged, match="at step 4: .*2 steps in a row since step 3"):
        train(config, counting_data, tmp_path / "straight")

    NonFiniteLoss(monkeypatch, at={3, 4})
    stopped, _ = _train_stopping(config, counting_data, tmp_path / "resumed", stop_at=3)
    assert stopped.status == "stopped"
    NonFiniteLoss(monkeypatch, at={3, 4}, first_step=4)
    with pytest.raises(Diverged, match="at step 4: .*2 steps in a row since step 3"):
        train(config, counting_data, tmp_path / "resumed", resume_from=stopped.last_checkpoint)


def test_fp16_leaves_overflowing_steps_to_its_gradient_scaler(tiny_model, counting_data, tmp_path,
                                                             monkeypatch) -> None:
    """The scaler must see the overflow to lower its scale; those skips are not counted as failures."""
    NonFiniteLoss(monkeypatch, at={2})
    config = make_config(tiny_model, train={"max_steps": 4, "precision": "fp16", "max_skipped_steps": 0})
    outcome, rep = train(config, counting_data, tmp_path / "run")
    assert outcome.status == "completed"
    assert rep.series("skipped_steps") == {} and not [e for e in rep.events if "skipped" in e]


@pytest.mark.slow  # dynamo traces the model: ~1-2 min on this loaded 2-core machine
def test_a_compiled_run_skips_a_bad_step_and_goes_on(tiny_model, counting_data, tmp_path, monkeypatch) -> None:
    """The decision is taken outside the compiled model (on the norm clip_grad_norm_ returns), so a
    skipped step neither recompiles nor falls back to eager."""
    monkeypatch.setenv("SPARK_TRAINER_COMPILE_BACKEND", "eager")
    NonFiniteLoss(monkeypatch, at={2})
    config = make_config(tiny_model, train={"max_steps": 4, "compile": True},
                         checkpoint={"every_steps": 1, "keep": 10, "keep_best": False})
    run_dir = tmp_path / "run"
    outcome, rep = train(config, counting_data, run_dir)
    assert outcome.status == "completed" and any("torch.compile on (eager, " in line for line in rep.logs)
    assert not [e for e in rep.events if "torch.compile failed" in e]
    assert rep.series("skipped_steps") == {2: 1} and list(rep.series("loss")) == [1, 3, 4]
    assert _same(_weights(run_dir, 2), _weights(run_dir, 1))


def _batchnorm_step(x: torch.Tensor, fused: bool = False):
    """One real train_step of Linear -> BatchNorm1d -> Linear on batch `x` (fp32, CPU accelerator);
    `fused`: a fused AdamW, whose step skips on the device and is read back later (steps.launch_step)."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    from spark_trainer.training import steps

    AcceleratorState._reset_state(reset_partial_state=True)
    torch.manual_seed(0)
    acc = Accelerator(cpu=True)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))
    model, optimizer = acc.prepare(model, torch.optim.AdamW(model.parameters(), lr=1e-3, fused=fused))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)

    def loss(m, batch):
        return ((m(batch["x"]).squeeze(-1) - batch["y"]) ** 2).sum(), None

    stats = steps.train_step(model=model, optimizer=optimizer, scheduler=scheduler, accelerator=acc, loss_fn=loss,
                             loss_count=lambda b: len(b["y"]), micro_batches=[{"x": x, "y": torch.zeros(len(x))}],
                             work=len(x), params=list(model.parameters()), max_grad_norm=None)
    return stats, model


@pytest.mark.parametrize("fused", [False, True])
def test_a_skipped_step_that_left_batchnorm_statistics_not_finite_ends_the_run(fused: bool) -> None:
    # The forward (training mode) updates BatchNorm's running statistics before the step is judged: one
    # inf in the batch leaves running_mean/var NaN although the step is skipped, and evaluation and the
    # final model would then be NaN (checkpoints hold only the trainable weights).
    x = torch.randn(8, 4)
    x[3, 1] = math.inf
    stats, model = _batchnorm_step(x, fused)
    assert stats.skipped and not torch.isfinite(model[1].running_mean).all()
    assert stats.bad_buffers == {"1.running_mean": "BatchNorm1d", "1.running_var": "BatchNorm1d"}
    with pytest.raises(Diverged, match=r"^training diverged at step 3: the step was skipped, but its forward pass "
                       r"had already made these statistics not finite: 1.running_mean, 1.running_var \(layer "
                       r"BatchNorm1d\), .*the latest: step-00000002"):
        watch = DivergenceWatch("fp32", max_skipped=5)
        check(watch, 3, stats.loss, stats.grad_norm, 1e-3, lambda: "step-00000002", skipped=True,
                    bad_buffers=stats.bad_buffers)
    # Counted like any skipped step: the run's end line agreed with its skipped_steps metric (1), not 0.
    assert watch.summary(3) == "1 of 3 steps skipped (loss or gradients not finite)"
    clean, _ = _batchnorm_step(torch.randn(8, 4), fused)
    assert not clean.skipped and clean.bad_buffers == {}


def _resnet_run(tmp_path: Path, monkeypatch, train_section: dict):
    """The image-classification recipe on a tiny ResNet (BatchNorm2d throughout), one inf pixel at step 3;
    returns the run file and data, and trains it with `train()`."""
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    from spark_trainer.recipes.image_classification_impl import ImageClassificationRecipe
    from tests.recipes.helpers import make_image_folders
    from tests.recipes.test_image_classification import config, manifest, train

    base = tmp_path / "tiny-resnet"
    torch.manual_seed(0)
    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                              num_labels=3)).save_pretrained(base)
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(base)
    data = manifest(make_image_folders(tmp_path / "shapes", per_class=8))
    real, forwards = ImageClassificationRecipe.loss, []

    def loss(recipe, model, batch):
        if torch.is_grad_enabled():
            forwards.append(1)
            if len(forwards) == 3:
                batch = {**batch, "pixel_values": batch["pixel_values"].clone()}
                batch["pixel_values"][0, 0, 0, 0] = math.inf
        return real(recipe, model, batch)

    monkeypatch.setattr(ImageClassificationRecipe, "loss", loss)
    cfg = config(base, train={"max_steps": 5, "max_skipped_steps": 5, **train_section}, eval={"every_steps": None},
                 checkpoint={"every_steps": 1, "keep": 5}, recipe_config={"method": "full", "num_workers": 0})
    return train(cfg, data, tmp_path / "run")


def test_a_resnet_whose_skipped_step_poisoned_its_batchnorm_fails_without_a_nan_final_model(tmp_path,
                                                                                           monkeypatch) -> None:
    # One inf pixel at step 3 is skipped, but the forward already made the running statistics NaN.
    # Before, the run went on and "completed" with a final model whose evaluation is NaN.
    with pytest.raises(Diverged, match=r"^training diverged at step 3: the step was skipped, but its forward pass "
                       r"had already made these statistics not finite: .*running_mean.* \(layer BatchNorm2d\)"
                       r".*the latest: step-00000002"):
        _resnet_run(tmp_path, monkeypatch, {})
    assert [checkpoint_step(c) for c in list_checkpoints(tmp_path / "run")] == [1, 2]
    assert not (tmp_path / "run" / "final").exists()


def test_fp16_never_saves_a_final_model_whose_batchnorm_statistics_are_not_finite(tmp_path, monkeypatch) -> None:
    # With fp16 the gradient scaler skips the overflowing step itself (not counted, not checked), the
    # loss is finite again at step 4 (training mode normalises by the batch), and the run reaches its end
    # with NaN running statistics: the final save refuses them.
    with pytest.raises(Diverged, match=r"^training diverged: the model's statistics are not finite at the end "
                       r"\(.*running_mean.*\), so the final model was not saved; .*the latest: step-00000005"):
        _resnet_run(tmp_path, monkeypatch, {"precision": "fp16"})
    assert not (tmp_path / "run" / "final").exists()
