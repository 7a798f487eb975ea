"""Run files from before `train.seq_len` and `eval.sample_prompts` moved into the recipes that use
them still load: each old field lands where its recipe declares it now, or is dropped for a recipe
that never used it, with one note per field; the shared sections no longer offer them."""

from __future__ import annotations

import pytest

from spark_trainer.config import EvalConfig, ExperimentConfig, TrainConfig, parse_config, validate_config
from spark_trainer.errors import ConfigError
from spark_trainer.recipes import describe_fields, get_recipe, list_recipes

OLD = """\
name: old
recipe: {recipe}
base_model: m
dataset: d
train: {{max_steps: 3, seq_len: 96}}
eval: {{sample_prompts: ["Count up from 3:"]}}
"""


def _fields(recipe: str) -> set[str]:
    return {f["name"] for f in describe_fields(get_recipe(recipe).config_model)}


def test_the_shared_sections_no_longer_hold_text_only_fields():
    assert "seq_len" not in TrainConfig.model_fields and "sample_prompts" not in EvalConfig.model_fields
    assert {"seq_len", "sample_prompts"} <= _fields("causal-lm")
    assert "sample_prompts" in _fields("diffusion-lora") and "seq_len" not in _fields("diffusion-lora")
    assert "sample_texts" in _fields("text-classification")
    assert not {"seq_len", "sample_prompts"} & _fields("text-classification")
    assert not {"seq_len", "sample_prompts", "sample_texts"} & _fields("image-classification")
    for spec in list_recipes():  # every declared destination exists in the recipe's schema
        assert {new for _, new in spec.moved_fields} <= _fields(spec.name), spec.name


@pytest.mark.parametrize(("recipe", "seq_len", "prompts_at"), [
    ("causal-lm", 96, "sample_prompts"), ("diffusion-lora", None, "sample_prompts"),
    ("text-classification", None, "sample_texts"), ("image-classification", None, None)])
def test_an_old_run_file_loads_with_its_fields_moved_and_a_note_each(recipe, seq_len, prompts_at):
    config = parse_config(OLD.format(recipe=recipe), "old.yaml")
    rc = config.recipe_config
    assert rc.get("seq_len") == seq_len
    if prompts_at:
        assert rc[prompts_at] == ["Count up from 3:"]
    assert not {"seq_len", "sample_prompts", "sample_texts"} - {"seq_len", prompts_at} & set(rc)
    notes = config.upgrade_notes
    assert len(notes) == 2 and all("\n" not in n for n in notes)
    assert notes[0] == ("train.seq_len has moved to recipe_config.seq_len; read from the old place (move it there "
                        "in the run file)" if seq_len else
                        f"train.seq_len is not used by recipe {recipe}; ignored (remove it from the run file)")
    assert ("has moved to recipe_config." + prompts_at if prompts_at else "is not used by") in notes[1]
    dumped = config.model_dump(mode="json")  # what submit freezes: the current layout only
    assert "seq_len" not in dumped["train"] and "sample_prompts" not in dumped["eval"]
    assert ExperimentConfig.model_validate(dumped).upgrade_notes == []


def test_the_new_place_wins_over_the_old_one_and_a_current_file_has_no_notes():
    both = validate_config({"name": "x", "recipe": "causal-lm", "base_model": "m", "dataset": "d",
                            "train": {"seq_len": 1024}, "recipe_config": {"seq_len": 64}})
    assert both.recipe_config["seq_len"] == 64
    assert both.upgrade_notes == ["train.seq_len is ignored: recipe_config.seq_len is set, and train.seq_len has "
                                  "moved there"]
    copy = both.model_copy(deep=True)
    copy.dataset = "7"  # submit edits a copy; the notes stay with it
    assert copy.upgrade_notes == both.upgrade_notes
    current = validate_config({"name": "x", "recipe": "causal-lm", "base_model": "m", "dataset": "d",
                               "recipe_config": {"seq_len": 64}})
    assert current.upgrade_notes == []


def test_a_misspelt_old_field_is_still_an_unknown_key():
    from spark_trainer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^old.yaml line 5: train.seqlen: unknown key; allowed keys: "):
        parse_config(OLD.format(recipe="causal-lm").replace("seq_len", "seqlen"), "old.yaml")


def test_a_bad_value_at_the_old_place_is_named_there_with_its_line():
    # `train: {seq_len: 4}` said "run.yaml: recipe_config.seq_len: got 4" with no line, a key the file does
    # not have (or the line of `recipe_config:` when the file had that section).
    old = "name: old\nrecipe: causal-lm\nbase_model: m\ndataset: d\nrecipe_config:\n  lora_r: 4\ntrain:\n  max_steps: 3\n  seq_len: 4\n"
    with pytest.raises(ConfigError) as refused:
        parse_config(old, "run.yaml")
    assert str(refused.value) == ("run.yaml line 9: train.seq_len (now recipe_config.seq_len): got 4; must be at least 8")
    # Written at the new place, the new place is named, as before.
    new = "name: old\nrecipe: causal-lm\nbase_model: m\ndataset: d\nrecipe_config:\n  seq_len: 4\ntrain:\n  max_steps: 3\n"
    with pytest.raises(ConfigError, match=r"^run.yaml line 6: recipe_config.seq_len: got 4;"):
        parse_config(new, "run.yaml")
