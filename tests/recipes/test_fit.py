"""The recipes' rules for which datasets and base models they can use, from cheap facts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from spark_trainer.ingest import ingest_paths
from spark_trainer.recipes.fit import DataFacts, data_facts
from spark_trainer.recipes.registry import get_recipe
from spark_trainer.store import projects


def test_facts_are_the_first_rows_fields(store, tmp_path: Path) -> None:
    projects.create(store, "p")
    (tmp_path / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\n' * 3)
    (tmp_path / "pets" / "cat").mkdir(parents=True)
    (tmp_path / "shots").mkdir()
    for i in range(2):
        Image.new("RGB", (40, 40), (90 * i, 60, 60)).save(tmp_path / "pets" / "cat" / f"{i}.png")
        Image.new("RGB", (40, 40), (60, 90 * i, 60)).save(tmp_path / "shots" / f"{i}.png")
        (tmp_path / "shots" / f"{i}.txt").write_text("a picture")
    text = ingest_paths(store, [tmp_path / "train.jsonl"], project="p").dataset
    pets = ingest_paths(store, [tmp_path / "pets"], project="p").dataset
    shots = ingest_paths(store, [tmp_path / "shots"], project="p").dataset
    assert data_facts(text.kind, text.path) == DataFacts("text", ("completion", "prompt"))
    assert data_facts(pets.kind, pets.path) == DataFacts("image", ("label",))
    assert data_facts(shots.kind, shots.path) == DataFacts("image", ("caption",))
    assert data_facts("text", tmp_path / "nowhere") == DataFacts("text", read=False)  # the full data check says why


PROMPTS = DataFacts("text", ("completion", "prompt"))
TABLE = DataFacts("text", ("label", "text"))
MANIFEST = DataFacts("text", ("label", "path"))
FOLDERS = DataFacts("image", ("label",))
CAPTIONED = DataFacts("image", ("caption",))
BARE = DataFacts("image", ())


@pytest.mark.parametrize("recipe, facts, settings, why", [
    ("image-classification", PROMPTS, {}, "its records have no 'path' field (recipe_config.image_column); "
                                          "fields: completion, prompt"),
    ("image-classification", MANIFEST, {}, None),
    ("image-classification", FOLDERS, {}, None),
    ("image-classification", CAPTIONED, {}, "its images have no labels; put each class's images in a sub-folder"),
    ("image-classification", DataFacts("text", ("file", "label")), {"image_column": "file"}, None),
    ("text-classification", TABLE, {}, None),
    ("text-classification", PROMPTS, {}, "its records have no 'text' field (recipe_config.text_column)"),
    ("text-classification", DataFacts("text", ("label", "review")), {"text_column": "review"}, None),
    ("text-classification", FOLDERS, {}, "it is an image dataset; text-classification trains on text datasets"),
    ("causal-lm", PROMPTS, {}, None),
    ("causal-lm", TABLE, {}, None),
    ("causal-lm", DataFacts("text", ("messages",)), {}, None),
    ("causal-lm", MANIFEST, {}, "its records have no 'text' field (nor 'prompt'/'completion' or 'messages')"),
    ("diffusion-lora", CAPTIONED, {}, None),
    ("diffusion-lora", BARE, {}, "its first image has no caption"),
    ("diffusion-lora", BARE, {"missing_captions": "empty"}, None),
    ("diffusion-lora", PROMPTS, {}, "it is a text dataset; diffusion-lora trains on image datasets"),
])
def test_each_recipe_says_which_datasets_it_trains_on(recipe, facts, settings, why) -> None:
    found = get_recipe(recipe).data_problem(facts, settings)
    assert (found is None) if why is None else (found or "").startswith(why), found


def _model(tmp_path: Path, name: str, *files: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    for file in files:
        (folder / file).write_text(json.dumps({}))
    return folder


def test_each_recipe_says_which_base_models_it_starts_from(tmp_path: Path) -> None:
    gpt = _model(tmp_path, "gpt", "config.json", "tokenizer_config.json")
    vit = _model(tmp_path, "vit", "config.json", "preprocessor_config.json")
    sd = _model(tmp_path, "sd", "model_index.json")
    bare = _model(tmp_path, "bare", "config.json")
    fits = {(r, m.name): get_recipe(r).model_problem(m) is None
            for r in ("causal-lm", "text-classification", "image-classification", "diffusion-lora")
            for m in (gpt, vit, sd, bare)}
    assert [key for key, ok in fits.items() if ok] == [
        ("causal-lm", "gpt"), ("text-classification", "gpt"), ("image-classification", "vit"), ("diffusion-lora", "sd")]
    assert get_recipe("causal-lm").model_problem(sd).startswith("it is a diffusers pipeline")
    assert get_recipe("causal-lm").model_problem(bare).startswith("it has no tokenizer")
    assert get_recipe("diffusion-lora").model_problem(gpt).startswith("it is not a diffusers pipeline")


def test_a_dataset_whose_manifest_cannot_be_read_is_left_to_the_full_data_check(tmp_path) -> None:
    # A dataset row whose folder has no manifest (yet, or any more) was refused for "no 'text' field;
    # fields: none", as if its rows had been read; its fields are unknown, so no fit rule decides.
    from spark_trainer.recipes.fit import data_facts
    from spark_trainer.recipes.registry import get_recipe

    facts = data_facts("text", tmp_path / "missing")
    assert not facts.read
    for name in ("causal-lm", "text-classification", "image-classification"):
        assert get_recipe(name).data_problem(facts) is None
    assert get_recipe("causal-lm").data_problem(data_facts("image", tmp_path / "missing")) is not None  # kind still counts
