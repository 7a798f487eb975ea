"""Generation settings of the causal-LM playground, validated with messages that name the field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from spark_trainer.errors import BadInput

MAX_NEW_TOKENS_LIMIT = 8192


class SettingError(BadInput):
    """A setting's value is out of its range: "`field` `rule`". Kept apart so a caller that takes the
    setting from an option (the CLI's --temperature) can name the option instead of the field."""

    def __init__(self, field: str, rule: str) -> None:
        super().__init__(f"{field} {rule}")
        self.field = field
        self.rule = rule


@dataclass(frozen=True)
class GenerationSettings:
    """What `generate` uses. `temperature` 0 means greedy decoding; `top_k` 0 turns top-k off;
    `seed` None means a fresh random seed (the one used is reported with the answer);
    `prompt_template`: a run trained on instruction rows (Alpaca...) gets the prompt in its template
    (no effect on other runs, nor with `chat_template`)."""

    max_new_tokens: int = 64
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = field(default_factory=tuple)
    chat_template: bool = False
    prompt_template: bool = True
    seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> GenerationSettings:
        """Validate a dict (from the protocol, the GUI or the CLI). Raises BadInput naming the field."""
        data = dict(data or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"unknown generation setting {unknown[0]!r}; settings are: {', '.join(sorted(known))}")
        values: dict[str, Any] = {}
        for name, kind in (("max_new_tokens", int), ("top_k", int)):
            if name in data:
                values[name] = _number(name, data[name], kind)
        for name in ("temperature", "top_p", "repetition_penalty"):
            if name in data:
                values[name] = _number(name, data[name], float)
        if "seed" in data and data["seed"] is not None:
            values["seed"] = _number("seed", data["seed"], int)
        for name in ("chat_template", "prompt_template"):
            if name in data:
                values[name] = bool(data[name])
        if "stop" in data:
            stop = data["stop"] or []
            if isinstance(stop, str) or not all(isinstance(s, str) for s in stop):
                raise SettingError("stop", "must be a list of strings")
            values["stop"] = tuple(s for s in stop if s)
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        if not 1 <= self.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise SettingError("max_new_tokens", f"must be from 1 to {MAX_NEW_TOKENS_LIMIT}, got {self.max_new_tokens}")
        if not 0 <= self.temperature <= 10:
            raise SettingError("temperature", f"must be from 0 (greedy) to 10, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise SettingError("top_p", f"must be greater than 0 and at most 1, got {self.top_p}")
        if self.top_k < 0:
            raise SettingError("top_k", f"must be 0 (off) or more, got {self.top_k}")
        if not 0 < self.repetition_penalty <= 10:
            raise SettingError("repetition_penalty",
                               f"must be greater than 0 and at most 10, got {self.repetition_penalty}")
        if self.seed is not None and not 0 <= self.seed < 2**32:
            raise SettingError("seed", f"must be from 0 to {2**32 - 1}, got {self.seed}")


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool):
        raise SettingError(name, f"must be a number, got {value!r}")
    try:
        converted = kind(value)
    except (TypeError, ValueError):
        raise SettingError(name, f"must be {'an integer' if kind is int else 'a number'}, got {value!r}") from None
    if kind is int and isinstance(value, float) and value != converted:
        raise SettingError(name, f"must be an integer, got {value!r}")
    return converted
