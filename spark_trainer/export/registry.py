"""Exporters by recipe name. Each recipe kind is one small module; this dict is the only list.

An exporter module is imported only when used (it imports torch and transformers). It provides:
    load(config, checkpoint, device, dtype, data_path=, labels=) -> (model, processor)
        the model as trained (the base model when checkpoint is None)
    write(config, checkpoint, dest, merge=, dtype=, data_path=, labels=) -> ExportInfo
        the Hugging Face folder
and may provide
    check_options(merge=) -> None
        raise BadInput for options it cannot honour, before the export is announced or a folder made
`labels` are the run's own class names (`recipes.classification.run_label_names`), for recipes whose
model depends on them; `data_path` (the run's dataset folder, None once deleted) is read for them
only when the run holds none.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from types import ModuleType

from spark_trainer.errors import BadInput

EXPORTERS: dict[str, str] = {
    "causal-lm": "spark_trainer.export.causal_lm",
    "diffusion-lora": "spark_trainer.export.diffusion_lora",
    "text-classification": "spark_trainer.export.classifier",
    "image-classification": "spark_trainer.export.classifier",
}


@dataclass(frozen=True)
class ExportInfo:
    """What the written folder is, for the model card."""

    kind: str  # "adapter" | "merged" | "full"
    library_name: str  # "peft", "transformers", "diffusers"
    pipeline_tag: str
    dtype: str
    files: list[str] = field(default_factory=list)
    usage: str = ""  # a Python snippet that loads it
    prompt_format: str = ""  # Markdown: how prompts should look (the rows' format it trained on), or ""


def exporter_for(recipe: str) -> ModuleType:
    try:
        return importlib.import_module(EXPORTERS[recipe])
    except KeyError:
        known = ", ".join(sorted(EXPORTERS))
        raise BadInput(f"runs of recipe {recipe!r} cannot be exported yet; exportable recipes: {known}") from None
