"""Which evaluation tasks exist, which recipes they apply to, and how each one runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.errors import BadInput

if TYPE_CHECKING:
    from spark_trainer.config.schema import ExperimentConfig

TASK_RECIPES: dict[str, tuple[str, ...]] = {
    "perplexity": ("causal-lm",),
    "mcq": ("causal-lm",),
    "classification": ("text-classification", "image-classification"),
}
TASKS = tuple(TASK_RECIPES)
METRIC_PREFIX = "evals/"


def metric_key(task: str, name: str) -> str:
    """The run metric an evaluation writes: evals/perplexity, evals/mcq_accuracy, ..."""
    return f"{METRIC_PREFIX}{task}" if name == task else f"{METRIC_PREFIX}{task}_{name}"


def check_task(task: str, recipe: str) -> None:
    if task not in TASK_RECIPES:
        raise BadInput(f"--task {task!r} is not one of: {', '.join(TASKS)}")
    if recipe not in TASK_RECIPES[task]:
        raise BadInput(f"--task {task} does not apply to {recipe} runs; it is for: {', '.join(TASK_RECIPES[task])}")


def _columns(config: ExperimentConfig) -> tuple[str, str]:
    rc = config.recipe_config
    return str(rc.get("text_column", "text")), str(rc.get("label_column", "label"))


def read_data(task: str, path: Path, config: ExperimentConfig) -> list[Any]:
    """The task's items; raises BadInput naming the file, line or column at fault."""
    # Here, not at the top: the readers bring the recipes and pydantic, and the Leaderboard view
    # imports this module (for metric_key) on the GUI thread when first shown.
    from spark_trainer.evaluation import data

    if task == "mcq":
        return data.read_mcq(path)
    if task == "perplexity":
        from spark_trainer.recipes.causal_lm import CausalLMConfig

        # Rows are read as the run read them: its format; instruction rows' prompts in its template.
        rc = CausalLMConfig.model_validate(config.recipe_config)
        return data.read_documents(path, rc.template(), rc.format)
    if config.recipe == "image-classification":
        rc = config.recipe_config
        return data.read_labelled_images(path, str(rc.get("image_column", "path")), str(rc.get("label_column", "label")))
    return data.read_labelled(path, *_columns(config))


def run_task(task: str, config: ExperimentConfig, checkpoint: Path | None, path: Path, *, device: Any,
             dtype: str, tick: Callable[[int, int], None], data_path: Path | None = None,
             labels: list[str] | None = None) -> dict[str, Any]:
    """Load the model (the checkpoint's, or the base with None) and evaluate it on the file."""
    from spark_trainer.export.registry import exporter_for

    items = read_data(task, path, config)
    model, processor = exporter_for(config.recipe).load(config, checkpoint, device, dtype, data_path=data_path,
                                                        labels=labels)
    if task in ("perplexity", "mcq"):
        from spark_trainer.evaluation.causal_lm import mcq, perplexity
        from spark_trainer.recipes.causal_lm import CausalLMConfig
        from spark_trainer.recipes.causal_lm_formats import run_format, uses_template
        from spark_trainer.recipes.causal_lm_model import bos_ids

        rc = CausalLMConfig.model_validate(config.recipe_config)
        bos = bos_ids(processor, rc.bos_token)  # the run's rule: runs queued before it was a setting: always
        if task == "mcq":  # a run trained on instruction rows is asked in its prompt template
            wrap = rc.template().prompt if uses_template(run_format(config.recipe_config, data_path)) else None
            return mcq(model, processor, items, tick, bos, wrap)
        limit = getattr(model.config, "max_position_embeddings", None) or rc.seq_len
        if rc.chat_template and not getattr(processor, "chat_template", None):
            processor.chat_template = rc.chat_template  # as training rendered chat rows
        # The tokens training's validation loss counts (completion_only_loss), so the figures agree.
        return perplexity(model, processor, items, min(rc.seq_len, limit), tick, bos, rc.completion_only_loss)
    from spark_trainer.evaluation.classification import classify

    if config.recipe == "image-classification":
        from spark_trainer.evaluation.classification import classify_images
        from spark_trainer.recipes.image_classification import ImageClassificationConfig

        return classify_images(model, processor, items, tick, ImageClassificationConfig.model_validate(
            config.recipe_config), where=str(path))
    # Truncate where training and the Playground do, so the evaluation measures the model they use.
    max_length = int(config.recipe_config.get("max_length") or 512)
    return classify(model, processor, items, tick, max_length=max_length)
