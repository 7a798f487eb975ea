"""Classification data paths without training: CSV through ingestion, integer labels, the memory
estimate for classifier runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.estimate import ModelShape, estimate_for_config, estimate_peak_memory
from spark_trainer.ingest import ingest_paths
from spark_trainer.jobs.submit import CONFIG_NAME, frozen_config
from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
from spark_trainer.store import projects
from tests.recipes.helpers import write_jsonl


def _config(model: Path, **recipe_config) -> ExperimentConfig:
    return ExperimentConfig.model_validate({"name": "t", "recipe": "text-classification", "base_model": str(model),
                                            "dataset": "d", "recipe_config": recipe_config})


def test_an_ingested_csv_with_named_columns_trains_with_its_label_names(store, tiny_text_classifier, tmp_path):
    csv = tmp_path / "tickets.csv"
    csv.write_text("body,topic\n" + "".join(f"refund my card {i},billing\ncrash on start {i},bug\n" for i in range(10)))
    projects.create(store, "p")
    dataset = ingest_paths(store, [csv], project="p").dataset
    recipe = TextClassificationRecipe(_config(tiny_text_classifier, text_column="body", label_column="topic"))
    recipe.prepare(Path(dataset.path))
    assert recipe.labels.names == ["billing", "bug"]
    assert len(recipe.train_data) + len(recipe.val_data) == 20 and recipe.val_data
    batch = recipe.collate(recipe.train_data[:4])
    assert batch["input_ids"].shape[0] == 4 and recipe.loss_count(batch) == 4


def test_integer_labels_sort_numerically(tiny_text_classifier, tmp_path):
    rows = [{"text": f"row {i}", "label": i % 11} for i in range(33)]
    recipe = TextClassificationRecipe(_config(tiny_text_classifier))
    recipe.prepare(write_jsonl(tmp_path / "d.jsonl", rows))
    assert recipe.labels.names == [str(i) for i in range(11)]


def test_memory_estimate_covers_classifier_runs(tiny_text_classifier, tiny_image_classifier):
    text = estimate_for_config({"recipe": "text-classification", "train": {"batch_size": 16},
                                "recipe_config": {"method": "lora", "max_length": 128}}, tiny_text_classifier)
    longer = estimate_for_config({"recipe": "text-classification", "train": {"batch_size": 16},
                                  "recipe_config": {"method": "lora", "max_length": 512}}, tiny_text_classifier)
    assert 0 < text.parts["logits"] < 16 * 128 * 8  # a head of classes, not a vocabulary per token
    assert abs(longer.parts["activations"] - 4 * text.parts["activations"]) <= 4  # each rounded to whole bytes
    image = estimate_for_config({"recipe": "image-classification", "train": {"batch_size": 8},
                                 "recipe_config": {"method": "full"}}, tiny_image_classifier)
    # s is the ViT's patches per image plus one: (32 / 8)^2 + 1 = 17
    same = estimate_peak_memory(ModelShape.from_folder(tiny_image_classifier), method="full", batch_size=8,
                                seq_len=17, outputs=64)
    assert image.parts == same.parts and image.parts["logits"] == 8 * 64 * 8


def test_float_labels_and_trailing_spaces_train_as_the_classes_they_name(tiny_text_classifier, tmp_path):
    rows = [{"text": f"row {i}", "label": [0.0, 1.0, "1 "][i % 3]} for i in range(12)]
    recipe = TextClassificationRecipe(_config(tiny_text_classifier))
    recipe.prepare(write_jsonl(tmp_path / "d.jsonl", rows))
    assert recipe.labels.names == ["0", "1"]
    assert sorted({e.label for e in [*recipe.train_data, *recipe.val_data]}) == [0, 1]


def test_an_empty_label_cell_is_refused_naming_its_line(store, tiny_text_classifier, tmp_path):
    csv = tmp_path / "tickets.csv"
    csv.write_text("text,label\n" + "".join(f"refund {i},billing\ncrash {i},bug\n" for i in range(5)) + "no label,\n")
    projects.create(store, "p")
    dataset = ingest_paths(store, [csv], project="p").dataset
    recipe = TextClassificationRecipe(_config(tiny_text_classifier))
    with pytest.raises(BadInput, match=r"^tickets.csv:12: empty label in 'label'; fill it in or remove the row$"):
        recipe.check_data(Path(dataset.path))


@pytest.mark.parametrize("empty", [[], {}])
def test_an_empty_list_or_mapping_label_is_an_empty_label(tiny_text_classifier, tmp_path, empty):
    # The setup form counted a label of [] or {} as missing (manifest_fields) while this check called
    # it "not a text or an integer": one rule now, the one the counts use.
    rows = [{"text": f"row {i}", "label": ["a", "b"][i % 2]} for i in range(6)] + [{"text": "x", "label": empty}]
    recipe = TextClassificationRecipe(_config(tiny_text_classifier))
    with pytest.raises(BadInput, match=r"^d.jsonl:7: empty label in 'label'; fill it in or remove the row$"):
        recipe.check_data(write_jsonl(tmp_path / "d.jsonl", rows))


# A text-classification run's config.yaml as SparkTrainer wrote it before labels were normalized
# (2026-11-30, e.g. commit 3daa757): no recipe_config.label_names, seq_len still under train.
OLD_FROZEN = """project: p
name: old-tickets
recipe: text-classification
base_model: {model}
dataset: '1'
gpus: cpu
priority: 0
notes: ''
train: {{max_steps: 12, epochs: null, learning_rate: 0.003, batch_size: 8, grad_accum: 1, seq_len: 512,
  precision: auto, seed: 42, lr_scheduler: cosine, warmup_steps: 0, warmup_ratio: 0.0, weight_decay: 0.0,
  max_grad_norm: 1.0, gradient_checkpointing: false, compile: auto, auto_batch: false,
  early_stopping_patience: null, early_stopping_metric: null}}
