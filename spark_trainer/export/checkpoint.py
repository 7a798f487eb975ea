"""Picking the checkpoint an export or evaluation uses: last, best, or a given step."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.errors import BadInput, OperationFailed
from spark_trainer.training.checkpoints import best_checkpoint, checkpoint_dir, checkpoint_step, list_checkpoints


def resolve_checkpoint(run_dir: Path, spec: str | int, *, run_id: int | None = None) -> tuple[Path, int]:
    """(checkpoint folder, step) for "last", "best" or a step number.

    Raises:
        BadInput: the run has no complete checkpoint, no evaluated one (for best), or not that step.
    """
    label = f"run {run_id}" if run_id is not None else str(run_dir)
    check_spec(spec)
    found = list_checkpoints(Path(run_dir))
    if not found:
        raise BadInput(f"{label} has no complete checkpoint to export or evaluate yet; train or resume it until it "
                       "saves one")
    spec = str(spec)
    if spec == "last":
        path = found[-1]
    elif spec == "best":
        best = best_checkpoint(Path(run_dir))
        if best is None:
            raise BadInput(f"{label} has no evaluated checkpoint, so there is no best one; "
                           "use the last checkpoint or a step (set eval.every_steps to evaluate while training)")
        path = best
    else:
        steps = {checkpoint_step(p): p for p in found}
        if not spec.isdigit() or int(spec) not in steps:
            raise BadInput(f"{label} has no checkpoint at step {spec}; its checkpoints are at steps "
                           f"{', '.join(map(str, sorted(steps)))}")
        path = steps[int(spec)]
    return path, checkpoint_step(path)


def check_spec(spec: str | int) -> None:
    """BadInput unless `spec` is last, best or a step number: `eval --checkpoint bogus` said "run 1 has no
    checkpoint at step bogus", and `final` (generate's word for the final model) was taken for a step."""
    text = str(spec)
    if text in ("last", "best") or (text.isdigit() and int(text) > 0):
        return
    hint = "; a completed run's last checkpoint is its final step" if text == "final" else ""
    raise BadInput(f"--checkpoint {text!r} must be last, best or a step number{hint}")


PIN_PREFIX = ".pinned-"


@contextmanager
def pinned_checkpoint(run_dir: Path, spec: str | int, *, run_id: int | None = None,
                      by: str = "") -> Iterator[tuple[Path, int]]:
    """`resolve_checkpoint`, the folder read through hard links of its own while the caller reads it.

    A run still training prunes its older checkpoints (`checkpoint.keep`) as it saves new ones: an
    export or evaluation of its last checkpoint lost the files mid-read ('No such file or directory').
    The links keep the files whatever the run deletes; they live in the run's folder (same filesystem)
    and are removed on leaving. A checkpoint pruned before it is linked is chosen again; where links
    cannot be made (a filesystem without them) the folder is read as it is. `by` ("export", "evaluation")
    is written in the pin's name, for a delete of the run to say what it waits for (`pin_holders`).
    """
    from spark_trainer.jobs import leftovers

    leftovers.remove_dead(Path(run_dir), PIN_PREFIX)
    for _ in range(5):
        path, step = resolve_checkpoint(run_dir, spec, run_id=run_id)
        pin = Path(run_dir) / f"{PIN_PREFIX}{by + '-' if by else ''}{leftovers.tag()}-{uuid.uuid4().hex[:8]}"
        try:
            _link_tree(path, pin / path.name)
        except FileNotFoundError:  # pruned between the choice and the links
            shutil.rmtree(pin, ignore_errors=True)
            continue
        except OSError:  # no hard links here: read the folder itself, the pin left empty to say who reads it
            shutil.rmtree(pin, ignore_errors=True)
            try:
                pin.mkdir()
            except OSError:
                pass  # a run folder that cannot be written: nothing to pin with, the read goes on
            try:
                yield path, step
            finally:
                shutil.rmtree(pin, ignore_errors=True)
            return
        try:
            yield pin / path.name, step
        finally:
            shutil.rmtree(pin, ignore_errors=True)
        return
    raise OperationFailed(f"run {run_id}'s checkpoints were pruned faster than they could be read; "
                          "pause the run, or choose an older kept step")


@dataclass(frozen=True)
class PinHolder:
    """A process reading one of a run's checkpoints through a pin: what it is ("export", "evaluation";
    "" for a pin of an older version, whose name does not say), its pid, and its host when not this one."""

    by: str
    pid: int | None
    host: str | None = None


