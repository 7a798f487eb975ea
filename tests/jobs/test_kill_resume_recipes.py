"""Exact resume for every recipe through managed workers (issue 10): a run SIGKILLed mid-run and
resumed from its last checkpoint logs the same metric series, value for value, as an uninterrupted
run of the same config. diffusion-lora has its own test (test_diffusion_kill_resume.py); this one
covers causal-lm, text-classification and image-classification (with augmentation, LoRA dropout and
DataLoader workers, where exact resume is easiest to break)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_trainer.config import load_config
from spark_trainer.jobs.scheduler import schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.store import metrics
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.checkpoints import SCALER_FILE, checkpoint_step, latest_checkpoint
from tests.jobs.conftest import DEMO_DATA, finished, wait_until

STEPS, EVERY = 60, 6


def _causal_lm(tmp_path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(tmp_path / "tiny-llama", vocab_size=300, hidden_size=32, num_layers=1, num_heads=2)
    return ({"base_model": str(model), "dataset": str(DEMO_DATA), "train": {"batch_size": 4, "learning_rate": 1e-3},
             "recipe_config": {"method": "lora", "lora_r": 4, "lora_dropout": 0.1, "seq_len": 64}},
            ("loss", "eval_loss"))


def _causal_lm_fp16(tmp_path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """fp16 on the CPU: torch's autocast and gradient scaler, whose state each checkpoint carries."""
    spec, keys = _causal_lm(tmp_path)
    return {**spec, "train": {**spec["train"], "precision": "fp16"}}, keys


def _text_classification(tmp_path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    from spark_trainer.models.tiny_classifiers import create_tiny_text_classifier
    from tests.recipes.helpers import TOPICS, ticket_rows, write_jsonl

    model = create_tiny_text_classifier(tmp_path / "tiny-bert", corpus=list(TOPICS.values()))
    data = write_jsonl(tmp_path / "tickets.jsonl", ticket_rows(90))
    return ({"base_model": str(model), "dataset": str(data), "train": {"batch_size": 8, "learning_rate": 3e-3},
             "recipe_config": {"method": "lora", "lora_dropout": 0.1, "class_weights": "balanced"}},
            ("loss", "eval_accuracy", "eval_loss"))


def _image_classification(tmp_path: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    from spark_trainer.models.tiny_classifiers import create_tiny_image_classifier
    from tests.recipes.helpers import make_image_folders

    model = create_tiny_image_classifier(tmp_path / "tiny-vit", num_labels=5)
    images = make_image_folders(tmp_path / "shapes", per_class=8)  # a dropped folder of class folders
    return ({"base_model": str(model), "dataset": str(images), "train": {"batch_size": 8, "learning_rate": 3e-3},
             "recipe_config": {"method": "lora", "lora_dropout": 0.1, "augment": True, "num_workers": 1}},
            ("loss", "eval_accuracy", "eval_loss"))


def _series(store: Store, run_id: int, key: str) -> dict[int, float]:
    return {m.step: m.value for m in metrics.read(store, run_id, keys=[key])}


@pytest.mark.slow  # two managed runs per recipe
@pytest.mark.parametrize("setup", [_causal_lm, _causal_lm_fp16, _text_classification, _image_classification],
                         ids=["causal-lm", "causal-lm-fp16", "text-classification", "image-classification"])
def test_killed_and_resumed_run_matches_an_uninterrupted_one(setup, store: Store, tmp_path: Path, cli,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # workers inherit it: tiny models run faster on one thread
    recipe = setup.__name__.strip("_").removesuffix("_fp16").replace("_", "-")
    spec, keys = setup(tmp_path)
    config = {"project": "resume", "recipe": recipe, "gpus": "cpu", **spec,
              "train": {**spec["train"], "max_steps": STEPS},
              "eval": {"every_steps": EVERY, "val_fraction": 0.2, "max_batches": 2},
              "checkpoint": {"every_steps": EVERY, "keep": 2}}
    ids = []
    for name in ("straight", "killed"):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**config, "name": name}))
        ids.append(submit_config(store, load_config(path), base_dir=tmp_path).run.id)
    straight, killed = ids
    schedule_once(store)
    done = wait_until(store, straight, finished, timeout_s=900)
    assert done.status == RunStatus.COMPLETED, done.error
    schedule_once(store)  # (a finishing worker may already have started it)
    # Killed past a checkpoint and (usually) between two: the steps after the checkpoint are lost
    # and trained again on resume.
    run = wait_until(store, killed, lambda r: r.pid is not None and r.step >= 2 * EVERY + 1
                     and latest_checkpoint(Path(r.run_dir)) is not None, timeout_s=900)
    os.kill(run.pid, signal.SIGKILL)
    lost = wait_until(store, killed, lambda r: r.status == RunStatus.INTERRUPTED, timeout_s=30, reconcile_too=True)
    last = latest_checkpoint(Path(lost.run_dir))
    assert EVERY <= checkpoint_step(last) < STEPS
    assert (last / SCALER_FILE).is_file() == (config["train"].get("precision") == "fp16")

    result = cli("run", "resume", str(killed), "--wait")
    assert result.code == 0, result.err
    for key in keys:
        expected = _series(store, straight, key)
        assert len(expected) == (STEPS if key == "loss" else STEPS // EVERY), key
        assert _series(store, killed, key) == expected, key  # exact float equality, every step
