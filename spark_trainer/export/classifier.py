"""Exporter for classification runs (text and image): the classifier with its label names, merged
(a model that `pipeline("text-classification" | "image-classification", model=folder)` loads) or the
LoRA adapter with the trained head; with the tokenizer or image processor.

The model is built by the recipe itself (its label set comes from the run's dataset), so the
checkpoint's tensor names match exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.export.common import base_reference, load_trainable, save_adapter
from spark_trainer.export.registry import ExportInfo

PIPELINE_TAGS = {"text-classification": "text-classification", "image-classification": "image-classification"}


def _built(config: ExperimentConfig, data_path: Path | None) -> Any:
    from spark_trainer.recipes.registry import get_recipe

    if data_path is None:
        raise BadInput(f"a {config.recipe} export needs the run's dataset (its label names); it was deleted")
    recipe = get_recipe(config.recipe).load()(config)
    recipe.prepare(Path(data_path))
    return recipe


def _processor(recipe: Any) -> Any:
    return getattr(recipe, "tokenizer", None) or getattr(recipe, "processor", None)


def load(config: ExperimentConfig, checkpoint: Path | None, device: Any = "cpu", dtype: str = "fp32", *,
         data_path: Path | None = None) -> tuple[Any, Any]:
    """(classifier in eval mode with id2label, tokenizer); with `checkpoint` None the base model with a
    fresh head (the recipe's starting point)."""
    model, processor, _recipe = _load(config, checkpoint, device, dtype, data_path)
    return model, processor


def _load(config: ExperimentConfig, checkpoint: Path | None, device: Any, dtype: str,
          data_path: Path | None) -> tuple[Any, Any, Any]:
    import torch
    from accelerate.utils import set_seed

    from spark_trainer.recipes.causal_lm_model import torch_dtype

    recipe = _built(config, data_path)
    # Seeded as the engine seeds before building: with no checkpoint this is the run's own starting
    # point (its fresh head), the same at every load, so a --base evaluation repeats.
    set_seed(config.train.seed)
    model = recipe.build_model(torch.device("cpu"), "fp32")
    if checkpoint is not None:
        load_trainable(model, Path(checkpoint))
    model.to(device=torch.device(device) if isinstance(device, str) else device, dtype=torch_dtype(dtype))
    model.eval()
    return model, _processor(recipe), recipe


def write(config: ExperimentConfig, checkpoint: Path, dest: Path, *, merge: bool, dtype: str,
          data_path: Path | None = None) -> ExportInfo:
    from spark_trainer.recipes.causal_lm_model import torch_dtype

    model, processor, recipe = _load(config, checkpoint, "cpu", "fp32", data_path)
    text = config.recipe == "text-classification"
    if text:  # the run kept max_length tokens of a text: a pipeline called with truncation=True keeps as many
        processor.model_max_length = recipe.rc.max_length
    adapter = hasattr(model, "merge_and_unload")
    kind = "adapter" if adapter and not merge else ("merged" if adapter else "full")
    dtype = "fp32" if dtype == "auto" else dtype
    dest.mkdir(parents=True, exist_ok=True)
    out = model if kind == "adapter" else (model.merge_and_unload() if adapter else model)
    out.to(torch_dtype(dtype))
    if kind == "adapter":
        save_adapter(out, dest, config)
    else:
        out.save_pretrained(dest)
    processor.save_pretrained(dest)
    labels = {int(k): v for k, v in (model.config.id2label or {}).items()}
    base = base_reference(config)
    if kind == "adapter":
        auto = "AutoModelForSequenceClassification" if text else \
            "AutoModelForImageClassification"
        usage = (f"from peft import PeftModel\nfrom transformers import {auto}\n\n"
                 f'base = {auto}.from_pretrained("{base}", num_labels={len(labels)}, '
                 f"id2label={labels!r})\nmodel = PeftModel.from_pretrained(base, \"EXPORT_DIR\")")
    else:
        usage = (f'from transformers import pipeline\n\nclassify = pipeline("{PIPELINE_TAGS[config.recipe]}", '
                 'model="EXPORT_DIR")')
        if text:
            usage += (f"\n# truncation=True: the model was trained on the first {recipe.rc.max_length} tokens of a "
                      'text\nprint(classify("a text to classify", truncation=True))')
    return ExportInfo(kind=kind, library_name="peft" if kind == "adapter" else "transformers",
                      pipeline_tag=PIPELINE_TAGS[config.recipe], dtype=dtype, usage=usage)
