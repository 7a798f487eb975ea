"""Shared pieces of the classification recipes (text and image): config fields, label sets,
metrics from a confusion matrix, the confusion-matrix picture, LoRA wrapping and the final save.

Cheap to import (no torch at module top): the config classes are declared here.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from spark_trainer.config.schema import Settings
from spark_trainer.errors import BadInput
from spark_trainer.recipes import lora_targets
from spark_trainer.recipes.base import EvalResult, MetricSpec
from spark_trainer.recipes.lora_targets import TargetModules

CLASSIFICATION_METRICS = (
    MetricSpec("eval_accuracy", True, "validation accuracy"),
    MetricSpec("eval_macro_f1", True, "validation macro-F1"),
    MetricSpec("eval_loss", False, "validation loss"),
)


class ClassifierTuning(Settings):
    """Fields every classification recipe shares."""

    method: Literal["lora", "full"] = Field("lora", description="LoRA (the new head trains in full) or full fine-tuning")
    lora_r: int = Field(8, ge=1, le=1024, description="LoRA rank")
    lora_alpha: float = Field(16, gt=0, le=4096, description="LoRA scaling numerator (alpha / r)")
    lora_dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the LoRA path")
    target_modules: TargetModules = Field(
        "all-linear", description="Modules to adapt: all-linear, or module names like query,value"
    )
    class_weights: Literal["none", "balanced"] = Field(
        "none", description="balanced weighs each class's loss by the inverse of its frequency"
    )
    eval_max_rows: int | None = Field(
        None, ge=1, description="Validation examples each evaluation runs on, the final one included: this "
        "many spread evenly over the validation split, the same ones every time (empty: all of them, so the "
        "per-class scores and confusion matrix cover the whole split)",
        json_schema_extra={"placeholder": "empty: every validation example"})
    label_names: Literal["normalized", "as-written"] = Field(
        "normalized", description="normalized: 1 and 1.0, 'spam' and 'spam ', or an accent typed as one "
        "character and as two (Unicode NFC), are one class, and number "
        "labels sort as numbers (1, 2, 10); as-written (runs frozen before labels were normalized): each "
        "distinct value is a class, sorted as text (1, 10, 2) unless the values are integers"
    )


_INTEGRAL_FLOAT = re.compile(r"^-?\d+\.0+$")


def label_name(raw: Any) -> str:
    """The class a raw label names. Spreadsheets and JSON writers bring the same class in several
    spellings: 1, 1.0 and "1.0" (a numeric column read as floats) are one class, as are "spam" and "spam "
    (a stray space in a cell), and "é" written as one code point or as "e" and a combining accent (NFC)."""
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    name = unicodedata.normalize("NFC", str(raw).strip())
    if _INTEGRAL_FLOAT.match(name):  # "1.0" in a CSV is the 1 a spreadsheet wrote as a float
        name = name.split(".")[0]
        return "0" if name == "-0" else name
    return name


class LabelSet:
    """The dataset's classes in a fixed order: integers sort numerically, other labels as text.
    Labels are taken by `label_name`, so 1.0 and 1, or "spam " and "spam", are one class."""

    def __init__(self, raw_labels: Iterable[Any], column: str, where: str, *, as_written: bool = False) -> None:
        values = list(raw_labels)
        # as_written: the rule runs frozen before labels were normalized trained with (their model's
        # class ids follow it): each distinct value a class, in text order unless all are integers.
        self._name = str if as_written else label_name
        distinct = {self._name(v) for v in values}
        if len(distinct) < 2:
            only = ", ".join(repr(v) for v in sorted(distinct)) or "none"
            raise BadInput(f"{where}: classification needs at least 2 classes in {column!r}; found {only}")
        if as_written and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            ordered = [str(v) for v in sorted(set(values))]
        elif not as_written and all(_is_integer(name) for name in distinct):
            ordered = sorted(distinct, key=int)
        else:
            ordered = sorted(distinct)
        self.names: list[str] = ordered
        self.index = {name: i for i, name in enumerate(ordered)}

    @classmethod
    def from_names(cls, names: list[str], *, as_written: bool = False) -> LabelSet:
        """The label set whose classes are `names`, in that order (one a token cache kept)."""
        labels = cls.__new__(cls)
        labels._name = str if as_written else label_name
        labels.names = list(names)
        labels.index = {name: i for i, name in enumerate(labels.names)}
        return labels

    def __len__(self) -> int:
        return len(self.names)

    def name_of(self, raw: Any) -> str:
        return self._name(raw)

    def id_of(self, raw: Any) -> int:
        return self.index[self._name(raw)]

    @property
    def id2label(self) -> dict[int, str]:
        return dict(enumerate(self.names))

    @property
    def label2id(self) -> dict[str, int]:
        return dict(self.index)


def class_splits(labels: LabelSet, counted: Iterable[tuple[Any, str, int]]) -> dict[str, tuple[int, int]]:
    """(training items, validation items) of each class of `labels`, from (raw label, split, items)."""
    items = {name: [0, 0] for name in labels.names}
    for raw, split, n in counted:
        items[labels.name_of(raw)][split == "val"] += n
    return {name: (train, val) for name, (train, val) in items.items()}


def untrained_classes(splits: dict[str, tuple[int, int]], most: int = 5) -> str | None:
    """"class 'fox' has no training items (2 in validation): ..." for the classes only validation holds
    (a model never trained on a class never predicts it: its accuracy is capped, its evaluation misleads);
    None when every class has training items."""
    lacking = [(name, val) for name, (train, val) in splits.items() if not train]
    if not lacking:
        return None
    if len(lacking) == 1:
        name, val = lacking[0]
        return (f"class {name!r} has no training items ({val:,} in validation): add training items for it or "
                "remove it from validation")
    named = [f"{name!r} ({val:,} in validation)" for name, val in lacking[:most]]
    more = f" and {len(lacking) - most:,} more" if len(lacking) > most else ""
    return (f"classes {', '.join(named)}{more} have no training items: add training items for them or remove "
            "them from validation")


def _is_integer(name: str) -> bool:
    try:
        return str(int(name)) == name
    except ValueError:
        return False


def class_weights(label_ids: list[int], n_classes: int) -> list[float]:
    """Balanced weights N / (C * n_c): their mean over the training examples is 1."""
    counts = [0] * n_classes
    for label in label_ids:
        counts[label] += 1
    total = len(label_ids)
    return [total / (n_classes * c) if c else 0.0 for c in counts]


def examples_in(batch: dict[str, Any]) -> int:
    """A classifier's loss unit and unit of work alike: the labelled examples in the CPU batch."""
    return int(batch["labels"].numel())


