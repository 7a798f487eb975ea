"""Experiment configuration: pydantic schema, YAML load/save, and per-recipe validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from spark_trainer.config import legacy
from spark_trainer.config.errors import format_validation_error
from spark_trainer.config.schema import CheckpointConfig, EvalConfig, ExperimentConfig, TrainConfig
from spark_trainer.config.yaml_io import dump_yaml, line_of, load_yaml, parse_yaml, save_yaml
from spark_trainer.errors import BadInput, ConfigError

__all__ = [
    "CheckpointConfig",
    "EvalConfig",
    "ExperimentConfig",
    "TrainConfig",
    "apply_overrides",
    "load_config",
    "save_config",
    "validate_config",
]


def _fail(messages: list[str], source: str | None, node: yaml.Node | None, overrides: list[str]) -> ConfigError:
    def placed(message: str) -> str:
        field = message.split(":", 1)[0]
        if any(field == key or field.startswith(f"{key}.") for key in _set_keys(overrides)):
            return f"--set {message}"  # the value came from the command line: no line of the file holds it
        # A section's own rule broken by a --set inside it ("train: set train.max_steps or train.epochs" after
        # --set train.max_steps=null) blamed the file's line of a value the --set had replaced.
        inside = [item for item in overrides if (key := item.partition("=")[0].strip()).startswith(f"{field}.")
                  and key in message]
        if inside:
            return f"--set {inside[0].strip()}: {message}"
        if source:
            path = field.split(".")
            if node is not None and (old := legacy.old_place(field, node)):  # `train.seq_len: 4`: that line
                message, path = f"{old} (now {field}){message[len(field):]}", old.split(".")
            line = line_of(node, path) if node is not None else None
            return f"{source} line {line}: {message}" if line else f"{source}: {message}"
        return message

    problems = [placed(message) for message in messages]
    more = f" (and {len(messages) - 1} more problem{'s' if len(messages) > 2 else ''})" if len(messages) > 1 else ""
    return ConfigError(f"{problems[0]}{more}", problems)


def _set_keys(overrides: list[str]) -> list[str]:
    return [item.partition("=")[0].strip() for item in overrides]


def validate_config(
    data: dict[str, Any], source: str | None = None, node: yaml.Node | None = None,
    overrides: list[str] | None = None, *, typed: bool = False,
) -> ExperimentConfig:
    """Validate a whole run file, including its recipe's section; defaults are filled in. `overrides`:
    the `--set KEY=VALUE` items applied to `data`, so that a bad one is blamed on --set, not the file.
    `typed`: the user wrote the file just now (train, exp create, estimate, launch), so its `gpus:` is
    checked as typed (an empty id, "0,,1", refused); a stored config's old "0,,1" still loads.

    Raises:
        ConfigError: naming the field, the bad value and what is allowed (and the line, from YAML).
    """
    from spark_trainer.recipes import get_recipe

    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        if source and node is None and not data:  # an empty file (or one of comments), nothing from --set
            needed = ", ".join(name for name, field in ExperimentConfig.model_fields.items() if field.is_required())
            raise ConfigError(f"{source}: the run file is empty; a run file needs at least {needed} "
                              "(`spark-trainer run config RUN` writes one from a run; the README's Command line section "
                              "lists the fields)") from None
        raise _fail(format_validation_error(exc, ExperimentConfig), source, node, overrides or []) from None
    try:
        spec = get_recipe(config.recipe)
    except BadInput as exc:  # unknown recipe
        line = line_of(node, ["recipe"]) if node is not None else None
        where = f"{source} line {line}: " if source and line else (f"{source}: " if source else "")
        raise ConfigError(f"{where}recipe: {exc}") from None
    try:
        section = spec.config_model.model_validate(config.recipe_config)
    except ValidationError as exc:
        raise _fail(format_validation_error(exc, spec.config_model, "recipe_config."), source, node,
                    overrides or []) from None
    config.recipe_config = section.model_dump(mode="json")
    _check_gpus(config, source, node, overrides or [], typed=typed)
    try:  # the worker asks the recipe the same, once the run is queued: refused here, with the file's line
        spec.metric(config.train.early_stopping_metric)
    except ConfigError as exc:
        raise _fail([str(exc)], source, node, overrides or []) from None
    method = config.recipe_config.get("method")
    if config.train.sharding == "fsdp" and method != "full":  # FSDP shards a full fine-tune (training/sharding.py)
        line = line_of(node, ["train", "sharding"]) if node is not None else None
        where = f"{source} line {line}: " if source and line else (f"{source}: " if source else "")
        raise ConfigError(f"{where}train.sharding: fsdp is for full fine-tuning; set recipe_config.method: full "
                          f"(it is {method!r}) or train.sharding: auto")
    return config


def _check_gpus(config: ExperimentConfig, source: str | None, node: yaml.Node | None, overrides: list[str],
                *, typed: bool) -> None:
    """`gpus:` as submit will read it, refused with the file's line (submit's own refusal names no line).
    `typed`: see validate_config."""
    from spark_trainer.jobs.gpus import parse_request

    try:
        parse_request(config.gpus, typed=typed)
    except BadInput as exc:
        raise _fail([str(exc)], source, node, overrides) from None


def load_config(path: str | Path) -> ExperimentConfig:
    data, node = load_yaml(path)
    return validate_config(data, str(path), node)


def parse_config(text: str, name: str = "<config>") -> ExperimentConfig:
    data, node = parse_yaml(text, name)
    return validate_config(data, name, node)


def save_config(config: ExperimentConfig, path: str | Path) -> Path:
    return save_yaml(config.model_dump(mode="json"), path)


def config_to_yaml(config: ExperimentConfig) -> str:
    return dump_yaml(config.model_dump(mode="json"))


def _number_or_text(value: str) -> Any:
    """YAML 1.1 reads `1e-4` as text; on the command line it is plainly a number."""
    try:
        return float(value) if any(c in value for c in ".eE") else int(value)
    except ValueError:
        return value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `key.sub=value` overrides (values parsed as YAML scalars) to a config mapping."""
    result = dict(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, like train.learning_rate=1e-4")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):
            value = _number_or_text(value)
        parts = key.strip().split(".")
        target = result
        for part in parts[:-1]:
            existing = target.get(part)
            target[part] = dict(existing) if isinstance(existing, dict) else {}
            target = target[part]
        target[parts[-1]] = value
    return result
