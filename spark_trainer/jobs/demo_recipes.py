"""Demo set-ups for recipes other than causal-lm: a tiny local model and generated sample data in
the data home, and a run file that trains them end to end offline (`spark-trainer demo --recipe`).

Each set-up returns (model folder, data path, validated config); `build_demo` does the rest.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

from spark_trainer.config import ExperimentConfig, validate_config
from spark_trainer.errors import BadInput
from spark_trainer.models.loading import DEMO_MODELS
from spark_trainer.store.store import Store

Setup = Callable[[Store, "int | None"], tuple[Path, Path, ExperimentConfig]]

TICKET_TOPICS = {
    "billing": "invoice refund charge payment card billed price subscription receipt",
    "bug": "crash error broken freeze fails exception stuck glitch",
    "praise": "great love thanks awesome happy wonderful excellent delighted",
}


def _config(recipe: str, name: str, model: Path, data: Path, steps: int, train: dict, recipe_config: dict,
            every: int) -> ExperimentConfig:
    return validate_config({
        "project": "demo", "name": name, "recipe": recipe, "base_model": str(model), "dataset": str(data),
        "gpus": "auto", "notes": f"Created by `spark-trainer demo --recipe {recipe}`: a tiny random-weight model "
        "learning generated data.",
        "train": {"max_steps": steps, **train}, "recipe_config": recipe_config,
        "eval": {"every_steps": every, "val_fraction": 0.2, "samples_every_steps": steps},
        "checkpoint": {"every_steps": every, "keep": 2},
    })


def text_classification_demo(store: Store, steps: int | None) -> tuple[Path, Path, ExperimentConfig]:
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier

    model = store.home.models_dir / DEMO_MODELS["text-classification"]
    if not (model / "config.json").is_file():
        create_tiny_text_classifier(model, corpus=list(TICKET_TOPICS.values()))
    data = store.home.root / "demo-data" / "tickets.jsonl"
    if not data.is_file():
        data.parent.mkdir(parents=True, exist_ok=True)
        rng = random.Random(0)
        names = list(TICKET_TOPICS)
        rows = []
        for i in range(240):
            label = names[i % 3]
            words = TICKET_TOPICS[label].split()
            rows.append({"text": " ".join(rng.choice(words) for _ in range(rng.randint(4, 8))), "label": label})
        data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    steps = steps or 60
    return model, data, _config("text-classification", "tiny-tickets", model, data, steps,
                                {"learning_rate": 3e-3, "batch_size": 8}, {"method": "full"}, max(1, steps // 4))


def image_classification_demo(store: Store, steps: int | None) -> tuple[Path, Path, ExperimentConfig]:
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier

    model = store.home.models_dir / DEMO_MODELS["image-classification"]
    if not (model / "config.json").is_file():
        create_tiny_image_classifier(model, num_labels=2)
    data = store.home.root / "demo-data" / "shapes"
    if not data.is_dir():
        _write_shapes(data)
    steps = steps or 40
    return model, data, _config("image-classification", "tiny-shapes", model, data, steps,
                                {"learning_rate": 3e-3, "batch_size": 8}, {"method": "full", "num_workers": 1},
                                max(1, steps // 4))


def _write_shapes(root: Path, per_class: int = 20, size: int = 40) -> None:
    """root/<class>/<n>.png: three classes told apart by colour and shape (like a dropped folder)."""
    from PIL import Image, ImageDraw

    rng = random.Random(0)
    for name, color in {"red_square": (220, 40, 40), "green_disc": (40, 200, 60), "blue_bars": (40, 60, 220)}.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            image = Image.new("RGB", (size, size), tuple(rng.randint(200, 255) for _ in range(3)))
            draw = ImageDraw.Draw(image)
            a, b = rng.randint(2, 10), rng.randint(size - 10, size - 2)
            if name == "red_square":
                draw.rectangle([a, a, b, b], fill=color)
            elif name == "green_disc":
                draw.ellipse([a, a, b, b], fill=color)
            else:
                for x in range(a, b, 8):
                    draw.rectangle([x, 2, x + 3, size - 2], fill=color)
            image.save(folder / f"{i:03d}.png")


def diffusion_demo(store: Store, steps: int | None) -> tuple[Path, Path, ExperimentConfig]:
    from spark_trainer.jobs.demo_diffusion import diffusion_demo_parts

    return diffusion_demo_parts(store, steps or 40)


DEMO_SETUPS: dict[str, Setup] = {
    "text-classification": text_classification_demo,
    "image-classification": image_classification_demo,
    "diffusion-lora": diffusion_demo,
}


def demo_setup_for(recipe: str) -> Setup:
    """The set-up of `recipe`'s demo; BadInput naming the recipes that have one."""
    try:
        return DEMO_SETUPS[recipe]
    except KeyError:
        known = ", ".join(["causal-lm", *sorted(DEMO_SETUPS)])
        raise BadInput(f"--recipe: no demo for recipe {recipe!r}; demos exist for: {known}") from None


def demo_setup(store: Store, recipe: str, steps: int | None) -> tuple[Path, Path, ExperimentConfig]:
    return demo_setup_for(recipe)(store, steps)
