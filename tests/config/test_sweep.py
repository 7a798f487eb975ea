"""Sweep values are parsed like --set and every combination is checked; nothing here trains."""

from __future__ import annotations

import pytest

from spark_trainer.config.sweep import (
    MAX_RUNS,
    combinations,
    make_axis,
    parse_axis,
    run_count,
    sweep_configs,
    sweepable_fields,
)
from spark_trainer.errors import ConfigError

RUN_FILE = {"project": "p", "name": "e", "recipe": "causal-lm", "base_model": "m", "dataset": "d.jsonl",
            "train": {"max_steps": 10, "learning_rate": 2e-4}, "recipe_config": {"method": "lora"}}


def test_the_cross_product_of_two_settings_each_validated() -> None:
    axes = [parse_axis("train.learning_rate=1e-4,3e-4"), parse_axis("recipe_config.lora_r=4,8,16")]
    assert run_count(axes) == 6
    made = sweep_configs(RUN_FILE, axes)
    assert [values for values, _ in made] == combinations(axes)
    assert made[0][0] == {"train.learning_rate": 1e-4, "recipe_config.lora_r": 4}
    assert [(c.train.learning_rate, c.recipe_config["lora_r"]) for _, c in made] == [
        (1e-4, 4), (1e-4, 8), (1e-4, 16), (3e-4, 4), (3e-4, 8), (3e-4, 16)]
    # The run file's other settings are kept, and the mapping given is not changed.
    assert all(c.train.max_steps == 10 and c.recipe_config["method"] == "lora" for _, c in made)
    assert RUN_FILE["train"]["learning_rate"] == 2e-4


@pytest.mark.parametrize(("specs", "message"), [
    (["train.learning_rate=1e-3,-1"], "sweep train.learning_rate=-1: must be greater than 0"),
    (["recipe_config.method=lora,bogus"], "sweep recipe_config.method=bogus: must be one of"),
    (["train.learnin_rate=1,2"], "sweep train.learnin_rate=1: unknown key (did you mean 'learning_rate'?); allowed keys: auto_batch"),
    (["train.sharding=none,fsdp"], "sweep train.sharding=fsdp: fsdp is for full fine-tuning"),
    (["train.seed=1,2", "train.seed=3,4"], "sweep train.seed: swept twice"),
    (["train.seed=1,2,3,4,5,6,7,8,9", "train.batch_size=1,2,3,4,5,6,7,8"],
     f"sweep: 9 x 8 values make 72 runs; a sweep queues at most {MAX_RUNS}"),
])
def test_a_bad_value_is_named_in_one_line(specs: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        sweep_configs(RUN_FILE, [parse_axis(s) for s in specs])
    assert message in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(("spec", "message"), [
    ("name=a,b", "sweep name: only settings under train.*, recipe_config.*, eval.*, checkpoint.* can be swept"),
    ("train.seed=1", "sweep train.seed: give two or more values"),
    ("train.seed=1,1.0", "sweep train.seed: the value 1.0 is given twice"),
    ("train.seed=1,,2", "sweep train.seed: an empty value"),
    ("train.seed", "--sweep 'train.seed': expected KEY=V1,V2,..."),
])
def test_malformed_sweeps_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("*", r"\*").replace(".", r"\.")):
        parse_axis(spec)


def test_a_setting_given_with_set_cannot_be_swept_too() -> None:
    with pytest.raises(ConfigError, match="also given with --set"):
        sweep_configs(RUN_FILE, [parse_axis("train.seed=1,2")], fixed=["train.seed"])


def test_values_parse_as_set_does() -> None:
    axis = make_axis("train.gradient_checkpointing", ["true", " false "])
    assert axis.values == (True, False) and axis.texts == ("true", "false")
    assert parse_axis("train.learning_rate=1e-4,2E-4").values == (1e-4, 2e-4)  # numbers, not YAML 1.1 text


def test_sweepable_fields_come_from_the_recipe_schema() -> None:
    fields = {f.key: f for f in sweepable_fields("text-classification")}
    assert fields["train.learning_rate"].kind == "float" and fields["train.learning_rate"].bounds == "(0, 1.0]"
    assert fields["recipe_config.class_weights"].choices == ("none", "balanced")
    assert fields["checkpoint.keep_best"].kind == "bool"
    assert "recipe_config.text_column" not in fields  # text columns are not swept from the form
    assert "train.early_stopping_metric" not in fields
