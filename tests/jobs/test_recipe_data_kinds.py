"""A recipe given a dataset of a kind it cannot train on is refused at submit, from any front end,
before anything is ingested or recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from spark_trainer.config import validate_config
from spark_trainer.errors import ConfigError
from spark_trainer.ingest import ingest_paths
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import datasets, projects, runs
from spark_trainer.store.store import Store


def _images(folder: Path) -> Path:
    for name in ("cat", "dog"):
        (folder / name).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (40, 40), (i * 90, 30, 200 if name == "cat" else 10)).save(folder / name / f"{i}.png")
    return folder


def _config(dataset: str, model: Path):
    return validate_config({"project": "p", "name": "tickets", "recipe": "text-classification",
                            "base_model": str(model), "dataset": dataset, "gpus": "cpu"})


def _model(tmp_path: Path) -> Path:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")  # submit checks the folder, not the weights
    return tmp_path / "model"


def test_submit_refuses_an_image_dataset_for_a_text_recipe(store: Store, tmp_path: Path) -> None:
    projects.create(store, "p")
    ingested = ingest_paths(store, [_images(tmp_path / "pets")], project="p", name="pets").dataset
    with pytest.raises(ConfigError, match="recipe text-classification trains on text datasets; dataset 'pets' "
                                          "is an image dataset"):
        submit_config(store, _config("pets", _model(tmp_path)), machine=[])
    assert runs.list_all(store) == [] and ingested.kind == "image"


def test_submit_refuses_a_path_of_the_wrong_kind_before_ingesting_it(store: Store, tmp_path: Path) -> None:
    folder = _images(tmp_path / "pets")
    with pytest.raises(ConfigError, match="is an image dataset"):
        submit_config(store, _config(str(folder), _model(tmp_path)), machine=[])
    assert datasets.list_all(store) == [] and runs.list_all(store) == []


def test_exp_create_refuses_the_wrong_kind_too(cli, store: Store, tmp_path: Path) -> None:
    projects.create(store, "p")
    ingest_paths(store, [_images(tmp_path / "pets")], project="p", name="pets")
    result = cli("exp", "create", "--project", "p", "--recipe", "text-classification", "--dataset", "pets",
                 "--base-model", "x/y", "--name", "e")
    assert result.code == 2 and "trains on text datasets" in result.err


def test_recipes_command_lists_the_classification_fields(cli) -> None:
    result = cli("--json", "recipes", "text-classification")
    assert result.code == 0, result.err
    fields = {f["name"]: f for f in result.json()["fields"]}
    assert fields["label_column"]["default"] == "label" and fields["text_column"]["default"] == "text"
    assert fields["method"]["choices"] == ["lora", "full"]
    listed = cli("--json", "recipes").json()
    kinds = {r["name"]: r["data_kinds"] for r in listed}
    assert kinds["image-classification"] == ["image", "text"] and kinds["text-classification"] == ["text"]
