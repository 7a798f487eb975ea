"""The look at a checkpoint's files before a resume: whole files pass, any file cut short is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.training.checkpoint_check import damage, set_aside_damaged
from spark_trainer.training.checkpoints import latest_checkpoint, write_checkpoint


def _checkpoint(run_dir: Path, step: int) -> Path:
    import torch
    from safetensors.torch import save_file

    files = {"trainable.safetensors": lambda p: save_file({"w": torch.ones(64, 8)}, str(p)),
             "optimizer.pt": lambda p: torch.save({"state": {0: torch.zeros(64, 8)}}, p)}
    return write_checkpoint(run_dir, step, files, {"data_position": step})


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size - 100])


@pytest.mark.parametrize("name", ["trainable.safetensors", "optimizer.pt"])
def test_a_file_cut_short_is_named_and_the_checkpoint_before_becomes_latest(tmp_path: Path, name: str) -> None:
    first, second = _checkpoint(tmp_path, 4), _checkpoint(tmp_path, 8)
    assert damage(first) is None and damage(second) is None
    _cut(second / name)
    assert damage(second).startswith(name)
    notes = set_aside_damaged(tmp_path)
    assert len(notes) == 1 and "step-00000008 is damaged" in notes[0] and "resumes from step 4" in notes[0]
    assert latest_checkpoint(tmp_path) == first
    assert (tmp_path / "checkpoints" / "damaged-step-00000008" / name).is_file()
