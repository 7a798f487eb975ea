"""The classification generator (text and image classification runs): the predicted labels of an
input with their probabilities, most likely first.

The run's own recipe object prepares the inputs exactly as training did (tokenizer and max length,
or the image transform), with the label names the run holds (as export and eval take them), so it
works after the run's dataset is deleted; the dataset is read only for a run that holds none. The
weights come from the final model (LoRA merged in) or a checkpoint's trainable tensors."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput
from spark_trainer.playground.generators import Emit, ShouldStop
from spark_trainer.playground.source import ModelSource

TOP_K = 10



def check_image_file(path: str) -> None:
    """Refuse, in one line, an image to classify that is not a file (missing, or a folder)."""
    if Path(path).is_dir():
        raise BadInput(f"image {path} is a folder, not an image file; give one image")
    if not Path(path).is_file():
        raise BadInput(f"image {path} does not exist")


def _dataset_path(source: ModelSource, config: Any) -> Path:
    """The run's dataset folder, for a run that holds no label names of its own.

    Raises:
        BadInput: the dataset was deleted (nothing then says which class each output is).
    """
    from spark_trainer.export.classifier import NO_LABELS, dataset_folder
    from spark_trainer.store.store import Store

    with Store.open(str(source.home), upgrade=False) as store:
        found = dataset_folder(store, config)
    if found is None:
        raise BadInput(f"run {source.run_id}: " + NO_LABELS.format(recipe=config.recipe))
    return found


class ClassificationGenerator:
    def __init__(self) -> None:
        self.recipe: Any = None
        self.model: Any = None
        self.device: Any = None
        self.kind = "text"

    def load(self, source: ModelSource, device: str) -> dict[str, Any]:
        import torch

        from spark_trainer.export.classifier import prepared_recipe, quiet_head_report
        from spark_trainer.jobs.submit import frozen_config
        from spark_trainer.recipes.classification import run_label_names

        config = frozen_config(source.run_dir)
        labels = run_label_names(source.run_dir)
        # The label set and tokenizer; no row of the dataset is encoded.
        self.recipe = prepared_recipe(config, None if labels else _dataset_path(source, config), labels)
        self.kind = "image" if config.recipe == "image-classification" else "text"
        self.device = torch.device(device)
        if source.kind == "final":
            from transformers import AutoModelForImageClassification, AutoModelForSequenceClassification

            auto = AutoModelForImageClassification if self.kind == "image" else AutoModelForSequenceClassification
            model = auto.from_pretrained(source.path, local_files_only=True)
        else:
            from spark_trainer.export.checkpoint import read_tensors
            from spark_trainer.playground.causal_lm import _copy_trainable

            with quiet_head_report():  # the base's head replaced, before the checkpoint's trained one goes in
                model = self.recipe.build_model(torch.device("cpu"), "fp32")
            _copy_trainable(model, read_tensors(source.path / "trainable.safetensors"), source.path)
        self.model = model.to(self.device).eval()
        return {"labels": list(self.recipe.labels.names), "input": self.kind}

    def generate(self, inputs: dict[str, Any], settings: dict[str, Any], *, base: bool, emit: Emit,
                 should_stop: ShouldStop) -> dict[str, Any]:
        import torch

        if self.model is None:
            raise BadInput("no model is loaded")
        if base:
            raise BadInput("classification runs have no base-model answer: the base model has no head for these labels")
        started = time.monotonic()
        batch = self._batch(inputs)
        with torch.no_grad():
            logits = self.model(**{k: v.to(self.device) for k, v in batch.items()}).logits
        probs = logits.float().softmax(-1)[0].cpu()
        names = self.recipe.labels.names
        order = probs.argsort(descending=True)[:TOP_K]
        labels = [{"label": names[int(i)], "probability": round(float(probs[int(i)]), 6)} for i in order]
        return {"labels": labels, "label": labels[0]["label"], "seconds": round(time.monotonic() - started, 3),
                "settings": {}, "finish_reason": "done"}

    def _batch(self, inputs: dict[str, Any]) -> dict[str, Any]:
        if self.kind == "image":
            from spark_trainer.images import open_rgb
            from spark_trainer.recipes.image_classification_impl import transform

            path = inputs.get("image")
            if not isinstance(path, str) or not path:
                raise BadInput("this is an image classification run: give an image (--image FILE)")
            check_image_file(path)
            try:
                pixels = transform(open_rgb(path), self.recipe.pre, None, self.recipe.rc)
            except OSError as exc:
                raise BadInput(f"image {path} cannot be read: {exc}") from None
            return {"pixel_values": pixels.unsqueeze(0)}
        from spark_trainer.recipes.text_classification_impl import Encoded

        text = inputs.get("text", inputs.get("prompt"))
        if not isinstance(text, str) or not text.strip():
            raise BadInput("the text to classify is empty")
        batch = self.recipe.collate([Encoded(self.recipe.encode_text(text), 0, text)])
        return {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}

    def memory_bytes(self) -> int:
        import torch

        if self.model is None:
            return 0
        if self.device is not None and self.device.type == "cuda":
            return int(torch.cuda.memory_allocated(self.device))
        return sum(t.numel() * t.element_size() for t in [*self.model.parameters(), *self.model.buffers()])

    def close(self) -> None:
        self.model = self.recipe = None
