"""Saving what was tried in the playground to the run, as samples the run view lists with the
ones generated during training (`runs/<id>/samples/playground-*.json`, artifact kind "sample")."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.store import artifacts, runs
from spark_trainer.store.entities import Artifact
from spark_trainer.store.store import Store


def save_sample(store: Store, run_ref: int | str, item: dict[str, Any], *, step: int | None = None,
                checkpoint: str | None = None) -> Artifact:
    """Write one prompt and its answer (plus the base model's, the settings...) as a sample of the run.

    Args:
        item: at least "prompt" and "completion" (text runs), or "input" and "output" (other kinds).

    Raises:
        BadInput: unknown run, or an item with nothing to save.
    """
    run = runs.get(store, run_ref)
    if not any(str(item.get(k) or "").strip() for k in ("completion", "output", "image")):
        raise BadInput("nothing to save: the answer is empty")
    folder = Path(run.run_dir) / "samples"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")
    path = folder / f"playground-{stamp}.json"
    items = _with_images(store, run.id, item, folder, f"playground-{stamp}", step)
    document = {"step": step, "source": "playground", "checkpoint": checkpoint, "samples": items}
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(staging, path)
    return artifacts.add(store, run.id, "sample", str(path), step=step,
                         meta={"source": "playground", "checkpoint": checkpoint, "count": len(items)})


def _with_images(store: Store, run_id: int, item: dict[str, Any], folder: Path, stem: str,
                 step: int | None) -> list[dict[str, Any]]:
    """Images (`image`, and `base_image` for the comparison) are copied beside the sample file and
    named relative to it, as the training engine writes image samples: one item per image."""
    if "image" not in item:
        return [item]
    items = []
    for key, name, caption in (("image", f"{stem}.png", "with LoRA"), ("base_image", f"{stem}-base.png", "without LoRA")):
        if not item.get(key):
            continue
        source = Path(item[key])
        if not source.is_file():
            raise BadInput(f"cannot save the sample: image {source} does not exist")
        shutil.copyfile(source, folder / name)
        seed = (item.get("settings") or {}).get("seed")
        extra = {k: v for k, v in item.items() if k not in ("image", "base_image", "output")}
        items.append({**extra, "image": name, "caption": caption + (f" · seed {seed}" if seed is not None else "")})
        artifacts.add(store, run_id, "sample_image", str(folder / name), step=step,
                      meta={"source": "playground", "caption": caption})
    return items
