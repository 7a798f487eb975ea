"""The setup form's own checks (no store, no disk): each bad field gets its own message."""

from __future__ import annotations

from app.views.setup_checks import field_errors

GOOD = {"project": "demo", "name": "tiny-lora", "dataset": "train", "gpus": "auto"}


def test_good_values_have_no_errors() -> None:
    assert field_errors(GOOD) == {}


def test_each_bad_field_is_named_with_its_own_message() -> None:
    errors = field_errors({"project": "", "name": "", "dataset": "", "gpus": "three"})
    assert set(errors) == {"project", "name", "dataset", "gpus"}
    assert "project" in errors["project"]
    assert errors["name"] == "give the experiment a name"
    assert errors["dataset"] == "choose a dataset, or a file or folder to ingest"
    assert "three" in errors["gpus"]
    assert set(field_errors({**GOOD, "name": "n" * 300})) == {"name"}


def _home_with_a_text_dataset_and_two_models(store, tmp_path):
    import json

    from spark_trainer.ingest import ingest_paths
    from spark_trainer.store import projects

    projects.create(store, "demo")
    text = tmp_path / "train.jsonl"
    text.write_text("".join(json.dumps({"text": f"t {i}", "label": i % 2}) + "\n" for i in range(6)))
    ingest_paths(store, [text], project="demo", name="train")
    llama = store.home.models_dir / "tiny-llama"
    llama.mkdir(parents=True)
    (llama / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2,
                                                   "num_attention_heads": 4, "intermediate_size": 128,
                                                   "vocab_size": 100}))
    sd = store.home.models_dir / "tiny-sd"
    sd.mkdir()
    (sd / "model_index.json").write_text("{}")
    return str(llama), str(sd)


def test_the_store_checks_name_a_dataset_or_model_the_recipe_cannot_train(store, tmp_path) -> None:
    """Switching the recipe keeps the typed dataset and base model: the form said nothing and Launch
    stayed enabled for a diffusion LoRA of a text dataset on a Llama, refused only after the click."""
    from app.views.setup_checks import check_setup

    llama, sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    form = {**GOOD, "recipe": "causal-lm", "base_model": llama, "train": {}, "recipe_config": {}}
    assert check_setup(store, form, ["train"], []).errors == {}
    errors = check_setup(store, {**form, "recipe": "diffusion-lora"}, [], []).errors
    assert "image" in errors["dataset"] and "text" in errors["dataset"]
    assert "model_index.json" in errors["base_model"]
    errors = check_setup(store, {**form, "base_model": sd}, ["train"], []).errors
    assert set(errors) == {"base_model"} and "diffusers pipeline" in errors["base_model"]
