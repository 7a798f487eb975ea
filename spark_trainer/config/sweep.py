"""Sweeps: several values of one or more settings, one run per combination (the cross product).

Shared by `spark-trainer train --sweep` and the setup form's sweep panel: both parse values with
`--set`'s rules and check every combination here before anything is queued.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from spark_trainer.config import ExperimentConfig, apply_overrides, validate_config
from spark_trainer.errors import ConfigError

MAX_RUNS = 64  # more is almost surely a typo (an extra value list), and a week of queue
# A sweep's runs share one experiment (its project, name, recipe, dataset, base model), so only
# the settings under these sections vary.
SECTIONS = ("train", "recipe_config", "eval", "checkpoint")
EXAMPLE = "train.learning_rate=1e-4,3e-4,1e-3"


@dataclass(frozen=True)
class SweepAxis:
    """One swept setting: its dotted key and its values, as given and as parsed."""

    key: str
    texts: tuple[str, ...]
    values: tuple[Any, ...]


@dataclass(frozen=True)
class SweepField:
    """A setting the sweep panel offers: numbers, choices and switches."""

    key: str
    kind: str  # int | float | choice | bool
    choices: tuple[Any, ...] = ()
    help: str = ""
    bounds: str = ""


def _parsed(text: str) -> Any:
    return apply_overrides({}, [f"value={text}"])["value"]


def make_axis(key: str, texts: Sequence[str]) -> SweepAxis:
    """An axis from a key and its value texts; ConfigError naming the key for a key outside the
    sweepable sections, fewer than two values, or a value given twice."""
    key = key.strip()
    section, _, name = key.partition(".")
    if section not in SECTIONS or not name or "." in name:
        allowed = ", ".join(f"{s}.*" for s in SECTIONS)
        raise ConfigError(f"sweep {key or '?'}: only settings under {allowed} can be swept (a sweep's runs "
                          "share one experiment: its project, name, recipe, dataset and base model)")
    cleaned = tuple(t.strip() for t in texts)
    if any(not t for t in cleaned):
        raise ConfigError(f"sweep {key}: an empty value (two commas in a row?); give values like {EXAMPLE}")
    if len(cleaned) < 2:
        raise ConfigError(f"sweep {key}: give two or more values, like {EXAMPLE} (one value is a --set)")
    values = tuple(_parsed(t) for t in cleaned)
    seen: set[Any] = set()
    for text, value in zip(cleaned, values, strict=True):
        same = (isinstance(value, bool), value if isinstance(value, (bool, int, float, str)) else repr(value))
        if same in seen:  # 1 and 1.0 are one value; true and 1 are not
            raise ConfigError(f"sweep {key}: the value {text} is given twice")
        seen.add(same)
    return SweepAxis(key, cleaned, values)


def parse_axis(spec: str) -> SweepAxis:
    """`KEY=V1,V2,...` (the CLI's `--sweep`)."""
    key, sep, raw = spec.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"--sweep {spec!r}: expected KEY=V1,V2,..., like {EXAMPLE}")
    return make_axis(key, raw.split(","))


def run_count(axes: Sequence[SweepAxis]) -> int:
    return math.prod(len(a.values) for a in axes) if axes else 0


class SweptTwice(ConfigError):
    """One setting given in two sweep axes. Carries the `key`, so the app's Sweep box can say it in its own
    words (two rows) while the check stays here; the message is the CLI's (two `--sweep`s)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"sweep {key}: swept twice; give all its values in one --sweep")
        self.key = key


def check_axes(axes: Sequence[SweepAxis], *, fixed: Sequence[str] = ()) -> None:
    """ConfigError for a key swept twice (`SweptTwice`), a key also fixed (`--set`), or more than MAX_RUNS runs."""
    keys = [a.key for a in axes]
    for key in keys:
        if keys.count(key) > 1:
            raise SweptTwice(key)
        if key in fixed:
            raise ConfigError(f"sweep {key}: also given with --set; sweep it or set it, not both")
    count = run_count(axes)
    if count > MAX_RUNS:
        sizes = " x ".join(str(len(a.values)) for a in axes)
        raise ConfigError(f"sweep: {sizes} values make {count} runs; a sweep queues at most {MAX_RUNS}")


def combinations(axes: Sequence[SweepAxis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, the first axis varying slowest."""
    return [dict(zip([a.key for a in axes], values, strict=True)) for values in itertools.product(*(a.values for a in axes))]


