"""The diffusion-lora exporter (spark_trainer/export/diffusion_lora.py): the LoRA is saved without
loading the pipeline's weights, and the file holds exactly what the full load wrote."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from spark_trainer.jobs.submit import frozen_config
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import latest_checkpoint
from tests.export.conftest import train_in_store

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def sd_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(data home, run folder, base pipeline): a 2-step LoRA run on the UNet's attention and
    convolutions and on the text encoder, with a checkpoint."""
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline, write_captioned_images

    root = tmp_path_factory.mktemp("sd")
    model = create_tiny_sd_pipeline(root / "tiny-sd")
    images = write_captioned_images(root / "shapes", 4, size=32)
    config = ExperimentConfig.model_validate({
        "project": "art", "name": "shapes-lora", "recipe": "diffusion-lora", "base_model": str(model),
        "dataset": str(images), "gpus": "cpu",
        "train": {"max_steps": 2, "learning_rate": 1e-2, "batch_size": 2, "warmup_steps": 0},
        "eval": {"every_steps": None, "val_fraction": 0.25}, "checkpoint": {"every_steps": 2, "keep": 1},
        "recipe_config": {"resolution": 32, "lora_r": 4, "lora_alpha": 4, "sample_steps": 1, "sample_prompts": [],
                          "target_modules": "to_q,to_k,to_v,to_out.0,conv_in,conv_out",
                          "train_text_encoder": True}})
    home = root / "home"
    with Store.open(home) as store:
        run, _outcome = train_in_store(store, config)
    return home, Path(run.run_dir), model


def _full_load_export(config, checkpoint: Path, dest: Path, dtype: str) -> None:
    """What the exporter wrote before: the pipeline's parts loaded in fp32, the LoRA added, saved."""
    from spark_trainer.export.diffusion_lora import _trained_parts
    from spark_trainer.recipes.diffusion_model import save_lora

    parts, rc = _trained_parts(config, checkpoint, "cpu", dtype)
    dest.mkdir(parents=True)
    save_lora(parts.unet, parts.text_encoder if rc.train_text_encoder else None, dest)


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_the_lora_without_the_pipeline_weights_is_the_file_the_full_load_wrote(sd_run, tmp_path, dtype) -> None:
    import torch

    from spark_trainer.export.diffusion_lora import lora_only, write
    from spark_trainer.recipes.diffusion_model import torch_dtype

    _home, run_dir, _model = sd_run
    config, checkpoint = frozen_config(run_dir), latest_checkpoint(run_dir)
    assert lora_only(config, checkpoint) is not None  # the light path is the one taken
    _full_load_export(config, checkpoint, tmp_path / "full", dtype)
    write(config, checkpoint, tmp_path / "light", merge=False, dtype=dtype)
    files = sorted(p.name for p in (tmp_path / "full").iterdir())
    assert files == sorted(p.name for p in (tmp_path / "light").iterdir()) == ["pytorch_lora_weights.safetensors"]
    # The bytes of two saves of one state differ: safetensors writes its metadata map in no fixed order.
    full, light = (_content(tmp_path / d / files[0]) for d in ("full", "light"))
    assert full[0] == light[0] and "lora_adapter_metadata" in full[0]  # the LoRA config diffusers reads back
    assert sorted(full[1]) == sorted(light[1])
    assert any("conv_in" in k for k in full[1]) and any("to_q" in k for k in full[1])
    for name, tensor in full[1].items():
        assert tensor.dtype == light[1][name].dtype == torch_dtype(dtype) and torch.equal(tensor, light[1][name]), name


def _content(path: Path) -> tuple[dict, dict]:
    """(metadata with its JSON values read, tensors) of a safetensors file."""
    import json

    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        metadata = {k: json.loads(v) if v.startswith("{") else v for k, v in (f.metadata() or {}).items()}
        return metadata, {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open is not a dict


def test_a_lora_exports_with_the_pipeline_weights_unreadable(sd_run, tmp_path, capsys) -> None:
    """Proof that no weight is read: the base pipeline's weight files are gone, and the LoRA still exports."""
    from spark_trainer.cli.main import main

    home, run_dir, model = sd_run
    bare = tmp_path / "no-weights"
    shutil.copytree(model, bare)
    removed = [p for p in bare.rglob("*") if p.suffix in (".safetensors", ".bin")]
    assert {p.parent.name for p in removed} == {"unet", "vae", "text_encoder"}
    for weights in removed:
        weights.unlink()
    config_file = run_dir / "config.yaml"
    original = config_file.read_text(encoding="utf-8")
    config_file.write_text(original.replace(str(model), str(bare)), encoding="utf-8")
    try:
        assert main(["--home", str(home), "export", run_dir.name, "--out", str(tmp_path / "lora")]) == 0
    finally:
        config_file.write_text(original, encoding="utf-8")
    assert (tmp_path / "lora" / "pytorch_lora_weights.safetensors").stat().st_size > 0
    capsys.readouterr()


def test_building_the_parts_in_fp32_says_nothing(tmp_path: Path) -> None:
    # `spark-trainer export` of a diffusion-lora run printed diffusers' "There are modules in
    # UNet2DConditionModel that should be kept in float32: []. Casting directly with `to()`..." (an
    # empty list: nothing to act on), because the parts, built in fp32, were cast to fp32 again.
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.export.diffusion_lora import _trained_parts
    from spark_trainer.models.tiny_diffusion import create_tiny_sd_pipeline

    model = create_tiny_sd_pipeline(tmp_path / "tiny-sd")
    config = ExperimentConfig.model_validate({"project": "p", "name": "n", "recipe": "diffusion-lora",
                                              "base_model": str(model), "dataset": str(tmp_path), "gpus": "cpu"})
    with _diffusers_log() as said:
        _trained_parts(config, None, "cpu", "fp32")
    assert not [line for line in said if "kept in float32" in line], said


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_writing_the_lora_says_nothing_of_modules_kept_in_float32(sd_run, tmp_path, dtype) -> None:
    # The light path (lora_only, then write's cast to the export's dtype) still printed diffusers'
    # "There are modules in UNet2DConditionModel that should be kept in float32: []" on every
    # `spark-trainer export` of a diffusion-lora run: the UNet keeps no module in fp32.
    from spark_trainer.export.diffusion_lora import write

    _home, run_dir, _model = sd_run
    with _diffusers_log() as said:
        write(frozen_config(run_dir), latest_checkpoint(run_dir), tmp_path / "lora", merge=False, dtype=dtype)
    assert (tmp_path / "lora" / "pytorch_lora_weights.safetensors").is_file()
    assert not [line for line in said if "kept in float32" in line], said


def test_merge_is_refused_before_any_progress_is_said(sd_run, capsys) -> None:
    # `export RUN --merge` of a diffusion-lora run printed "writing weights (0/3)" and then refused: the
    # refusal came from inside the exporter's write, after the export had been announced as started.
    from spark_trainer.cli.main import main

    home, run_dir, _model = sd_run
    capsys.readouterr()
    assert main(["--home", str(home), "export", run_dir.name, "--merge"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --merge is not available for diffusion-lora runs") and err.count("\n") == 1, err


@contextlib.contextmanager
def _diffusers_log() -> Iterator[list[str]]:
    """The messages diffusers logs meanwhile."""
    said: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("diffusers").addHandler(handler)
    try:
        yield said
    finally:
        logging.getLogger("diffusers").removeHandler(handler)
