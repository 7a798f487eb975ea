"""Picking the checkpoint an export or evaluation uses: last, best, or a given step."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.errors import BadInput
from spark_trainer.training.checkpoints import best_checkpoint, checkpoint_step, list_checkpoints


def resolve_checkpoint(run_dir: Path, spec: str | int, *, run_id: int | None = None) -> tuple[Path, int]:
    """(checkpoint folder, step) for "last", "best" or a step number.

    Raises:
        BadInput: the run has no complete checkpoint, no evaluated one (for best), or not that step.
    """
    label = f"run {run_id}" if run_id is not None else str(run_dir)
    found = list_checkpoints(Path(run_dir))
    if not found:
        raise BadInput(f"{label} has no complete checkpoint to export or evaluate; train it first")
    spec = str(spec)
    if spec == "last":
        path = found[-1]
    elif spec == "best":
        best = best_checkpoint(Path(run_dir))
        if best is None:
            raise BadInput(f"{label} has no evaluated checkpoint, so there is no best one; "
                           "use --checkpoint last or a step (set eval.every_steps to evaluate while training)")
        path = best
    else:
        steps = {checkpoint_step(p): p for p in found}
        if not spec.isdigit() or int(spec) not in steps:
            raise BadInput(f"{label} has no checkpoint at step {spec}; its checkpoints are at steps "
                           f"{', '.join(map(str, sorted(steps)))}")
        path = steps[int(spec)]
    return path, checkpoint_step(path)
