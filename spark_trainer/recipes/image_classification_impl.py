"""The image-classification recipe's implementation (imports torch; loaded only to train).

Items are (path, label) pairs; decoding, augmentation and preprocessing (size, mean and std from
the model's image processor) run in DataLoader worker processes. Every image is decoded once while
preparing: one that does not decode is skipped and listed in the run's log and in every evaluation
report (`skipped_images`), never a crash mid-epoch.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput, ConfigError
from spark_trainer.images import decode_problem, open_rgb
from spark_trainer.manifest_fields import is_filled
from spark_trainer.models.loading import resolve_for_run
from spark_trainer.recipes import classification as cls
from spark_trainer.recipes import image_rows
from spark_trainer.recipes.base import EvalResult, Sample
from spark_trainer.recipes.fit import needs_image_model
from spark_trainer.recipes.image_classification import ImageClassificationConfig
from spark_trainer.recipes.text_classification_impl import fresh_modules
from spark_trainer.training.data import evaluated_rows


def check_image_processor(model_dir: Path) -> None:
    """BadInput unless the base model folder carries an image processor: a text model chosen for
    this recipe otherwise failed at its first step with transformers' OSError about the Hub."""
    why = needs_image_model(model_dir)
    if why:  # worded as the registry's model check (`base_model: recipe ... cannot start from ...`)
        raise BadInput(f"base_model: recipe image-classification cannot start from {model_dir}: {why}")


@dataclass(frozen=True)
class ImageItem:
    path: str
    label: int


@dataclass(frozen=True)
class Preprocess:
    """What the model's image processor asks for: output size, resize rule, normalisation."""

    height: int
    width: int
    shortest_edge: int | None
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def preprocess_of(processor: Any) -> Preprocess:
    size = dict(getattr(processor, "size", None) or {})
    crop = dict(getattr(processor, "crop_size", None) or {})
    if "height" in size and "width" in size:
        height, width, edge = int(size["height"]), int(size["width"]), None
    elif "shortest_edge" in size:
        edge = int(size["shortest_edge"])
        height, width = (int(crop["height"]), int(crop["width"])) if "height" in crop else (edge, edge)
    else:
        raise ConfigError(f"the model's image processor has no usable size ({size}); expected height/width "
                          "or shortest_edge")
    mean = tuple(getattr(processor, "image_mean", None) or (0.5, 0.5, 0.5))
    std = tuple(getattr(processor, "image_std", None) or (0.5, 0.5, 0.5))
    if not getattr(processor, "do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    return Preprocess(height, width, edge, mean, std)  # type: ignore[arg-type]


def transform(image: Any, pre: Preprocess, rng: random.Random | None, rc: ImageClassificationConfig) -> Any:
    """PIL image -> normalised CHW float tensor; with `rng`, random resized crop and flip first."""
    import numpy as np
    import torch
    from PIL import Image

    w, h = image.size
    if rng is not None and rc.augment:
        area = w * h
        for _ in range(10):  # torchvision's RandomResizedCrop rule, without torchvision
            target = area * rng.uniform(rc.crop_scale_min, 1.0)
            ratio = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
            cw, ch = int(round((target * ratio) ** 0.5)), int(round((target / ratio) ** 0.5))
            if 0 < cw <= w and 0 < ch <= h:
                x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
                image = image.crop((x, y, x + cw, y + ch))
                break
        image = image.resize((pre.width, pre.height), Image.Resampling.BILINEAR)
        if rc.hflip and rng.random() < 0.5:
            image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    elif pre.shortest_edge is not None:
        scale = pre.shortest_edge / min(w, h)
        image = image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR)
        w, h = image.size
        left, top = (w - pre.width) // 2, (h - pre.height) // 2
        image = image.crop((left, top, left + pre.width, top + pre.height))
    else:
        image = image.resize((pre.width, pre.height), Image.Resampling.BILINEAR)
    array = torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(pre.mean, dtype=torch.float32)[:, None, None]
    std = torch.tensor(pre.std, dtype=torch.float32)[:, None, None]
    return (array - mean) / std


