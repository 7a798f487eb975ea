"""Pydantic's validation errors in a person's words: "Max steps must be at least 1", not
"train.max_steps: Input should be greater than or equal to 1" (walk s25, s27a)."""

from __future__ import annotations

from typing import Any

from spark_trainer.config.errors import rule_words


def title_of(name: str) -> str:
    """A field's name as a sentence starts it: max_steps -> "Max steps"."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def plain_error(error: dict[str, Any], name: str) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) of field `name` as one line. A
    validator's own words ("must be a multiple of 8...") are kept as they are."""
    title = title_of(name) if name else "This value"
    words = rule_words(error)
    if words:
        return f"{title} {words}"
    if error.get("type") == "missing":
        return f"{title} is required"
    return str(error.get("msg", "")).removeprefix("Value error, ")


def error_line(name: str, message: str) -> str:
    """A field's error on a line of its own (the Launch button's reason): it names the field once."""
    title = title_of(name)
    if not name or message.startswith(title):
        return message
    return f"{title} {message}" if message.startswith("must ") else f"{title}: {message}"
