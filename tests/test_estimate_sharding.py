"""Per-GPU memory under FSDP, and the line `spark-trainer estimate` prints about train.sharding."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from spark_trainer import estimate
from spark_trainer.estimate_sharding import fsdp_estimate, sharding_note

CONFIG = {"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 11008,
          "vocab_size": 32000, "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": False}


def _model(tmp_path: Path) -> Path:
    folder = tmp_path / "llama-7b"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(CONFIG))
    return folder


def _mapping(sharding: str = "auto", method: str = "full") -> dict:
    return {"name": "e", "recipe": "causal-lm", "base_model": "x", "dataset": "d", "gpus": "0,1,2,3",
            "train": {"batch_size": 1, "seq_len": 2048, "gradient_checkpointing": True, "sharding": sharding},
            "recipe_config": {"method": method}}


def test_fsdp_splits_the_optimizer_state_and_keeps_activations(tmp_path: Path) -> None:
    folder = _model(tmp_path)
    whole = estimate.estimate_for_config(_mapping(), folder)
    shape = estimate.ModelShape.from_folder(folder)
    two, eight = (fsdp_estimate(whole, shape, n, "bf16") for n in (2, 8))
    # A 7B full fine-tune: ~100 GiB of master weights + AdamW unsharded; 1/8 of it on each of 8 GPUs.
    assert whole.total_bytes > 100 * estimate.GIB
    assert eight.per_gpu_bytes < two.per_gpu_bytes < whole.total_bytes
    saved = two.per_gpu_bytes - eight.per_gpu_bytes
    assert saved == whole.parts["trainable+optimizer"] // 2 - whole.parts["trainable+optimizer"] // 8
    assert eight.per_gpu_bytes > whole.parts["activations"] + whole.parts["overhead"]


def test_sharding_note_says_what_auto_will_do(tmp_path: Path) -> None:
    folder = _model(tmp_path)
    assert "auto will shard" in sharding_note(_mapping(), folder, 4, free_bytes=80 * estimate.GIB)
    assert "auto will not shard" in sharding_note(_mapping(), folder, 4, free_bytes=400 * estimate.GIB)
    assert "(train.sharding fsdp)" in sharding_note(_mapping("fsdp"), folder, 4, free_bytes=None)
    assert sharding_note(_mapping("none"), folder, 4, 80 * estimate.GIB) == ""
    assert sharding_note(_mapping(method="lora"), folder, 4, 80 * estimate.GIB) == ""
    assert sharding_note(_mapping(), folder, 1, 80 * estimate.GIB) == ""


def test_estimate_command_prints_the_sharded_number(cli, tmp_path: Path) -> None:
    folder = _model(tmp_path)
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump({**_mapping(), "base_model": str(folder)}))
    done = cli("estimate", run_file, "--gpus", "count:4", "--free-gib", "80", "--json")
    assert done.code == 0, done.err
    assert done.json()["sharding"].startswith("with FSDP over 4 GPUs") and "auto will shard" in done.json()["sharding"]
    text = cli("estimate", run_file, "--gpus", "count:4", "--free-gib", "80")
    assert "sharding" in text.out and "per GPU" in text.out
