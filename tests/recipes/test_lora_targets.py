"""recipe_config.target_modules: one reading for every recipe, and each name checked against the model."""

from __future__ import annotations

import pytest

from spark_trainer.errors import ConfigError
from spark_trainer.recipes.lora_targets import ALL_LINEAR, check, parse


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                        num_attention_heads=2, num_key_value_heads=2))


def test_the_field_reads_a_string_or_a_list() -> None:
    assert parse("all-linear") == parse(" all-linear ") == ALL_LINEAR
    assert parse("q_proj, v_proj,") == parse(["q_proj", " v_proj", ""]) == ["q_proj", "v_proj"]
    assert parse(" , ") == []


def test_a_name_that_matches_no_module_is_refused_beside_one_that_does() -> None:
    # peft needs one listed name to match: "q_proj,nope" adapted q_proj and dropped "nope", unsaid.
    model = _tiny_llama()
    check(model, ["q_proj", "v_proj"])
    check(model, ["self_attn.q_proj"])  # a name's last parts, as peft matches them
    check(model, ALL_LINEAR)
    with pytest.raises(ConfigError) as refused:
        check(model, ["q_proj", "nope"])
    assert str(refused.value) == ("recipe_config.target_modules: 'nope' names no module of the model; its layers "
                                  "are named down_proj, embed_tokens, gate_proj, k_proj, lm_head, o_proj, q_proj, "
                                  "up_proj, v_proj")
    with pytest.raises(ConfigError, match=r"'q_prj', 'attn' name no module of the model; did you mean q_proj"):
        check(model, ["q_prj", "attn"])


def test_an_index_is_part_of_a_unets_layer_name() -> None:
    import torch

    block = torch.nn.Module()
    block.to_q = torch.nn.Linear(4, 4)
    block.to_out = torch.nn.ModuleList([torch.nn.Linear(4, 4), torch.nn.Dropout()])
    check(block, ["to_q", "to_out.0"])
    with pytest.raises(ConfigError, match=r"'to_out.2' names no module of the model; did you mean to_out.0 or to_q\?"):
        check(block, ["to_out.2"])


def test_a_classifiers_misspelt_target_is_refused_where_its_lora_is_made() -> None:
    # text-classification with target_modules "query,nope" trained 2,243 parameters, as "query" alone.
    from transformers import BertConfig, BertForSequenceClassification

    from spark_trainer.recipes.classification import ClassifierTuning, adapt_classifier

    model = BertForSequenceClassification(BertConfig(vocab_size=32, hidden_size=16, num_hidden_layers=1,
                                                     num_attention_heads=2, intermediate_size=32, num_labels=3))
    with pytest.raises(ConfigError, match=r"^recipe_config.target_modules: 'nope' names no module of the model"):
        adapt_classifier(model, ClassifierTuning(target_modules="query,nope"), ["classifier"])
    adapted = adapt_classifier(model, ClassifierTuning(target_modules="query,value"), ["classifier"])
    assert sum("lora_A" in name for name, _ in adapted.named_parameters()) == 2


def test_a_name_matching_a_block_of_layers_is_refused_naming_the_layers_inside() -> None:
    # "mlp" was queued; peft failed the run at its start with "Target module LlamaMLP(" and the whole block.
    model = _tiny_llama()
    with pytest.raises(ConfigError) as refused:
        check(model, ["q_proj", "mlp"])
    assert str(refused.value) == ("recipe_config.target_modules: 'mlp' names a LlamaMLP (model.layers.0.mlp), not a "
                                  "layer LoRA adapts (Linear, Conv or Embedding); the layers inside it are named "
                                  "down_proj, gate_proj, up_proj")
    check(model, ["mlp.down_proj"])
