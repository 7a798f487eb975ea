"""The setup form's own checks (no store, no disk): each bad field gets its own message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    (llama / "tokenizer_config.json").write_text("{}")  # text recipes refuse a model without a tokenizer
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


def test_a_loaded_run_file_naming_a_renamed_dataset_is_told_the_new_name(store, tmp_path) -> None:
    from app.views.setup_checks import check_setup
    from spark_trainer.store import datasets

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    datasets.rename(store, "train", "flowers")
    form = {**GOOD, "recipe": "causal-lm", "base_model": llama, "train": {}, "recipe_config": {}}
    errors = check_setup(store, form, ["flowers"], []).errors
    assert errors == {"dataset": "train is not a dataset of this project nor an existing path; it was renamed to "
                                 "'flowers'"}
    assert check_setup(store, {**form, "dataset": "flowers"}, ["flowers"], []).errors == {}


def _ingest_rows(store, tmp_path, name: str, rows: list[dict]) -> None:
    import json

    from spark_trainer.ingest import ingest_paths

    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    ingest_paths(store, [path], project="demo", name=name)


def test_the_recipes_data_check_is_said_before_launch(store, tmp_path) -> None:
    """The data check submit runs (a missing column, a single class) was only said by the banner after
    Launch was clicked; the store check says it next to the dataset now, from the same check."""
    from app.views.setup_checks import check_setup

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    _ingest_rows(store, tmp_path, "reviews", [{"review": f"r {i}", "label": i % 2} for i in range(6)])
    _ingest_rows(store, tmp_path, "one-class", [{"text": f"t {i}", "label": "spam"} for i in range(6)])
    form = {**GOOD, "recipe": "text-classification", "base_model": llama, "train": {}, "recipe_config": {}}
    answers: dict = {}
    assert check_setup(store, form, ["train"], [], answers).errors == {}
    missing = check_setup(store, {**form, "dataset": "reviews"}, [], [], answers).errors
    assert set(missing) == {"dataset"}
    assert "its records have no 'text' field (recipe_config.text_column)" in missing["dataset"]
    assert "fields: label, review" in missing["dataset"]
    single = check_setup(store, {**form, "dataset": "one-class"}, [], [], answers).errors
    assert "at least 2 classes" in single["dataset"]
    # The data settings are the check's: naming the column makes the dataset fine.
    fixed = {**form, "dataset": "reviews", "recipe_config": {"text_column": "review"}}
    assert check_setup(store, fixed, [], [], answers).errors == {}
    # Editing a hyperparameter does not read the dataset again (the answer is kept); the data settings do.
    known = len(answers)
    check_setup(store, {**fixed, "train": {"learning_rate": 1e-3}, "name": "other"}, [], [], answers)
    assert len(answers) == known
    check_setup(store, {**fixed, "eval": {"val_fraction": 0.3}}, [], [], answers)
    assert len(answers) == known + 1


def test_a_text_model_for_image_classification_is_named_at_the_base_model(store, tmp_path) -> None:
    """Seen in the app: demo-tiny-bert picked for image-classification was refused (after the data
    check) under the Dataset field, as 'Cannot launch: dataset: base model ... has no image processor'."""
    from app.views.setup_checks import check_setup

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    form = {**GOOD, "recipe": "image-classification", "base_model": llama, "train": {}, "recipe_config": {}}
    errors = check_setup(store, form, ["train"], []).errors
    assert errors["base_model"] == (f"{Path(llama).name}: it has no image processor (preprocessor_config.json); "
                                    "image-classification needs an image classifier saved with its image processor")
    # Its text rows name no image either (a manifest of images would have a 'path' column).
    assert "its records have no 'path' field (recipe_config.image_column)" in errors["dataset"]


def test_a_folder_in_the_dataset_field_is_searched_for_once_per_check(store, tmp_path, monkeypatch) -> None:
    """A folder path names a reused ingestion only when nothing in it changed since: finding it walks the
    folder. The data check and the data advice each searched for it; now the check's one answer serves both."""
    from app.views.setup_checks import check_setup
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.jobs import submit_data
    from spark_trainer.models.tiny_diffusion import write_captioned_images
    from spark_trainer.store import projects

    projects.create(store, "demo")
    frames = write_captioned_images(tmp_path / "frames", 6, size=64)
    ingest_paths(store, [frames], project="demo", name="frames")
    sd = store.home.models_dir / "tiny-sd"
    sd.mkdir(parents=True)
    (sd / "model_index.json").write_text("{}")
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        (sd / part).mkdir()
    walked: list[Path] = []
    real = submit_data._newest_mtime
    monkeypatch.setattr(submit_data, "_newest_mtime", lambda source: walked.append(source) or real(source))
    form = {"project": "demo", "name": "frames-lora", "recipe": "diffusion-lora", "base_model": str(sd),
            "dataset": str(frames), "gpus": "cpu"}
    found = check_setup(store, form, [], [])
    assert found.errors == {} and len(found.warnings) == 1 and "64x its pixels" in found.warnings[0]
    assert walked == [frames.resolve()]


SETUP_CHECK_IMPORTS = """
import json, sys
from types import SimpleNamespace
from app.views.setup_checks import check_setup
from spark_trainer.store.store import Store

home, forms = sys.argv[1], json.loads(sys.argv[2])
gpus = [SimpleNamespace(index=i, memory_free=80 * 1024**3) for i in range(2)]  # fit and sharding lines too
with Store.open(home) as store:
    shown = [check_setup(store, form, ["train", "shapes"], gpus).estimate[0] for form in forms]
print("RESULT " + json.dumps({"shown": shown, "imported": [m for m in ("torch", "transformers") if m in sys.modules]}))
"""


