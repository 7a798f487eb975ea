"""Generated data for the classification recipes: separable texts and images, three classes."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

TOPICS = {
    "billing": "invoice refund charge payment card billed price subscription receipt",
    "bug": "crash error broken freeze fails exception stuck bug glitch",
    "praise": "great love thanks awesome happy wonderful excellent delighted nice",
}


def ticket_rows(n: int = 150, seed: int = 0) -> list[dict[str, Any]]:
    """Short support tickets; each class has its own vocabulary."""
    rng = random.Random(seed)
    names = list(TOPICS)
    rows = []
    for i in range(n):
        label = names[i % len(names)]
        words = TOPICS[label].split()
        rows.append({"text": " ".join(rng.choice(words) for _ in range(rng.randint(4, 8))) + f" #{i}", "label": label})
    return rows


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_image_folders(root: Path, per_class: int = 24, size: int = 40, seed: int = 0) -> Path:
    """root/<class>/<n>.png for three classes told apart by colour and shape."""
    from PIL import Image, ImageDraw

    rng = random.Random(seed)
    colors = {"red_square": (220, 40, 40), "green_disc": (40, 200, 60), "blue_bars": (40, 60, 220)}
    for name, color in colors.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            bg = tuple(rng.randint(200, 255) for _ in range(3))
            image = Image.new("RGB", (size, size), bg)
            draw = ImageDraw.Draw(image)
            jitter = [tuple(max(0, min(255, c + rng.randint(-30, 30))) for c in color)][0]
            a, b = rng.randint(2, 10), rng.randint(size - 10, size - 2)
            if name == "red_square":
                draw.rectangle([a, a, b, b], fill=jitter)
            elif name == "green_disc":
                draw.ellipse([a, a, b, b], fill=jitter)
            else:
                for x in range(a, b, 8):
                    draw.rectangle([x, 2, x + 3, size - 2], fill=jitter)
            image.save(folder / f"{i:03d}.png")
    return root


def ingested_jsonl(folder: Path, rows: list[dict[str, Any]], name: str = "rows.jsonl") -> Path:
    """The folder of a dataset ingested from `rows` written as `folder/name` (real ingestion into a
    home in `folder`, so its manifest is what runs read, and the token cache has a dataset to live in)."""
    folder.mkdir(parents=True, exist_ok=True)
    return ingested(folder, write_jsonl(folder / name, rows))


def ingested(folder: Path, source: Path) -> Path:
    """The folder of the dataset ingested from `source` (a file or a folder) into a home in `folder`."""
    from spark_trainer.ingest.core import ingest_paths
    from spark_trainer.store import datasets, projects
    from spark_trainer.store.store import Store

    with Store.open(folder / "home") as store:
        projects.create(store, "p")
        result = ingest_paths(store, [source], project="p")
        return Path(datasets.get(store, result.dataset.id).path)
