"""How long a prompt and its answer may be together: the model's context, and what the causal-LM
generator does with a prompt that would pass it.

A model with learned position embeddings (GPT-2's `n_positions`) fails past its context with an
IndexError from deep inside the forward pass; one with rotary embeddings runs on, slowly, into
positions it never trained on (transformers warns that it "will exceed the model's predefined maximum
length"). Both are refused or cut short before the model runs, so the user reads why in one line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from spark_trainer.errors import BadInput

# What a tokenizer without a model_max_length of its own says (transformers' VERY_LARGE_INTEGER, 1e30):
# anything this large is "no limit given".
_NO_LIMIT = 10**9


def context_length(model: Any, tokenizer: Any = None) -> int | None:
    """The most tokens (prompt and answer together) `model` takes, or None when nothing says.

    The model's config decides, as transformers' own generate() reads it: `max_position_embeddings`,
    which configs with other names map to it (GPT-2's `n_positions`), on the text part of a multimodal
    config. Models with rotary embeddings and no hard limit still declare the length they trained for
    there. Only when the config has none does the tokenizer's `model_max_length` count (unless it is
    transformers' "not set" sentinel)."""
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "get_text_config"):
        config = config.get_text_config(decoder=True)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < _NO_LIMIT:
        return value
    return None


@dataclass(frozen=True)
class Fitted:
    """A prompt that fits: its ids, how many new tokens may follow (`capped`: fewer than asked), and what
    to tell the user: `note` when turns of the conversation were left out, `cap_note` when the answer
    reached the cap (one that ended sooner was not cut short: nothing to say)."""

    ids: list[int]
    max_new_tokens: int
    capped: bool
    note: str | None
    cap_note: str | None = None

    def said(self, reached_cap: bool) -> str | None:
        """The line for the user after the answer: None when there is nothing to say."""
        notes = [n for n in (self.note, self.cap_note if reached_cap else None) if n]
        return "; ".join(notes) or None


def fit(ids: list[int], max_new_tokens: int, context: int | None, who: str, *, dropped: int = 0) -> Fitted:
    """Refuse (BadInput) a prompt that leaves no room for an answer; cap an answer that would pass the
    context. Capping, not refusing: Max new tokens is a ceiling (an answer may end sooner anyway), and
    a user cannot know how many tokens their prompt is; a shorter answer is what they would ask for next."""
    note = None
    if dropped:
        note = (f"the oldest {dropped} turn{'s' if dropped != 1 else ''} of the conversation were left out to fit "
                f"{who}'s context of {context:,} tokens")
    if context is None:
        return Fitted(ids, max_new_tokens, False, note)
    if len(ids) >= context:
        raise BadInput(f"the prompt is {len(ids):,} tokens; {who} takes at most {context:,} "
                       "(prompt and answer together)")
    room = context - len(ids)
    if max_new_tokens <= room:
        return Fitted(ids, max_new_tokens, False, note)
    return Fitted(ids, room, True, note, f"the answer was capped at {room:,} new tokens (not {max_new_tokens:,}): "
                  f"{who} takes at most {context:,} tokens, prompt and answer together, and the prompt is {len(ids):,}")


def fit_conversation(encode: Callable[[list[Any]], list[int]], history: list[Any], max_new_tokens: int,
                     context: int | None, who: str) -> Fitted:
    """A chat: the whole conversation when it fits; else its oldest turns are left out (a leading system
    message stays), until the prompt leaves room for the answer asked for (at most half the context),
    as chat applications do. The new message alone too long is refused as any prompt is."""
    kept = list(history)
    ids = encode(kept)
    if context is not None:
        wanted = min(max_new_tokens, context // 2)
        system = 1 if kept and isinstance(kept[0], dict) and kept[0].get("role") == "system" else 0
        while len(ids) + wanted > context and len(kept) > system:
            del kept[system]
            while len(kept) > system and kept[system].get("role") == "assistant":  # a chat starts with the user
                del kept[system]
            ids = encode(kept)
    return fit(ids, max_new_tokens, context, who, dropped=len(history) - len(kept))
