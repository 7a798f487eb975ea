"""Diffusion model pieces shared by the recipe and the benchmark: loading a diffusers pipeline's
parts, LoRA through peft, the noise-prediction loss, sample images and saving the LoRA in the
layout `pipeline.load_lora_weights(folder)` reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput

UNET_TARGETS = ("to_q", "to_k", "to_v", "to_out.0")
TEXT_ENCODER_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")
LORA_WEIGHTS = "pytorch_lora_weights.safetensors"


class _NoTorchvisionNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "requires torchvision (not installed)" not in record.getMessage()


def quiet_torchvision_notice() -> None:
    """Importing diffusers' pipelines makes transformers announce that its CLIP image processors fall
    back to PIL because torchvision is absent. We never use those processors (and never install
    torchvision), so the notice only clutters every run's log."""
    found = logging.getLogger("transformers.utils.import_utils")
    if not any(isinstance(f, _NoTorchvisionNotice) for f in found.filters):
        found.addFilter(_NoTorchvisionNotice())


def torch_dtype(precision: str) -> Any:
    import torch

    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[precision]


def check_pipeline_folder(model_dir: Path) -> None:
    """BadInput unless `model_dir` is a diffusers Stable-Diffusion-style folder (unet, vae, text encoder)."""
    index = Path(model_dir) / "model_index.json"
    if not index.is_file():
        raise BadInput(f"base model {model_dir} is not a diffusers pipeline folder (no model_index.json); "
                       "diffusion-lora needs a Stable-Diffusion-style pipeline saved with save_pretrained")
    missing = [part for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
               if not (Path(model_dir) / part).is_dir()]
    if missing:
        raise BadInput(f"base model {model_dir} lacks the {', '.join(missing)} folder(s) a Stable-Diffusion-style "
                       "pipeline has")


@dataclass
class Parts:
    tokenizer: Any
    text_encoder: Any
    vae: Any
    unet: Any
    noise_scheduler: Any

    @property
    def vae_scale(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def pixel_multiple(self) -> int:
        """Image sides must be multiples of this: the VAE's and the UNet's downsampling together."""
        return self.vae_scale * 2 ** (len(self.unet.config.block_out_channels) - 1)


def load_parts(model_dir: Path, device: Any, dtype: Any) -> Parts:
    """The pipeline's parts, frozen, on `device` in `dtype` (the VAE stays fp32 when dtype is fp16:
    SD VAEs overflow in fp16)."""
    import torch

    quiet_torchvision_notice()
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextModel

    model_dir = Path(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir / "tokenizer", local_files_only=True)
    text_encoder = CLIPTextModel.from_pretrained(model_dir / "text_encoder", dtype=dtype, local_files_only=True)
    vae = AutoencoderKL.from_pretrained(model_dir / "vae", local_files_only=True,
                                        torch_dtype=torch.float32 if dtype == torch.float16 else dtype)
    unet = UNet2DConditionModel.from_pretrained(model_dir / "unet", local_files_only=True, torch_dtype=dtype)
    noise_scheduler = DDPMScheduler.from_pretrained(model_dir / "scheduler", local_files_only=True)
    for part in (text_encoder, vae, unet):
        part.requires_grad_(False)
        part.to(device)
        part.eval()
    return Parts(tokenizer, text_encoder, vae, unet, noise_scheduler)


def add_lora(model: Any, r: int, alpha: float, dropout: float, targets: Sequence[str]) -> None:
    """LoRA adapters (trainable, fp32) on `targets` of a diffusers UNet or a transformers text encoder."""
    import torch
    from peft import LoraConfig

    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, init_lora_weights="gaussian",
                        target_modules=list(targets))
    try:
        if type(model).__module__.startswith("diffusers"):
            model.add_adapter(config)
        else:  # transformers' add_adapter wants peft >= 0.22 (transformers 5.2x); peft's own injection does not
            from peft import inject_adapter_in_model

            inject_adapter_in_model(config, model, adapter_name="default")
    except ValueError as exc:  # peft: "Target modules ... not found in the base model"
        raise BadInput(f"recipe_config: cannot add LoRA to {type(model).__name__}: {exc}") from None
    for param in model.parameters():
        if param.requires_grad:
            param.data = param.data.to(torch.float32)


