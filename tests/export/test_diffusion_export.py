"""A diffusion-lora run's export loads with `load_lora_weights` into the tiny pipeline and renders
what the recipe's own final LoRA renders; the card's usage, run as written, renders what the
Playground renders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.cli.main import main
from spark_trainer.store.store import Store
from tests.export.conftest import train_in_store

PROMPT = "a red circle on a blue background"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_diffusion_export_loads_with_load_lora_weights(tmp_path, capsys) -> None:
    import numpy as np
    import torch
    from diffusers import StableDiffusionPipeline

    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline, write_captioned_images

    model = create_tiny_sd_pipeline(tmp_path / "tiny-sd")
    images = write_captioned_images(tmp_path / "shapes", 8, size=32)
    home = tmp_path / "home"
    config = ExperimentConfig.model_validate({
        "project": "art", "name": "shapes-lora", "recipe": "diffusion-lora", "base_model": str(model),
        "dataset": str(images), "gpus": "cpu",
        "train": {"max_steps": 4, "learning_rate": 1e-2, "batch_size": 4, "warmup_steps": 0},
        "eval": {"every_steps": None, "val_fraction": 0.25}, "checkpoint": {"every_steps": None},
        "recipe_config": {"resolution": 32, "lora_r": 4, "lora_alpha": 4, "sample_steps": 2,
                          "target_modules": "to_q,to_k,to_v,to_out.0,conv_in,conv_out"}})
    with Store.open(home) as store:
        run, outcome = train_in_store(store, config)
    capsys.readouterr()
    assert main(["--home", str(home), "export", str(run.id), "--json"]) == 0
    folder = Path(json.loads(capsys.readouterr().out)["export"]["path"])
    assert (folder / "pytorch_lora_weights.safetensors").is_file() and (folder / "README.md").is_file()
    assert "library_name: diffusers" in (folder / "README.md").read_text()
    assert main(["--home", str(home), "export", str(run.id), "--merge"]) == 2

    pipe = StableDiffusionPipeline.from_pretrained(model, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)

    def render():
        return pipe(PROMPT, num_inference_steps=2, generator=torch.Generator().manual_seed(0),
                    output_type="np").images[0]

    base = render()
    pipe.load_lora_weights(folder)
    exported = render()
    pipe.unload_lora_weights()
    pipe.load_lora_weights(outcome.final_path)  # what the recipe itself saved at the end of training
    final = render()
    assert np.abs(exported - base).max() > 1e-3
    np.testing.assert_allclose(exported, final, atol=1e-4)

    # The card's usage, run as written (the local base's folder and the export put in its names),
    # renders what `spark-trainer generate` (the Playground) renders with the run's sample settings.
    from PIL import Image

    card = (folder / "README.md").read_text()
    snippet = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert "DPMSolverMultistepScheduler" in snippet and "num_inference_steps=2" in snippet
    snippet = snippet.replace('"PATH_OR_REPO_ID"', repr(str(folder))).replace('"tiny-sd"', repr(str(model)))
    scope: dict = {}
    exec(snippet, scope)  # noqa: S102 - the card's own code is what is under test
    capsys.readouterr()
    out = tmp_path / "playground.png"
    assert main(["--home", str(home), "generate", str(run.id), "--prompt", "a prompt", "--seed", "0", "--steps", "2",
                 "--guidance", "7.5", "--device", "cpu", "--out", str(out), "--json"]) == 0
    with Image.open(out) as shown:
        playground = np.asarray(shown.convert("RGB"), dtype=np.int16)
    from_card = np.asarray(scope["image"].convert("RGB"), dtype=np.int16)
    assert from_card.shape == playground.shape == (32, 32, 3)
    assert np.abs(from_card - playground).max() <= 2
    plain = pipe("a prompt", num_inference_steps=2, generator=torch.Generator().manual_seed(0)).images[0]
    assert np.abs(np.asarray(plain.convert("RGB"), dtype=np.int16) - playground).max() > 2  # the base's own sampler
