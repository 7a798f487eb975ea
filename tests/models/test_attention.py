"""What a causal LM's config says about its attention: sliding windows and the kernels its class has."""

from __future__ import annotations

import pytest

from spark_trainer.models import attention


def _save(config, path):
    config.save_pretrained(path)
    return path


def test_the_smallest_window_of_any_sliding_or_chunked_layer():
    from transformers import Gemma3TextConfig, Llama4TextConfig, LlamaConfig, MistralConfig, Qwen2Config

    assert attention.window_of(MistralConfig(sliding_window=4096)) == 4096  # no layer_types: every layer slides
    assert attention.window_of(MistralConfig(sliding_window=None)) is None
    assert attention.window_of(Gemma3TextConfig(sliding_window=512)) == 512
    assert attention.window_of(Gemma3TextConfig(sliding_window=512, layer_types=["full_attention"] * 2,
                                                num_hidden_layers=2)) is None
    assert attention.window_of(Qwen2Config(sliding_window=4096, use_sliding_window=False)) is None
    assert attention.window_of(LlamaConfig()) is None
    assert attention.window_of(Llama4TextConfig(attention_chunk_size=8192)) == 8192


def test_facts_name_the_kernels_a_class_lacks(tmp_path):
    from transformers import BloomConfig, Gemma2Config, LlamaConfig, MistralConfig

    bloom = attention.facts(_save(BloomConfig(n_layer=1, hidden_size=32, n_head=2), tmp_path / "bloom"))
    assert not (bloom.sdpa or bloom.flex or bloom.interface) and bloom.window is None
    gemma2 = attention.facts(_save(Gemma2Config(sliding_window=64), tmp_path / "gemma2"))
    assert not gemma2.sdpa and gemma2.flex and gemma2.interface and gemma2.window == 64
    llama = attention.facts(_save(LlamaConfig(), tmp_path / "llama"))
    assert llama.sdpa and llama.flex and llama.interface and llama.window is None
    mistral = attention.facts(_save(MistralConfig(sliding_window=256), tmp_path / "mistral"))
    assert mistral.window_matters(257) and not mistral.window_matters(256)  # an example of 256 fits the window
    assert attention.for_inference(tmp_path / "gemma2") == "eager"
    assert attention.for_inference(tmp_path / "llama") == "sdpa"


@pytest.mark.parametrize("kind", ["mistral", "gemma3", "gemma2"])
def test_model_built_masks_keep_packed_examples_apart_within_their_windows(kind):
    """With no mask the model builds one per kind of layer, its sliding window included, and keeps
    packed examples apart by their position ids: a packed row's loss equals its examples' losses
    computed alone, which our single block-diagonal mask for every layer does not."""
    import torch

    from spark_trainer.recipes.causal_lm_model import examples_stay_apart, packed_loss
    from spark_trainer.training.packing import collate, pack
    from tests.training.test_packing import _examples

    model = _windowed_model(kind, window=4)
    examples = _examples([17, 9, 25, 5], vocab=200)
    batch = collate(pack(examples, 64), 0, pad_to=64)
    attn = model.config._attn_implementation
    with torch.no_grad():
        alone = sum(float(packed_loss(model, collate([[e]], 0), attn, model_masks=True)[0]) for e in examples)
        together = float(packed_loss(model, batch, attn, model_masks=True)[0])
        if attn == "sdpa":  # our block mask is the same for every layer: it ignores the window
            one_mask = float(packed_loss(model, batch, "sdpa")[0])
            assert abs(one_mask - alone) > 1e-3
    assert together == pytest.approx(alone, rel=1e-5)
    assert examples_stay_apart(model, attn, model_masks=True, window=4)


def _windowed_model(kind: str, window: int):
    import torch
    from transformers import AutoModelForCausalLM, Gemma2Config, Gemma3TextConfig, MistralConfig

    sizes = dict(vocab_size=200, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, head_dim=8)
    config = {"mistral": lambda: MistralConfig(sliding_window=window, **sizes),
              "gemma3": lambda: Gemma3TextConfig(sliding_window=window, layer_types=["sliding_attention", "full_attention"], **sizes),
              "gemma2": lambda: Gemma2Config(sliding_window=window, layer_types=["sliding_attention", "full_attention"], **sizes),
              }[kind]()
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(config, attn_implementation="eager" if kind == "gemma2" else "sdpa").eval()


@pytest.mark.parametrize("kind", ["mpt", "opt"])
def test_a_model_whose_packed_examples_see_each_other_is_found_out(kind):
    """MPT's own masks and OPT's learned positions (read from the mask, not the position ids) let a
    packed example see its neighbour when the model builds the masks."""
    import torch
    from transformers import AutoModelForCausalLM, MptConfig, OPTConfig

    config = {"mpt": lambda: MptConfig(n_layers=2, d_model=32, n_heads=2, vocab_size=100),
              "opt": lambda: OPTConfig(num_hidden_layers=2, hidden_size=32, num_attention_heads=2, ffn_dim=64,
                                       vocab_size=100, word_embed_proj_dim=32)}[kind]()
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager").eval()

    from spark_trainer.recipes.causal_lm_model import examples_stay_apart

    assert not examples_stay_apart(model, "eager", model_masks=True, window=None)
    if kind == "opt":  # with our block mask OPT keeps them apart (sdpa takes the mask as it is)
        model.set_attn_implementation("sdpa")
        assert examples_stay_apart(model, "sdpa", model_masks=False, window=None)
