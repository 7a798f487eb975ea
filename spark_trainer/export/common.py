"""Pieces every exporter needs: the base model's folder, how to name it, loading trained tensors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput


def base_dir(config: ExperimentConfig) -> Path:
    """The base model's local folder (an absolute path in the frozen config, or a cached Hub id)."""
    from spark_trainer.models.loading import resolve_base_model
    from spark_trainer.paths import resolve_home

    home = resolve_home(None)
    return resolve_base_model(config.base_model, search_dirs=(home.root, home.models_dir))


def _local_base(config: ExperimentConfig) -> tuple[Path, str | None] | None:
    """(folder, its Hub id when it is a snapshot of the Hugging Face cache) when the base is a folder."""
    from spark_trainer.models.loading import cache_repo_id

    path = Path(config.base_model).expanduser()
    return (path, cache_repo_id(path)) if path.is_absolute() or path.exists() else None


def base_reference(config: ExperimentConfig) -> str:
    """How the card and adapter config name the base: its Hub id (a Hub id is frozen at submit as its
    folder in the Hugging Face cache), or a local folder's name (never the path: it is the user's)."""
    local = _local_base(config)
    if local is None:
        return config.base_model
    path, hub_id = local
    return hub_id or path.name


def base_is_local(config: ExperimentConfig) -> bool:
    """The base is a local folder with no Hub id: the card's usage names it but cannot load it as written."""
    local = _local_base(config)
    return local is not None and local[1] is None


def save_adapter(model: Any, dest: Path, config: ExperimentConfig) -> None:
    """Save a PEFT model's adapter into `dest`, its config naming the base as `base_reference` does.

    peft checks whether the vocabulary was resized by reading the base's config.json, from the Hub
    when the name is not a local folder (a network call during a local export): it saves while
    naming the local folder, then the written config gets the shareable name.
    """
    import json

    peft_config = model.peft_config["default"]
    peft_config.base_model_name_or_path = str(base_dir(config))
    model.save_pretrained(dest)
    peft_config.base_model_name_or_path = base_reference(config)
    path = Path(dest) / "adapter_config.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["base_model_name_or_path"] = base_reference(config)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_trainable(model: Any, checkpoint: Path) -> None:
    """Copy a checkpoint's `trainable.safetensors` into the parameters of the same names (the names
    the engine saved them under, so `model` must be built the way the recipe builds it)."""
    import torch

    from spark_trainer.export.memory import trained_tensors

    weights = trained_tensors(Path(checkpoint))
    named = dict(model.named_parameters())
    unknown = sorted(set(weights) - set(named))
    if unknown:
        raise BadInput(f"checkpoint {checkpoint} does not match the run's model: it holds {len(unknown)} "
                       f"tensors the model lacks (first: {unknown[0]})")
    with torch.no_grad():
        for name, tensor in weights.items():
            named[name].copy_(tensor.to(named[name].dtype))
