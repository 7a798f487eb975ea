"""train.sharding in a run file: fsdp with adapters is refused at load time, naming the field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import load_config
from spark_trainer.errors import ConfigError

RUN = """\
name: big
recipe: causal-lm
base_model: models/llama
dataset: data.jsonl
gpus: 0,1
train:
  max_steps: 10
  sharding: {sharding}
recipe_config: {{method: {method}}}
"""


def _write(tmp_path: Path, sharding: str, method: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(RUN.format(sharding=sharding, method=method))
    return path


def test_fsdp_with_lora_names_the_field_and_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"run.yaml line 8: train.sharding: fsdp is for full fine-tuning.*'lora'"):
        load_config(_write(tmp_path, "fsdp", "lora"))


def test_fsdp_full_and_auto_lora_load(tmp_path: Path) -> None:
    assert load_config(_write(tmp_path, "fsdp", "full")).train.sharding == "fsdp"
    assert load_config(_write(tmp_path, "auto", "lora")).train.sharding == "auto"


def test_unknown_sharding_value_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sharding.*'auto', 'none' or 'fsdp'|sharding.*auto.*none.*fsdp"):
        load_config(_write(tmp_path, "zero3", "full"))
