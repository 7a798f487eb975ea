"""`spark-trainer demo --recipe diffusion-lora`: a tiny local pipeline and generated captioned images,
trained end to end offline by a managed worker, with sample images and a loadable LoRA."""

from __future__ import annotations

import json

import pytest

from spark_trainer.jobs.demo import build_demo
from spark_trainer.jobs.demo_diffusion import DEMO_PIPELINE
from spark_trainer.store import artifacts, datasets
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store


@pytest.mark.slow  # a managed worker imports torch and diffusers: about a minute on a quiet 2-core machine
def test_diffusion_demo_trains_end_to_end_with_sample_images(store: Store) -> None:
    result = build_demo(store, steps=4, recipe="diffusion-lora")
    run = result.run
    assert run.status == RunStatus.COMPLETED and run.step == 4, run.error
    assert result.model_path == store.home.models_dir / DEMO_PIPELINE
    assert (result.model_path / "model_index.json").is_file()
    [dataset] = datasets.list_all(store, "demo")
    assert dataset.kind == "image" and dataset.num_items == 24
    images = artifacts.list_for(store, run.id, "sample_image")
    assert len(images) == 2 * 2  # two prompts, sampled at steps 2 and 4
    assert all(a.path.endswith(".png") and a.meta["prompt"] for a in images)
    [final] = artifacts.list_for(store, run.id, "final")
    assert (json.loads((result.model_path / "model_index.json").read_text())["_class_name"]
            == "StableDiffusionPipeline")
    from pathlib import Path

    assert (Path(final.path) / "pytorch_lora_weights.safetensors").is_file()
    assert result.first_loss is not None and result.eval_loss is not None
    report = result.report_path.read_text()
    assert all(f"- {label}: {value}" in report for label, value in result.figures())


def test_cli_demo_names_the_recipes_it_knows(cli) -> None:
    done = cli("demo", "--recipe", "nope", "--no-wait")
    assert done.code == 2 and "no demo for recipe 'nope'" in done.err
