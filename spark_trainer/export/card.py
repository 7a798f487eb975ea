"""The model card: README.md with YAML front matter (what the Hub indexes) and a readable body."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from spark_trainer.export.registry import ExportInfo
from spark_trainer.numbers import metric_text

LOSS_CURVE = "loss_curve.png"
# Metrics a reader of a card cares about; throughput and learning rate stay in the app.
CARD_METRIC_PREFIXES = ("loss", "eval_", "evals/")
# model-index names each result's data: a dataset deleted with its files left no name to give.
DELETED_DATASET = "deleted dataset"


@dataclass(frozen=True)
class EvalResult:
    """One evaluation to list under model-index: task, data name, metric name -> value."""

    task: str
    dataset: str
    metrics: dict[str, float]


@dataclass(frozen=True)
class CardData:
    model_name: str
    run_id: int
    recipe: str
    base_model: str
    step: int
    info: ExportInfo
    dataset_name: str | None  # None: deleted with its files, so its name is not known
    dataset_summary: str
    hyperparameters: dict[str, Any]
    final_metrics: dict[str, float]
    evaluations: list[EvalResult] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    has_curve: bool = True
    base_is_local: bool = False  # a folder of the training machine, not a Hub id
    dataset_deleted: bool = False  # deleted since training (a name is then its kept card's)
    # The step each of final_metrics was logged at, when not the exported step (a run stopped between
    # evaluations): said beside it in the body, and left out of model-index, which is this model's results.
    metric_steps: dict[str, int] = field(default_factory=dict)
    stopped: str = ""  # a sentence when the run ended before its max steps (or is still training)


def _own(data: CardData, key: str) -> bool:
    return data.metric_steps.get(key, data.step) == data.step


def front_matter(data: CardData) -> dict[str, Any]:
    results = []

    def task() -> dict[str, str]:  # a dict per result: one shared dict dumps as YAML anchors (&id001)
        return {"type": data.info.pipeline_tag}

    data_name = data.dataset_name or DELETED_DATASET

    def dataset(name: str, **split: str) -> dict[str, str]:
        # model-index needs a dataset type, which the Hub reads as a Hub dataset id (and links to
        # hf.co/datasets/<type>): a local dataset's name there would point at someone else's data.
        # " (local)" makes a type no Hub id can be; the name stays the dataset's.
        return {"name": name, "type": f"{name} (local)", **split}

    validation = {k: v for k, v in data.final_metrics.items() if k.startswith("eval_") and _own(data, k)}
    if validation:
        results.append({"task": task(), "dataset": dataset(data_name, split="validation"),
                        "metrics": [{"type": k.removeprefix("eval_"), "name": k, "value": round(v, 6)}
                                    for k, v in validation.items()]})
    elif "loss" in data.final_metrics and _own(data, "loss"):
        results.append({"task": task(), "dataset": dataset(data_name, split="train"),
                        "metrics": [{"type": "loss", "name": f"training loss at step {data.step}",
                                     "value": round(data.final_metrics["loss"], 6)}]})
    for ev in data.evaluations:
        results.append({"task": task(), "dataset": dataset(ev.dataset),
                        "metrics": [{"type": k, "name": k if k == ev.task else f"{ev.task} {k}", "value": round(v, 6)}
                                    for k, v in ev.metrics.items()]})
    meta: dict[str, Any] = {
        # The Hub checks base_model against its models: a local folder's name is left out.
        **({} if data.base_is_local else {"base_model": data.base_model}),
        "library_name": data.info.library_name,
        "pipeline_tag": data.info.pipeline_tag,
        "license": "unknown",
        "tags": data.tags,
    }
    # No `datasets:` either: the Hub links its entries as Hub datasets, and a run trains on a local
    # dataset (named in the body's Training data), whose name may be another's Hub dataset.
    if results:
        meta["model-index"] = [{"name": data.model_name, "results": results}]
    return meta


LICENSE_LINE = "license: unknown  # choose the license (e.g. apache-2.0) before sharing"  # as a card is written


def render(data: CardData) -> str:
    import yaml

    yaml_text = yaml.safe_dump(front_matter(data), sort_keys=False, allow_unicode=True)
    # The license is the user's to choose; say so next to the field.
    yaml_text = yaml_text.replace("license: unknown\n", LICENSE_LINE + "\n")
    lines = ["---", yaml_text.rstrip("\n"), "---", "", f"# {data.model_name}", "",
             f"A {_kind_words(data.info.kind)} of `{data.base_model}` trained with SparkTrainer "
             f"(recipe `{data.recipe}`, run {data.run_id}, checkpoint at step {data.step}; weights in "
             f"{data.info.dtype}, safetensors)." + (f" {data.stopped}" if data.stopped else ""), ""]
    lines += ["## Usage", "", "```python", data.info.usage.replace("EXPORT_DIR", "PATH_OR_REPO_ID"), "```", ""]
    if data.base_is_local and data.info.kind == "adapter":
        lines += [f"The base model `{data.base_model}` was a local folder on the machine that trained this "
                  "adapter: put its path, or the Hub id it came from, where the snippet names it.", ""]
    if data.info.prompt_format:
        lines += ["## Prompt format", "", data.info.prompt_format, ""]
    if data.dataset_name is None:
        trained_on = "A dataset deleted since it was trained on; its name was not kept."
    else:
        trained_on = f"Dataset `{data.dataset_name}`" + (" (deleted since it was trained on)." if data.dataset_deleted
                                                        else ".")
    lines += ["## Training data", "", trained_on, ""]
    if data.dataset_summary:
        lines += [data.dataset_summary, ""]
    lines += ["## Training hyperparameters", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {_cell(v)} |" for k, v in data.hyperparameters.items()]
    lines += [""]
    if data.final_metrics:
        lines += ["## Results", "", "| metric | value |", "|---|---:|"]
        lines += [f"| {k} | {metric_text(v)}" + ("" if _own(data, k) else f" (at step {data.metric_steps[k]})") + " |"
                  for k, v in data.final_metrics.items()]
        lines += [""]
    for ev in data.evaluations:
        lines += [f"Evaluation `{ev.task}` on `{ev.dataset}`: "
                  + ", ".join(f"{k} {metric_text(v)}" for k, v in ev.metrics.items()), ""]
    if data.has_curve:
        lines += ["## Loss curve", "", f"![Loss curve]({LOSS_CURVE})", ""]
    return "\n".join(lines)


def _kind_words(kind: str) -> str:
    return {"adapter": "LoRA adapter", "merged": "fine-tune (adapters merged into the base weights)",
            "full": "full fine-tune"}.get(kind, kind)


def _cell(value: Any) -> str:
    text = ", ".join(map(str, value)) if isinstance(value, list) else str(value)
    return text.replace("|", "\\|")


def dataset_card_name(card_text: str) -> str | None:
    """The dataset's name as its card records it (its first line, `# name`, kept up to date by renames)."""
    first = card_text.split("\n", 1)[0].rstrip("\r")
    return (first[2:].strip() or None) if first.startswith("# ") else None


def dataset_summary(card_text: str, limit: int = 1200) -> str:
    """The first prose paragraphs of a dataset card (its front matter, headings and tables skipped)."""
    text = card_text
    if text.startswith("---"):
        end = text.find("\n---", 3)
        text = text[end + 4:] if end >= 0 else text
    kept: list[str] = []
    for block in text.split("\n\n"):
        block = block.strip()
        if not block or block.startswith(("#", "|", "```", "![")):
            continue
        # Local source paths are nobody else's business once the card is public; the dataset's own files
        # (its manifest, its report) stay in the data home, so the card does not point at them.
        block = "\n".join(re.sub(r"\s*\(see report\.json[^)]*\)", "", line) for line in block.splitlines()
                          if "sources:" not in line and "manifest.jsonl" not in line)
        if not block.strip():
            continue
        kept.append(block)
        if sum(map(len, kept)) > limit // 2:
            break
    return "\n\n".join(kept)[:limit]
