"""The VRAM estimate for diffusion-lora reads exact parameter counts from a pipeline folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import BadInput
from spark_trainer.estimate import estimate_for_config
from spark_trainer.estimate_diffusion import estimate_diffusion, tensor_shapes


@pytest.fixture(scope="module")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline

    return create_tiny_sd_pipeline(tmp_path_factory.mktemp("models") / "tiny-sd")


def test_counts_match_the_loaded_models_and_lora_parameters(tiny_sd):
    import torch
    from diffusers import UNet2DConditionModel
    from peft import LoraConfig

    unet = UNet2DConditionModel.from_pretrained(tiny_sd / "unet")
    assert sum(map(lambda s: torch.Size(s).numel(), tensor_shapes(tiny_sd / "unet").values())) == \
        sum(p.numel() for p in unet.parameters())
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0", "conv_in"]))
    trainable = sum(p.numel() for p in unet.parameters() if p.requires_grad)
    config = {"recipe": "diffusion-lora", "train": {"batch_size": 2},
              "recipe_config": {"resolution": 32, "lora_r": 4, "target_modules": "to_q,to_k,to_v,to_out.0,conv_in"}}
    assert estimate_for_config(config, tiny_sd).trainable_params == trainable


def test_activations_grow_with_batch_and_resolution_and_shrink_with_checkpointing(tiny_sd):
    small = estimate_diffusion(tiny_sd, batch_size=2, resolution=32)
    assert estimate_diffusion(tiny_sd, batch_size=4, resolution=32).parts["activations"] == 2 * small.parts["activations"]
    assert estimate_diffusion(tiny_sd, batch_size=2, resolution=64).parts["activations"] == 4 * small.parts["activations"]
    assert estimate_diffusion(tiny_sd, batch_size=2, resolution=32, gradient_checkpointing=True).parts["activations"] \
        < small.parts["activations"]


def test_a_folder_without_weights_is_one_clear_error(tmp_path):
    (tmp_path / "unet").mkdir()
    with pytest.raises(BadInput, match="no .safetensors weights"):
        tensor_shapes(tmp_path / "unet")