class ImageClassificationRecipe:
    """An image classifier re-headed for the dataset's classes; LoRA or full fine-tuning."""

    unit = "images"

    def __init__(self, config: ExperimentConfig) -> None:
        self.config = config
        self.rc = ImageClassificationConfig.model_validate(config.recipe_config)
        self.loader_workers = self.rc.num_workers
        self.model_dir: Path | None = None
        self.processor: Any = None
        self.pre: Preprocess | None = None
        self.labels: cls.LabelSet | None = None
        self.train_data: list[ImageItem] = []
        self.val_data: list[ImageItem] = []
        self.weights: list[float] | None = None
        self.skipped: list[tuple[str, str]] = []
        self.model_notes: list[str] = []  # how the model was adapted, for the run's log
        self.data_notes: list[str] = []  # lines for the run's log from preparing the data

    # ---- data ---------------------------------------------------------------------------------
    def _label_set(self, rows: list[Any], data_path: Path) -> cls.LabelSet:
        return cls.LabelSet((r[1] for r in rows), self.rc.label_column, f"dataset {data_path}",
                            as_written=self.rc.label_names == "as-written")

    def _untrained(self, rows: list[Any], data_path: Path, labels: cls.LabelSet | None = None) -> str | None:
        """`classification.untrained_classes` of `rows`: the classes only validation holds."""
        labels = self._label_set(rows, data_path) if labels is None else labels
        return cls.untrained_classes(cls.class_splits(labels, ((label, split, 1) for _, label, split in rows)))

    def label_names(self, data_path: Path) -> list[str]:
        """The class names a model trained on this dataset has (what evaluation data is checked against)."""
        rows = self._rows(Path(data_path))
        return self._label_set(rows, data_path).names

    def check_data(self, data_path: Path) -> None:
        """Submit's check, before any image is decoded: the fields exist, every image has a label,
        there are 2+ classes, and each has a training image."""
        rows = self._rows(Path(data_path))
        if problem := self._untrained(rows, data_path):
            raise BadInput(f"dataset {data_path}: {problem}")
        check_image_processor(resolve_for_run(self.config.base_model))

    def prepare(self, data_path: Path) -> None:
        from transformers import AutoImageProcessor

        rows = self._rows(Path(data_path))
        rows = [r for r in rows if self._decodes(r[0])]
        if not rows:
            raise BadInput(f"dataset {data_path}: none of its images decodes (first: {self.skipped[0][0]}: "
                           f"{self.skipped[0][1]})" if self.skipped else f"dataset {data_path} has no images")
        self.labels = self._label_set(rows, data_path)
        # Submit refuses such a dataset; a run queued before that check, or whose class's only training
        # images do not decode, trains all the same, and its log says so.
        untrained = self._untrained(rows, data_path, self.labels)
        self.model_dir = resolve_for_run(self.config.base_model)
        self.processor = AutoImageProcessor.from_pretrained(self.model_dir, local_files_only=True)
        self.pre = preprocess_of(self.processor)
        items = [(ImageItem(path, self.labels.id_of(label)), split) for path, label, split in rows]
        self.train_data = [i for i, split in items if split == "train"]
        picked, note = evaluated_rows([i for i, split in items if split == "val"], self.rc.eval_max_rows)
        self.val_data, self.data_notes = list(picked), [note] if note else []
        self.data_notes += [f"this run cannot learn what only validation holds: {untrained}"] if untrained else []
        if not self.train_data:
            raise BadInput(f"dataset {data_path} has no training images (all are validation)")
        if self.rc.class_weights == "balanced":
            self.weights = cls.class_weights([i.label for i in self.train_data], len(self.labels))

    # Building the model needs the label set, which holds only classes with an image that decodes:
    # that takes what `prepare` does (no tensors are made there; images load per batch).
    prepare_model = prepare

    def prepare_labels(self, names: list[str]) -> None:
        """What `build_model` needs, with the label set given (a run's own, `run_label_names`): no image read."""
        from transformers import AutoImageProcessor

        self.labels = cls.LabelSet.from_names(names, as_written=self.rc.label_names == "as-written")
        self.model_dir = resolve_for_run(self.config.base_model)
        self.processor = AutoImageProcessor.from_pretrained(self.model_dir, local_files_only=True)
        self.pre = preprocess_of(self.processor)

    def _rows(self, data_path: Path) -> list[tuple[str, Any, str]]:
        """(absolute image path, raw label, split) for an image dataset folder or text rows (a manifest)."""
        column, label_column = self.rc.image_column, self.rc.label_column
        if not image_rows.holds_text_rows(data_path):  # an ingested image dataset
            manifest = image_rows.manifest_rows(data_path)
            return [(image_rows.image_path(data_path, r.get("path", "")), r.get("label"),
                     "val" if r.get("split") == "val" else "train")
                    for r in manifest if self._labelled(r, "label", data_path)]
        rows, base = image_rows.read_text_rows(data_path, self.config.eval.val_fraction)
        image_rows.require_columns(rows, data_path, {"image_column": column, "label_column": label_column})
        for row in rows:
            if not is_filled(row.record[label_column]):
                raise BadInput(f"{row.source}: empty label in {label_column!r}; fill it in or remove the row")
        return [(image_rows.image_path(base, row.record[column]), row.record[label_column], row.split)
                for row in rows]

    def _labelled(self, row: dict[str, Any], key: str, data_path: Path) -> bool:
        if not is_filled(row.get(key)):
            raise BadInput(f"dataset {data_path}: image {row.get('source') or row.get('path')} has no label; "
                           "put each class's images in a sub-folder named after the class and ingest the parent "
                           "folder, or use a manifest with a label column")
        return True

    def _decodes(self, path: str) -> bool:
        _size, problem = decode_problem(path, quick=True)
        if problem:
            self.skipped.append((path, problem))
        return not problem

    def log_notes(self) -> list[str]:
        assert self.labels is not None and self.pre is not None
        notes = [f"{len(self.labels)} classes: {', '.join(self.labels.names)}; images {self.pre.width}x"
                 f"{self.pre.height}, {self.loader_workers} loader workers"]
        notes += self.data_notes + self.model_notes
        if self.skipped:
            notes.append(f"skipped {len(self.skipped)} images that do not decode:")
            notes += [f"  skipped {path}: {reason}" for path, reason in self.skipped]
        return notes

    def load(self, item: ImageItem, seed: int | None) -> tuple[Any, int]:
        assert self.pre is not None
        rng = None if seed is None else random.Random(seed)
        return transform(open_rgb(item.path), self.pre, rng, self.rc), item.label

    def collate(self, examples: list[tuple[Any, int]]) -> dict[str, Any]:
        import torch

        return {"pixel_values": torch.stack([e[0] for e in examples]),
                "labels": torch.tensor([e[1] for e in examples], dtype=torch.long)}

    def loss_count(self, batch: dict[str, Any]) -> int:
        return cls.examples_in(batch)

    def work_in(self, batch: dict[str, Any]) -> int:
        return cls.examples_in(batch)

    # ---- model --------------------------------------------------------------------------------
    def build_model(self, device: Any, precision: str) -> Any:
        from transformers import AutoModelForImageClassification

        assert self.labels is not None and self.model_dir is not None, "prepare() runs first"
        model, info = AutoModelForImageClassification.from_pretrained(
            self.model_dir, num_labels=len(self.labels), id2label=self.labels.id2label,
            label2id=self.labels.label2id, ignore_mismatched_sizes=True, local_files_only=True,
            output_loading_info=True, dtype=cls.load_dtype(self.rc, precision))
        head = fresh_modules(model, info)
        cls.checkpoint_activations(model, self.config.train.gradient_checkpointing, self.model_notes)
        try:
            adapted = cls.adapt_classifier(model, self.rc, head, self.model_notes)
        except ValueError as exc:  # peft: no module matched the targets (a conv-only body)
            raise ConfigError(f"recipe_config.target_modules: LoRA found nothing to adapt in {self.model_dir} "
                              f"({exc}); name its layers, or use method full") from None
        return cls.trainable_in_fp32(adapted).to(device)

    def loss(self, model: Any, batch: dict[str, Any]) -> tuple[Any, Any]:
        import torch

        logits = model(pixel_values=batch["pixel_values"]).logits
        weights = None if self.weights is None else torch.tensor(self.weights, device=logits.device)
        return cls.classification_loss(logits, batch["labels"], weights), batch["labels"].numel()

    def eval_step(self, model: Any, batch: dict[str, Any]) -> dict[str, Any]:
        assert self.labels is not None
        return cls.eval_totals(model(pixel_values=batch["pixel_values"]).logits, batch["labels"], len(self.labels))

    def eval_metrics(self, totals: dict[str, Any]) -> EvalResult:
        assert self.labels is not None
        result = cls.metrics_from_confusion(totals, self.labels.names)
        if result.report is not None:  # the run's report lists what training left out, as diffusion-lora's does
            result.report["skipped_images"] = [{"path": path, "reason": reason} for path, reason in self.skipped]
        return result

    def generate_samples(self, model: Any) -> list[Sample]:
        """Predictions on the first validation images (thumbnails with predicted and true class)."""
        import torch

        assert self.labels is not None
        items = (self.val_data or self.train_data)[:8]
        batch = self.collate([self.load(i, None) for i in items])
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        with torch.no_grad():
            probs = model(pixel_values=batch["pixel_values"].to(device)).logits.float().softmax(-1).cpu()
        model.train(was_training)
        samples = []
        for item, p in zip(items, probs, strict=True):
            k = int(p.argmax())
            thumb = open_rgb(item.path)
            thumb.thumbnail((160, 160))
            caption = f"predicted {self.labels.names[k]} ({float(p[k]):.2f}); true {self.labels.names[item.label]}"
            samples.append(Sample(prompt=Path(item.path).name, image=thumb, caption=caption))
        return samples

    def save_final(self, model: Any, dest: Path) -> None:
        cls.save_classifier(model, dest, [self.processor])


if TYPE_CHECKING:  # the type checker (tests/training/test_typecheck.py) holds the class to the protocol
    from spark_trainer.recipes.base import Recipe

    _conforms: type[Recipe] = ImageClassificationRecipe
