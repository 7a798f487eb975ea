"""The diffusion-LoRA demo: a tiny Stable-Diffusion-style pipeline created locally (random weights,
generated tokenizer) and generated captioned images of coloured shapes, trained end to end offline."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.config import ExperimentConfig, validate_config
from spark_trainer.models.loading import DEMO_MODELS
from spark_trainer.store.store import Store

DEMO_PIPELINE = DEMO_MODELS["diffusion-lora"]
DEMO_IMAGES = "diffusion-shapes"
PROMPTS = ["a red circle on a blue background", "a yellow square on a black background"]


def ensure_demo_pipeline(store: Store) -> Path:
    """The tiny pipeline under `models/`, created once."""
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline

    dest = store.home.models_dir / DEMO_PIPELINE
    if not (dest / "model_index.json").is_file():
        create_tiny_sd_pipeline(dest)
    return dest


def ensure_demo_images(store: Store) -> Path:
    """Captioned shape images (PNG + .txt) under `demo-data/`, generated once (the same every time,
    so the demo's dataset is ingested once and reused)."""
    from spark_trainer.models.tiny_diffusion import write_captioned_images

    folder = store.home.root / "demo-data" / DEMO_IMAGES
    if not folder.is_dir():
        staging = folder.with_name(f".{DEMO_IMAGES}-staging")
        write_captioned_images(staging, 24, size=32)
        staging.rename(folder)
    return folder


def diffusion_demo_config(model_path: Path, data_path: Path, *, steps: int = 40) -> ExperimentConfig:
    return validate_config({
        "project": "demo",
        "name": "tiny-diffusion-lora",
        "recipe": "diffusion-lora",
        "base_model": str(model_path),
        "dataset": str(data_path),
        "gpus": "auto",
        "notes": "Created by `spark-trainer demo --recipe diffusion-lora`: a tiny random-weight pipeline "
                 "learning captioned shapes.",
        "train": {"max_steps": steps, "learning_rate": 1e-2, "batch_size": 4, "warmup_steps": min(5, steps // 10)},
        "recipe_config": {"resolution": 32, "lora_r": 8, "lora_alpha": 8, "sample_steps": 8,
                          "target_modules": "to_q,to_k,to_v,to_out.0,conv_in,conv_out", "sample_prompts": PROMPTS},
        "eval": {"every_steps": max(1, steps // 2), "val_fraction": 0.15, "samples_every_steps": max(1, steps // 2)},
        "checkpoint": {"every_steps": max(1, steps // 2), "keep": 2},
    })


def diffusion_demo_parts(store: Store, steps: int) -> tuple[Path, Path, ExperimentConfig]:
    """(pipeline folder, image folder, run config) for `build_demo(recipe="diffusion-lora")`."""
    model, images = ensure_demo_pipeline(store), ensure_demo_images(store)
    return model, images, diffusion_demo_config(model, images, steps=steps)
