"""The diffusion generator: a diffusion-LoRA run's adapters on its base pipeline, making an image
from a prompt; the base model's image comes from the same pipeline with the LoRA layers switched
off. Denoising progress is streamed as "step i/N" text."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.playground.generators import Emit, ShouldStop
from spark_trainer.playground.settings import SettingError
from spark_trainer.playground.source import ModelSource


@dataclass(frozen=True)
class ImageSettings:
    seed: int | None = None
    steps: int = 20
    guidance: float = 7.5
    negative_prompt: str = ""
    out: str | None = None  # where to write the PNG (default: the data home's playground/images/)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ImageSettings:
        data = dict(data or {})
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"unknown image setting {unknown[0]!r}; settings are: {', '.join(sorted(known))}")
        try:
            s = cls(seed=None if data.get("seed") is None else int(data["seed"]), steps=int(data.get("steps", 20)),
                    guidance=float(data.get("guidance", 7.5)), negative_prompt=str(data.get("negative_prompt", "")),
                    out=data.get("out"))
        except (TypeError, ValueError) as exc:
            raise BadInput(f"image settings: {exc}") from None
        if not 1 <= s.steps <= 500:
            raise SettingError("steps", f"must be from 1 to 500, got {s.steps}")
        if not 0 <= s.guidance <= 30:
            raise SettingError("guidance", f"must be from 0 to 30, got {s.guidance}")
        if s.seed is not None and not 0 <= s.seed < 2**32:
            raise SettingError("seed", f"must be from 0 to {2**32 - 1}, got {s.seed}")
        if s.out is not None and not str(s.out).lower().endswith(".png"):
            raise BadInput(f"--out {s.out}: the image is written as PNG; give a name ending in .png")
        return s


class DiffusionGenerator:
    def __init__(self) -> None:
        self.pipe: Any = None
        self.source: ModelSource | None = None
        self.resolution = 512
        self.device: Any = None

    def load(self, source: ModelSource, device: str) -> dict[str, Any]:
        import torch

        from spark_trainer.recipes.diffusion_model import quiet_torchvision_notice

        quiet_torchvision_notice()  # before diffusers' pipelines import transformers' image processors
        from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline

        from spark_trainer.jobs.submit import frozen_config
        from spark_trainer.models.loading import resolve_base_model
        from spark_trainer.recipes.diffusion_lora import DiffusionLoRAConfig
        from spark_trainer.recipes.diffusion_model import TEXT_ENCODER_TARGETS, add_lora, load_parts

        config = frozen_config(source.run_dir)
        rc = DiffusionLoRAConfig.model_validate(config.recipe_config)
        model_dir = resolve_base_model(config.base_model, search_dirs=(source.home, source.home / "models"))
        self.device = torch.device(device)
        dtype = torch.float32
        if self.device.type == "cuda":
            dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        parts = load_parts(model_dir, self.device, dtype)
        targets = [t.strip() for t in rc.target_modules.split(",")] if isinstance(rc.target_modules, str) \
            else list(rc.target_modules)
        scheduler = DPMSolverMultistepScheduler.from_pretrained(model_dir / "scheduler", local_files_only=True)
        pipe = StableDiffusionPipeline(vae=parts.vae, text_encoder=parts.text_encoder, tokenizer=parts.tokenizer,
                                       unet=parts.unet, scheduler=scheduler, safety_checker=None,
                                       feature_extractor=None, requires_safety_checker=False)
        pipe.set_progress_bar_config(disable=True)
        if source.kind == "base":  # the base pipeline alone: no LoRA layers to switch off
            pass
        elif source.kind == "final":
            with _no_text_encoder_lora_notice(not rc.train_text_encoder):
                pipe.load_lora_weights(str(source.path))
        else:
            from spark_trainer.export.checkpoint import read_tensors

            add_lora(parts.unet, rc.lora_r, rc.lora_alpha, 0.0, targets)
            if rc.train_text_encoder:
                add_lora(parts.text_encoder, rc.lora_r, rc.lora_alpha, 0.0, TEXT_ENCODER_TARGETS)
            _copy_weights({"unet": parts.unet, "text_encoder": parts.text_encoder},
                          read_tensors(source.path / "trainable.safetensors"), source.path)
        self.pipe, self.source, self.resolution = pipe, source, rc.resolution
        return {"resolution": rc.resolution, "base_model": str(model_dir), "lora_r": rc.lora_r}

    def generate(self, inputs: dict[str, Any], settings: dict[str, Any], *, base: bool, emit: Emit,
                 should_stop: ShouldStop) -> dict[str, Any]:
        import torch

        if self.pipe is None:
            raise BadInput("no model is loaded")
        if not base and self.source is not None and self.source.kind == "base":
            raise BadInput(f"run {self.source.run_id}'s base model alone is loaded: it answers for the base model only")
        s = ImageSettings.from_dict(settings)
        prompt = inputs.get("prompt")
        if not isinstance(prompt, str):
            raise BadInput("prompt must be text")
        seed = s.seed if s.seed is not None else random.randrange(2**32)
        cancelled = False

        def on_step(pipe: Any, i: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
            nonlocal cancelled
            emit(f"step {i + 1}/{s.steps}")
            if should_stop():
                cancelled = True
                pipe._interrupt = True
            return kwargs

        _set_lora(self.pipe, enabled=not base)
        started = time.monotonic()
        try:
            with torch.no_grad():
                image = self.pipe(prompt, negative_prompt=s.negative_prompt or None, num_inference_steps=s.steps,
                                  guidance_scale=s.guidance, width=self.resolution, height=self.resolution,
                                  generator=torch.Generator(device="cpu").manual_seed(seed),
                                  callback_on_step_end=on_step).images[0]
        finally:
            _set_lora(self.pipe, enabled=True)
        seconds = round(time.monotonic() - started, 3)
        used = {**asdict(s), "seed": seed}
        if cancelled:
            return {"finish_reason": "cancelled", "settings": used, "seconds": seconds}
        out = Path(s.out) if s.out else self._default_path("base" if base else "tuned")
        out.parent.mkdir(parents=True, exist_ok=True)
        try:  # "x": a file that appeared since the command checked is not written over either
            with open(out, "xb") as stream:
                image.save(stream, format="PNG")
        except FileExistsError:
            raise BadInput(f"{out} already exists; choose a new file (an image is never written over)") from None
        return {"image": str(out), "width": image.width, "height": image.height, "seconds": seconds,
                "finish_reason": "done", "settings": used}

    def _default_path(self, variant: str) -> Path:
        assert self.source is not None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
        return self.source.home / "playground" / "images" / f"run{self.source.run_id}-{stamp}-{variant}.png"

    def memory_bytes(self) -> int:
        import torch

        if self.pipe is None:
            return 0
        if self.device is not None and self.device.type == "cuda":
            return int(torch.cuda.memory_allocated(self.device))
        parts = (self.pipe.unet, self.pipe.vae, self.pipe.text_encoder)
        return sum(t.numel() * t.element_size() for m in parts for t in [*m.parameters(), *m.buffers()])

    def close(self) -> None:
        self.pipe = None


def _set_lora(pipe: Any, *, enabled: bool) -> None:
    """Switch every LoRA layer of the UNet and text encoder on or off (peft tuner layers)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    for model in (pipe.unet, pipe.text_encoder):
        for module in model.modules():
            if isinstance(module, BaseTunerLayer):
                module.enable_adapters(enabled)