def classification_loss(logits: Any, labels: Any, weights: Any | None) -> Any:
    """Sum of (optionally class-weighted) cross-entropy over the batch's examples."""
    import torch.nn.functional as F

    return F.cross_entropy(logits.float(), labels, weight=weights, reduction="sum")


def eval_totals(logits: Any, labels: Any, n_classes: int) -> dict[str, Any]:
    """Summable evaluation tensors of one batch: loss sum, example count, confusion counts."""
    import torch
    import torch.nn.functional as F

    loss_sum = F.cross_entropy(logits.float(), labels, reduction="sum")
    predicted = logits.argmax(dim=-1)
    confusion = torch.bincount(labels * n_classes + predicted, minlength=n_classes * n_classes)
    return {"loss_sum": loss_sum.double(), "count": torch.tensor(float(labels.numel()), dtype=torch.float64),
            "confusion": confusion.reshape(n_classes, n_classes).double()}


def metrics_from_confusion(totals: dict[str, Any], names: list[str]) -> EvalResult:
    """Accuracy, macro-F1, loss; a report with per-class precision/recall/F1 and the confusion matrix
    (rows: true class, columns: predicted class), and its picture."""
    confusion = [[int(round(float(v))) for v in row] for row in totals["confusion"].tolist()]
    n = len(names)
    total = sum(map(sum, confusion))
    correct = sum(confusion[i][i] for i in range(n))
    per_class: dict[str, dict[str, float]] = {}
    f1s = []
    for i, name in enumerate(names):
        tp = confusion[i][i]
        predicted = sum(confusion[r][i] for r in range(n))
        support = sum(confusion[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
        # Over the classes in the truth or the predictions, as `evaluate` and scikit-learn's
        # average="macro": a class predicted but absent from validation counts, with F1 0 (it was left
        # out, and the run's eval_macro_f1 differed from `evaluate`'s on the same rows).
        if support or predicted:
            f1s.append(f1)
    accuracy = correct / total if total else 0.0
    macro_f1 = sum(f1s) / len(f1s) if f1s else 0.0
    loss = float(totals["loss_sum"]) / max(float(totals["count"]), 1.0)
    metrics = {"eval_accuracy": accuracy, "eval_macro_f1": macro_f1, "eval_loss": loss}
    report = {"metrics": metrics, "labels": names, "confusion": confusion, "per_class": per_class,
              "examples": total}
    return EvalResult(metrics, report, {"confusion": confusion_image(confusion, names)})


LABEL_MAX_PX = 200  # longest class name drawn; longer ones end in an ellipsis (the JSON has them whole)


def confusion_image(confusion: list[list[int]], names: list[str], cell: int = 56) -> Any:
    """The confusion matrix as a PIL image: counts in cells shaded by their row share.

    Column titles are drawn turned a quarter (reading upwards), so a long class name takes the
    header's height, not the next column's width; names wider than LABEL_MAX_PX are cut with "…".
    """
    from PIL import Image, ImageDraw

    from spark_trainer.fonts import label_font

    n = len(names)
    font = label_font()  # class names are folder names: any letters
    short = [fit_text(name, font, LABEL_MAX_PX) for name in names]
    widest = max((int(font.getlength(s)) for s in short), default=0)
    left, top = 12 + widest, 28 + widest  # row labels on the left, turned column titles above
    width, height = left + n * cell + 16, top + n * cell + 40
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 6), "predicted class ->", fill="black", font=font)  # the default font has no arrows
    draw.text((4, height - 20), "rows: true class", fill="black", font=font)
    for i, name in enumerate(short):
        title = _turned_text(name, font)
        image.paste("black", (left + i * cell + (cell - title.width) // 2, top - 6 - title.height), mask=title)
        draw.text((4, top + i * cell + cell // 2 - 6), name, fill="black", font=font)
    for r, row in enumerate(confusion):
        total = sum(row) or 1
        for c, count in enumerate(row):
            share = count / total
            shade = int(255 - 200 * share)
            color = (shade, shade, 255) if r == c else (255, shade, shade)
            x, y = left + c * cell, top + r * cell
            draw.rectangle([x, y, x + cell - 2, y + cell - 2], fill=color, outline=(200, 200, 200))
            draw.text((x + cell // 2 - 8, y + cell // 2 - 6), str(count), fill="black", font=font)
    return image


def fit_text(text: str, font: Any, max_px: int) -> str:
    """`text`, or its longest start that fits in `max_px` with an ellipsis after it."""
    if font.getlength(text) <= max_px:
        return text
    while text and font.getlength(text + "…") > max_px:
        text = text[:-1]
    return text + "…"


def _turned_text(text: str, font: Any) -> Any:
    """`text` as a mask turned a quarter anticlockwise (read from bottom to top)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    mask = Image.new("L", (max(right, 1), max(bottom, 1)), 0)
    ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
    return mask.rotate(90, expand=True)


def load_dtype(tuning: ClassifierTuning, precision: str) -> Any:
    """The dtype a classifier's base is loaded in, as the causal-LM recipe loads its base.

    transformers loads weights in the dtype they are stored in unless told otherwise, so a base
    stored in bf16/fp16 would train its new head (and for `full` every weight) as half-precision
    parameters: no fp32 master weights, and small updates round away. A full fine-tune keeps fp32
    weights (autocast computes in bf16/fp16); LoRA's frozen body is held in the compute dtype.
    """
    import torch

    from spark_trainer.recipes.causal_lm_model import torch_dtype

    return torch.float32 if tuning.method == "full" else torch_dtype(precision)


def trainable_in_fp32(model: Any) -> Any:
    """`model` with every trainable parameter (the LoRA adapters and the new head) in fp32; peft's
    trained copy of the head is made in the frozen body's dtype."""
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
    return model


def adapt_classifier(model: Any, tuning: ClassifierTuning, head_names: list[str],
                     notes: list[str] | None = None) -> Any:
    """LoRA on the body with the new head trained in full, or the whole model for full tuning.

    `all-linear` on a body without linear layers (a ResNet: convolutions, then the head) adapts the
    body's convolutions instead, with a line for the run's log in `notes`.
    """
    if tuning.method == "full":
        return model
    from peft import LoraConfig, get_peft_model

    targets = lora_targets.parse(tuning.target_modules)
    lora_targets.check(model, targets)
    if targets == "all-linear" and not body_layers(model, head_names, "Linear"):
        convolutions = body_layers(model, head_names, "Conv2d")
        if convolutions:
            targets = convolutions
            if notes is not None:
                notes.append(f"LoRA on the body's {len(convolutions)} convolutions (target_modules all-linear: "
                             "the model has no linear layers outside its head)")
    # peft annotates lora_alpha as int but scales by any number; a fractional alpha is allowed here.
    lora = LoraConfig(r=tuning.lora_r, lora_alpha=tuning.lora_alpha,  # type: ignore[arg-type]
                      lora_dropout=tuning.lora_dropout,
                      target_modules=targets, modules_to_save=head_names,
                      exclude_modules=head_names if targets == "all-linear" else None)
    return get_peft_model(model, lora)


def checkpoint_activations(model: Any, on: bool, notes: list[str]) -> None:
    """`train.gradient_checkpointing` for a classifier: on where the model supports it (ViT, BERT...),
    else said in the run's log (a ResNet has none). Image runs ignored the setting, while the VRAM
    estimate counted it."""
    if not on:
        return
    if getattr(model, "supports_gradient_checkpointing", False):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    else:
        notes.append(f"gradient checkpointing: off, {type(model).__name__} does not support it")


def in_head(name: str, head_names: list[str]) -> bool:
    """Whether the module `name` is one of the head's modules or inside one."""
    return any(name == h or name.startswith(h + ".") for h in head_names)


def body_layers(model: Any, head_names: list[str], kind: str) -> list[str]:
    """Full names of the `kind` modules (torch.nn class name) outside the head."""
    return [name for name, module in model.named_modules()
            if type(module).__name__ == kind and not in_head(name, head_names)]


def save_classifier(model: Any, dest: Path, extra: Iterable[Any]) -> None:
    """`dest`: a complete model (LoRA merged in) that `from_pretrained` loads with its label names,
    plus the tokenizer or image processor (`extra`); the LoRA adapter alone under `dest/adapter`."""
    dest.mkdir(parents=True, exist_ok=True)
    if hasattr(model, "merge_and_unload"):
        model.save_pretrained(dest / "adapter")
        merged = copy.deepcopy(model).merge_and_unload()
    else:
        merged = model
    merged.save_pretrained(dest)
    for thing in extra:
        thing.save_pretrained(dest)


def run_label_names(run_dir: Path) -> list[str] | None:
    """The class names a run's model has, in its order, from what the run itself holds: its final
    model's config (id2label), else its newest validation report (`eval/step-*.json`). None when it
    holds neither (a run stopped before its first evaluation): then only its dataset says.

    Export and evaluation take them from here, so a run's trained work stays usable after its dataset
    is deleted."""
    import json

    try:
        id2label = json.loads((Path(run_dir) / "final" / "config.json").read_text(encoding="utf-8"))["id2label"]
        return [str(id2label[str(i)]) for i in range(len(id2label))]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    for report in sorted((Path(run_dir) / "eval").glob("step-*.json"), reverse=True):
        try:
            names = json.loads(report.read_text(encoding="utf-8"))["labels"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(names, list) and names:
            return [str(name) for name in names]
    return None
