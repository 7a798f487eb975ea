"""target_modules checked against the model folder's config before a run is queued (built on the
meta device), in the worker's words; left to the worker where the config does not build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.errors import ConfigError
from spark_trainer.recipes.target_precheck import check_folder


def test_each_recipes_model_is_checked_as_the_worker_checks_it(tiny_text_classifier: Path,
                                                                 tiny_image_classifier: Path, tmp_path: Path) -> None:
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline

    check_folder("text-classification", {"target_modules": "query,value"}, tiny_text_classifier)
    with pytest.raises(ConfigError, match=r"^recipe_config.target_modules: 'q_proj' names no module of the model; "
                                          r"its layers are named"):
        check_folder("text-classification", {"target_modules": "query,q_proj"}, tiny_text_classifier)
    check_folder("image-classification", {"target_modules": ["q_proj", "v_proj"]}, tiny_image_classifier)
    with pytest.raises(ConfigError, match=r"'qkv' names no module"):
        check_folder("image-classification", {"target_modules": ["qkv"]}, tiny_image_classifier)
    pipeline = create_tiny_sd_pipeline(tmp_path / "sd")
    check_folder("diffusion-lora", {"target_modules": "to_q,to_out.0"}, pipeline)
    with pytest.raises(ConfigError, match=r"'to_out.2' names no module of the model; did you mean to_out.0"):
        check_folder("diffusion-lora", {"target_modules": "to_q,to_out.2"}, pipeline)


def test_full_tuning_all_linear_and_unbuildable_configs_are_not_checked(tiny_text_classifier: Path,
                                                                        tmp_path: Path) -> None:
    check_folder("text-classification", {"method": "full", "target_modules": "nope"}, tiny_text_classifier)
    check_folder("text-classification", {"target_modules": "all-linear"}, tiny_text_classifier)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"model_type": "not-a-model"}))
    check_folder("causal-lm", {"target_modules": "nope"}, odd)  # the worker says what is wrong with it


def test_a_model_replaced_in_the_same_folder_is_built_again(tiny_text_classifier: Path, tmp_path: Path) -> None:
    import shutil

    folder = shutil.copytree(tiny_text_classifier, tmp_path / "model")
    check_folder("text-classification", {"target_modules": "query"}, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "distilbert", "architectures": None,
                                                    "dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 32}))
    with pytest.raises(ConfigError, match=r"'query' names no module of the model; .*q_lin"):
        check_folder("text-classification", {"target_modules": "query"}, folder)
