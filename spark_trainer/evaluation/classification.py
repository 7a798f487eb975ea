"""Classification evaluation: predicted label names (from the model's id2label) against the file's
labels; accuracy, macro-F1, per-class precision/recall and the confusion matrix."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.evaluation.data import LabelledImage, LabelledText
from spark_trainer.evaluation.metrics import classification_report

BATCH = 16


def predict_labels(model: Any, tokenizer: Any, texts: list[str], tick: Callable[[int, int], None] | None = None,
                   max_length: int = 512) -> list[str]:
    """Label names the model predicts for `texts` (argmax of the logits, named by config.id2label).
    Texts are cut and padded as the text-classification recipe's training and the Playground do: the
    tokenizer's own truncation keeps a different last token where the tokenizer adds no closing one
    (a decoder's BOS-only tokenizer), so long texts were evaluated on inputs the model never saw."""
    import torch

    from spark_trainer.recipes.text_classification_data import truncate

    id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    names: list[str] = []
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            chunk = texts[start:start + BATCH]
            rows = [truncate(list(ids), max_length)[0] for ids in tokenizer(
                chunk, truncation=False, return_attention_mask=False, return_token_type_ids=False)["input_ids"]]
            ids = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for i, row in enumerate(rows):
                ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
                mask[i, :len(row)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            names += [id2label[int(i)] for i in logits.argmax(-1).tolist()]
            if tick is not None:
                tick(min(start + BATCH, len(texts)), len(texts))
    return names


def predict_image_labels(model: Any, processor: Any, paths: list[str], rc: Any,
                         tick: Callable[[int, int], None] | None = None) -> list[str]:
    """Label names for image files, each prepared as the Playground and the run's evaluation do
    (the recipe's resize and normalisation, no augmentation)."""
    import torch

    from spark_trainer.images import open_rgb
    from spark_trainer.recipes.image_classification_impl import preprocess_of, transform

    pre = preprocess_of(processor)
    id2label = {int(k): str(v) for k, v in model.config.id2label.items()}
    param = next(model.parameters())
    names: list[str] = []
    with torch.no_grad():
        for start in range(0, len(paths), BATCH):
            chunk = paths[start:start + BATCH]
            pixels = torch.stack([transform(_open(p, open_rgb), pre, None, rc) for p in chunk])
            logits = model(pixel_values=pixels.to(device=param.device, dtype=param.dtype)).logits
            names += [id2label[int(i)] for i in logits.argmax(-1).tolist()]
            if tick is not None:
                tick(min(start + BATCH, len(paths)), len(paths))
    return names


def _open(path: str, open_rgb: Callable[[str], Any]) -> Any:
    try:
        return open_rgb(path)
    except OSError as exc:  # checked before, so it changed since: say which one
        raise BadInput(f"image {path} cannot be read: {exc}") from None


def skipped_line(report: dict[str, Any], *, names: bool = False, limit: int | None = None) -> str:
    """One line naming the images an evaluation left out and why ("" when none): full paths, or
    with `names` the file names only; past `limit`, "and N more"."""
    from pathlib import Path

    skipped = report.get("skipped_images") or []
    if not skipped:
        return ""
    shown = skipped if limit is None else skipped[:limit]
    more = f"; and {len(skipped) - len(shown)} more" if len(skipped) > len(shown) else ""
    return (f"{len(skipped)} image{'s' * (len(skipped) != 1)} skipped, not evaluated: "
            + "; ".join(f"{Path(s['path']).name if names else s['path']} ({s['reason']})" for s in shown) + more)


def check_labels(items: list[Any], known: list[str], where: str = "", whose: str = "the model") -> None:
    """BadInput naming the data's labels that `known` (a model's classes) lacks."""
    unknown = sorted({i.label for i in items} - set(known))
    if unknown:
        raise BadInput(f"{where}labels {', '.join(map(repr, unknown[:5]))} in the data are not labels of "
                       f"{whose}; its labels are: {', '.join(sorted(known))}")


def _check_labels(model: Any, items: list[Any]) -> None:
    check_labels(items, [str(v) for v in model.config.id2label.values()])


def _report(model: Any, items: list[Any], predicted: list[str]) -> dict[str, Any]:
    labels = [str(model.config.id2label[k]) for k in sorted(model.config.id2label, key=int)]
    report = classification_report([i.label for i in items], predicted, labels)
    return {"metrics": {"accuracy": report["accuracy"], "macro_f1": report["macro_f1"]}, **report,
            "predictions": [{"source": i.source, "predicted": p, "label": i.label}
                            for i, p in zip(items, predicted, strict=True)]}


def classify(model: Any, tokenizer: Any, items: list[LabelledText], tick: Callable[[int, int], None],
             max_length: int = 512) -> dict[str, Any]:
    _check_labels(model, items)
    return _report(model, items, predict_labels(model, tokenizer, [i.text for i in items], tick,
                                                max_length=max_length))


def classify_images(model: Any, processor: Any, items: list[LabelledImage], tick: Callable[[int, int], None],
                    rc: Any, where: str = "the data") -> dict[str, Any]:
    """The report over the images that decode; the others are left out and listed (`skipped_images`),
    as the run's own evaluation lists them. BadInput when none decodes."""
    from spark_trainer.images import decode_problem

    _check_labels(model, items)
    kept, skipped = [], []
    for item in items:
        problem = decode_problem(item.path, quick=True)[1]
        if problem:
            skipped.append({"path": item.path, "reason": problem})
        else:
            kept.append(item)
    if not kept:
        first = skipped[0]
        raise BadInput(f"no image of {where} decodes (first: {first['path']}: {first['reason']})")
    report = _report(model, kept, predict_image_labels(model, processor, [i.path for i in kept], rc, tick))
    return {**report, "skipped_images": skipped} if skipped else report
