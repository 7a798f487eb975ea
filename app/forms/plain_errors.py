"""Pydantic's validation errors in a person's words: "Max steps must be at least 1", not
"train.max_steps: Input should be greater than or equal to 1" (walk s25, s27a)."""

from __future__ import annotations

from typing import Any


def title_of(name: str) -> str:
    """A field's name as a sentence starts it: max_steps -> "Max steps"."""
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def plain_error(error: dict[str, Any], name: str) -> str:
    """One pydantic error (an item of `ValidationError.errors()`) of field `name` as one line. A
    validator's own words ("must be a multiple of 8...") are kept as they are."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    title = title_of(name) if name else "This value"
    bounds = {"greater_than_equal": ("at least", "ge"), "greater_than": ("greater than", "gt"),
              "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
    if kind in bounds and bounds[kind][1] in ctx:
        words, key = bounds[kind]
        return f"{title} must be {words} {_number(ctx[key])}"
    if kind in ("float_parsing", "float_type", "decimal_parsing", "decimal_type"):
        return f"{title} must be a number"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{title} must be a whole number"
    if kind in ("bool_parsing", "bool_type"):
        return f"{title} must be true or false"
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return f"{title} must be one of {ctx['expected']}"
    if kind == "missing":
        return f"{title} is required"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return f"{title} must not be empty"
    return str(error.get("msg", "")).removeprefix("Value error, ")


def error_line(name: str, message: str) -> str:
    """A field's error on a line of its own (the Launch button's reason): it names the field once."""
    title = title_of(name)
    if not name or message.startswith(title):
        return message
    return f"{title} {message}" if message.startswith("must ") else f"{title}: {message}"
