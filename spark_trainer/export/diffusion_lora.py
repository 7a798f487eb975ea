"""Exporter for diffusion-lora runs: the LoRA in the layout diffusers' `load_lora_weights` reads
(pytorch_lora_weights.safetensors), from any checkpoint. Merging is not offered: a fused pipeline is
a multi-gigabyte copy of the base that `pipe.fuse_lora()` makes in one line after loading.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.export.common import base_dir, base_reference, load_trainable
from spark_trainer.export.memory import WHY_LOADED, all_real, check_memory, make_real, trained_tensors
from spark_trainer.export.registry import ExportInfo

PIPELINE_TAG = "text-to-image"
_PARTS = ("unet", "text_encoder", "vae")  # the folders a full load reads


def _trained_parts(config: ExperimentConfig, checkpoint: Path | None, device: Any, dtype: str) -> Any:
    """The pipeline parts built as the recipe builds them, with the checkpoint's LoRA tensors."""
    import torch

    from spark_trainer.recipes.diffusion_lora import DiffusionLoRAConfig
    from spark_trainer.recipes.diffusion_model import (
        TEXT_ENCODER_TARGETS,
        add_lora,
        load_parts,
        make_train_module,
        torch_dtype,
    )

    rc = DiffusionLoRAConfig.model_validate(config.recipe_config)
    parts = load_parts(base_dir(config), torch.device("cpu"), torch.float32)
    if checkpoint is not None:
        add_lora(parts.unet, rc.lora_r, rc.lora_alpha, rc.lora_dropout, _targets(rc))
        if rc.train_text_encoder:
            add_lora(parts.text_encoder, rc.lora_r, rc.lora_alpha, rc.lora_dropout, TEXT_ENCODER_TARGETS)
        module = make_train_module(parts.unet, parts.noise_scheduler, scaling_factor=parts.vae.config.scaling_factor,
                                   vae=parts.vae, text_encoder=parts.text_encoder,
                                   train_text_encoder=rc.train_text_encoder)
        load_trainable(module, Path(checkpoint))
    target = torch_dtype(dtype)
    for part in (parts.unet, parts.text_encoder, parts.vae):
        # Loaded in fp32: a cast to fp32 again only makes diffusers warn ("should be kept in float32: []").
        cast = {} if target == torch.float32 else {"dtype": target}
        part.to(device=torch.device(device) if isinstance(device, str) else device, **cast)
    return parts, rc


def _targets(rc: Any) -> list[str]:
    targets = rc.target_modules
    return [t.strip() for t in targets.split(",") if t.strip()] if isinstance(targets, str) else list(targets)


def lora_only(config: ExperimentConfig, checkpoint: Path) -> tuple[Any, Any | None] | None:
    """(UNet, text encoder or None) with only their LoRA real: both are built from their configs on the
    meta device and the checkpoint's LoRA tensors put in place. Saving the LoRA needs nothing else, and
    loading the pipeline in fp32 for it took the UNet's 3.4 GB (SD 1.5) or 10 GB (SDXL) and more. None
    when the checkpoint does not hold every LoRA tensor (then the caller loads the pipeline as before)."""
    from spark_trainer.recipes.diffusion_lora import DiffusionLoRAConfig
    from spark_trainer.recipes.diffusion_model import TEXT_ENCODER_TARGETS, add_lora, quiet_torchvision_notice

    quiet_torchvision_notice()  # as load_parts does, before diffusers is imported
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel
    from peft.utils import get_peft_model_state_dict
    from torch import nn
    from transformers import CLIPTextConfig, CLIPTextModel

    rc = DiffusionLoRAConfig.model_validate(config.recipe_config)
    model_dir = base_dir(config)
    with init_empty_weights():
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(model_dir / "unet"))
        add_lora(unet, rc.lora_r, rc.lora_alpha, rc.lora_dropout, _targets(rc))
        text_encoder = None
        if rc.train_text_encoder:
            text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(model_dir / "text_encoder",
                                                                        local_files_only=True))
            add_lora(text_encoder, rc.lora_r, rc.lora_alpha, rc.lora_dropout, TEXT_ENCODER_TARGETS)
    # The names the recipe's training module gave them (its unet and text_encoder attributes).
    trained = nn.ModuleDict({"unet": unet, **({"text_encoder": text_encoder} if text_encoder else {})})
    if not make_real(trained, trained_tensors(checkpoint)):
        return None
    if not all(all_real(get_peft_model_state_dict(part)) for part in trained.values()):
        return None
    return unet, text_encoder


