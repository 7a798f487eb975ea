"""A run's samples (artifact kind "sample": what training generated every N steps, and what was saved
from the Playground) read from their files, without Qt: the run page's Samples tab, the Compare page's
side-by-side samples and `spark-trainer run samples` all read them here."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spark_trainer.store.store import Store

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


@dataclass
class SampleItem:
    prompt: str
    output: str  # the completion, predicted labels or caption; "[image NAME] prompt" for an image
    image: str | None = None  # an image's file name, relative to the sample file's folder
    caption: str = ""


@dataclass
class RunSample:
    path: str
    step: int | None
    items: list[SampleItem] = field(default_factory=list)
    error: str = ""  # "cannot read PATH: why" (no items then)

    @property
    def is_image_file(self) -> bool:
        return Path(self.path).suffix.lower() in IMAGE_SUFFIXES


def sample_output(item: Any) -> str:
    """One sample item's output as text."""
    if isinstance(item, dict) and isinstance(item.get("image"), str):
        return f"[image {item['image']}] {item.get('prompt', '')}"
    if isinstance(item, dict):
        text = str(item.get("completion", item.get("output", item.get("text", item.get("caption", "")))))
        if isinstance(item.get("base_completion"), str):  # a comparison saved from generate or the Playground
            text += f"\n(base model) {item['base_completion']}"
        return text
    return str(item)


def item_text(item: SampleItem) -> str:
    """One item as text: what it was given (the prompt, the text classified) on a "> " line, then its
    output; an image's name and prompt, then its caption (the predicted and true class, the seed)."""
    if item.image is not None:
        return item.output + (f"\n{item.caption}" if item.caption else "")
    return (f"> {item.prompt}\n" if item.prompt else "") + item.output


def sample_text(sample: RunSample) -> str:
    """A sample's items as plain text, one after another (an image file has none): what `compare
    --samples` lays side by side. Outputs alone dropped an image's caption and the text a classifier was
    given, leaving "predicted: X" with nothing to say of what."""
    return "" if sample.is_image_file else "\n\n".join(item_text(item) for item in sample.items)


def read_sample(path: Path, step: int | None) -> RunSample:
    """A sample file: a JSON of prompt/output items (or image items), or an image itself."""
    sample = RunSample(str(path), step)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        sample.items.append(SampleItem("", f"[image {path.name}]", path.name))
        return sample
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        sample.error = f"cannot read {path}: {exc}"
        return sample
    for item in data.get("samples", []) if isinstance(data, dict) else []:
        prompt = str(item.get("prompt", "")) if isinstance(item, dict) else ""
        image = item.get("image") if isinstance(item, dict) and isinstance(item.get("image"), str) else None
        caption = str(item.get("caption", "")) if image is not None else ""
        sample.items.append(SampleItem(prompt, sample_output(item), image, caption))
    return sample


def run_samples(store: Store, run_ref: int | str, limit: int | None = 10) -> list[RunSample]:
    """The run's newest `limit` samples (all with None), newest first."""
    from spark_trainer.store import artifacts, runs

    run = runs.get(store, run_ref)
    found = artifacts.list_for(store, run.id, "sample")
    kept = found[-limit:] if limit else found
    return [read_sample(Path(a.path), a.step) for a in reversed(kept)]