def test_the_estimate_of_a_local_model_folder_imports_neither_torch_nor_transformers(store, tmp_path) -> None:
    """The form re-estimates while the user types: importing torch and transformers for it on a pool
    thread stalled the GUI thread for up to ~450 ms (benchmarks/bench_setup_estimate.py). The estimate
    reads config.json itself now (spark_trainer.models.config_facts); a fresh process shows what it imports."""
    from tests.conftest import subprocess_env
    from tests.models.hub_configs import BERT_BASE, CAUSAL_LMS, VIT_BASE, model_folder

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    forms = [{**GOOD, "recipe": "causal-lm", "base_model": llama, "train": {}, "recipe_config": {}}]
    for name, config in CAUSAL_LMS.items():
        folder = str(model_folder(store.home.models_dir, name, config))
        forms += [{**GOOD, "gpus": "count:2", "recipe": "causal-lm", "base_model": folder, "train": {},
                   "recipe_config": {"method": method, "seq_len": 8192}} for method in ("lora", "full")]
    forms.append({**GOOD, "recipe": "text-classification", "base_model": str(model_folder(
        store.home.models_dir, "bert", BERT_BASE)), "train": {}, "recipe_config": {}})
    from spark_trainer.ingest import ingest_paths
    from tests.app.gui_assets import write_image_folder
    from tests.models.hub_configs import sd_pipeline_folder

    ingest_paths(store, [write_image_folder(tmp_path / "shapes", per_class=3, size=(48, 48))], project="demo",
                 name="shapes")
    vit = model_folder(store.home.models_dir, "vit", VIT_BASE)
    (vit / "preprocessor_config.json").write_text(json.dumps({"size": {"height": 224, "width": 224}}))
    sd = sd_pipeline_folder(store.home.models_dir)
    forms += [{**GOOD, "dataset": "shapes", "recipe": recipe, "base_model": str(folder), "train": {},
               "recipe_config": {}} for recipe, folder in (("image-classification", vit), ("diffusion-lora", sd))]
    proc = subprocess.run([sys.executable, "-c", SETUP_CHECK_IMPORTS, str(store.home.root), json.dumps(forms)],
                          capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])
    assert len(result["shown"]) == len(forms)
    assert [text for text in result["shown"] if not text.startswith("<b>~")] == []  # an estimate for each
    assert result["imported"] == []


def test_a_class_only_validation_holds_is_said_next_to_the_dataset(store, tmp_path) -> None:
    """A validation.jsonl with a label train.jsonl lacks was launched without a word: its model can
    never predict that class, so its accuracy was capped and its evaluation misled."""
    import json

    from app.views.setup_checks import check_setup
    from spark_trainer.ingest import ingest_paths

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    folder = tmp_path / "tickets"
    folder.mkdir()
    (folder / "train.jsonl").write_text("".join(json.dumps({"text": f"t {i}", "label": "ab"[i % 2]}) + "\n"
                                                for i in range(6)))
    (folder / "validation.jsonl").write_text("".join(json.dumps({"text": f"v {i}", "label": label}) + "\n"
                                                     for i, label in enumerate(["a", "zzz", "zzz"])))
    ingest_paths(store, [folder], project="demo", name="tickets")
    form = {**GOOD, "recipe": "text-classification", "base_model": llama, "train": {}, "recipe_config": {},
            "dataset": "tickets"}
    assert check_setup(store, form, ["tickets"], [], {}).errors == {
        "dataset": "recipe text-classification cannot train on dataset 'tickets': class 'zzz' has no training "
                   "items (2 in validation): add training items for it or remove it from validation"}


def test_no_memory_figure_is_given_for_settings_that_are_not_valid(store, tmp_path) -> None:
    """With batch size 0 (marked invalid at its field) the estimate still said ~553.8 MiB: a figure for
    settings no run can have."""
    from app.views.setup_checks import check_setup

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    form = {**GOOD, "recipe": "causal-lm", "base_model": llama, "train": {}, "recipe_config": {}}
    assert check_setup(store, form, ["train"], []).estimate[0].startswith("<b>~")
    headline = check_setup(store, {**form, "train": {"batch_size": 0}}, ["train"], []).estimate
    assert headline == ("No estimate until the settings are valid (train.batch_size: got 0; must be at least 1)", "", "")
    # A missing name is no reason to withhold the figure: it does not change it.
    assert check_setup(store, {**form, "name": ""}, ["train"], []).estimate[0].startswith("<b>~")


def test_a_lora_target_the_model_lacks_is_said_at_its_field_before_launch(store, tmp_path) -> None:
    """The names were checked only by the worker, when the queued run started; the form names the
    field and the model's layers, whatever the dataset (here a path not ingested yet)."""
    from app.views.setup_checks import TARGETS, check_setup

    llama, _sd = _home_with_a_text_dataset_and_two_models(store, tmp_path)
    rows = tmp_path / "later.jsonl"
    rows.write_text("".join(json.dumps({"text": f"t {i}"}) + "\n" for i in range(6)))
    form = {**GOOD, "recipe": "causal-lm", "base_model": llama, "dataset": str(rows), "train": {},
            "recipe_config": {"target_modules": "q_proj,c_attn"}}
    errors = check_setup(store, form, [], []).errors
    assert list(errors) == [TARGETS]
    assert errors[TARGETS].startswith("'c_attn' names no module of the model; its layers are named down_proj")
    assert check_setup(store, {**form, "recipe_config": {"target_modules": "q_proj,v_proj"}}, [], []).errors == {}
