"""How an export names its base model: a Hub id even when it trained from the Hugging Face cache,
and never the user's local path."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config import validate_config
from spark_trainer.export.common import base_is_local, base_reference


def _config(base_model: str):
    return validate_config({"name": "x", "recipe": "causal-lm", "base_model": base_model, "dataset": "d"})


@pytest.mark.parametrize(("base_model", "reference", "local"), [
    # What submit freezes a Hub id to: its snapshot in the cache (named by a commit hash).
    ("/home/u/.cache/huggingface/hub/models--TinyLlama--TinyLlama-1.1B/snapshots/" + "a" * 40,
     "TinyLlama/TinyLlama-1.1B", False),
    ("/cache/hub/models--gpt2/snapshots/" + "b" * 40, "gpt2", False),
    ("/home/u/models/my-llama", "my-llama", True),
    ("acme/tiny", "acme/tiny", False),  # a config that was never frozen
])
def test_the_base_is_named_by_its_hub_id_or_its_folder_name(base_model, reference, local):
    config = _config(base_model)
    assert base_reference(config) == reference
    assert base_is_local(config) is local


def test_a_relative_folder_that_exists_is_local(tmp_path, monkeypatch):
    (tmp_path / "demo-model").mkdir()
    monkeypatch.chdir(tmp_path)
    config = _config("demo-model")
    assert base_reference(config) == "demo-model" and base_is_local(config)
    assert not Path(base_reference(config)).is_absolute()


def test_a_hub_id_frozen_at_submit_is_named_by_its_id_again(tmp_path):
    from spark_trainer.models.loading import resolve_base_model
    from tests.recipes.test_model_resolver import _fake_cache

    # Submit freezes str(resolve_base_model(id)): the main snapshot's folder in the cache.
    frozen = str(resolve_base_model("acme/tiny", cache_dir=_fake_cache(tmp_path / "hub")))
    assert Path(frozen).is_absolute() and "snapshots" in frozen
    assert base_reference(_config(frozen)) == "acme/tiny" and not base_is_local(_config(frozen))