def value_text(value: Any) -> str:
    """A swept value as `--sweep` takes it: `true`/`false` for switches."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def values_text(values: Mapping[str, Any], *, short: bool = False) -> str:
    """A run's swept values, `train.learning_rate=0.001 recipe_config.lora_r=8` (`run list --sweep`,
    `run show`, the Runs view); `short` drops the sections where no two keys share a name
    (`learning_rate=0.001 lora_r=8`), for a table cell."""
    names = [key.partition(".")[2] or key for key in values]
    plain = short and len(set(names)) == len(names)
    return " ".join(f"{name if plain else key}={value_text(value)}"
                    for key, name, value in zip(values, names, values.values(), strict=True))


def _texts(axes: Sequence[SweepAxis]) -> list[dict[str, str]]:
    return [dict(zip([a.key for a in axes], texts, strict=True)) for texts in itertools.product(*(a.texts for a in axes))]


def _validate(data: dict[str, Any], chosen: dict[str, str]) -> ExperimentConfig:
    try:
        return validate_config(apply_overrides(data, [f"{k}={v}" for k, v in chosen.items()]))
    except ConfigError as exc:
        named = ", ".join(f"{k}={v}" for k, v in chosen.items())
        message = str(exc)
        if len(chosen) == 1 and message.startswith(f"{next(iter(chosen))}: "):  # said once is enough
            message = message.split(": ", 1)[1]
            message = re.sub(r"^got .*?; (?=must )", "", message)  # "=-1: got -1; must be ...": the value too
        raise ConfigError(f"sweep {named}: {message}") from None


def sweep_configs(data: dict[str, Any], axes: Sequence[SweepAxis], *, fixed: Sequence[str] = ()
                  ) -> list[tuple[dict[str, Any], ExperimentConfig]]:
    """Each combination's values and its validated config, built on the run file `data` (with
    any `--set` overrides already applied; `fixed` names their keys).

    Every value is first checked alone (so a bad one is named by itself), then every combination
    (settings that only clash together, like fsdp with LoRA). Nothing is queued here.

    Raises:
        ConfigError: one line naming the key and value (or the combination) and what is wrong.
    """
    if not axes:
        raise ConfigError(f"sweep: give at least one setting and its values, like {EXAMPLE}")
    check_axes(axes, fixed=fixed)
    validate_config(data)  # the run file itself, so its own errors are not blamed on a value
    if len(axes) > 1:  # with one axis the combinations are the values alone
        for axis in axes:
            for text in axis.texts:
                _validate(data, {axis.key: text})
    return [(values, _validate(data, texts)) for values, texts in zip(combinations(axes), _texts(axes), strict=True)]


def sweepable_fields(recipe: str) -> list[SweepField]:
    """The settings of the shared sections and `recipe`'s section that take numbers, choices or
    switches, with their ranges (what the setup form's sweep panel offers)."""
    from spark_trainer.config.schema import CheckpointConfig, EvalConfig, TrainConfig
    from spark_trainer.recipes.registry import describe_fields, get_recipe, interval_text

    models = (("train", TrainConfig), ("recipe_config", get_recipe(recipe).config_model), ("eval", EvalConfig),
              ("checkpoint", CheckpointConfig))
    found = []
    for section, model in models:
        for info in describe_fields(model):
            kind = _kind(info["type"])
            if kind is None:
                continue
            found.append(SweepField(f"{section}.{info['name']}", kind, tuple(info.get("choices", ())),
                                    info["help"], interval_text(info)))
    return found


def _kind(type_name: str) -> str | None:
    parts = {p.strip() for p in type_name.split("|")} - {"None", "NoneType"}
    if parts == {"choice"} or parts == {"bool"}:
        return parts.pop()
    if parts and parts <= {"int", "float"}:
        return "float" if "float" in parts else "int"
    return None

