"""The classifier exporter (spark_trainer/export/classifier.py): the base with no checkpoint is the run's seeded
starting point; an adapter is saved without loading the base model's weights, and holds exactly what the full
load gave; a merge that cannot fit in memory is refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.jobs.submit import frozen_config, submit_config
from spark_trainer.store import datasets
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint
from tests.export.conftest import export_without_base_weights, merge_refused_for_memory
from tests.worker_here import evaluated_here


def test_the_base_model_loads_with_the_same_fresh_head_every_time(tmp_path) -> None:
    import torch

    from spark_trainer.export import classifier
    from spark_trainer.jobs.demo_recipes import image_classification_demo

    with Store.open(tmp_path / "home") as store:
        _model, _folder, config = image_classification_demo(store, steps=1)
        run = submit_config(store, config.model_copy(update={"gpus": "cpu"})).run  # queued, never started
        config = frozen_config(Path(run.run_dir))
        data = Path(datasets.get(store, config.dataset).path)
    loads = [classifier.load(config, None, "cpu", "fp32", data_path=data)[0] for _ in range(2)]
    first, second = (dict(m.named_parameters()) for m in loads)
    heads = [n for n in first if "classifier" in n]
    assert heads and first.keys() == second.keys()
    for name, value in first.items():
        assert torch.equal(value, second[name]), name  # a --base evaluation repeats
    other = classifier.load(config.model_copy(update={"train": config.train.model_copy(update={"seed": 7})}),
                            None, "cpu", "fp32", data_path=data)[0]
    assert not torch.equal(dict(other.named_parameters())[heads[0]], first[heads[0]])  # the run's seed decides


# ---- an adapter export reads none of the base's weights ------------------------------------------------------


def _bf16_text_classifier(folder: Path) -> Path:
    """The tiny BERT classifier stored in bf16, as many bases are."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from tests.recipes.helpers import TOPICS

    create_tiny_text_classifier(folder, corpus=list(TOPICS.values()))
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    model.to(torch.bfloat16).save_pretrained(folder)
    return folder


