"""Checkpoints: staged, fsynced, renamed; a half-written one is never picked as latest.

Layout: `run_dir/checkpoints/step-00000123/` holding `trainable.safetensors` (the weights that
train: the adapter, or the whole model), `optimizer.pt`, `scheduler.pt`, `rng.pt` and, written
last, `state.json` (step, data position, eval metric, the run's uuid). A checkpoint is complete
only when its folder has the final name and holds `state.json`; staging folders start with
`.staging-`.

A run folder holds `run.json` (the run's id and uuid, written when the run is submitted). Each
checkpoint records that uuid, and a checkpoint carrying another run's uuid is never listed: a run
resumes only from (and prunes only) its own checkpoints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from spark_trainer.disk import files_as_umask, fsync_dir, fsync_file
from spark_trainer.errors import BadInput, DiskFull

_NAME = re.compile(r"^(?:\.replaced-)?step-(\d{8})$")  # step-N, or step-N set aside while it is replaced
STATE_FILE = "state.json"
IDENTITY_FILE = "run.json"


def write_identity(run_dir: Path, run_id: int, run_uuid: str) -> None:
    """Record which run owns `run_dir` (at submit, in the folder the submit created)."""
    path = Path(run_dir) / IDENTITY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"run_id": run_id, "uuid": run_uuid}))
    os.replace(tmp, path)


def read_identity(run_dir: Path) -> str | None:
    """The uuid of the run owning `run_dir`, or None for a folder from before run uuids existed."""
    try:
        return json.loads((Path(run_dir) / IDENTITY_FILE).read_text()).get("uuid") or None
    except (FileNotFoundError, ValueError, AttributeError):
        return None


def _owned(path: Path, owner: str | None) -> bool:
    if owner is None:
        return True
    try:
        found = json.loads((path / STATE_FILE).read_text()).get("run_uuid")
    except (OSError, ValueError):
        return False
    return found is None or found == owner  # None: written before run uuids existed


STAGING_PREFIX = ".staging-step-"  # a checkpoint being written; renamed to step-N when complete
REPLACED_PREFIX = ".replaced-"  # `.replaced-step-N`: step-N renamed aside while its new copy moves in


def bytes_being_saved(run_dir: Path) -> int | None:
    """Bytes written so far into checkpoints being saved in `run_dir` (None when none is): a stop
    waits on while this grows (spark_trainer.jobs.control)."""
    total, found = 0, False
    try:
        for staging in checkpoint_dir(run_dir).glob(f"{STAGING_PREFIX}*"):
            found = True
            for path in staging.rglob("*"):
                try:
                    total += path.stat().st_size
                except OSError:  # published or removed meanwhile
                    pass
    except OSError:
        return None
    return total if found else None


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
    """Complete checkpoints of the run owning `run_dir`, oldest step first. A step's checkpoint set aside
    while a new copy replaced it (`.replaced-step-N`) stands for the step when a kill left no step-N."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return []
    owner = read_identity(run_dir)
    by_step: dict[int, Path] = {}
    for path in folder.iterdir():
        if is_complete(path) and _owned(path, owner):
            step = checkpoint_step(path)
            if step not in by_step or by_step[step].name.startswith(REPLACED_PREFIX):
                by_step[step] = path
    return [by_step[step] for step in sorted(by_step)]


def restore_replaced(run_dir: Path) -> None:
    """Put back a checkpoint set aside by a replacement a kill interrupted (`write_checkpoint`), or remove
    it where its new copy is in place. Only the process writing the run's checkpoints calls this."""
    folder = checkpoint_dir(run_dir)
    if not folder.is_dir():
        return
    for aside in folder.glob(f"{REPLACED_PREFIX}step-*"):
        final = folder / aside.name.removeprefix(REPLACED_PREFIX)
        if is_complete(final):
            shutil.rmtree(aside, ignore_errors=True)
        elif is_complete(aside):
            if final.exists():
                shutil.rmtree(final)  # an incomplete folder of that name: never a checkpoint
            os.replace(aside, final)


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def kept_line(latest: Path | str | None) -> str:
    """What a failed write leaves a resume, in the one wording every such line uses: "the last complete
    checkpoint is still step-N" (`latest`: that checkpoint, or its name), else "no checkpoint was written
    yet" (a resume starts from step 0)."""
    if latest is None:
        return "no checkpoint was written yet"
    return f"the last complete checkpoint is still {Path(latest).name}"


def read_state(path: Path) -> dict[str, Any]:
    if not is_complete(Path(path)):
        raise BadInput(f"{path} is not a complete checkpoint (no {STATE_FILE})")
    return json.loads((Path(path) / STATE_FILE).read_text())