def _copy_weights(models: dict[str, Any], weights: dict[str, Any], where: Path) -> None:
    """A checkpoint's trainable tensors (named as in the training module: unet.*, text_encoder.*)."""
    import torch

    targets = {}
    for prefix, model in models.items():
        for name, param in model.named_parameters():
            targets[f"{prefix}.{name}"] = param
    unknown = [k for k in weights if k not in targets]
    if unknown or not weights:
        raise BadInput(f"checkpoint {where} does not match this run's pipeline: {len(unknown)} of {len(weights)} "
                       f"tensors unknown" + (f", e.g. {unknown[0]}" if unknown else ""))
    with torch.no_grad():
        for name, tensor in weights.items():
            targets[name].copy_(tensor)


class _NoTextEncoderLoraNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "No LoRA keys associated to" not in record.getMessage()


@contextmanager
def _no_text_encoder_lora_notice(active: bool) -> Iterator[None]:
    """diffusers warns that a LoRA has no text-encoder keys, which is what a run that did not train
    the text encoder saves: nothing for the user to act on."""
    found = logging.getLogger("diffusers.loaders.lora_base")
    notice = _NoTextEncoderLoraNotice()
    if active:
        found.addFilter(notice)
    try:
        yield
    finally:
        found.removeFilter(notice)
