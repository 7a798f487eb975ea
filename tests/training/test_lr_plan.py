"""The LR plan of an extended run across its joins."""

from __future__ import annotations

import pytest

from spark_trainer.training.lr_plan import lr_multiplier, plan_extension


def test_an_early_stopped_extension_extended_again_rewarms_from_where_it_stopped() -> None:
    """8 steps, extended to 12, stopped early at 10, extended by 6: steps 11-12 followed the stopped
    extension's segment (decaying to 0 at 12) instead of the new one's re-warm, then the LR jumped back up."""
    train = {"max_steps": 8, "warmup_steps": 1, "lr_scheduler": "cosine"}
    first = plan_extension(train, 8, 4)
    again = plan_extension(train, 10, 6, first)
    assert [(s.start, s.end) for s in again.segments] == [(0, 8), (8, 12), (10, 16)]
    for step in range(11):  # every step trained keeps its LR
        assert lr_multiplier(step, again) == pytest.approx(lr_multiplier(step, first))
    new = again.segments[-1]
    assert lr_multiplier(10, again) == pytest.approx(new.start_factor)
    assert lr_multiplier(11, again) == pytest.approx(new.peak_factor)  # re-warmed over its one step
    after = [lr_multiplier(step, again) for step in range(11, 17)]
    assert after == sorted(after, reverse=True) and after[-1] == pytest.approx(0.0)  # then decays, no jump
