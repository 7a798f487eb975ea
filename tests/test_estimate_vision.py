"""spark_trainer/estimate_vision.py: the memory estimate of convolutional image classifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.estimate import estimate_for_config


@pytest.fixture(scope="module")
def tiny_resnet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from transformers import ConvNextImageProcessor, ResNetConfig, ResNetForImageClassification

    folder = tmp_path_factory.mktemp("models") / "tiny-resnet"
    torch.manual_seed(0)
    ResNetForImageClassification(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1],
                                              num_labels=3)).save_pretrained(folder)
    ConvNextImageProcessor(size={"shortest_edge": 64}, crop_pct=1.0).save_pretrained(folder)
    return folder


def run_file(method: str, batch_size: int = 4, precision: str = "fp32") -> dict:
    return {"recipe": "image-classification", "train": {"batch_size": batch_size, "precision": precision},
            "recipe_config": {"method": method, "lora_r": 4}}


def test_activations_are_counted_on_the_meta_device_as_on_a_real_one(tiny_resnet):
    import torch
    from transformers import AutoModelForImageClassification

    from spark_trainer.estimate_vision import saved_activation_bytes

    real = AutoModelForImageClassification.from_pretrained(tiny_resnet)
    with torch.device("meta"):
        meta = AutoModelForImageClassification.from_config(real.config)
    assert saved_activation_bytes(meta, 4, 64, 64) == saved_activation_bytes(real, 4, 64, 64) > 0
    # Twice the images, twice the activations (but for BatchNorm's per-channel statistics, a few hundred bytes).
    assert saved_activation_bytes(meta, 8, 64, 64) == pytest.approx(2 * saved_activation_bytes(meta, 4, 64, 64), rel=0.01)


def test_trainable_parameters_match_what_the_recipe_trains(tiny_resnet):
    # The estimate's count of LoRA weights (on the body's convolutions: a ResNet has no other linear
    # layer than its head) plus the head must equal what the recipe's adapted model really trains.
    from transformers import AutoModelForImageClassification

    from spark_trainer.recipes.classification import ClassifierTuning, adapt_classifier

    estimate = estimate_for_config(run_file("lora"), tiny_resnet)
    model = AutoModelForImageClassification.from_pretrained(tiny_resnet)
    tuning = ClassifierTuning.model_validate({"method": "lora", "lora_r": 4})
    adapted = adapt_classifier(model, tuning, ["classifier.1"])
    assert estimate.trainable_params == sum(p.numel() for p in adapted.parameters() if p.requires_grad)

    full = estimate_for_config(run_file("full"), tiny_resnet)
    whole = AutoModelForImageClassification.from_pretrained(tiny_resnet)  # `model` now carries the LoRA
    assert full.trainable_params == sum(p.numel() for p in whole.parameters()) and full.parts["weights"] == 0
    assert full.parts["activations"] == estimate.parts["activations"] > 0


def test_sixteen_bit_halves_the_activations_and_batch_scales_them(tiny_resnet):
    fp32, bf16 = estimate_for_config(run_file("lora"), tiny_resnet), estimate_for_config(run_file("lora", precision="bf16"), tiny_resnet)
    assert bf16.parts["activations"] == fp32.parts["activations"] // 2
    double = estimate_for_config(run_file("lora", batch_size=8), tiny_resnet)
    assert double.parts["activations"] == pytest.approx(2 * fp32.parts["activations"], rel=0.01)
    assert double.total_bytes > fp32.total_bytes


def test_a_convnext_with_a_patch_size_is_still_estimated_as_a_convolutional_network(tmp_path):
    # ConvNeXt's config has patch_size and image_size (its stem) but no transformer layers: the token
    # formula used to be chosen for it and failed ("no hidden_size / num_hidden_layers").
    from transformers import ConvNextConfig, ConvNextForImageClassification, ConvNextImageProcessor

    from spark_trainer.estimate_vision import has_patches

    ConvNextForImageClassification(ConvNextConfig(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2,
                                                  num_labels=3)).save_pretrained(tmp_path / "convnext")
    ConvNextImageProcessor(size={"shortest_edge": 32}, crop_pct=1.0).save_pretrained(tmp_path / "convnext")
    assert not has_patches(tmp_path / "convnext")
    estimate = estimate_for_config(run_file("lora"), tmp_path / "convnext")
    assert estimate.parts["activations"] > 0 and estimate.trainable_params > 0


def test_a_model_the_meta_device_cannot_run_gets_a_one_line_refusal(tiny_resnet, monkeypatch):
    from spark_trainer import estimate_vision
    from spark_trainer.errors import BadInput

    def unsupported(*args, **kwargs):
        raise NotImplementedError("\nCould not run 'aten::nonzero' with arguments from the 'Meta' backend.\nmore")

    monkeypatch.setattr(estimate_vision, "saved_activation_bytes", unsupported)
    # A ResNet is estimated from its config (estimate_convnets): this stands for an architecture that is not.
    monkeypatch.setattr(estimate_vision.estimate_convnets, "network", lambda *args: None)
    with pytest.raises(BadInput, match=r"cannot count its activations without running it \(NotImplementedError: "
                                        r"Could not run 'aten::nonzero'.*backend\.\)$"):
        estimate_for_config(run_file("lora"), tiny_resnet)
