"""Attention facts read from config.json without transformers give transformers' own answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from spark_trainer import estimate
from spark_trainer.models import attention, config_facts
from tests.models.hub_configs import BERT_BASE, CAUSAL_LMS, VIT_BASE, model_folder

# Window settings per model_type, each saved by transformers' own config class (its defaults: {}).
VARIANTS: dict[str, list[dict[str, Any]]] = {
    "mistral": [{"sliding_window": None}, {"sliding_window": 256}],
    "mixtral": [{"sliding_window": 256}],
    "phi3": [{"sliding_window": 256}],
    "starcoder2": [{"sliding_window": 256}],
    "qwen2": [{"use_sliding_window": True, "sliding_window": 256},
              {"use_sliding_window": True, "sliding_window": 256, "max_window_layers": 2, "num_hidden_layers": 4},
              {"use_sliding_window": False, "sliding_window": 256, "max_window_layers": 2},
              {"use_sliding_window": True, "sliding_window": 256, "num_hidden_layers": 2,
               "layer_types": ["full_attention", "sliding_attention"]}],
    "qwen3": [{"use_sliding_window": True, "sliding_window": 512, "max_window_layers": 4, "num_hidden_layers": 6},
              {"use_sliding_window": True, "sliding_window": 512, "max_window_layers": 4, "num_hidden_layers": 5},
              {"use_sliding_window": True, "sliding_window": 512, "max_window_layers": 4, "num_hidden_layers": 4}],
    "qwen2_moe": [{"use_sliding_window": True, "sliding_window": 256, "max_window_layers": 3},
                  {"use_sliding_window": True, "sliding_window": 256, "max_window_layers": 1, "num_hidden_layers": 2},
                  {"use_sliding_window": True, "sliding_window": 256, "max_window_layers": 0}],
    "qwen3_moe": [{"use_sliding_window": True, "sliding_window": 256}],
    "gemma2": [{"sliding_window": 64}, {"num_hidden_layers": 2, "layer_types": ["full_attention"] * 2}],
    "gemma3_text": [{"sliding_window": 512}, {"sliding_window": 512, "use_bidirectional_attention": True},
                    {"num_hidden_layers": 2, "layer_types": ["full_attention"] * 2}],
    "cohere2": [{"sliding_window": 128}, {"num_hidden_layers": 3, "sliding_window_pattern": 1}],
}


def _tiny_configs(tmp_path: Path) -> list[Path]:
    """Every model_type config_facts knows, saved by transformers with its defaults and each variant;
    and each again without the layer_types it saved, as older files are (each class derives them)."""
    from transformers import CONFIG_MAPPING

    folders = []
    for model_type in config_facts.CLASSES:
        for i, settings in enumerate([{}, *VARIANTS.get(model_type, [])]):
            folder = tmp_path / f"{model_type}-{i}"
            CONFIG_MAPPING[model_type](**settings).save_pretrained(folder)
            folders.append(folder)
            saved = json.loads((folder / "config.json").read_text())
            if "layer_types" in saved and "layer_types" not in settings:
                del saved["layer_types"]
                folders.append(model_folder(tmp_path, f"{folder.name}-derived", saved))
    return folders


def _written(tmp_path: Path) -> list[Path]:
    """Hand-written files, as the app's tests and users have them: the Hub's, trimmed ones that leave
    the class defaults to transformers, and a window a Llama does not read but window_of does."""
    written = {**CAUSAL_LMS,
               "tiny-llama": {"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                              "num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100},
               "llama-with-window": {"model_type": "llama", "sliding_window": 1024},
               "qwen2.5-windowed": {**CAUSAL_LMS["qwen2.5-0.5b"], "use_sliding_window": True,
                                    "sliding_window": 4096, "max_window_layers": 21},
               "gemma-3-listed": {**CAUSAL_LMS["gemma-3-1b"], "num_hidden_layers": 3,
                                  "layer_types": ["full_attention", "sliding_attention", "full_attention"]},
               "gemma-2-bare": {"model_type": "gemma2", "num_hidden_layers": 3},
               "mistral-bare": {"model_type": "mistral"}}
    return [model_folder(tmp_path, name, config) for name, config in written.items()]


def test_every_architecture_it_reads_gets_the_facts_transformers_gives(tmp_path):
    folders = _tiny_configs(tmp_path / "saved") + _written(tmp_path / "written")
    answers = {folder.name: config_facts.read_facts(folder) for folder in folders}
    assert [name for name, found in answers.items() if found is None] == []  # every one read without transformers
    assert {folder.name: attention.facts(folder) for folder in folders} == answers
    # The cases differ where they should (not one answer for all).
    assert len({(f.sdpa, f.flex, f.interface) for f in answers.values()}) >= 4
    assert {f.window for f in answers.values()} >= {None, 64, 128, 256, 257, 512, 1024, 4096}


@pytest.mark.parametrize("config", [
    {"model_type": "fnet", "hidden_size": 64},  # not a causal LM this module lists
    {"hidden_size": 64, "num_hidden_layers": 2},  # no model_type: transformers guesses from the folder name
    {"model_type": "gemma3", "text_config": {"model_type": "gemma3_text"}},  # nested: its text config decides
    {"model_type": "llama", "auto_map": {"AutoConfig": "configuration_x.XConfig"}},  # remote code
    {"model_type": "gemma2", "num_hidden_layers": 2, "layer_types": ["sliding", "full"]},  # legacy names
    {"model_type": "gemma2", "num_hidden_layers": 1, "layer_types": [{"kind": "full_attention"}]},
    {"model_type": "bloom", "hidden_size": 64, "n_head": 3},  # heads that do not divide: transformers refuses
    {"model_type": "mistral", "sliding_window": "4096"},
])
def test_what_it_cannot_vouch_for_is_left_to_transformers(tmp_path, config):
    assert config_facts.read_facts(model_folder(tmp_path, "m", config)) is None


def test_an_unreadable_config_fails_as_transformers_does(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    with pytest.raises(OSError):
        config_facts.read_facts(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ValueError):
        config_facts.read_facts(folder)


RUNS = [{"recipe": "causal-lm", "train": {"batch_size": 2}, "recipe_config": {"seq_len": seq_len, "attention": attn}}
        for seq_len in (128, 8192) for attn in ("auto", "sdpa", "flex", "varlen")]
RUNS += [{"recipe": "causal-lm", "train": {"batch_size": 4, "gradient_checkpointing": True, "precision": "fp32",
                                           "compile": False},
          "recipe_config": {"seq_len": 1024, "method": "full"}}]


def test_the_estimates_equal_those_made_through_transformers(tmp_path, monkeypatch):
    """The whole estimate (attention scores included, where a class without sdpa or a window makes
    training eager) for the Hub's files and every saved tiny config, new path against old."""
    folders = _tiny_configs(tmp_path / "saved") + _written(tmp_path / "written")
    cases = [(run, folder) for run in RUNS for folder in folders]
    cases += [({"recipe": "text-classification", "recipe_config": {}}, model_folder(tmp_path, "bert", BERT_BASE)),
              ({"recipe": "image-classification", "recipe_config": {}}, model_folder(tmp_path, "vit", VIT_BASE))]
    new = [_estimate(run, folder) for run, folder in cases]
    monkeypatch.setattr(config_facts, "read_facts", lambda _folder: None)  # every answer from transformers
    old = [_estimate(run, folder) for run, folder in cases]
    assert new == old
    made = [e for e in new if isinstance(e, estimate.MemoryEstimate)]
    assert len(made) > len(new) * 0.9  # the trimmed files that give no sizes at all are refused
    assert all(isinstance(e, estimate.MemoryEstimate) for e, (_, folder) in zip(new, cases, strict=True)
               if folder.name.startswith("mpt"))  # MPT's own names (n_layers, n_heads) are read
    assert any("attention scores" in e.parts for e in made) and any("attention scores" not in e.parts for e in made)


def _estimate(run: dict[str, Any], folder: Path) -> estimate.MemoryEstimate | str:
    try:
        return estimate.estimate_for_config(run, folder)
    except estimate.BadInput as exc:
        return str(exc)


def test_a_missing_config_json_still_says_so(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    with pytest.raises(estimate.BadInput, match="config.json"):
        estimate.estimate_for_config(RUNS[0], folder)
