"""A causal LM's attention facts read from its config.json alone, without importing transformers.

`attention.facts` asks transformers (`AutoConfig`, then the model class's `_supports_*` flags),
which imports torch: about 2 s of CPU, and on a pool thread of the desktop app it holds the GIL
long enough to stall the GUI (the setup form re-estimates memory while the user types). The memory
estimate needs only the four `AttentionFacts`, so for the common architectures they are read here:

- the class flags (sdpa, flex attention, transformers' attention interface) per `model_type`, as
  the installed transformers' causal-LM class has them (tests/models/test_config_facts.py compares
  every entry with `attention.facts`, so a transformers upgrade that changes one fails there);
- the window as the config class derives it in `__post_init__` (its defaults, Qwen's
  `use_sliding_window` gate and `max_window_layers`, Gemma's and Cohere 2's layer patterns), then
  `attention.window_of`'s rule.

`read_facts` returns None for anything else (a model_type not listed, a nested text_config, remote
code, legacy layer names, a value of the wrong type, a hidden size its heads do not divide, which
transformers refuses): the caller then asks transformers, as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spark_trainer.models.attention import AttentionFacts

Layers = tuple[int | None, list[str] | None, int | None]  # (sliding_window, layer_types, attention_chunk_size)


def _plain(default_window: int | None = None) -> Callable[[dict[str, Any]], Layers]:
    """A config class that keeps what config.json says (its default window when it says nothing)."""
    return lambda raw: (raw.get("sliding_window", default_window), raw.get("layer_types"),
                        raw.get("attention_chunk_size"))


def _qwen(raw: dict[str, Any]) -> Layers:
    """Qwen2 / Qwen3: the window only with use_sliding_window, on the layers from max_window_layers on."""
    window = raw.get("sliding_window", 4096) if raw.get("use_sliding_window", False) else None
    layers = raw.get("layer_types")
    if layers is None:
        start = raw.get("max_window_layers", 28)
        layers = ["sliding_attention" if window is not None and i >= start else "full_attention"
                  for i in range(raw["num_hidden_layers"])]
    return window, layers, raw.get("attention_chunk_size")


def _qwen2_moe(raw: dict[str, Any]) -> Layers:
    """Qwen2-MoE: window 0 (none) without use_sliding_window; every other layer below max_window_layers."""
    use = raw.get("use_sliding_window", False)
    window = raw.get("sliding_window", 4096) if use else 0
    layers = raw.get("layer_types")
    if layers is None:
        start = raw.get("max_window_layers", 28)
        layers = ["sliding_attention" if (i + 1) % 2 and i < start and use else "full_attention"
                  for i in range(raw["num_hidden_layers"])]
    return window, layers, raw.get("attention_chunk_size")


def _qwen3_moe(raw: dict[str, Any]) -> Layers:
    window = raw.get("sliding_window", 4096) if raw.get("use_sliding_window", False) else None
    return window, raw.get("layer_types"), raw.get("attention_chunk_size")


def _pattern(every: int, key: str | None = "sliding_window_pattern",
             halved_when_bidirectional: bool = False) -> Callable[[dict[str, Any]], Layers]:
    """Gemma 2 (every other layer), Gemma 3 and Cohere 2 (every `sliding_window_pattern`-th): all but
    every such layer slide, unless config.json lists the layer types."""
    def layers_of(raw: dict[str, Any]) -> Layers:
        window = raw.get("sliding_window", 4096)
        if halved_when_bidirectional and raw.get("use_bidirectional_attention", False):
            window = window // 2 + 1
        layers = raw.get("layer_types")
        if layers is None:
            n = raw.get(key, every) if key else every
            layers = ["sliding_attention" if (i + 1) % n else "full_attention"
                      for i in range(raw["num_hidden_layers"])]
        return window, layers, raw.get("attention_chunk_size")

    return layers_of


# model_type -> (sdpa, flex attention, attention interface) of its causal-LM class, and its window rule.
CLASSES: dict[str, tuple[bool, bool, bool, Callable[[dict[str, Any]], Layers]]] = {
    "llama": (True, True, True, _plain()),
    "mistral": (True, True, True, _plain(4096)),
    "mixtral": (True, True, True, _plain()),
    "qwen2": (True, True, True, _qwen),
    "qwen3": (True, True, True, _qwen),
    "qwen2_moe": (True, True, True, _qwen2_moe),
    "qwen3_moe": (True, True, True, _qwen3_moe),
    "gemma": (True, True, True, _plain()),
    "gemma2": (False, True, True, _pattern(2, key=None)),
    "gemma3_text": (True, True, True, _pattern(6, halved_when_bidirectional=True)),
    "cohere2": (True, True, True, _pattern(4)),
    "gpt2": (True, False, True, _plain()),
    "gpt_neox": (True, True, True, _plain()),
    "gptj": (True, True, True, _plain()),
    "phi": (True, True, True, _plain()),
    "phi3": (True, True, True, _plain()),
    "starcoder2": (True, True, True, _plain()),
    "olmo": (True, True, True, _plain()),
    "olmo2": (True, True, True, _plain()),
    "granite": (True, True, True, _plain()),
    "opt": (True, True, True, _plain()),
    "gpt_bigcode": (True, False, True, _plain()),
    "stablelm": (True, False, False, _plain()),
    "falcon": (True, False, False, _plain()),
    "bloom": (False, False, False, _plain()),
    "mpt": (False, False, False, _plain()),
}
# Keys that make transformers read the config another way than this module does.
_ASK_TRANSFORMERS = ("text_config", "decoder", "generator", "text_encoder", "auto_map")
_LAYER_KINDS = {"full_attention", "sliding_attention", "chunked_attention"}


def read_facts(model_dir: Path | str) -> AttentionFacts | None:
    """`attention.facts(model_dir)` read from config.json without transformers; None where only
    transformers can say (see the module docstring). Raises OSError / ValueError for a missing or
    unreadable config.json, as `facts` does."""
    raw = json.loads((Path(model_dir) / "config.json").read_text())
    if not isinstance(raw, dict) or any(key in raw for key in _ASK_TRANSFORMERS):
        return None
    known = CLASSES.get(str(raw.get("model_type")))
    if known is None or not _plausible(raw):
        return None
    sdpa, flex, interface, layers_of = known
    try:
        window, layers, chunk = layers_of(raw)
    except (KeyError, TypeError, ZeroDivisionError):
        return None
    if not _window_value(window) or not _window_value(chunk):
        return None
    if layers is not None and not (isinstance(layers, list)
                                   and all(isinstance(kind, str) and kind in _LAYER_KINDS for kind in layers)):
        return None  # legacy names transformers remaps, or something it may refuse
    kinds = set(layers or ())
    windows = []
    if window and (not kinds or "sliding_attention" in kinds):
        windows.append(int(window))
    if chunk and (not kinds or "chunked_attention" in kinds):
        windows.append(int(chunk))
    return AttentionFacts(sdpa=sdpa, flex=flex, interface=interface, window=min(windows) if windows else None)


def _window_value(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0)


def _plausible(raw: dict[str, Any]) -> bool:
    """The sizes transformers' checks would read are whole numbers, and the heads divide the hidden size
    (else transformers refuses the config: leave that answer to it)."""
    for key in ("num_hidden_layers", "hidden_size", "num_attention_heads", "n_layer", "n_head", "n_embd"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return False
    hidden = raw.get("hidden_size", raw.get("n_embd"))
    heads = raw.get("num_attention_heads", raw.get("n_head"))
    return not (isinstance(hidden, int) and isinstance(heads, int) and (heads == 0 or hidden % heads))
