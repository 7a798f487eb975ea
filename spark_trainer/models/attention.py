"""What a causal LM's attention can do, read from its config without loading weights.

Training packs several examples into a row and keeps them apart with a mask or a varlen plan
(`training/packing.py`, `training/varlen.py`). Two things about the model change how:
- **Sliding windows.** Gemma 2 and 3, Mistral v0.1, Cohere 2, gpt-oss and others let some or all
  layers see only the last `sliding_window` tokens. One block-diagonal mask for every layer would
  let an example longer than the window see further back than the model does at inference.
  transformers builds the right mask for each kind of layer when the model call gets no mask, and
  it keeps packed examples apart from the position ids (they restart at 0 in every example).
- **Attention kernels a class lacks.** Gemma 2 has no sdpa (its logits are soft-capped), and
  models with their own attention code (Bloom, Falcon, MPT) ignore transformers' attention interface,
  so a varlen plan would not reach them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AttentionFacts:
    sdpa: bool  # the class runs torch's scaled_dot_product_attention
    flex: bool  # ... flex attention
    interface: bool  # its layers call transformers' attention interface (what varlen needs)
    window: int | None  # the smallest sliding window or attention chunk any layer has, if any

    def window_matters(self, longest_example: int) -> bool:
        """Whether an example of `longest_example` tokens can reach past a layer's window."""
        return self.window is not None and longest_example > self.window


def _model_class(config: Any) -> Any:
    from transformers import MODEL_FOR_CAUSAL_LM_MAPPING

    return MODEL_FOR_CAUSAL_LM_MAPPING.get(type(config), None)


def window_of(config: Any) -> int | None:
    """The smallest attention window of the text model's layers: `sliding_window` where some layer
    is a sliding one (or no `layer_types` says which, as in Mistral), `attention_chunk_size` where
    some layer is chunked (Llama 4); None when every layer sees the whole sequence."""
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    kinds = set(getattr(text, "layer_types", None) or ())
    windows = []
    sliding = getattr(text, "sliding_window", None)
    if sliding and (not kinds or "sliding_attention" in kinds):
        windows.append(int(sliding))
    chunk = getattr(text, "attention_chunk_size", None)
    if chunk and (not kinds or "chunked_attention" in kinds):
        windows.append(int(chunk))
    return min(windows) if windows else None


def facts(model_dir: Path | str) -> AttentionFacts:
    """The attention facts of the causal LM in `model_dir` (its config.json alone is read)."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    cls = _model_class(config)
    return AttentionFacts(sdpa=bool(getattr(cls, "_supports_sdpa", True)),
                          flex=bool(getattr(cls, "_supports_flex_attn", False)),
                          interface=bool(getattr(cls, "_supports_attention_backend", False)),
                          window=window_of(config))


def training_choice(wanted: str, model: AttentionFacts, seq_len: int) -> tuple[str, bool]:
    """(transformers attention implementation, whether the model builds its own masks) for training
    with rows of `seq_len` tokens, from the implementation the run file asks for (`wanted`).

    A varlen plan needs transformers' attention interface and no window an example can outgrow; a
    class without flex attention or sdpa (Gemma 2, Bloom) falls back to the next. A window an example
    can outgrow, and eager attention (which adds masks as floats), leave the masks to the model."""
    from spark_trainer.training.varlen import ATTENTION as VARLEN

    windowed = model.window_matters(seq_len)
    attn = wanted
    if attn == VARLEN and (not model.interface or windowed):
        attn = "sdpa"  # its own attention code would ignore the plan; the plan has no window
    if attn == "flex_attention" and (not model.flex or windowed):
        attn = "sdpa"  # a windowed model's flex masks would be built inside the compiled model
    if attn in ("sdpa", VARLEN) and not model.sdpa:
        attn = "eager"
    return attn, windowed or attn == "eager"


def for_inference(model: Any) -> str:
    """The attention to generate or score with: sdpa where the model class has it, else eager
    (Gemma 2, Bloom). `model`: a model class, or the folder of a causal LM."""
    if isinstance(model, (str, Path)):
        return "sdpa" if facts(model).sdpa else "eager"
    return "sdpa" if getattr(model, "_supports_sdpa", True) else "eager"
