"""Chat rows for causal-LM: a conversation through the tokenizer's chat template, and its tokens with
the assistant turns as targets. Rows are rendered one by one and tokenized a batch at a time (one call
per conversation, and masks found token by token, made chat rows three times slower than text rows)."""

from __future__ import annotations

from typing import Any

from spark_trainer.errors import ConfigError
from spark_trainer.training.data import Record
from spark_trainer.training.packing import Example

Rendered = tuple[str, list[tuple[int, int]]]  # the text, and the character spans of its assistant turns


def render(tokenizer: Any, record: Record) -> Rendered:
    """A chat row's text through the chat template, and the character spans of its assistant turns (the
    row's turns were checked when it was made trainable: `causal_lm_formats.to_trainable`)."""
    messages = record.data["messages"]
    if not tokenizer.chat_template:
        raise ConfigError(f"{record.source}: chat rows need a chat template; the tokenizer has none, so set "
                          "recipe_config.chat_template")
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []  # found by rendering growing prefixes
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        end = len(tokenizer.apply_chat_template(messages[:i + 1], tokenize=False))
        spans.append((start, end))
    return text, spans


def examples(tokenizer: Any, rendered: list[Rendered], completion_only: bool) -> list[Example]:
    """Examples of rendered chat rows, tokenized in one call: a token is a target when it starts inside
    an assistant turn (with `completion_only`, where the row has one), else every token is."""
    import numpy as np

    if not rendered:
        return []
    encoded = tokenizer([text for text, _ in rendered], add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for (_text, spans), ids, offsets in zip(rendered, encoded["input_ids"], encoded["offset_mapping"], strict=True):
        if completion_only and spans:
            starts = np.fromiter((a for a, _ in offsets), dtype=np.int64, count=len(offsets))
            targets: Any = np.zeros(len(starts), dtype=np.bool_)
            for s, e in spans:
                targets |= (starts >= s) & (starts < e)
            mask = targets.tolist()
        else:
            mask = [True] * len(ids)
        out.append(Example(list(ids), mask))
    return out
