"""Checkpoints: staged, fsynced, renamed; a half-written one is never picked as latest.

Layout: `run_dir/checkpoints/step-00000123/` holding `trainable.safetensors` (the weights that
train: the adapter, or the whole model), `optimizer.pt`, `scheduler.pt`, `rng.pt` and, written
last, `state.json` (step, data position, eval metric). A checkpoint is complete only when its folder
has the final name and holds `state.json`; staging folders start with `.staging-`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput

_NAME = re.compile(r"^step-(\d{8})$")
STATE_FILE = "state.json"


def checkpoint_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints"


def checkpoint_step(path: Path) -> int:
    match = _NAME.match(Path(path).name)
    if not match:
        raise BadInput(f"{path} is not a checkpoint folder (expected a name like step-00000123)")
    return int(match.group(1))


def is_complete(path: Path) -> bool:
    return bool(_NAME.match(path.name)) and path.is_dir() and (path / STATE_FILE).is_file()


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest step first."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    return sorted((p for p in folder.iterdir() if is_complete(p)), key=checkpoint_step)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def read_state(path: Path) -> dict[str, Any]:
    if not is_complete(Path(path)):
        raise BadInput(f"{path} is not a complete checkpoint (no {STATE_FILE})")
    return json.loads((Path(path) / STATE_FILE).read_text())


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    _fsync_file(path)


def write_checkpoint(run_dir: Path, step: int, files: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write `files` (name -> callable(path) that writes it) and `state`, then publish atomically."""
    folder = checkpoint_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    staging = folder / f".staging-step-{step:08d}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        for name, writer in files.items():
            writer(staging / name)
            _fsync_file(staging / name)
        (staging / STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2))
        _fsync_file(staging / STATE_FILE)
        _fsync_dir(staging)
        if final.exists():  # the same step saved twice (save-now then a stop): replace it
            shutil.rmtree(final)
        os.replace(staging, final)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _best_of(found: list[Path], lower_is_better: bool | None) -> Path | None:
    """The checkpoint with the best `metric`. The direction is the one each checkpoint recorded
    (`higher_is_better` in state.json, from the recipe's metric declaration) unless given."""
    scored = []
    for path in found:
        state = read_state(path)
        if state.get("metric") is not None:
            scored.append((state["metric"], state.get("higher_is_better"), path))
    if not scored:
        return None
    higher = not lower_is_better if lower_is_better is not None else bool(scored[-1][1])
    return (max if higher else min)(scored, key=lambda s: s[0])[2]


def prune(run_dir: Path, keep: int, keep_best: bool, lower_is_better: bool | None = None) -> list[Path]:
    """Delete complete checkpoints beyond the last `keep` (and the best one); returns what was removed."""
    found = list_checkpoints(run_dir)
    kept = set(found[-keep:])
    if keep_best:
        best = _best_of(found, lower_is_better)
        if best is not None:
            kept.add(best)
    removed = [p for p in found if p not in kept]
    for path in removed:
        shutil.rmtree(path)
    for stale in checkpoint_dir(run_dir).glob(".staging-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return removed


def best_checkpoint(run_dir: Path, lower_is_better: bool | None = None) -> Path | None:
    """The checkpoint with the best evaluation metric, in the direction its recipe declared."""
    return _best_of(list_checkpoints(run_dir), lower_is_better)
