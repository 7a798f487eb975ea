"""Classification data paths without training: CSV through ingestion, integer labels, the memory
estimate for classifier runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.estimate import ModelShape, estimate_for_config, estimate_peak_memory
from spark_trainer.ingest import ingest_paths
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
    assert longer.parts["activations"] == 4 * text.parts["activations"]
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
    assert sorted({e.label for e in recipe.train_data + recipe.val_data}) == [0, 1]


def test_an_empty_label_cell_is_refused_naming_its_line(store, tiny_text_classifier, tmp_path):
    csv = tmp_path / "tickets.csv"
    csv.write_text("text,label\n" + "".join(f"refund {i},billing\ncrash {i},bug\n" for i in range(5)) + "no label,\n")
    projects.create(store, "p")
    dataset = ingest_paths(store, [csv], project="p").dataset
    recipe = TextClassificationRecipe(_config(tiny_text_classifier))
    with pytest.raises(BadInput, match=r"^tickets.csv:12: empty label in 'label'; fill it in or remove the row$"):
        recipe.check_data(Path(dataset.path))
