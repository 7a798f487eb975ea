"""Fixtures: a tiny local Llama model (built once per session) and a small learnable JSONL task."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.training.helpers import counting_rows, write_jsonl


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny-llama", max_position_embeddings=256)


@pytest.fixture
def counting_data(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "count.jsonl", counting_rows())
