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


def test_one_interval_text_for_the_recipes_table_and_the_sweep_box(cli):
    """`recipes NAME` wrote '[1, ]' where the sweep box wrote '[1, inf)': one function writes both."""
    from pydantic import BaseModel, Field

    from spark_trainer.config.sweep import sweepable_fields
    from spark_trainer.recipes import describe_fields, interval_text

    class Knobs(BaseModel):
        rank: int = Field(8, ge=1, le=64)
        dropout: float = Field(0.0, ge=0, lt=1)
        clip: float = Field(1.0, gt=0)
        floor: int = Field(0, le=10)
        free: float = 0.0

    assert {f["name"]: interval_text(f) for f in describe_fields(Knobs)} == {
        "rank": "[1, 64]", "dropout": "[0, 1)", "clip": "(0, inf)", "floor": "(-inf, 10]", "free": ""}
    bounds = {f.key: f.bounds for f in sweepable_fields("causal-lm")}
    assert bounds["recipe_config.lora_dropout"] == "[0, 1)" and bounds["train.max_grad_norm"] == "(0, inf)"
    listed = {line.split()[0]: line.split() for line in cli("recipes", "causal-lm").out.splitlines() if line.strip()}
    assert "[0, 1)" in " ".join(listed["lora_dropout"]) and "(0, 4096]" in " ".join(listed["lora_alpha"])
    assert "lora | qlora | dora | full" in " ".join(listed["method"])
