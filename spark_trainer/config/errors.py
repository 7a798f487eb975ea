"""Turning pydantic validation errors into one line a user can act on."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError


def _allowed_fields(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names allowed at the parent of `loc`, walking nested models."""
    current: Any = model
    for part in loc[:-1]:
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            return None
        annotation = fields[part].annotation
        current = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
        if current is None:
            return None
    fields = getattr(current, "model_fields", None)
    return sorted(fields) if fields else None


def format_validation_error(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[str]:
    """One message per problem: `train.learning_rate: got -1; must be greater than 0`. Unknown keys
    come first: a misspelt key (`nme:`) also leaves its own key missing, and the typo is what to fix."""
    unknown: list[str] = []
    messages: list[str] = []
    unions: dict[str, int] = {}  # field -> its message: a union's members each fail ("str", "list[str]")
    for err in exc.errors(include_url=False):
        loc = tuple(err.get("loc", ()))
        member = bool(loc) and _union_member(loc[-1])
        loc = loc[:-1] if member else loc
        field = prefix + ".".join(str(p) for p in loc) if loc else prefix.rstrip(".") or "config"
        msg = rule_words(err) or err.get("msg", "invalid value")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        value = err.get("input")
        if isinstance(value, float) and value != value:  # NaN fails every bound: "should be less than 1"
            msg = "not a number (NaN); give a number"
        if member and field in unions:  # "a valid string" and "a valid list": one line, both said
            messages[unions[field]] += " or " + msg.removeprefix("must be ").removeprefix("Input should be ")
            continue
        if member:
            unions[field] = len(messages)
        if err.get("type") == "extra_forbidden":
            allowed = _allowed_fields(model, loc) if model is not None else None
            close = difflib.get_close_matches(str(loc[-1]), allowed or [], n=1, cutoff=0.75)
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
            unknown.append(f"{field}: unknown key{guess}{hint}")
        elif err.get("type") == "missing":
            messages.append(f"{field}: required but missing")
        elif isinstance(value, dict):  # a check of the whole section: its own words say what to set
            messages.append(f"{field}: {msg}")
        else:
            shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as YAML writes it
            messages.append(f"{field}: got {shown}; {msg}")
    return unknown + messages


_BOUNDS = {"greater_than_equal": ("at least", "ge"), "greater_than": ("greater than", "gt"),
           "less_than_equal": ("at most", "le"), "less_than": ("less than", "lt")}
_KINDS = {"float_parsing": "a number", "float_type": "a number", "decimal_parsing": "a number",
          "decimal_type": "a number", "int_parsing": "a whole number", "int_type": "a whole number",
          "int_from_float": "a whole number", "bool_parsing": "true or false", "bool_type": "true or false",
          "string_type": "text", "list_type": "a list", "dict_type": "a section of settings (KEY: VALUE lines)",
          "model_type": "a section of settings (KEY: VALUE lines)"}


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def rule_words(error: dict[str, Any]) -> str | None:
    """The rule a value broke, in a person's words ("must be at least 1", not pydantic's "Input should be
    greater than or equal to 1"), for one item of `ValidationError.errors()`; None for a rule with words of
    its own (a validator's message, a missing field)."""
    kind, ctx = error.get("type", ""), error.get("ctx") or {}
    if kind in _BOUNDS and _BOUNDS[kind][1] in ctx:
        words, key = _BOUNDS[kind]
        return f"must be {words} {_number(ctx[key])}"
    if kind in _KINDS:
        return f"must be {_KINDS[kind]}"
    if kind in ("literal_error", "enum") and "expected" in ctx:
        return f"must be one of {ctx['expected']}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    return None


def _union_member(part: Any) -> bool:
    """Whether a location's last part names a member of a union type (pydantic's "str", "list[str]",
    "function-after[...]"), not a field."""
    return isinstance(part, str) and ("[" in part or part in ("str", "int", "float", "bool", "list", "dict", "none"))
