"""What users read about run files matches the loader: every YAML example in README.md and docs/
loads through the real config loader in the current layout (a field in an old section, such as
`train.seq_len`, is read but moved with a note, so it must not be what the docs teach), and every
`section.key` the prose names in backticks is a field of that section (with its value, if given)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from spark_trainer.config import parse_config
from spark_trainer.config.schema import CheckpointConfig, EvalConfig, TrainConfig
from spark_trainer.recipes.registry import list_recipes

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
YAML_BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.M | re.S)
FIELD = re.compile(r"`(train|eval|checkpoint|recipe_config)\.([a-z_0-9]+)(?::\s*([^`]+))?`")
FILE_ENDINGS = {"csv", "jsonl", "json", "yaml", "txt", "parquet"}  # `train.csv` is a file, not a field


def _examples() -> list[tuple[str, str]]:
    """(where, text) of every YAML block in the docs."""
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for match in YAML_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            found.append((f"{path.relative_to(ROOT)} line {line}", match.group(1)))
    return found


def _named_fields() -> list[tuple[str, str, str, str | None]]:
    """(where, section, key, value or None) of every backticked `section.key[: value]` in the docs."""
    found = []
    for path in DOCS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for section, key, value in FIELD.findall(line):
                if key not in FILE_ENDINGS:
                    found.append((f"{path.relative_to(ROOT)}:{number}", section, key, value or None))
    return found


def _section_models(section: str) -> list[type[BaseModel]]:
    shared = {"train": TrainConfig, "eval": EvalConfig, "checkpoint": CheckpointConfig}
    return [shared[section]] if section in shared else [spec.config_model for spec in list_recipes()]


def _moved() -> set[str]:
    """Old places of fields that moved into recipe_config (docs may name them when telling of the move)."""
    return {old for spec in list_recipes() for old, _new in spec.moved_fields}


def test_the_docs_have_examples_to_check() -> None:
    where = {w.split(" line")[0] for w, _ in _examples()}
    assert {"README.md", "docs/architecture.md"} <= where  # the check is not vacuous
    assert len(_named_fields()) > 10


@pytest.mark.parametrize(("where", "text"), _examples(), ids=[w for w, _ in _examples()])
def test_every_yaml_example_loads_in_the_current_layout(where: str, text: str) -> None:
    config = parse_config(text, where)
    assert config.upgrade_notes == [], f"{where}: {config.upgrade_notes}"  # no field in an old section


def test_every_field_the_prose_names_exists_where_it_says() -> None:
    wrong = []
    for where, section, key, value in _named_fields():
        if f"{section}.{key}" in _moved():
            continue
        models = [m for m in _section_models(section) if key in m.model_fields]
        if not models:
            wrong.append(f"{where}: {section}.{key} is no field of {section}")
        elif value is not None and not any(_accepts(m, key, value) for m in models):
            wrong.append(f"{where}: {section}.{key}: {value} is not a value it takes")
    assert wrong == []


def _accepts(model: type[BaseModel], key: str, value: str) -> bool:
    try:
        parsed: Any = yaml.safe_load(value)
        model.model_validate({key: parsed})
    except (ValidationError, yaml.YAMLError):
        return False
    return True
