"""Where base models come from: local folders in the data home, and the local Hugging Face cache."""

from __future__ import annotations

import os
from pathlib import Path

MARKERS = ("config.json", "model_index.json")  # a transformers model, or a diffusers pipeline


def _is_model(folder: Path) -> bool:
    return any((folder / marker).is_file() for marker in MARKERS)


def hf_cache_dir() -> Path:
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]) / "hub"
    return Path.home() / ".cache" / "huggingface" / "hub"


def cached_models(cache: Path | None = None) -> list[str]:
    """Hugging Face ids (org/name) with a snapshot holding a config.json in the local cache."""
    root = cache or hf_cache_dir()
    if not root.is_dir():
        return []
    found = []
    for entry in sorted(root.glob("models--*")):
        if any(entry.glob("snapshots/*/config.json")) or any(entry.glob("snapshots/*/model_index.json")):
            found.append(entry.name.removeprefix("models--").replace("--", "/"))
    return found


def local_models(models_dir: Path) -> list[str]:
    """Model folders (with a config.json) directly under the data home's models/."""
    if not models_dir.is_dir():
        return []
    return [str(p) for p in sorted(models_dir.iterdir()) if _is_model(p)]


def resolve_base_model(text: str, models_dir: Path) -> tuple[Path | None, str | None]:
    """(folder holding config.json, None) for a usable model, or (None, why not) for the form."""
    text = text.strip()
    if not text:
        return None, "choose a base model folder, or a model from the local Hugging Face cache"
    path = Path(text).expanduser()
    candidates = [path] if path.is_absolute() else [models_dir / path, Path.cwd() / path]
    for candidate in candidates:
        if candidate.is_dir():
            if _is_model(candidate):
                return candidate, None
            return None, f"{candidate} has no config.json (nor model_index.json): choose a Hugging Face model folder"
    if "/" in text and not path.is_absolute():
        snapshots = sorted((hf_cache_dir() / f"models--{text.replace('/', '--')}").glob("snapshots/*/config.json"))
        if snapshots:
            return snapshots[-1].parent, None
    return None, f"{text} is neither a folder nor a model in the local Hugging Face cache ({hf_cache_dir()})"
