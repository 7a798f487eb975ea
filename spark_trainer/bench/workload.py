"""The benchmark's job: a random-initialised Llama model and a synthetic SFT-like length mix."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    seq_len: int
    batch_size: int
    median_len: int
    lora_r: int
    steps: int
    warmup_steps: int

    def model_config(self) -> Any:
        from transformers import LlamaConfig

        return LlamaConfig(
            vocab_size=self.vocab_size, hidden_size=self.hidden_size, intermediate_size=self.intermediate_size,
            num_hidden_layers=self.num_layers, num_attention_heads=self.num_heads,
            num_key_value_heads=self.num_kv_heads, max_position_embeddings=self.seq_len, pad_token_id=0,
            bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, use_cache=False)


PRESETS = {
    # A CPU-sized job that runs in about a minute.
    "tiny": Preset("tiny", vocab_size=512, hidden_size=128, intermediate_size=256, num_layers=2, num_heads=4,
                   num_kv_heads=4, seq_len=512, batch_size=4, median_len=90, lora_r=8, steps=20, warmup_steps=2),
    # The GPU job from the issue: a 1.1B Llama (TinyLlama shape), rows of 2048 tokens, batch 8. 50 timed
    # steps after 6 so that the run-file default evaluation (every 50 steps) falls in the timed window.
    "1b": Preset("1b", vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_layers=22, num_heads=32,
                 num_kv_heads=4, seq_len=2048, batch_size=8, median_len=350, lora_r=16, steps=50, warmup_steps=6),
}


def length_mix(n: int, median: int, max_len: int, seed: int = 0) -> list[int]:
    """Lengths from a log-normal around `median` (SFT data is long-tailed), clipped to [16, max_len]."""
    rng = random.Random(seed)
    return [max(16, min(max_len, int(round(median * math.exp(rng.gauss(0.0, 0.75)))))) for _ in range(n)]


def synthetic_examples(preset: Preset, n: int, seed: int = 0) -> list[list[int]]:
    rng = random.Random(seed + 1)
    return [[1] + [rng.randrange(3, preset.vocab_size) for _ in range(length - 1)]
            for length in length_mix(n, preset.median_len, preset.seq_len, seed)]


def build_model(preset: Preset, device: Any, dtype: Any, attn: str, seed: int = 0) -> Any:
    """The same random-initialised base model for every engine (same seed, built on the device)."""
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    with torch.device(device):
        model = LlamaForCausalLM._from_config(preset.model_config(), dtype=dtype, attn_implementation=attn)
    return model


def word(token_id: int) -> str:
    """The word of the benchmark tokenizer that encodes to `token_id` (ids 0-2 are pad, bos, eos)."""
    return f"t{token_id}"


def write_model_folder(preset: Preset, dest: Any, device: Any, dtype: Any) -> Any:
    """The benchmark model (same weights as `build_model`) saved with a word-level tokenizer whose
    word `t<i>` is token i, so that a text row of n-2 words becomes exactly n tokens with bos/eos."""
    from pathlib import Path

    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, **{word(i): i for i in range(3, preset.vocab_size)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<pad>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    # It starts a text with <s> by itself, so the recipe's rows keep their BOS (and the lengths above).
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", 1)])
    PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                            unk_token="<pad>", model_max_length=preset.seq_len).save_pretrained(dest)
    model = build_model(preset, device, dtype, "sdpa")
    model.save_pretrained(dest)
    del model
    return dest


def write_text_rows(examples: list[list[int]], path: Any) -> Any:
    """JSONL text rows that the causal-LM recipe turns back into the examples' lengths."""
    import json
    from pathlib import Path

    lines = [json.dumps({"text": " ".join(word(t) for t in ex[1:-1])}) for ex in examples]
    Path(path).write_text("\n".join(lines) + "\n")
    return path