def encode_prompts(tokenizer: Any, text_encoder: Any, prompts: list[str]) -> Any:
    """The text encoder's last hidden states for `prompts`, padded to the tokenizer's max length."""
    ids = tokenize(tokenizer, prompts).to(text_encoder.device)
    return text_encoder(ids, return_dict=False)[0]


def tokenize(tokenizer: Any, prompts: list[str]) -> Any:
    return tokenizer(prompts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                     return_tensors="pt").input_ids


def latent_params(vae: Any, pixels: Any) -> Any:
    """The VAE posterior's (mean, logvar) for a batch of pixels, concatenated on channels; sampling
    from it each step is what an uncached run does, so caching this is exact."""
    return vae.encode(pixels.to(vae.device, vae.dtype)).latent_dist.parameters


def make_train_module(unet: Any, noise_scheduler: Any, *, scaling_factor: float, vae: Any = None,
                      text_encoder: Any = None, train_text_encoder: bool = False, noise_offset: float = 0.0,
                      snr_gamma: float | None = None) -> Any:
    """An nn.Module holding the parts; `module(batch)` returns one noise-prediction loss per image.
    `vae` and `text_encoder` may be None when every batch brings cached latents and text states.

    A batch group holds `latent_params` (cached) or `pixels`; `text_embeds` (cached) or `input_ids`;
    and, for validation only, fixed `noise` and `timesteps` so the validation loss is comparable
    from one evaluation to the next.
    """
    import torch
    from torch import nn

    class _Module(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.unet, self.text_encoder, self.vae = unet, text_encoder, vae
            self.noise_scheduler = noise_scheduler
            alphas = noise_scheduler.alphas_cumprod.to(torch.float32)
            self.register_buffer("alphas_cumprod", alphas, persistent=False)

        def forward(self, batch: dict[str, Any]) -> Any:
            """Per-image losses of a collated batch: one group per image size (`name@g` keys)."""
            # Group suffixes come from the keys, not from a tensor: reading a count off the device
            # would stall the GPU once per micro-batch.
            groups = sorted({k.rsplit("@", 1)[1] for k in batch if "@" in k}, key=int)
            if not groups:
                return self.group_loss(batch)
            parts = []
            for g in groups:
                suffix = f"@{g}"
                parts.append(self.group_loss({k[: -len(suffix)]: v for k, v in batch.items() if k.endswith(suffix)}))
            return torch.cat(parts)

        def group_loss(self, batch: dict[str, Any]) -> Any:
            unet = self.unet
            if "latent_params" in batch:
                params = batch["latent_params"].float()
            else:
                with torch.no_grad():
                    params = latent_params(self.vae, batch["pixels"]).float()
            mean, logvar = params.chunk(2, dim=1)
            std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
            fixed = "noise" in batch
            sample_noise = batch["posterior_noise"] if fixed else torch.randn_like(mean)
            latents = (mean + std * sample_noise) * scaling_factor
            noise = batch["noise"].float() if fixed else torch.randn_like(latents)
            if noise_offset and not fixed:
                noise = noise + noise_offset * torch.randn(latents.shape[0], latents.shape[1], 1, 1,
                                                           device=latents.device)
            if fixed:
                timesteps = batch["timesteps"].long()
            else:
                timesteps = torch.randint(0, len(self.alphas_cumprod), (latents.shape[0],), device=latents.device)
            a = self.alphas_cumprod[timesteps].view(-1, 1, 1, 1)
            noisy = a.sqrt() * latents + (1 - a).sqrt() * noise
            if "text_embeds" in batch:
                hidden = batch["text_embeds"]
            else:
                with torch.set_grad_enabled(train_text_encoder and self.training):
                    hidden = self.text_encoder(batch["input_ids"], return_dict=False)[0]
            pred = unet(noisy.to(unet.dtype), timesteps, hidden.to(unet.dtype), return_dict=False)[0]
            kind = self.noise_scheduler.config.prediction_type
            if kind == "epsilon":
                target = noise
            elif kind == "v_prediction":
                target = a.sqrt() * noise - (1 - a).sqrt() * latents
            else:
                raise BadInput(f"scheduler prediction_type {kind!r} is not supported (epsilon or v_prediction)")
            per_image = ((pred.float() - target.float()) ** 2).mean(dim=(1, 2, 3))
            if snr_gamma:
                snr = (a / (1 - a)).view(-1)
                weight = torch.clamp(snr, max=snr_gamma) / (snr + 1 if kind == "v_prediction" else snr)
                per_image = per_image * weight
            return per_image

    return _Module()


def generate_images(parts: Parts, model_dir: Path, prompts: list[str], *, seed: int, steps: int,
                    guidance: float, size: tuple[int, int]) -> list[Any]:
    """One PIL image per prompt from the current weights, each from its own fixed seed."""
    import torch

    quiet_torchvision_notice()
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

    scheduler = DPMSolverMultistepScheduler.from_pretrained(Path(model_dir) / "scheduler", local_files_only=True)
    pipe = StableDiffusionPipeline(vae=parts.vae, text_encoder=parts.text_encoder, tokenizer=parts.tokenizer,
                                   unet=parts.unet, scheduler=scheduler, safety_checker=None,
                                   feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    modes = [m.training for m in (parts.unet, parts.text_encoder)]
    parts.unet.eval()
    parts.text_encoder.eval()
    images = []
    try:
        with torch.no_grad():
            for i, prompt in enumerate(prompts):
                generator = torch.Generator(device="cpu").manual_seed(seed + i)
                # Denoise to latents, then decode in the VAE's own dtype: under fp16 the VAE stays fp32
                # (it overflows in fp16), which the pipeline's own decode would feed fp16 latents.
                latents = pipe(prompt, num_inference_steps=steps, guidance_scale=guidance, generator=generator,
                               width=size[0], height=size[1], output_type="latent").images
                decoded = parts.vae.decode(latents.to(parts.vae.dtype) / parts.vae.config.scaling_factor,
                                           return_dict=False)[0]
                images.append(pipe.image_processor.postprocess(decoded.float(), output_type="pil")[0])
    finally:
        parts.unet.train(modes[0])
        parts.text_encoder.train(modes[1])
    return images


def image_grid(images: list[Any]) -> Any:
    """The images side by side in one PIL image (for the Samples tab)."""
    from PIL import Image

    w, h = images[0].size
    grid = Image.new("RGB", (w * len(images) + 4 * (len(images) - 1), h), "white")
    for i, image in enumerate(images):
        grid.paste(image, (i * (w + 4), 0))
    return grid


def save_lora(unet: Any, text_encoder: Any | None, dest: Path) -> Path:
    """Write the adapters as diffusers' `save_lora_weights` does (loadable with `load_lora_weights`)."""
    quiet_torchvision_notice()
    from diffusers import StableDiffusionPipeline
    from peft.utils import get_peft_model_state_dict

    # peft's own key names (lora_A/lora_B), which load_lora_weights reads: diffusers'
    # convert_state_dict_to_diffusers renames only attention layers to the old lora.down/up names, and a
    # file mixing both (conv targets) loads its conv layers but silently drops the attention ones.
    unet_layers = get_peft_model_state_dict(unet)
    te_layers = get_peft_model_state_dict(text_encoder) if text_encoder else None
    StableDiffusionPipeline.save_lora_weights(
        dest, unet_lora_layers=unet_layers, text_encoder_lora_layers=te_layers, safe_serialization=True,
        unet_lora_adapter_metadata=unet.peft_config["default"].to_dict(),
        text_encoder_lora_adapter_metadata=text_encoder.peft_config["default"].to_dict() if text_encoder else None)
    return Path(dest) / LORA_WEIGHTS
