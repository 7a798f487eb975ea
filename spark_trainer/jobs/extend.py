"""Extend a completed run by N steps: the same run continues from its last checkpoint.

What happens:
1. The frozen `runs/<id>/config.yaml` gets `train.max_steps = old_total + N` (the old file is kept
   as `config.before-extend-<old_total>.yaml`), and `runs/<id>/extend.json` records the plan.
2. The run goes completed -> queued with an event saying so; the scheduler starts a worker that
   resumes from the last checkpoint, continuing the same step count and metric series.

An extend killed between the two (files rewritten, the run still completed) is undone by reconcile
(`extend_files.undo_dead_extends`: the config put back from the backup, the dead segment dropped, the
backup removed); until then `run config` reads the backup (`frozen_config_path`), and an extend meanwhile
is redone from the backup, which is never overwritten, and from the plan's segments that start before
`old_total`.

The learning rate stays coherent across the join: the original schedule (read from the config)
governs steps up to `from_step`; the extension re-warms linearly from the LR the run ended with to
`rewarm_fraction` of the peak over `rewarm_steps`, then follows the original schedule's shape
(cosine or linear decay to zero, or constant) over the remaining extension steps. Continuity at the
join means no jump in the loss curve; the re-warm lets a run whose LR had decayed to 0 learn again.
`lr_multiplier(step, plan)` is the whole schedule as a multiple of the peak LR, for the engine's
LambdaLR; it equals the original schedule before the join. The plan code lives in
`spark_trainer.training.lr_plan` so the engine can use it without importing the job layer.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from spark_trainer.disk import replace_bytes, restoring
from spark_trainer.errors import BadInput
from spark_trainer.jobs import run_lock
from spark_trainer.jobs.extend_files import backup_name, frozen_config_path, plan_before  # noqa: F401 - re-exported
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.resume_checks import check_inputs
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store
from spark_trainer.training.lr_plan import (  # noqa: F401 - re-exported for callers of the extend API
    PLAN_FILE,
    ExtendPlan,
    Segment,
    base_segment,
    lr_multiplier,
    plan_extension,
    read_plan,
    schedule_for,
    segment_factor,
)

MAX_EXTRA_STEPS = 10_000_000


def extend(store: Store, run_id: int | str, extra_steps: int, *, rewarm_fraction: float = 0.5) -> Run:
    """Queue a completed run to continue for `extra_steps` more optimizer steps.

    Raises:
        BadInput: the run is not completed, has no checkpoint to continue from, or N is not positive.
    """
    if not 1 <= int(extra_steps) <= MAX_EXTRA_STEPS:
        raise BadInput(f"extend: steps must be from 1 to {MAX_EXTRA_STEPS}, got {extra_steps}")
    reconcile(store)
    # Two extends of one run at once: the second waits, then finds it queued (its files changed by the
    # first only). Without the lock both wrote, and the one the database refused put back the files it
    # had read, the originals, under the other's extended run.
    with run_lock.changing(Path(runs.get(store, run_id).run_dir), f"extend run {run_id}"):
        return _extend(store, run_id, int(extra_steps), rewarm_fraction)


def _extend(store: Store, run_id: int | str, extra_steps: int, rewarm_fraction: float) -> Run:
    from spark_trainer.training.checkpoints import latest_checkpoint

    run = runs.get(store, run_id)
    if run.status != RunStatus.COMPLETED:
        from spark_trainer.jobs.control import RESUMABLE

        instead = (f"resume it instead: `spark-trainer run resume {run.id}`" if run.status in RESUMABLE
                   else "let it finish first")
        raise BadInput(f"run {run.id} is {run.status.value}; only a completed run can be extended ({instead})")
    run_dir = Path(run.run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise BadInput(f"run {run.id} has no frozen config at {config_path}; it cannot be extended")
    if latest_checkpoint(run_dir) is None:
        raise BadInput(f"run {run.id} has no checkpoint in {run_dir / 'checkpoints'} to continue from")
    check_inputs(store, run, "be extended")
    train = dict((yaml.safe_load(config_path.read_text()) or {}).get("train") or {})
    old_total = int(run.total_steps or train.get("max_steps") or run.step)
    if run.step and run.step < old_total:
        old_total = run.step  # early-stopped: continue from where it really ended
    new_total = old_total + int(extra_steps)
    backup = run_dir / backup_name(old_total)
    # The files as they were at `old_total`: an extend killed after rewriting them but before the
    # database took it (the run is still completed here) left the backup, the extended config and its
    # segment. Redone from those, not on top of them: it saved the extended config as the "before" one,
    # and a second segment from `old_total`, which the LR followed over the new one.
    original = backup.read_bytes() if backup.is_file() else config_path.read_bytes()
    config = yaml.safe_load(original) or {}
    train = dict(config.get("train") or {})
    plan = plan_extension(train, old_total, int(extra_steps), plan_before(run_dir, old_total), rewarm_fraction)
    train["max_steps"] = new_total
    train["epochs"] = None
    config["train"] = train
    with restoring([config_path, run_dir / PLAN_FILE, backup]):
        # Left extended when the database refuses (locked or full, or the disk is): the files said
        # max_steps N for a run that never got it, and a second try saved that as the "before" config.
        if not backup.is_file():
            replace_bytes(backup, original)
        replace_bytes(config_path, yaml.safe_dump(config, sort_keys=False).encode())
        replace_bytes(run_dir / PLAN_FILE, plan.to_json().encode())
        return runs.transition(
            store, run.id, RunStatus.QUEUED,
            f"extended by {extra_steps} steps: {old_total} -> {new_total}, LR re-warmed to "
            f"{plan.segments[-1].peak_factor:.2f}x peak over {plan.segments[-1].warmup_steps} steps",
            expect={RunStatus.COMPLETED}, total_steps=new_total, error=None, eta_seconds=None,
        )