def load(config: ExperimentConfig, checkpoint: Path | None, device: Any = "cpu", dtype: str = "fp32",
         data_path: Path | None = None, labels: list[str] | None = None) -> tuple[Any, Any]:
    """(pipeline with the trained LoRA active, None)."""
    from diffusers import StableDiffusionPipeline

    parts, _ = _trained_parts(config, checkpoint, device, dtype)
    pipe = StableDiffusionPipeline.from_pretrained(base_dir(config), unet=parts.unet, text_encoder=parts.text_encoder,
                                                   vae=parts.vae, tokenizer=parts.tokenizer, safety_checker=None,
                                                   requires_safety_checker=False, local_files_only=True)
    return pipe, None


def check_options(*, merge: bool) -> None:
    """Refuse what this exporter cannot do, before an export starts (see the registry)."""
    if merge:
        raise BadInput("--merge is not available for diffusion-lora runs: the export is the LoRA for "
                       "load_lora_weights (fuse it after loading with pipe.fuse_lora())")


def write(config: ExperimentConfig, checkpoint: Path, dest: Path, *, merge: bool, dtype: str,
          data_path: Path | None = None, labels: list[str] | None = None) -> ExportInfo:
    import torch

    from spark_trainer.recipes.diffusion_lora import DiffusionLoRAConfig
    from spark_trainer.recipes.diffusion_model import save_lora, torch_dtype

    check_options(merge=merge)
    dtype = "fp32" if dtype == "auto" else dtype
    rc = DiffusionLoRAConfig.model_validate(config.recipe_config)
    found = lora_only(config, checkpoint)
    if found is None:
        model_dir = base_dir(config)
        check_memory([model_dir / part for part in _PARTS], model_dir.name, *WHY_LOADED["adapter"])
        parts, _ = _trained_parts(config, checkpoint, "cpu", dtype)
        found = parts.unet, parts.text_encoder if rc.train_text_encoder else None
    unet, text_encoder = found
    for part in found:
        if part is not None:
            # torch's own cast, not diffusers' override of it: that one warns "should be kept in float32: []"
            # on every cast, naming no module (these models keep none in fp32), and only the LoRA is saved.
            torch.nn.Module.to(part, torch_dtype(dtype))
    dest.mkdir(parents=True, exist_ok=True)
    save_lora(unet, text_encoder, dest)
    return ExportInfo(kind="adapter", library_name="diffusers", pipeline_tag=PIPELINE_TAG, dtype=dtype,
                      usage=usage(base_reference(config), rc))


def usage(base: str, rc: Any) -> str:
    """Loading the LoRA and sampling as the run's sample images and the Playground do: DPM-Solver
    (the base folder's own scheduler is often DDPM, which needs far more steps), the run's steps,
    guidance and size, and a fixed seed."""
    return ("import torch\nfrom diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline\n\n"
            f'pipe = StableDiffusionPipeline.from_pretrained("{base}")\n'
            "pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)\n"
            'pipe.load_lora_weights("EXPORT_DIR")\n'
            f'image = pipe("a prompt", num_inference_steps={rc.sample_steps}, guidance_scale={rc.guidance_scale}, '
            f"height={rc.resolution}, width={rc.resolution},\n"
            "             generator=torch.Generator().manual_seed(0)).images[0]")
