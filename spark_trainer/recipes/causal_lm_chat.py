"""Chat rows for causal-LM: a conversation through the tokenizer's chat template, and its tokens with
the assistant turns as targets. Rows are rendered one by one and tokenized a batch at a time (one call
per conversation, and masks found token by token, made chat rows three times slower than text rows)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, ConfigError
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


def lacks_chat_template(folder: Path) -> bool:
    """The model folder's tokenizer surely has no chat template: its tokenizer_config.json is there and
    names none, and no template file is beside it (chat_template.jinja or .json, additional_chat_templates/,
    as transformers saves them). Read as text at submit, without loading the tokenizer; a folder that
    cannot be read is left to the worker (False)."""
    config = folder / "tokenizer_config.json"
    if any((folder / name).exists() for name in ("chat_template.jinja", "chat_template.json",
                                                    "additional_chat_templates")):
        return False
    try:
        return not json.loads(config.read_text(encoding="utf-8")).get("chat_template")
    except (OSError, ValueError, AttributeError):
        return False


def check_at_submit(fmt: str, chat_template: str | None, model_folder: Callable[[], Path]) -> None:
    """Chat rows (`messages`, ShareGPT) on a model whose tokenizer has no chat template, and none set in
    recipe_config: refused before the run is queued (the worker refused only once it had loaded the
    model, a night's queue later). A model not there yet (`model_folder` raises) is the worker's."""
    if fmt not in ("messages", "sharegpt") or chat_template:
        return
    try:
        folder = model_folder()
    except BadInput:
        return
    if lacks_chat_template(folder):
        raise ConfigError(f"recipe_config.chat_template: the rows are chat conversations (format {fmt}) and the "
                          f"tokenizer in {folder} has no chat template; set recipe_config.chat_template (a Jinja "
                          "template) or start from a model that has one")


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
