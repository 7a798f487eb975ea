"""Exporter for classification runs (text and image): the classifier with its label names, merged
(a model that `pipeline("text-classification" | "image-classification", model=folder)` loads) or the
LoRA adapter with the trained head; with the tokenizer or image processor.

The model is built by the recipe itself (its label set is the run's own: its final model's or validation
report's names, else its dataset's), so the checkpoint's tensor names match exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.export.common import base_dir, base_reference, load_trainable, save_adapter
from spark_trainer.export.memory import WHY_LOADED, all_real, check_memory, make_real, trained_tensors
from spark_trainer.export.registry import ExportInfo

PIPELINE_TAGS = {"text-classification": "text-classification", "image-classification": "image-classification"}
_AUTO_CLASSES = {"text-classification": "AutoModelForSequenceClassification",
                 "image-classification": "AutoModelForImageClassification"}
_SAVE_COPY = ".modules_to_save."  # peft's name for a trained copy of a module (the new head)


def prepared_recipe(config: ExperimentConfig, data_path: Path | None, labels: list[str] | None = None) -> Any:
    """The run's recipe ready to build its model: with `labels` (the run's own, `run_label_names`) no data
    is read, else the label set is its dataset's at `data_path`.

    Raises:
        BadInput: neither is given (the run holds no label names and its dataset was deleted).
    """
    from spark_trainer.recipes.registry import get_recipe

    recipe = get_recipe(config.recipe).load()(config)
    if labels:
        recipe.prepare_labels(labels)
    elif data_path is not None:
        recipe.prepare_model(Path(data_path))  # the label set, not the encoded dataset
    else:
        raise BadInput(NO_LABELS.format(recipe=config.recipe))
    return recipe


def dataset_folder(store: Any, config: ExperimentConfig) -> Path | None:
    """The run's dataset folder, where a classifier's label names come from when the run holds none of
    its own; None once the dataset is deleted (export, evaluation and the playground then say NO_LABELS)."""
    from spark_trainer.store import datasets

    try:
        return Path(datasets.get(store, config.dataset).path)
    except BadInput:
        return None


NO_LABELS = ("this {recipe} run holds no label names yet (no final model, no validation report) and its "
             "dataset was deleted: nothing says which class each output is")




def _processor(recipe: Any) -> Any:
    return getattr(recipe, "tokenizer", None) or getattr(recipe, "processor", None)


def load(config: ExperimentConfig, checkpoint: Path | None, device: Any = "cpu", dtype: str = "fp32", *,
         data_path: Path | None = None, labels: list[str] | None = None) -> tuple[Any, Any]:
    """(classifier in eval mode with id2label, tokenizer); with `checkpoint` None the base model with a
    fresh head (the recipe's starting point)."""
    recipe = prepared_recipe(config, data_path, labels)
    model, processor, _recipe = _load(config, checkpoint, device, dtype, data_path, recipe)
    return model, processor


def _load(config: ExperimentConfig, checkpoint: Path | None, device: Any, dtype: str,
          data_path: Path | None, recipe: Any = None) -> tuple[Any, Any, Any]:
    import torch
    from accelerate.utils import set_seed

    from spark_trainer.recipes.causal_lm_model import torch_dtype

    recipe = recipe or prepared_recipe(config, data_path)
    # Seeded as the engine seeds before building: with no checkpoint this is the run's own starting
    # point (its fresh head), the same at every load, so a --base evaluation repeats.
    set_seed(config.train.seed)
    with quiet_head_report():
        model = recipe.build_model(torch.device("cpu"), "fp32")
    if checkpoint is not None:
        load_trainable(model, Path(checkpoint))
    model.to(device=torch.device(device) if isinstance(device, str) else device, dtype=torch_dtype(dtype))
    model.eval()
    return model, _processor(recipe), recipe


@contextmanager
def quiet_head_report() -> Iterator[None]:
    """Build without transformers' load report: its 'classifier.weight | MISMATCH | Reinit' is the base's
    head replaced for the run's label count, before the checkpoint's trained head is put in, and printed
    on an export's, evaluation's or `generate --checkpoint`'s output it read as if the trained head were lost. The run's own log
    keeps it (there the head is fresh)."""
    from transformers.utils import logging as hf_logging

    before = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(before)


def adapter_only(config: ExperimentConfig, checkpoint: Path, recipe: Any) -> Any | None:
    """The run's PEFT classifier with only its adapter and head real: the model is built from its
    config on the meta device as the recipe builds it (same label set), and the checkpoint's trained
    tensors (the LoRA and the new head, trained in full) are put in place. Saving the adapter needs
    nothing else. None for a full fine-tune, or when the checkpoint does not hold every tensor the
    adapter saves (the caller then loads the base as before)."""
    import transformers
    from accelerate import init_empty_weights
    from peft import get_peft_model_state_dict

    from spark_trainer.recipes.classification import adapt_classifier

    if recipe.rc.method == "full":
        return None
    weights = trained_tensors(checkpoint)
    # The head is what the base's checkpoint lacked (`fresh_modules` at build, from the weights it read):
    # the modules peft keeps a trained copy of, named in the run's checkpoint.
    head = sorted({name.split(_SAVE_COPY)[0].removeprefix("base_model.model.") for name in weights
                   if _SAVE_COPY in name})
    labels = recipe.labels
    auto = getattr(transformers, _AUTO_CLASSES[config.recipe])
    model_config = transformers.AutoConfig.from_pretrained(
        base_dir(config), num_labels=len(labels), id2label=labels.id2label, label2id=labels.label2id,
        local_files_only=True)
    tokenizer = getattr(recipe, "tokenizer", None)
    if tokenizer is not None and model_config.pad_token_id is None:  # as the recipe's build_model sets it
        model_config.pad_token_id = tokenizer.pad_token_id
    with init_empty_weights():
        model = adapt_classifier(auto.from_config(model_config), recipe.rc, head)
    if not make_real(model, weights) or not all_real(get_peft_model_state_dict(model)):
        return None
    return model


def write(config: ExperimentConfig, checkpoint: Path, dest: Path, *, merge: bool, dtype: str,
          data_path: Path | None = None, labels: list[str] | None = None) -> ExportInfo:
    from spark_trainer.recipes.causal_lm_model import torch_dtype

    recipe = prepared_recipe(config, data_path, labels)
    adapter = recipe.rc.method != "full"
    kind = "adapter" if adapter and not merge else ("merged" if adapter else "full")
    model = adapter_only(config, checkpoint, recipe) if kind == "adapter" else None
    if model is None:
        model_dir = base_dir(config)
        check_memory([model_dir], model_dir.name, *WHY_LOADED[kind],
                     checkpoint=checkpoint if kind == "full" else None)
        model, processor, recipe = _load(config, checkpoint, "cpu", "fp32", data_path, recipe)
    processor = _processor(recipe)
    text = config.recipe == "text-classification"
    if text:  # the run kept max_length tokens of a text: a pipeline called with truncation=True keeps as many
        processor.model_max_length = recipe.rc.max_length
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
        # ignore_mismatched_sizes: a pretrained base has a head of its own label count, which the
        # adapter's trained head replaces (without it transformers refuses the size mismatch).
        usage = (f"from peft import PeftModel\nfrom transformers import {auto}\n\n"
                 f'base = {auto}.from_pretrained("{base}", num_labels={len(labels)}, '
                 f"id2label={labels!r},\n    ignore_mismatched_sizes=True)\n"
                 'model = PeftModel.from_pretrained(base, "EXPORT_DIR")')
    else:
        usage = (f'from transformers import pipeline\n\nclassify = pipeline("{PIPELINE_TAGS[config.recipe]}", '
                 'model="EXPORT_DIR")')
        if text:
            usage += (f"\n# truncation=True: the model was trained on the first {recipe.rc.max_length} tokens of a "
                      'text\nprint(classify("a text to classify", truncation=True))')
    return ExportInfo(kind=kind, library_name="peft" if kind == "adapter" else "transformers",
                      pipeline_tag=PIPELINE_TAGS[config.recipe], dtype=dtype, usage=usage)