def _run(home: Path, recipe: str) -> tuple[Path, Path, Path]:
    """(run folder, dataset folder, base model) of a 2-step LoRA run with a checkpoint."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.jobs.demo_recipes import image_classification_demo
    from tests.export.conftest import train_in_store
    from tests.recipes.helpers import ticket_rows, write_jsonl

    settings = {"eval": {"every_steps": None, "val_fraction": 0.2}, "checkpoint": {"every_steps": 2, "keep": 1},
                "gpus": "cpu"}
    with Store.open(home) as store:
        if recipe == "image-classification":
            model, _folder, config = image_classification_demo(store, steps=2)
            config = ExperimentConfig.model_validate({
                **config.model_dump(), **settings, "recipe_config": {**config.recipe_config, "method": "lora"}})
        else:
            model = _bf16_text_classifier(home.parent / "tiny-bert-bf16")
            data = write_jsonl(home.parent / "tickets.jsonl", ticket_rows(40))
            config = ExperimentConfig.model_validate({
                "project": "support", "name": "tickets", "recipe": recipe, "base_model": str(model),
                "dataset": str(data), "train": {"max_steps": 2, "learning_rate": 3e-3, "batch_size": 8},
                "recipe_config": {"method": "lora", "max_length": 12}, **settings})
        run = train_in_store(store, config)[0]
        data = Path(datasets.get(store, frozen_config(Path(run.run_dir)).dataset).path)
    return Path(run.run_dir), data, model


@pytest.fixture(scope="module", params=["text-classification", "image-classification"])
def lora_classifier_run(request, tmp_path_factory) -> tuple[Path, Path, Path, Path]:
    """(data home, run folder, dataset folder, base model)."""
    home = tmp_path_factory.mktemp(request.param) / "home"
    return home, *_run(home, request.param)


def _full_load_export(config, checkpoint: Path, data: Path, dest: Path) -> None:
    """What the exporter wrote before: the base loaded in fp32 as the recipe builds it, the checkpoint
    copied in, the adapter saved with the tokenizer or image processor."""
    from spark_trainer.export.classifier import _load
    from spark_trainer.export.common import save_adapter

    model, processor, recipe = _load(config, checkpoint, "cpu", "fp32", data)
    if config.recipe == "text-classification":
        processor.model_max_length = recipe.rc.max_length
    dest.mkdir(parents=True)
    save_adapter(model, dest, config)
    processor.save_pretrained(dest)


def _folder_content(folder: Path) -> dict[str, object]:
    """Each file of an export folder: a safetensors file as its tensors, a JSON file as its data."""
    import json

    from safetensors.torch import load_file

    content: dict[str, object] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == ".safetensors":
            content[path.name] = load_file(str(path))
        elif path.suffix == ".json":
            content[path.name] = json.loads(path.read_text())
        else:
            content[path.name] = path.read_bytes()
    return content


def test_the_adapter_without_the_base_weights_is_the_adapter_of_the_full_load(lora_classifier_run, tmp_path) -> None:
    import torch

    from spark_trainer.export import classifier
    from spark_trainer.export.classifier import prepared_recipe

    _home, run_dir, data, _model = lora_classifier_run
    config, checkpoint = frozen_config(run_dir), latest_checkpoint(run_dir)
    assert classifier.adapter_only(config, checkpoint, prepared_recipe(config, data)) is not None  # the light path is taken
    _full_load_export(config, checkpoint, data, tmp_path / "full")
    classifier.write(config, checkpoint, tmp_path / "light", merge=False, dtype="auto", data_path=data)
    full, light = _folder_content(tmp_path / "full"), _folder_content(tmp_path / "light")
    assert sorted(full) == sorted(light) and "adapter_model.safetensors" in full
    for name, value in full.items():
        if isinstance(value, dict) and name.endswith(".safetensors"):
            assert sorted(value) == sorted(light[name]) and any("modules_to_save" in k or "classifier" in k
                                                                   for k in value), name
            for key, tensor in value.items():
                assert tensor.dtype == light[name][key].dtype and torch.equal(tensor, light[name][key]), key
        else:
            assert value == light[name], name


def test_the_cards_usage_snippet_loads_the_adapter_on_a_base_with_another_head(lora_classifier_run,
                                                                              tmp_path) -> None:
    """The base's own head has 2 classes and the run's more: the snippet's `from_pretrained(base,
    num_labels=N)` raised "classifier.weight MISMATCH" (every pretrained classifier has a head); run as
    written, it now gives the trained classifier, the app's outputs for the same input."""
    import numpy as np
    import torch
    from PIL import Image

    from spark_trainer.export import classifier
    from spark_trainer.export.common import base_reference

    _home, run_dir, data, model = lora_classifier_run
    config, checkpoint = frozen_config(run_dir), latest_checkpoint(run_dir)
    from transformers import AutoConfig

    base_labels = AutoConfig.from_pretrained(model).num_labels
    info = classifier.write(config, checkpoint, tmp_path / "adapter", merge=False, dtype="auto", data_path=data)
    app_model, processor = classifier.load(config, checkpoint, data_path=data)
    assert len(app_model.config.id2label) != base_labels  # the case the snippet failed on
    snippet = info.usage.replace(f'"{base_reference(config)}"', repr(str(model))) \
        .replace('"EXPORT_DIR"', repr(str(tmp_path / "adapter")))
    assert snippet != info.usage and repr(str(model)) in snippet
    scope: dict[str, object] = {}
    exec(snippet, scope)  # noqa: S102 - the card's own snippet, run as a reader would
    if config.recipe == "text-classification":
        inputs = processor("the invoice total is wrong", return_tensors="pt")
    else:
        image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8))
        inputs = processor(images=image, return_tensors="pt")
    loaded = scope["model"].float().eval()
    with torch.no_grad():
        theirs, ours = loaded(**inputs).logits, app_model(**inputs).logits
    assert loaded.config.id2label == app_model.config.id2label
    assert torch.allclose(theirs, ours, atol=1e-4), (theirs, ours)


def test_an_adapter_exports_with_the_base_weights_unreadable(lora_classifier_run, tmp_path, capsys) -> None:
    home, run_dir, _data, model = lora_classifier_run
    export_without_base_weights(home, run_dir, model, tmp_path)
    capsys.readouterr()


def test_a_merge_that_cannot_fit_in_memory_is_refused_in_one_line_and_writes_nothing(lora_classifier_run, tmp_path,
                                                                                    capsys, monkeypatch) -> None:
    home, run_dir, _data, model = lora_classifier_run
    merge_refused_for_memory(home, run_dir, model, tmp_path, capsys, monkeypatch)


def test_a_full_export_counts_the_checkpoint_it_reads_beside_the_base(tmp_path, capsys, monkeypatch) -> None:
    """A full fine-tune's checkpoint is as big as the model and is read while the base is in memory
    (459 MiB at the peak for a 223 MiB fp32 base): memory for the base alone is refused too."""
    from collections import namedtuple

    import psutil

    from spark_trainer.cli.main import main
    from spark_trainer.export.memory import weights_bytes_fp32
    from spark_trainer.jobs.demo_recipes import image_classification_demo
    from tests.export.conftest import train_in_store

    home = tmp_path / "home"
    with Store.open(home) as store:
        model, _data, config = image_classification_demo(store, steps=2)
        assert config.recipe_config["method"] == "full"
        run = train_in_store(store, config.model_copy(update={"gpus": "cpu"}))[0]
    checkpoint = latest_checkpoint(Path(run.run_dir)) / "trainable.safetensors"
    base = int(weights_bytes_fp32(model) * 1.1)
    assert checkpoint.stat().st_size > base // 2  # the whole model
    memory = namedtuple("memory", "available free")
    monkeypatch.setattr(psutil, "virtual_memory", lambda: memory(base + 1000, 0))  # the base alone would fit
    monkeypatch.setattr(psutil, "swap_memory", lambda: memory(0, 0))
    capsys.readouterr()
    code = main(["--home", str(home), "export", str(run.id), "--out", str(tmp_path / "full")])
    err = capsys.readouterr().err.replace("  writing weights (0/3)\n", "")
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("error: exporting the full fine-tune needs about ")
    assert f"(the base model {model.name} in fp32 and the checkpoint)" in err
    assert not (tmp_path / "full").exists() or not any((tmp_path / "full").iterdir())


@pytest.mark.parametrize("label_names", ["normalized", "as-written"])
def test_a_text_classifier_export_takes_its_label_names_without_tokenizing_the_dataset(
        label_names, tmp_path, monkeypatch) -> None:
    """Exporting (or evaluating) a run needs only the label names; tokenizing the whole dataset for
    them took most of an export's time and memory on a large JSONL. Same names, same order."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.export import classifier
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from spark_trainer.recipes.text_classification_impl import TextClassificationRecipe
    from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl

    model = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    spellings = ["10", 2, "bug ", 1.0, "bug", "1", "2.0", "praise"]  # as labels come out of spreadsheets
    rows = [{**row, "label": spellings[i % len(spellings)]} for i, row in enumerate(ticket_rows(48))]
    data = write_jsonl(tmp_path / "tickets.jsonl", rows)
    config = ExperimentConfig.model_validate({
        "name": "tickets", "recipe": "text-classification", "base_model": str(model), "dataset": "data",
        "gpus": "cpu", "recipe_config": {"method": "lora", "label_names": label_names}})
    trained = TextClassificationRecipe(config)
    trained.prepare(data)  # what the run itself saw
    expected = dict(enumerate(trained.labels.names))

    def refuse(*_args, **_kwargs):
        raise AssertionError("the export tokenized the dataset")

    monkeypatch.setattr(TextClassificationRecipe, "encode_all", refuse)
    exported, _tokenizer = classifier.load(config, None, "cpu", "fp32", data_path=data)
    assert exported.config.id2label == expected and len(expected) >= 4


# ---- a run's trained work outlives its dataset ----------------------------------------------------------------


@pytest.mark.parametrize("recipe", ["text-classification", "image-classification"])
def test_a_classifier_exports_and_evaluates_after_its_dataset_is_deleted(recipe, tmp_path, capsys) -> None:
    """`dataset delete tickets --force; export 2` said "needs the run's dataset (its label names)" and
    `eval` started a worker that then failed: the label names are in what the run itself holds (its
    final model's id2label), and neither needs the dataset's records."""
    import json

    from spark_trainer.cli.main import main
    from tests.recipes.helpers import ticket_rows, write_jsonl

    home = tmp_path / "home"
    run_dir, _data, _model = _run(home, recipe)
    expected = json.loads((run_dir / "final" / "config.json").read_text())["id2label"]
    with Store.open(home) as store:
        dataset = frozen_config(run_dir).dataset
        datasets.delete(store, dataset, force=True)
    for how in ([], ["--merge"]):
        out = tmp_path / f"export{len(how)}"
        assert main(["--home", str(home), "export", run_dir.name, *how, "--out", str(out)]) == 0, capsys.readouterr()
        if how:
            assert json.loads((out / "config.json").read_text())["id2label"] == expected
    if recipe == "text-classification":
        held_out = write_jsonl(tmp_path / "held-out.jsonl", ticket_rows(6, seed=7))
    else:
        held_out = home / "demo-data" / "shapes"
    capsys.readouterr()
    with evaluated_here():  # the evaluation worker's main, in this process (tests/worker_here.py)
        assert main(["--home", str(home), "eval", run_dir.name, "--task", "classification", "--data", str(held_out),
                     "--gpus", "cpu", "--json"]) == 0, capsys.readouterr().err
    assert set(json.loads(capsys.readouterr().out)["per_class"]) <= set(expected.values())
