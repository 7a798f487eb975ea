"""What the playground loads for a run: its final model or one of its checkpoints.

Checkpoint choices: `last` (the final model when the run wrote one, else the newest checkpoint),
`final`, `best` (the checkpoint with the best eval metric), or a step number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spark_trainer.errors import BadInput, NotFound
from spark_trainer.store import runs
from spark_trainer.store.store import Store
from spark_trainer.training import checkpoints

if TYPE_CHECKING:
    from spark_trainer.config.schema import ExperimentConfig
    from spark_trainer.store.entities import Run


class RunGone(NotFound):
    """The run to load does not exist: deleted since its client picked it."""


@dataclass(frozen=True)
class ModelSource:
    """A run's trained weights: `path` is the final folder or a checkpoint folder (the base model's folder
    for kind "base")."""

    run_id: int
    recipe: str
    run_dir: Path
    kind: str  # "final" | "checkpoint" | "base" (the base model alone: `base_source`)
    path: Path
    step: int | None
    base_model: str
    home: Path

    @property
    def label(self) -> str:
        if self.kind == "base":
            return "base model"
        if self.kind == "final":
            return "final model" + (f" (step {self.step})" if self.step else "")
        return f"checkpoint step {self.step}"

    def to_dict(self) -> dict[str, Any]:
        return {"run": self.run_id, "recipe": self.recipe, "kind": self.kind, "path": str(self.path),
                "step": self.step, "base_model": self.base_model, "label": self.label}


def choices(run_dir: Path) -> list[tuple[str, str]]:
    """(spec, label) of everything a run can be tried from, newest first, for pickers."""
    found: list[tuple[str, str]] = []
    if (Path(run_dir) / "final").is_dir():
        found.append(("final", "Final model"))
    best = checkpoints.best_checkpoint(Path(run_dir))
    for path in reversed(checkpoints.list_checkpoints(Path(run_dir))):
        step = checkpoints.checkpoint_step(path)
        found.append((str(step), f"Checkpoint step {step}" + (" (best)" if path == best else "")))
    return found


def resolve_source(store: Store, run_ref: int | str, checkpoint: str = "last") -> ModelSource:
    """The weights to load for `run_ref` and a checkpoint choice.

    Raises:
        RunGone: no such run (deleted since it was picked, say).
        BadInput: the run has no such checkpoint (the message lists what it has).
    """
    run, run_dir, config = _run_and_config(store, run_ref)
    spec = str(checkpoint).strip().lower()
    final = run_dir / "final"
    found = checkpoints.list_checkpoints(run_dir)

    def source(kind: str, path: Path, step: int | None) -> ModelSource:
        return ModelSource(run.id, run.recipe, run_dir, kind, path, step, config.base_model, store.home.root)

    if spec in ("last", "final"):
        if final.is_dir():
            return source("final", final, run.step or None)
        if spec == "last" and found:
            return source("checkpoint", found[-1], checkpoints.checkpoint_step(found[-1]))
        raise BadInput(f"run {run.id} has no {'final model' if spec == 'final' else 'final model or checkpoint'} "
                       f"yet (status {run.status.value})" + _available(found))
    if spec == "best":
        best = checkpoints.best_checkpoint(run_dir)
        if best is None:
            raise BadInput(f"run {run.id} has no checkpoint with an evaluation metric" + _available(found))
        return source("checkpoint", best, checkpoints.checkpoint_step(best))
    if not spec.isdigit():
        raise BadInput(f"checkpoint {checkpoint!r} is not valid; use last, final, best or a step number")
    for path in found:
        if checkpoints.checkpoint_step(path) == int(spec):
            return source("checkpoint", path, int(spec))
    raise BadInput(f"run {run.id} has no checkpoint at step {int(spec)}" + _available(found))


def base_source(store: Store, run_ref: int | str) -> ModelSource:
    """The run's base model alone, as `eval --base` loads it: for `generate --base` on a run with no weights
    of its own (one that failed or was cancelled before its first checkpoint), which the base model does not
    need. Raises RunGone for no such run, BadInput where the base model cannot be found."""
    from spark_trainer.models.loading import resolve_base_model

    run, run_dir, config = _run_and_config(store, run_ref)
    home = store.home.root
    try:
        folder = resolve_base_model(config.base_model, search_dirs=(home, home / "models"))
    except BadInput as exc:
        raise BadInput(f"run {run.id}'s base model: {exc}") from None
    return ModelSource(run.id, run.recipe, run_dir, "base", folder, None, config.base_model, home)


def _run_and_config(store: Store, run_ref: int | str) -> tuple[Run, Path, ExperimentConfig]:
    """The run, its folder and its frozen config; RunGone for no such run (deleted since it was picked)."""
    from spark_trainer.jobs.submit import frozen_config

    try:
        run = runs.get(store, run_ref)
    except NotFound as exc:
        raise RunGone(str(exc)) from None
    run_dir = Path(run.run_dir)
    return run, run_dir, frozen_config(run_dir)


def _available(found: list[Path]) -> str:
    if not found:
        return "; it has no checkpoints"
    return "; its checkpoints are at steps " + ", ".join(str(checkpoints.checkpoint_step(p)) for p in found)
