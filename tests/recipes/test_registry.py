"""Recipe declarations: metric directions that the engine, checkpoints and the leaderboard read."""

from __future__ import annotations

import pytest

from spark_trainer.errors import ConfigError
from spark_trainer.leaderboard import lower_is_better
from spark_trainer.recipes.registry import get_recipe, metric_spec


def test_declared_directions_win_over_name_guesses():
    assert metric_spec("eval_loss", "causal-lm").higher_is_better is False
    assert metric_spec("tokens_per_s").higher_is_better is True
    assert lower_is_better("eval_perplexity") and not lower_is_better("eval_accuracy")


def test_early_stopping_on_a_metric_the_recipe_does_not_log_is_a_config_error():
    spec = get_recipe("causal-lm")
    assert spec.metric(None).key == "eval_loss"
    with pytest.raises(ConfigError, match="eval_accuracy.*eval_loss, eval_perplexity"):
        spec.metric("eval_accuracy")
