"""Diffusion LoRA recipe: teach a Stable-Diffusion-style pipeline (diffusers folder) a style or a
subject from image + caption pairs: an image dataset with captions, or text rows (a CSV/JSONL) of
image paths and captions. This module declares the config; the implementation is imported only to
train."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from spark_trainer.config.schema import Settings
from spark_trainer.recipes.base import MetricSpec
from spark_trainer.recipes.fit import DataFacts, missing_field, needs_pipeline
from spark_trainer.recipes.lora_targets import TargetModules
from spark_trainer.recipes.registry import RecipeSpec

PIPELINE_MULTIPLE = 8  # diffusers' pipelines make images only of sides divisible by 8 (their check_inputs)


class DiffusionLoRAConfig(Settings):
    method: Literal["lora"] = Field("lora", description="Fine-tuning method: LoRA adapters (the base stays frozen)")
    resolution: int = Field(512, ge=16, le=2048, description="Training image side in pixels (a multiple of the "
                            "model's downsampling and of 8: 64 for SD 1.x)")
    crop: Literal["center", "buckets"] = Field(
        "center", description="center: resize and centre-crop to a square; buckets: aspect-ratio buckets of about "
        "resolution² pixels (each image goes to the bucket nearest its shape)")
    random_flip: bool = Field(False, description="Mirror images horizontally at random")
    lora_r: int = Field(16, ge=1, le=1024, description="LoRA rank")
    lora_alpha: float = Field(16, gt=0, le=4096, description="LoRA scaling numerator (alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA path")
    target_modules: TargetModules = Field(
        "to_q,to_k,to_v,to_out.0", description="UNet modules to adapt (comma-separated or a list)")
    train_text_encoder: bool = Field(False, description="Also put LoRA on the text encoder (q/k/v/out projections)")
    cache_latents: bool = Field(True, description="Encode every image with the VAE once, before training")
    cache_text_embeddings: bool = Field(
        True, description="Encode every caption once, before training (off when the text encoder trains)")
    image_column: str = Field("path", min_length=1, description="For text rows (a CSV/JSONL of image paths and "
                              "captions): the field holding the image path (relative paths are relative to the "
                              "file's folder)")
    caption_column: str = Field("caption", min_length=1, description="For text rows: the field holding the caption")
    missing_captions: Literal["error", "empty", "skip"] = Field(
        "error", description="Images without a caption: error (refuse, naming them), empty (train them "
        "unconditioned) or skip (leave them out)")
    caption_dropout: float = Field(0.0, ge=0, le=1, description="Chance of training an image with an empty caption")
    noise_offset: float = Field(0.0, ge=0, le=1, description="Offset noise strength (darker darks, brighter brights)")
    snr_gamma: float | None = Field(None, gt=0, le=100, description="Min-SNR loss weighting gamma (5 is usual; "
                                    "empty: off)")
    eval_max_rows: int | None = Field(
        500, ge=1, description="Validation images each evaluation runs on, the final one included: this many "
        "spread evenly over the validation split, the same ones every time, so curves and runs compare (each is "
        "a UNet pass, and its latents are cached before training: a 20,000-image set's 10% split made every "
        "evaluation 2,000 images); empty: all of them",
        json_schema_extra={"placeholder": "empty: every validation image"})
    sample_prompts: list[str] = Field(
        default_factory=list, description="Prompts of the sample images made every eval.samples_every_steps "
        "(empty: the dataset's first captions)")
    sample_steps: int = Field(20, ge=1, le=200, description="Denoising steps for sample images")
    guidance_scale: float = Field(7.5, ge=0, le=30, description="Classifier-free guidance for sample images")
    sample_seed: int = Field(1234, ge=0, le=2**31 - 1, description="Seed of the first sample image (the next "
                             "prompt uses seed + 1, ...): the same seeds every time, so samples compare across steps")

    @field_validator("resolution")
    @classmethod
    def _pipeline_multiple(cls, value: int) -> int:
        # Said at the field, as the form checks it: 33 passed the form and was refused only at Launch.
        # The model's own multiple (64 for SD 1.x) is checked against its folder at submit.
        if value % PIPELINE_MULTIPLE:
            lower = value // PIPELINE_MULTIPLE * PIPELINE_MULTIPLE
            raise ValueError(f"must be a multiple of {PIPELINE_MULTIPLE} (a diffusion pipeline makes images of sides "
                             f"divisible by {PIPELINE_MULTIPLE}); try {lower or PIPELINE_MULTIPLE}")
        return value


ADD_CAPTIONS = "add a name.txt caption beside each image (or a metadata.jsonl)"


def data_fit(facts: DataFacts, settings: DiffusionLoRAConfig) -> str | None:
    """Captioned images, or text rows with an image path and a caption: a caption on every image
    unless the settings train images without one (empty) or leave them out (skip, which needs one)."""
    if facts.kind == "image":
        column, noun, add = "caption", "image", ADD_CAPTIONS
    else:
        column, noun = settings.caption_column, "record"
        add = f"fill in {column!r} on every row"
        if why := missing_field(facts, "image_column", settings.image_column):
            return why
        if settings.missing_captions == "error" and (why := missing_field(facts, "caption_column", column)):
            return why
    what = "a caption" if facts.kind == "image" else f"a caption in {column!r}"
    short = facts.short_of(column, noun, what)
    if settings.missing_captions == "empty":
        return None
    if settings.missing_captions == "skip":
        if short and facts.count(column) == 0:
            return (f"{short}, so missing_captions: skip leaves nothing to train on; {add}, or set "
                    "recipe_config.missing_captions to empty")
        return None
    if short:
        return (f"{short}; diffusion-lora needs a caption for every image: {add}, or set "
                "recipe_config.missing_captions to empty or skip")
    return None


def pixel_multiple(folder: Path) -> int:
    """What `resolution` must be a multiple of for the pipeline in `folder`: its VAE's downsampling
    times its UNet's (64 for SD 1.x), from their config.json files, and a multiple of 8 in any case,
    or the run's sample images fail (a resolution of 36 trained, then ended at the first sample).

    Raises:
        OSError, ValueError, KeyError, TypeError: a config that is missing or not a pipeline's.
    """
    vae = json.loads((Path(folder) / "vae" / "config.json").read_text())
    unet = json.loads((Path(folder) / "unet" / "config.json").read_text())
    downsampling = 2 ** (len(vae["block_out_channels"]) - 1) * 2 ** (len(unet["block_out_channels"]) - 1)
    return math.lcm(downsampling, PIPELINE_MULTIPLE)


def small_images(facts: DataFacts, settings: DiffusionLoRAConfig, model: Path | None) -> str | None:
    """A warning when most images are smaller than `resolution` (their shorter side under it): each is
    enlarged to it, so a step costs the pixels of the training size and learns no more detail (512 on
    64 px video frames kept a CPU run at step 0 for 20 minutes). Upscaling can be meant: not refused."""
    size, under, total = settings.resolution, facts.images_under(settings.resolution), facts.images
    typical = facts.typical_side()
    if typical is None or under * 2 <= total:
        return None
    try:
        step = pixel_multiple(model) if model is not None else PIPELINE_MULTIPLE
    except (OSError, ValueError, KeyError, TypeError):  # not a pipeline: the model check says so
        step = PIPELINE_MULTIPLE
    suggested = max(step, typical // step * step)
    try_it = f"; try recipe_config.resolution: {suggested}" if suggested < size else ""
    return (f"recipe_config.resolution {size} is larger than {under:,} of the dataset's {total:,} images (shorter "
            f"side typically {typical} px): each is enlarged to {size} px, {(size / typical) ** 2:.0f}x its pixels, "
            f"which slows every step and adds no detail{try_it} (keep {size} if the enlargement is intended)")


RECIPE = RecipeSpec(
    name="diffusion-lora",
    title="Diffusion LoRA",
    description="Teach a Stable-Diffusion-style pipeline (diffusers folder) a style or subject from images with "
    "captions (or a CSV/JSONL of image paths and captions), with LoRA on the UNet (and optionally the text encoder).",
    config_model=DiffusionLoRAConfig,
    data_kinds=("image", "text"),
    implementation="spark_trainer.recipes.diffusion_lora_impl:DiffusionLoRARecipe",
    tags=("image", "diffusion"),
    metrics=(MetricSpec("eval_loss", False, "validation noise-prediction loss"),),
    unit="images",
    moved_fields=(("eval.sample_prompts", "sample_prompts"),),
    # A run frozen before eval_max_rows evaluated on every validation image: it keeps doing so.
    frozen_defaults=(("eval_max_rows", None),),
    data_fit=data_fit,
    model_fit=needs_pipeline,
    data_advice=small_images,
)
