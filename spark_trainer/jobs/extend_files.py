"""The files `run extend` rewrites before the database takes the change, and putting them back when it
never did.

An extend writes `config.before-extend-<old_total>.yaml` (the config as the run completed with it),
then the extended `config.yaml` and its segment in `extend.json`, then moves the run completed ->
queued. One killed in between (SIGKILL, a power cut) leaves a completed run whose files say it goes on.
Until they are put back, `frozen_config_path` reads the backup; reconcile puts them back
(`undo_dead_extends`, in its sweep of leftovers: a process's first pass over a home, then every few
minutes), so the run's files agree with its record again.
"""

from __future__ import annotations

from pathlib import Path

from spark_trainer.disk import replace_bytes
from spark_trainer.jobs import run_lock
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.lr_plan import PLAN_FILE, ExtendPlan, read_plan


def backup_name(step: int) -> str:
    """The run's config as it was before an extend from `step` (kept beside config.yaml)."""
    return f"config.before-extend-{step}.yaml"


def _ended(run: Run) -> int:
    """The step a run ended at: its last step, or its total if it reported none."""
    return min(s for s in (run.step, run.total_steps) if s) if (run.step or run.total_steps) else 0


def dead_extend_backup(run: Run) -> Path | None:
    """The backup an extend of this completed run saved before it was killed, short of the database
    write; None when there is none. (An extend the database took leaves the run queued, and one that
    trained on completes past the step its backup is named after.)"""
    if run.status != RunStatus.COMPLETED or not run.run_dir or not _ended(run):
        return None
    backup = Path(run.run_dir) / backup_name(_ended(run))
    return backup if backup.is_file() else None


def frozen_config_path(run: Run) -> Path:
    """The file holding the config a run trained with: its config.yaml, or, for a completed run whose
    extend was killed before the database took it (config.yaml already says the longer max_steps), the
    backup that extend saved of the config it completed with."""
    return dead_extend_backup(run) or Path(run.run_dir) / "config.yaml"


def plan_before(run_dir: Path, step: int) -> ExtendPlan | None:
    """The run's plan for its steps up to `step`: the segments that start before it (one starting at or
    after it is a dead extend's, which never trained a step); None for a run never extended."""
    plan = read_plan(run_dir)
    kept = [seg for seg in plan.segments if seg.start < step] if plan is not None else []
    return ExtendPlan(kept) if kept else None


def undo_dead_extend(store: Store, run: Run) -> bool:
    """Put back the files of an extend of `run` killed before the database took it: config.yaml from
    the backup, the plan without the dead segment (no plan for a run that was never extended), then the backup removed, last, so a
    kill meanwhile leaves it to the next pass. Left alone while the folder's lock is held (an extend
    or a worker at it now) or the run is no longer completed at that step once the lock is taken (an
    extend that finished meanwhile). Returns whether files were put back."""
    backup = dead_extend_backup(run)
    if backup is None:
        return False
    run_dir = Path(run.run_dir)
    fd, _holder = run_lock.hold(run_dir, wait=0)
    if fd is None:  # held, or a filesystem that cannot lock: no telling an extend at work from a dead one
        return False
    try:
        if dead_extend_backup(runs.get(store, run.id)) != backup:
            return False
        original = backup.read_bytes()
        config = run_dir / "config.yaml"
        if not config.is_file() or config.read_bytes() != original:
            replace_bytes(config, original)
        plan = plan_before(run_dir, _ended(run))
        if plan is None or len(plan.segments) < 2:  # the base schedule alone: written by the dead extend
            (run_dir / PLAN_FILE).unlink(missing_ok=True)
        else:
            replace_bytes(run_dir / PLAN_FILE, plan.to_json().encode())
        backup.unlink()
        return True
    finally:
        run_lock.release(fd)


def undo_dead_extends(store: Store) -> list[int]:
    """`undo_dead_extend` for every completed run; the ids of the runs whose files were put back. A run
    whose files cannot be written now is left for a later pass."""
    undone = []
    for run in runs.list_all(store, statuses={RunStatus.COMPLETED}):
        try:
            if undo_dead_extend(store, run):
                undone.append(run.id)
        except OSError:
            continue
    return undone
