"""image-classification end to end on the CPU: a tiny ViT re-headed from 5 to 3 classes learns
generated images through the DataLoader path; undecodable images are skipped and listed; exact
resume holds with augmentation; bad input fails before training."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.errors import BadInput
from spark_trainer.training.checkpoints import latest_checkpoint
from spark_trainer.training.engine import run_training
from tests.recipes.helpers import make_image_folders, write_jsonl
from tests.training.helpers import RecordingReporter, commands_for


def config(model: Path, **sections: Any) -> ExperimentConfig:
    base: dict[str, Any] = {
        "name": "shapes", "recipe": "image-classification", "base_model": str(model), "dataset": "data",
        "gpus": "cpu", "train": {"max_steps": 12, "learning_rate": 3e-3, "batch_size": 8},
        "eval": {"every_steps": None, "val_fraction": 0.25}, "checkpoint": {"every_steps": None, "keep": 1},
        "recipe_config": {"method": "full", "num_workers": 1},
    }
    for key, value in sections.items():
        base[key] = {**base[key], **value} if isinstance(base.get(key), dict) else value
    return ExperimentConfig.model_validate(base)


def train(cfg: ExperimentConfig, data: Path, run_dir: Path, *, stop_at: int | None = None,
          resume_from: Path | None = None) -> tuple[Any, RecordingReporter]:
    commands = commands_for(stop_at)
    reporter = RecordingReporter(commands)
    outcome = run_training(cfg, data_path=data, run_dir=run_dir, reporter=reporter, commands=commands,
                           resume_from=resume_from)
    return outcome, reporter


def manifest(root: Path, extra: list[dict[str, Any]] = ()) -> Path:  # type: ignore[assignment]
    rows = [{"path": str(p.relative_to(root)), "label": p.parent.name} for p in sorted(root.rglob("*.png"))]
    return write_jsonl(root / "manifest.jsonl", rows + list(extra))


def test_reheaded_classifier_learns_and_reports_a_confusion_matrix(tiny_image_classifier, tmp_path):
    root = make_image_folders(tmp_path / "shapes", per_class=16)
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    data = manifest(root)
    outcome, rep = train(config(tiny_image_classifier, eval={"samples_every_steps": 12}), data, tmp_path / "run")

    assert outcome.metrics["eval_accuracy"] >= 0.8, outcome.metrics  # chance is 1/3
    assert any("skipped" in line and "broken.png" in line for line in rep.logs), rep.logs
    assert "images_per_s" in rep.metrics[1]
    report = json.loads((tmp_path / "run" / "eval" / "step-00000012.json").read_text())
    validation = int(rep.logs[0].split("(")[1].split()[0])
    assert sum(map(sum, report["confusion"])) == validation == report["examples"]
    assert report["labels"] == ["blue_bars", "green_disc", "red_square"]
    assert [Path(s["path"]).name for s in report["skipped_images"]] == ["broken.png"] and report["skipped_images"][0]["reason"]
    samples = json.loads((tmp_path / "run" / "samples" / "step-00000012.json").read_text())["samples"]
    assert samples and all((tmp_path / "run" / "samples" / s["image"]).is_file() for s in samples)
    assert "predicted" in samples[0]["caption"]

    from transformers import AutoModelForImageClassification

    final = AutoModelForImageClassification.from_pretrained(outcome.final_path)
    assert final.config.num_labels == 3 and final.config.id2label[2] == "red_square"
    assert (outcome.final_path / "preprocessor_config.json").is_file()


def test_gradient_checkpointing_is_on_where_the_model_has_it_and_said_where_not(tiny_image_classifier, tmp_path):
    # Image runs ignored train.gradient_checkpointing, while the VRAM estimate counted it.
    import torch
    from transformers import ResNetConfig, ResNetForImageClassification

    from spark_trainer.recipes.image_classification_impl import ImageClassificationRecipe

    data = manifest(make_image_folders(tmp_path / "shapes", per_class=2))
    recipe = ImageClassificationRecipe(config(tiny_image_classifier, train={"gradient_checkpointing": True}))
    recipe.prepare(data)
    assert recipe.build_model(torch.device("cpu"), "fp32").is_gradient_checkpointing
    base = tmp_path / "tiny-resnet"  # ResNet has none: trained without, and the run's log says so
    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8], depths=[1])).save_pretrained(base)
    (base / "preprocessor_config.json").write_text((tiny_image_classifier / "preprocessor_config.json").read_text())
    resnet = ImageClassificationRecipe(config(base, train={"gradient_checkpointing": True}))
    resnet.prepare(data)
    resnet.build_model(torch.device("cpu"), "fp32")
    assert "gradient checkpointing: off, ResNetForImageClassification does not support it" in resnet.log_notes()


def test_lora_on_a_convolutional_classifier_adapts_its_convolutions(tmp_path):
    # A ResNet has no linear layer outside its head, so the default target_modules (all-linear) used to
    # find nothing to adapt: LoRA now goes on the body's convolutions, and the run's log says so.
    import torch
    from transformers import (
        AutoModelForImageClassification,
        ConvNextImageProcessor,
        ResNetConfig,
        ResNetForImageClassification,
    )

    base = tmp_path / "tiny-resnet"
    torch.manual_seed(0)
    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                              num_labels=5)).save_pretrained(base)
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(base)
    data = manifest(make_image_folders(tmp_path / "shapes", per_class=8))
    outcome, rep = train(config(base, train={"max_steps": 4}, recipe_config={"method": "lora", "num_workers": 0}),
                         data, tmp_path / "run")
    assert outcome.status == "completed", outcome
    assert any("LoRA on the body's" in line and "convolutions" in line for line in rep.logs), rep.logs
    final = AutoModelForImageClassification.from_pretrained(outcome.final_path)
    assert final.config.num_labels == 3
    # The merged body differs from the base: the convolutions' LoRA was trained and merged in.
    before = ResNetForImageClassification.from_pretrained(base).resnet.embedder.embedder.convolution.weight
    assert not torch.equal(final.resnet.embedder.embedder.convolution.weight, before)


def test_resumed_run_with_augmentation_and_loader_workers_matches_an_uninterrupted_one(tiny_image_classifier,
                                                                                        tmp_path):
    data = manifest(make_image_folders(tmp_path / "shapes", per_class=8))
    cfg = config(tiny_image_classifier, train={"max_steps": 4},
                 recipe_config={"method": "lora", "lora_dropout": 0.1, "num_workers": 1})
    _, straight = train(cfg, data, tmp_path / "straight")
    stopped, first = train(cfg, data, tmp_path / "resumed", stop_at=2)
    assert stopped.step == 2
    _, second = train(cfg, data, tmp_path / "resumed", resume_from=latest_checkpoint(tmp_path / "resumed"))
    assert {**first.series("loss"), **second.series("loss")} == straight.series("loss")
    assert second.series("eval_accuracy") == straight.series("eval_accuracy")


def test_bad_input_fails_before_training(tiny_image_classifier, tmp_path):
    root = make_image_folders(tmp_path / "shapes", per_class=3)
    rows = [{"file": str(p.relative_to(root)), "label": p.parent.name} for p in sorted(root.rglob("*.png"))]
    with pytest.raises(BadInput, match="image_column 'path' is not a field of manifest.jsonl:1; fields found: file, label"):
        train(config(tiny_image_classifier), write_jsonl(root / "manifest.jsonl", rows), tmp_path / "run")
    one_class = [{"path": str(p.relative_to(root)), "label": "x"} for p in sorted(root.rglob("*.png"))]
    with pytest.raises(BadInput, match="at least 2 classes in 'label'; found 'x'"):
        train(config(tiny_image_classifier), write_jsonl(root / "manifest.jsonl", one_class), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_run_on_a_class_only_validation_holds_says_so_in_its_log(tiny_image_classifier, tmp_path):
    """Submit refuses train/{red_square,green_disc} with val/ holding blue bars too; a run queued before
    that check trains all the same, and its log said "3 classes" and nothing of the one it can never predict."""
    from spark_trainer.recipes.image_classification_impl import ImageClassificationRecipe
    from tests.recipes.helpers import ingested

    root = tmp_path / "splitimgs"
    make_image_folders(root / "train", per_class=3)
    make_image_folders(root / "val", per_class=2, seed=1)
    for image in (root / "train" / "blue_bars").iterdir():
        image.unlink()
    (root / "train" / "blue_bars").rmdir()
    folder = ingested(tmp_path, root)
    problem = "class 'blue_bars' has no training items (2 in validation): add training items for it or remove it " \
              "from validation"
    recipe = ImageClassificationRecipe(config(tiny_image_classifier))
    with pytest.raises(BadInput, match=re.escape(problem)):
        recipe.check_data(folder)
    recipe.prepare(folder)
    assert f"this run cannot learn what only validation holds: {problem}" in recipe.log_notes()


def test_a_phone_photo_is_fed_to_the_model_upright(tmp_path):
    from spark_trainer.images import open_rgb
    from spark_trainer.recipes.image_classification import ImageClassificationConfig
    from spark_trainer.recipes.image_classification_impl import Preprocess, transform
    from tests.ingest.media import write_phone_photo

    photo = write_phone_photo(tmp_path / "IMG_0002.JPG", (64, 32))
    pre = Preprocess(64, 32, None, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # 32 wide, 64 high
    pixels = transform(open_rgb(str(photo)), pre, None, ImageClassificationConfig())
    assert tuple(pixels.shape) == (3, 64, 32)
    assert float(pixels[0, 4, 16]) > 0.8 and float(pixels[0, 60, 16]) < 0.2  # red on top, black below


def test_a_semicolon_csv_manifest_names_its_images_and_labels(tmp_path):
    from spark_trainer.recipes.image_classification_impl import ImageClassificationRecipe

    root = make_image_folders(tmp_path / "shapes", per_class=2, size=16)
    lines = [f"{p.relative_to(root).as_posix()};{p.parent.name}" for p in sorted(root.rglob("*.png"))]
    (root / "labels.csv").write_bytes(("\ufeffpath;label\r\n" + "\r\n".join(lines) + "\r\n").encode())
    recipe = ImageClassificationRecipe(config(tmp_path / "no-model-needed"))
    assert recipe.label_names(root / "labels.csv") == ["blue_bars", "green_disc", "red_square"]


def test_a_base_model_without_an_image_processor_is_refused_at_submit(tiny_text_classifier, tmp_path):
    """Seen in the app: a text model (demo-tiny-bert) chosen for image classification was launched,
    and the run failed at step 0 with transformers' multi-sentence OSError about huggingface.co."""
    from spark_trainer.recipes import get_recipe

    root = make_image_folders(tmp_path / "shapes", per_class=2)
    cfg = config(tiny_text_classifier)
    with pytest.raises(BadInput) as refused:
        get_recipe("image-classification").check_data(cfg, manifest(root))
    message = str(refused.value)
    # Named as the other model checks name it: the field first (`base_model:`), then the same reason.
    assert message == (f"base_model: recipe image-classification cannot start from {tiny_text_classifier}: it has "
                       "no image processor (preprocessor_config.json); image-classification needs an image "
                       "classifier saved with its image processor")


def test_eval_max_rows_evaluates_on_that_many_images_spread_over_the_split(tiny_image_classifier, tmp_path):
    from spark_trainer.recipes.image_classification_impl import ImageClassificationRecipe

    data = manifest(make_image_folders(tmp_path / "shapes", per_class=8))
    recipes = {}
    for cap in (None, 3):
        recipes[cap] = ImageClassificationRecipe(config(tiny_image_classifier, eval={"val_fraction": 0.5},
                                                        recipe_config={"eval_max_rows": cap}))
        recipes[cap].prepare(data)
    val = recipes[None].val_data
    assert len(val) > 6 and recipes[3].val_data == [val[i * len(val) // 3] for i in range(3)]
    assert recipes[3].train_data == recipes[None].train_data
    assert any(n.startswith(f"evaluating on 3 of the {len(val)} validation examples") for n in recipes[3].log_notes())