def pin_holders(run_dir: Path) -> list[PinHolder]:
    """The processes holding a pin in `run_dir` now. A pin whose process is dead holds nothing (the judgement
    of jobs/leftovers: this host's pid gone or reused; an older version's pin by its age). One made on another
    machine sharing the home cannot be judged here: it holds until it is LEGACY_MAX_AGE_S old, so a machine
    that died mid-export does not keep the run from being deleted for good."""
    import time

    from spark_trainer.jobs import leftovers
    from spark_trainer.store.presence import host_tag

    found = []
    for pin in sorted(Path(run_dir).glob(f"{PIN_PREFIX}*")) if Path(run_dir).is_dir() else ():
        rest = pin.name[len(PIN_PREFIX):]
        if not pin.is_dir() or leftovers.dead_here(rest, pin):
            continue
        if "@" not in rest:  # an older version's `<pid>-<random>`, young enough to be in use
            pid = rest.split("-")[0]
            found.append(PinHolder("", int(pid) if pid.isdigit() else None))
            continue
        by, _, tagged = rest.rpartition("@")
        parts = tagged.split("-")
        host = parts[0] if parts and parts[0] != host_tag() else None
        try:
            old = time.time() - pin.stat().st_mtime > leftovers.LEGACY_MAX_AGE_S
        except OSError:
            continue  # removed meanwhile: its process is done with it
        if host is not None and old:
            continue
        pid = parts[1] if len(parts) > 1 and parts[1].isdigit() else None
        found.append(PinHolder(by.rstrip("-"), int(pid) if pid else None, host))
    return found


def _link_tree(src: Path, dest: Path) -> None:
    dest.mkdir(parents=True)
    for item in src.iterdir():
        if item.is_dir():
            _link_tree(item, dest / item.name)
        else:
            os.link(item, dest / item.name)


def read_tensors(file: Path) -> dict[str, Any]:
    """The tensors of a checkpoint's (or final model's) safetensors file.

    Raises:
        BadInput: the file is damaged (truncated, overwritten) or missing: one line naming it (the run's
            own file, not the pinned link it was read through) and the run's other checkpoints, in place
            of safetensors' "Error while deserializing header" traceback or the bare "No such file".
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(file))
    except SafetensorError as exc:
        why = str(exc).removeprefix("Error while deserializing header: ")
        shown = _unpinned(Path(file))
        raise BadInput(f"{shown} is damaged ({why}) and cannot be read; {_other_checkpoints(shown)}") from None
    except FileNotFoundError:  # seen: "No such file or directory: .../.pinned-@.../trainable.safetensors"
        shown = _unpinned(Path(file))
        whose = f"checkpoint step {checkpoint_step(shown.parent)}" if _in_checkpoints(shown.parent) else "the model"
        raise BadInput(f"{shown} is missing, so {whose} cannot be read; {_other_checkpoints(shown)}") from None


def _unpinned(file: Path) -> Path:
    """The run's own path of a file read through a pin (`runs/5/.pinned-*/step-N/x` is `runs/5/checkpoints/step-N/x`)."""
    for folder in file.parents:
        if folder.name.startswith(PIN_PREFIX):
            return checkpoint_dir(folder.parent) / file.relative_to(folder)
    return file


def _in_checkpoints(folder: Path) -> bool:
    return checkpoint_dir(folder.parent.parent) == folder.parent


def _other_checkpoints(file: Path) -> str:
    """Where to turn instead of the checkpoint (or final model) holding `file`: the run's whole checkpoints."""
    from spark_trainer.training.checkpoint_check import damage

    folder = file.parent
    in_checkpoints = _in_checkpoints(folder)
    run_dir = folder.parent.parent if in_checkpoints else folder.parent
    this = checkpoint_step(folder) if in_checkpoints else None
    others = [checkpoint_step(p) for p in list_checkpoints(run_dir) if checkpoint_step(p) != this and damage(p) is None]
    if not others:
        return "the run has no other whole checkpoint to use"
    return f"choose another checkpoint (step{'s' if len(others) > 1 else ''} {', '.join(map(str, others))})"


def unsaved_best(store: Any, run_id: int, run_dir: Path, step: int) -> str | None:
    """What `--checkpoint best` cannot give: when the run's best evaluation (of the metric its checkpoints
    are ranked by) was at a step whose weights were never saved (seen: a run that failed on a full disk
    after evaluating step 2, whose export of "best" was step 1, unsaid, while the leaderboard ranked it
    by step 2's value), a note saying so; else None. `step` is the checkpoint exported."""
    from spark_trainer.store import metrics
    from spark_trainer.training.checkpoints import read_state

    try:
        state = read_state(next(p for p in list_checkpoints(Path(run_dir)) if checkpoint_step(p) == step))
    except (StopIteration, BadInput, OSError, ValueError):
        return None
    key, value, higher = state.get("metric_key"), state.get("metric"), bool(state.get("higher_is_better"))
    if not key or value is None:
        return None
    points = [(m.value, m.step) for m in metrics.read(store, run_id, keys=[key])]
    if not points:
        return None
    best_value, best_step = (max if higher else min)(points, key=lambda p: p[0])
    if best_step == step or (best_value <= value if higher else best_value >= value):
        return None
    return (f"note: the best {key}, {best_value:.4g} at step {best_step}, has no checkpoint (its weights were not "
            f"saved); exported the best checkpoint kept, step {step} ({key} {value:.4g})")
