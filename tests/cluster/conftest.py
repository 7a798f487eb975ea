"""Fixtures for cluster jobs: the tiny model, run files, job folders, and a job's rank 0 writing by hand."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.jobs.conftest import DEMO_DATA, tiny_model  # noqa: F401 - the session's tiny model fixture


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """Where the run file's base model is: a stand-in folder (tests that train override it with the
    real tiny model through `run_yaml(model=...)`)."""
    folder = tmp_path / "stand-in-model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    return folder


@pytest.fixture
def run_yaml(tmp_path: Path, model_dir: Path) -> Callable[..., Path]:
    """A run file training `model` (default: a stand-in folder) on the demo data on the CPU; keyword
    arguments go to `train`."""

    def write(name: str = "clus", *, steps: int = 6, ckpt_every: int = 3, batch_size: int = 2,
              model: Path | None = None, gpus: str = "cpu", **train) -> Path:
        data = {
            "project": "cluster", "name": name, "recipe": "causal-lm", "base_model": str(model or model_dir),
            "dataset": str(DEMO_DATA), "gpus": gpus,
            "train": {"max_steps": steps, "batch_size": batch_size, "seq_len": 64, "learning_rate": 1e-3, **train},
            "recipe_config": {"method": "lora", "lora_r": 4},
            "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
            "checkpoint": {"every_steps": ckpt_every, "keep": 2},
        }
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        return path

    return write


@pytest.fixture
def job(cli, run_yaml, tmp_path: Path) -> Callable[..., Path]:
    """`spark-trainer launch` a run file into a new job folder; returns the folder."""

    def make(scheduler: str = "torchrun", nodes: int = 2, procs: int = 1, *extra: str, name: str = "clus",
             **train) -> Path:
        out = tmp_path / f"job-{name}-{scheduler}-{nodes}x{procs}"
        result = cli("launch", run_yaml(name, **train), "--nodes", nodes, "--procs-per-node", procs,
                     "--scheduler", scheduler, "--out", out, *extra)
        assert result.code == 0, result.err
        return out

    return make
