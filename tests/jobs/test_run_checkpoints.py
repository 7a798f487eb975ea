"""`run checkpoints` rows (jobs/run_checkpoints.py) while the run prunes checkpoints meanwhile."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from spark_trainer.jobs.run_checkpoints import checkpoint_rows


def _checkpoint(run_dir: Path, step: int) -> Path:
    path = run_dir / "checkpoints" / f"step-{step:08d}"
    path.mkdir(parents=True)
    (path / "state.json").write_text(json.dumps({"step": step}))
    (path / "weights.bin").write_bytes(b"x" * 10)
    return path


def test_files_pruned_while_they_are_summed_are_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Seen: FileNotFoundError from `run checkpoints` on a training run: a checkpoint pruned between
    the listing (rglob) and a file's stat. The run's pruning is made to happen at that moment; a
    checkpoint gone meanwhile is left out."""
    old, new = _checkpoint(tmp_path, 2), _checkpoint(tmp_path, 4)
    stat = Path.stat

    def pruned_on_stat(self: Path, **kwargs):
        if self == old / "weights.bin" and old.exists():
            shutil.rmtree(old)  # the run saved step 4 and pruned step 2 as its files were being summed
        return stat(self, **kwargs)

    monkeypatch.setattr(Path, "stat", pruned_on_stat)
    rows = checkpoint_rows(tmp_path)
    assert [r.step for r in rows] == [4] and rows[0].size_bytes == len(json.dumps({"step": 4})) + 10
    assert new.is_dir()
