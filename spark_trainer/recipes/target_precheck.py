"""`recipe_config.target_modules` checked before a run is queued, against the model folder's config.

The worker checks the names once it has built the model (`lora_targets.check`), which for a queued
run can be hours later: a night's queue of runs naming `q_proj` on a model whose layers are `c_attn`
failed one after another at their start. Here the model is built from its config files on the meta
device (no weights read, no memory; milliseconds for a small model, about a second for a 70B one) and
the same check asks the same question, so submit, `run start`, `exp create` and the setup form refuse
the run file with the worker's words. A folder whose config this cannot build is left to the worker.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Any

from spark_trainer.recipes import lora_targets

log = logging.getLogger(__name__)

_AUTO_CLASSES = {"causal-lm": "AutoModelForCausalLM",
                 "text-classification": "AutoModelForSequenceClassification",
                 "image-classification": "AutoModelForImageClassification"}


def check_folder(recipe: str, recipe_config: dict[str, Any], folder: Path) -> None:
    """ConfigError (the worker's words) for a `target_modules` name that matches no module of the model
    in `folder`, as recipe `recipe` builds it. Nothing is checked for full fine-tuning, `all-linear`,
    the recipe's default names, or a model this cannot build from its config alone."""
    if recipe_config.get("method", "lora") == "full":
        return
    from spark_trainer.recipes import get_recipe

    field = get_recipe(recipe).config_model.model_fields.get("target_modules")
    given = recipe_config.get("target_modules", lora_targets.ALL_LINEAR)
    targets = lora_targets.parse(given)
    if targets == lora_targets.ALL_LINEAR or not targets or field is None or targets == lora_targets.parse(field.default):
        return  # the recipe's own default fits the models it takes: no torch import for it (the setup form)
    names = _module_names(recipe, str(folder), _stamp(folder))
    if names is not None:
        lora_targets.check_names(names, targets)


def _stamp(folder: Path) -> tuple[float, ...]:
    """The config files' change times: a model replaced in place is built again."""
    files = (folder / "config.json", folder / "unet" / "config.json")
    return tuple(f.stat().st_mtime if f.is_file() else 0.0 for f in files)


@functools.lru_cache(maxsize=8)
def _module_names(recipe: str, folder: str, _stamp: tuple[float, ...]) -> tuple[tuple[str, str], ...] | None:
    """(name, class name) of every module of the model `recipe` trains from `folder`, built on the meta
    device; None when its config does not build (the worker then says why)."""
    try:
        model = _empty_model(recipe, Path(folder))
    except Exception as exc:  # any config transformers or diffusers cannot build: the worker's question
        log.debug("target_modules not checked before queuing (%s): %s", folder, exc)
        return None
    if model is None:
        return None
    return tuple((name, type(module).__name__) for name, module in model.named_modules())


def _empty_model(recipe: str, folder: Path) -> Any:
    from accelerate import init_empty_weights

    if recipe == "diffusion-lora":  # LoRA goes on the UNet (the text encoder's targets are fixed)
        from spark_trainer.recipes.diffusion_model import quiet_torchvision_notice

        quiet_torchvision_notice()
        from diffusers import UNet2DConditionModel

        with init_empty_weights():
            return UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))
    if recipe not in _AUTO_CLASSES:
        return None
    import transformers

    config = transformers.AutoConfig.from_pretrained(folder, local_files_only=True)
    with init_empty_weights():
        return getattr(transformers, _AUTO_CLASSES[recipe]).from_config(config)
