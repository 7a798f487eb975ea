"""A loss that stops being a number ends the run before any checkpoint holds NaN weights
(spark_trainer/training/divergence.py): the good checkpoints stay, and the message says where."""

from __future__ import annotations

import math

import pytest

from spark_trainer.training import steps
from spark_trainer.training.checkpoints import checkpoint_step, latest_checkpoint
from spark_trainer.training.divergence import FP16_PATIENCE, Diverged, DivergenceWatch
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporting import Commands
from tests.training.helpers import RecordingReporter, make_config


def _none() -> str | None:
    return None


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_non_finite_loss_or_gradient_norm_ends_a_bf16_or_fp32_run_at_once(precision: str) -> None:
    watch = DivergenceWatch(precision)
    watch.check(1, 2.5, 0.7, 1e-4, _none)
    with pytest.raises(Diverged, match=r"^training diverged at step 2: the loss became nan \(learning rate 0.0001\)"):
        watch.check(2, math.nan, 0.7, 1e-4, _none)
    with pytest.raises(Diverged, match=r"at step 3: the gradient norm became inf .*no checkpoint had been written yet"):
        DivergenceWatch(precision).check(3, 2.5, math.inf, 1e-4, _none)


def test_fp16_tolerates_overflowing_gradients_and_a_short_spell_of_non_finite_losses() -> None:
    watch = DivergenceWatch("fp16")
    watch.check(1, 2.5, math.inf, 1e-4, _none)  # the scaler skipped the step: how it finds its scale
    for step in range(2, 2 + FP16_PATIENCE - 1):
        watch.check(step, math.inf, math.inf, 1e-4, _none)
    watch.check(20, 2.4, 0.5, 1e-4, _none)  # the spell ended: counting starts again
    for step in range(21, 21 + FP16_PATIENCE - 1):
        watch.check(step, math.nan, None, 1e-4, _none)
    with pytest.raises(Diverged, match=rf"the loss was nan for {FP16_PATIENCE} steps in a row \(since step 21\)"):
        watch.check(21 + FP16_PATIENCE - 1, math.nan, None, 1e-4, lambda: "step-00000018")


def test_a_run_whose_loss_becomes_nan_stops_there_and_keeps_its_checkpoints(tiny_model, counting_data, tmp_path,
                                                                            monkeypatch) -> None:
    real_step, taken = steps.train_step, []

    def nan_from_step_5(**kwargs):
        stats = real_step(**kwargs)
        taken.append(stats)
        return stats if len(taken) < 5 else steps.StepStats(math.nan, math.nan, stats.loss_units, stats.work)

    monkeypatch.setattr(steps, "train_step", nan_from_step_5)
    config = make_config(tiny_model, train={"max_steps": 12}, eval={"every_steps": None},
                         checkpoint={"every_steps": 2, "keep": 2, "keep_best": False})
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged) as raised:
        run_training(config, data_path=counting_data, run_dir=run_dir, reporter=RecordingReporter(),
                     commands=Commands())
    assert len(taken) == 5  # it stopped at the step that went wrong, not at max_steps
    assert "training diverged at step 5: the loss became nan" in str(raised.value)
    assert "(the latest: step-00000004)" in str(raised.value)
    assert checkpoint_step(latest_checkpoint(run_dir)) == 4  # nothing saved from the NaN weights on
    assert not (run_dir / "final").exists()
