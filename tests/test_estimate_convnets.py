"""spark_trainer/estimate_convnets.py: the memory estimate of ResNets and ConvNeXts from config.json alone,
without torch, equal to what counting their activations on the meta device gives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from spark_trainer import estimate_convnets
from spark_trainer.estimate import estimate_for_config

ROOT = Path(__file__).resolve().parents[1]


def _save(folder: Path, model_config, processor) -> Path:
    """A model folder as save_pretrained writes it (config.json, preprocessor_config.json), no weights."""
    model_config.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


def _resnet(folder: Path, size: dict | None = None, crop: dict | None = None, **config) -> Path:
    from transformers import BitImageProcessor, ResNetConfig

    extra = {"crop_size": crop, "do_center_crop": True} if crop else {}
    return _save(folder, ResNetConfig(**{"embedding_size": 8, "hidden_sizes": [8, 16], "depths": [1, 2],
                                         "num_labels": 3, **config}),
                 BitImageProcessor(size=size or {"shortest_edge": 64}, **extra))


def _convnext(folder: Path, size: dict | None = None, **config) -> Path:
    from transformers import ConvNextConfig, ConvNextImageProcessor

    return _save(folder, ConvNextConfig(**{"hidden_sizes": [8, 16], "depths": [1, 2], "num_stages": 2,
                                           "num_labels": 4, **config}),
                 ConvNextImageProcessor(size=size or {"shortest_edge": 64}, crop_pct=1.0))


def run_file(method: str, batch_size: int = 4, precision: str = "fp32", targets: str = "all-linear") -> dict:
    return {"recipe": "image-classification", "train": {"batch_size": batch_size, "precision": precision},
            "recipe_config": {"method": method, "lora_r": 4, "target_modules": targets}}


MODELS = {
    "resnet-basic": lambda f: _resnet(f, layer_type="basic"),
    "resnet-bottleneck": lambda f: _resnet(f, hidden_sizes=[16, 32, 64], depths=[2, 1, 1]),
    "resnet-downsampling-first": lambda f: _resnet(f, layer_type="basic", downsample_in_first_stage=True,
                                                   size={"height": 67, "width": 45}),
    "resnet-downsampling-in-bottleneck": lambda f: _resnet(f, hidden_sizes=[16, 32], downsample_in_bottleneck=True,
                                                           size={"shortest_edge": 72}, crop={"height": 61, "width": 50}),
    "resnet-no-head": lambda f: _resnet(f, layer_type="basic", num_labels=0),
    "convnext": lambda f: _convnext(f),
    "convnext-no-layer-scale": lambda f: _convnext(f, layer_scale_init_value=0.0, patch_size=3,
                                                   size={"height": 50, "width": 38}),
    "convnext-equal-stages": lambda f: _convnext(f, hidden_sizes=[8, 8, 16], depths=[1, 1, 1], num_stages=3),
}


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize(("method", "precision", "targets"), [("lora", "fp32", "all-linear"),
                                                             ("full", "bf16", "all-linear"),
                                                             ("lora", "bf16", "dwconv,convolution,classifier")])
def test_the_estimate_from_the_config_is_the_one_counted_on_the_meta_device(name, method, precision, targets,
                                                                           tmp_path, monkeypatch):
    folder = MODELS[name](tmp_path / name)
    plan = run_file(method, batch_size=3, precision=precision, targets=targets)
    from_config = estimate_for_config(plan, folder)
    assert estimate_convnets.network(folder, 3, 8, 8) is not None  # it was not counted
    monkeypatch.setattr(estimate_convnets, "network", lambda *args: None)  # as it was estimated before
    counted = estimate_for_config(plan, folder)
    assert from_config.parts == counted.parts and from_config.trainable_params == counted.trainable_params
    assert from_config.parts["activations"] > 0


def test_the_estimate_imports_no_torch(tmp_path):
    """`spark-trainer estimate` and the setup form's memory panel read config.json only for the other
    recipes; a convolutional classifier imported torch and transformers and built the model (seconds)."""
    folders = [MODELS["resnet-bottleneck"](tmp_path / "resnet"), MODELS["convnext"](tmp_path / "convnext")]
    script = f"""
import sys
from spark_trainer.estimate import estimate_for_config
for folder in {[str(f) for f in folders]!r}:
    found = estimate_for_config({run_file("lora")!r}, folder)
    print(found.total_bytes)
heavy = sorted(name for name in ("torch", "transformers", "peft") if name in sys.modules)
print("imported:", ",".join(heavy) or "none")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "imported: none"
    assert all(int(line) > 0 for line in done.stdout.splitlines()[:2])


def test_other_architectures_and_bare_sizes_are_still_counted(tmp_path):
    folder = MODELS["convnext"](tmp_path / "convnext")
    assert estimate_convnets.network(folder, 2, 64, 64) is not None
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "drop_path_rate": 0.1}))
    assert estimate_convnets.network(folder, 2, 64, 64) is None  # stochastic depth: not described here
    processor = json.loads((folder / "preprocessor_config.json").read_text())
    (folder / "preprocessor_config.json").write_text(json.dumps({**processor, "size": 64}))
    assert estimate_convnets.image_size(folder) is None  # what a bare 64 means depends on the class
    assert estimate_for_config(run_file("lora"), folder).parts["activations"] > 0  # counted, as before
