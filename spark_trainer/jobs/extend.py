"""Extend a completed run by N steps: the same run continues from its last checkpoint.

What happens:
1. The frozen `runs/<id>/config.yaml` gets `train.max_steps = old_total + N` (the old file is kept
   as `config.before-extend-<old_total>.yaml`), and `runs/<id>/extend.json` records the plan.
2. The run goes completed -> queued with an event saying so; the scheduler starts a worker that
   resumes from the last checkpoint, continuing the same step count and metric series.

The learning rate stays coherent across the join: the original schedule (read from the config)
governs steps up to `from_step`; the extension re-warms linearly from the LR the run ended with to
`rewarm_fraction` of the peak over `rewarm_steps`, then follows the original schedule's shape
(cosine or linear decay to zero, or constant) over the remaining extension steps. Continuity at the
join means no jump in the loss curve; the re-warm lets a run whose LR had decayed to 0 learn again.
`lr_multiplier(step, plan)` is the whole schedule as a multiple of the peak LR, for the engine's
LambdaLR; it equals the original schedule before the join.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from spark_trainer.errors import BadInput
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

PLAN_FILE = "extend.json"
MAX_EXTRA_STEPS = 10_000_000


@dataclass(frozen=True)
class Segment:
    """One stretch of schedule: steps (start, end], a shape, warm-up from `start_factor`."""

    start: int
    end: int
    shape: str  # cosine | linear | constant
    warmup_steps: int
    start_factor: float  # multiplier at `start` (0 for a fresh run)
    peak_factor: float  # multiplier reached after warm-up


@dataclass(frozen=True)
class ExtendPlan:
    segments: list[Segment]

    def to_json(self) -> str:
        return json.dumps({"segments": [asdict(s) for s in self.segments]}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> ExtendPlan:
        return cls([Segment(**s) for s in json.loads(text)["segments"]])


def segment_factor(seg: Segment, step: int) -> float:
    """The LR multiplier at `step` inside `seg` (continuous, piecewise)."""
    if seg.start == 0:  # the run's own schedule, exactly as the engine computes it
        from spark_trainer.training.steps import lr_lambda

        return lr_lambda(seg.shape, seg.warmup_steps, seg.end)(step)
    into = step - seg.start
    if seg.warmup_steps > 0 and into < seg.warmup_steps:
        return seg.start_factor + (seg.peak_factor - seg.start_factor) * into / seg.warmup_steps
    if seg.shape == "constant":
        return seg.peak_factor
    decay_len = max(1, seg.end - seg.start - seg.warmup_steps)
    progress = min(1.0, max(0.0, (into - seg.warmup_steps) / decay_len))
    if seg.shape == "linear":
        return seg.peak_factor * (1.0 - progress)
    return seg.peak_factor * 0.5 * (1.0 + math.cos(math.pi * progress))


def lr_multiplier(step: int, plan: ExtendPlan) -> float:
    """The schedule at `step` (0-based optimizer step) as a fraction of the peak learning rate."""
    for seg in plan.segments:
        if step <= seg.end:
            return segment_factor(seg, step)
    return segment_factor(plan.segments[-1], plan.segments[-1].end)


def base_segment(train: dict[str, Any], total: int) -> Segment:
    """The schedule a run was configured with, as the first segment."""
    warmup = int(train.get("warmup_steps") or 0)
    if not warmup and train.get("warmup_ratio"):
        warmup = int(float(train["warmup_ratio"]) * total)
    return Segment(0, total, str(train.get("lr_scheduler") or "cosine"), warmup, 0.0, 1.0)


def plan_extension(train: dict[str, Any], old_total: int, extra: int, previous: ExtendPlan | None = None,
                   rewarm_fraction: float = 0.5) -> ExtendPlan:
    """The schedule for `old_total + extra` steps, keeping every step up to `old_total` unchanged."""
    segments = list(previous.segments) if previous else [base_segment(train, old_total)]
    end_factor = lr_multiplier(old_total, ExtendPlan(segments))
    shape = segments[0].shape
    peak = max(end_factor, rewarm_fraction) if shape != "constant" else end_factor
    rewarm = 0 if shape == "constant" else max(1, min(extra // 10, 100))
    segments.append(Segment(old_total, old_total + extra, shape, rewarm, end_factor, peak))
    return ExtendPlan(segments)


def schedule_for(run_dir: str | Path, schedule: str, warmup: int, total: int) -> Callable[[int], float]:
    """The LR multiplier function for the engine's LambdaLR: the extension plan when the run was
    extended, else the configured schedule."""
    plan = read_plan(run_dir)
    if plan is None:
        from spark_trainer.training.steps import lr_lambda

        return lr_lambda(schedule, warmup, total)
    return lambda step: lr_multiplier(step, plan)


def read_plan(run_dir: str | Path) -> ExtendPlan | None:
    """The run's extension plan, or None for a run never extended (use the configured schedule)."""
    path = Path(run_dir) / PLAN_FILE
    return ExtendPlan.from_json(path.read_text()) if path.is_file() else None


def extend(store: Store, run_id: int | str, extra_steps: int, *, rewarm_fraction: float = 0.5) -> Run:
    """Queue a completed run to continue for `extra_steps` more optimizer steps.

    Raises:
        BadInput: the run is not completed, has no checkpoint to continue from, or N is not positive.
    """
    from spark_trainer.training.checkpoints import latest_checkpoint

    if not 1 <= int(extra_steps) <= MAX_EXTRA_STEPS:
        raise BadInput(f"extend: steps must be from 1 to {MAX_EXTRA_STEPS}, got {extra_steps}")
    reconcile(store)
    run = runs.get(store, run_id)
    if run.status != RunStatus.COMPLETED:
        raise BadInput(f"run {run.id} is {run.status.value}; only a completed run can be extended "
                       "(resume a paused or interrupted one instead)")
    run_dir = Path(run.run_dir)
    config_path = run_dir / "config.yaml"
    if not config_path.is_file():
        raise BadInput(f"run {run.id} has no frozen config at {config_path}; it cannot be extended")
    if latest_checkpoint(run_dir) is None:
        raise BadInput(f"run {run.id} has no checkpoint in {run_dir / 'checkpoints'} to continue from")
    config = yaml.safe_load(config_path.read_text()) or {}
    train = dict(config.get("train") or {})
    old_total = int(run.total_steps or train.get("max_steps") or run.step)
    if run.step and run.step < old_total:
        old_total = run.step  # early-stopped: continue from where it really ended
    new_total = old_total + int(extra_steps)
    plan = plan_extension(train, old_total, int(extra_steps), read_plan(run_dir), rewarm_fraction)
    shutil.copyfile(config_path, run_dir / f"config.before-extend-{old_total}.yaml")
    train["max_steps"] = new_total
    train["epochs"] = None
    config["train"] = train
    tmp = config_path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(config, sort_keys=False))
    tmp.replace(config_path)
    (run_dir / PLAN_FILE).write_text(plan.to_json())
    return runs.transition(
        store, run.id, RunStatus.QUEUED,
        f"extended by {extra_steps} steps: {old_total} -> {new_total}, LR re-warmed to "
        f"{plan.segments[-1].peak_factor:.2f}x peak over {plan.segments[-1].warmup_steps} steps",
        expect={RunStatus.COMPLETED}, total_steps=new_total, error=None, eta_seconds=None,
    )