recipe_config: {{method: full, lora_r: 8, lora_alpha: 16.0, lora_dropout: 0.0, target_modules: all-linear,
  class_weights: none, text_column: text, label_column: label, max_length: 256}}
eval: {{every_steps: 3, val_fraction: 0.2, max_batches: null, samples_every_steps: 12, sample_prompts: []}}
checkpoint: {{every_steps: 3, keep: 2, keep_best: true}}
"""


def test_a_run_frozen_before_labels_were_normalized_keeps_its_class_ids(store, tiny_text_classifier, tmp_path):
    # Ratings 1..10 from a CSV are text: that version ordered its classes 1, 10, 2, ... and its model's
    # head learned them so. Resumed, exported, evaluated or tried now, the run must name them the same,
    # or every prediction of class 10 would be called 2.
    csv = tmp_path / "ratings.csv"
    csv.write_text("text,label\n" + "".join(f"review {i},{i % 10 + 1}\n" for i in range(40)))
    projects.create(store, "p")
    dataset = ingest_paths(store, [csv], project="p").dataset
    run_dir = tmp_path / "runs" / "1"
    run_dir.mkdir(parents=True)
    (run_dir / CONFIG_NAME).write_text(OLD_FROZEN.format(model=tiny_text_classifier))

    old = frozen_config(run_dir)
    assert old.recipe_config["label_names"] == "as-written"
    recipe = TextClassificationRecipe(old)
    recipe.prepare(Path(dataset.path))
    assert recipe.labels.names == ["1", "10", "2", "3", "4", "5", "6", "7", "8", "9"]
    review_9 = recipe.encode_text("review 9")
    assert [e.label for e in [*recipe.train_data, *recipe.val_data] if list(e.input_ids) == review_9] == [1]  # 10

    new = TextClassificationRecipe(_config(tiny_text_classifier))  # a run submitted now
    new.prepare(Path(dataset.path))
    assert new.labels.names == [str(i) for i in range(1, 11)]