def write_checkpoint(run_dir: Path, step: int, files: dict[str, Any], state: dict[str, Any]) -> Path:
    """Write `files` (name -> callable(path) that writes it) and `state`, then publish atomically."""
    from spark_trainer.training import diskspace

    folder = checkpoint_dir(run_dir)
    final = folder / f"step-{step:08d}"
    staging = folder / f"{STAGING_PREFIX}{step:08d}"
    current: Path = staging
    needed, keeps = 0, kept_line(None)
    try:
        folder.mkdir(parents=True, exist_ok=True)  # a read-only folder: one line, as a full disk is
        restore_replaced(run_dir)
        previous = latest_checkpoint(run_dir)
        if previous is not None:
            needed = diskspace.folder_bytes(previous)
            keeps = kept_line(previous)
        diskspace.check_free(folder, needed)
        if staging.exists():
            shutil.rmtree(staging)
        staging.mkdir()
        for name, writer in files.items():
            current = staging / name
            writer(current)
            fsync_file(current)
        current = staging / STATE_FILE
        stamp = {"run_uuid": read_identity(run_dir)} if read_identity(run_dir) else {}
        listed = {"files": sorted(files)}  # what a resume checks is there (checkpoint_check.damage)
        (staging / STATE_FILE).write_text(json.dumps({**state, **stamp, **listed, "step": step}, indent=2))
        fsync_file(staging / STATE_FILE)
        files_as_umask(staging)  # safetensors writes its files 0600
        fsync_dir(staging)
        _publish(staging, final)
    except DiskFull:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as exc:  # torch and safetensors report a failed write with their own types
        failure = diskspace.write_failure(exc, current, needed, keeps)
        shutil.rmtree(staging, ignore_errors=True)
        raise failure from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return final


def _publish(staging: Path, final: Path) -> None:
    """Rename the finished `staging` folder to `final`. The same step saved again (save-now then a stop,
    a resume at the step it was saved at) replaces it: the old copy is renamed aside first and removed
    only once the new one is in place, so a kill in between leaves the old one (`list_checkpoints` reads
    it, `restore_replaced` puts it back), never no checkpoint of the step."""
    folder = final.parent
    aside = folder / f"{REPLACED_PREFIX}{final.name}"
    if final.exists():
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(final, aside)
        fsync_dir(folder)
    os.replace(staging, final)
    fsync_dir(folder)
    shutil.rmtree(aside, ignore_errors=True)


def _best_of(found: list[Path], lower_is_better: bool | None) -> Path | None:
    """The checkpoint with the best `metric`. The direction is the one each checkpoint recorded
    (`higher_is_better` in state.json, from the recipe's metric declaration) unless given.

    Only a checkpoint evaluated at its own step is ranked: one saved between evaluations carries the
    metric of the last one (`metric_step`, shown as "(at step N)"), measured on other weights, so it is
    never the best (nor kept or exported as such); it rotates out with `checkpoint.keep` as any other.
    A checkpoint that recorded no `metric_step` (written before it was) is ranked by its metric."""
    scored = []
    for path in found:
        state = read_state(path)
        measured_at = state.get("metric_step", state.get("step"))
        if state.get("metric") is not None and measured_at == state.get("step"):
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


SCALER_FILE = "scaler.pt"


def scaler_files(accelerator: Any) -> dict[str, Any]:
    """fp16's gradient scaler (its scale and growth tracker) as a checkpoint file, when there is one:
    without it an fp16 resume restarts loss scaling and is not exact."""
    scaler = getattr(accelerator, "scaler", None)
    if scaler is None:
        return {}
    import torch

    return {SCALER_FILE: lambda p: torch.save(scaler.state_dict(), p)}


def restore_scaler(path: Path, accelerator: Any) -> bool:
    """Load the gradient scaler saved by `scaler_files`. False when the run has a scaler but the
    checkpoint holds none (written before scalers were saved): the fresh scaler stays, and the
    resume is not exact."""
    scaler = getattr(accelerator, "scaler", None)
    if scaler is None:
        return True
    saved = Path(path) / SCALER_FILE
    if not saved.is_file():
        return False
    import torch

    scaler.load_state_dict(torch.load(saved, map_location="cpu", weights_only=True))
    return True


def missing_scaler_note(step: int, device_type: str) -> str:
    """Why an fp16 run resumed from a checkpoint without scaler state will not match its first part."""
    if device_type == "cpu":
        # Before the engine ran fp16 on the CPU for real, such runs trained in fp32 (no scaler to save).
        return (f"precision fp16: checkpoint step {step} was written by an older SparkTrainer, which trained "
                "fp16 on the CPU in fp32; from here the run trains in fp16, so it will not continue exactly "
                "as it began")
    return (f"precision fp16: checkpoint step {step} holds no gradient-scaler state (an older SparkTrainer "
            "did not save it); loss scaling starts afresh, so this resume is not exact")
