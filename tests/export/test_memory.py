"""What an export holds in memory (spark_trainer/export/memory.py): the weights a load would read,
counted once, and trained tensors put into a meta-device model exactly."""

from __future__ import annotations

import json
from pathlib import Path

from spark_trainer.export.memory import make_real, weight_files, weights_bytes_fp32


def _write(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\0" * size)


def test_weights_in_two_formats_are_counted_once(tmp_path) -> None:
    """A folder cloned from the Hub holds the same weights as safetensors and .bin: a load reads one,
    and counting both refused a merge that fits in memory."""
    (tmp_path / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
    _write(tmp_path / "model-00001-of-00002.safetensors", 1000)
    _write(tmp_path / "model-00002-of-00002.safetensors", 500)
    _write(tmp_path / "pytorch_model.bin", 1500)
    assert [p.name for p in weight_files(tmp_path)] == ["model-00001-of-00002.safetensors",
                                                        "model-00002-of-00002.safetensors"]
    assert weights_bytes_fp32(tmp_path) == 3000  # bf16 stored: twice as big in fp32


def test_a_diffusers_part_counts_its_main_weights_not_the_fp16_variant(tmp_path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "UNet2DConditionModel"}))
    _write(tmp_path / "diffusion_pytorch_model.safetensors", 4000)
    _write(tmp_path / "diffusion_pytorch_model.fp16.safetensors", 2000)
    assert weights_bytes_fp32(tmp_path) == 4000
    (tmp_path / "diffusion_pytorch_model.safetensors").unlink()  # only the variant: that is what there is
    assert weights_bytes_fp32(tmp_path) == 2000


def test_trained_tensors_keep_their_precision_in_a_half_precision_meta_model() -> None:
    """A bf16 base's head copy is bf16 on the meta device; the checkpoint's fp32 values stay exact."""
    import torch
    from accelerate import init_empty_weights

    with init_empty_weights():
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Linear(4, 2)).to(torch.bfloat16)
    value = torch.full((2, 4), 1 / 3)
    assert make_real(model, {"1.weight": value})
    assert model[1].weight.dtype == torch.float32 and torch.equal(model[1].weight, value)
    assert model[0].weight.is_meta
    assert not make_real(model, {"2.weight": value})  # a name the model lacks: the caller loads the base
