"""The leaderboard's pure choices (ranking against a real store is tested in tests/cli/test_ranking.py)."""

from __future__ import annotations

from spark_trainer.leaderboard import default_metric


def test_default_metric_prefers_eval_loss_then_loss_then_the_first_key() -> None:
    assert default_metric(["accuracy", "eval_loss", "loss"]) == "eval_loss"
    assert default_metric(["accuracy", "loss"]) == "loss"
    assert default_metric(["accuracy", "f1"]) == "accuracy"
    assert default_metric([]) is None
