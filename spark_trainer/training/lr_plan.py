"""Learning-rate plans for runs that were extended (see spark_trainer.jobs.extend).

A plan is a list of segments; the first is the run's own schedule (exactly `steps.lr_lambda`), each
extension adds a segment that re-warms from where the previous one ended. The engine builds its
LambdaLR from `schedule_for(run_dir, ...)`, which is the configured schedule for a run never extended.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PLAN_FILE = "extend.json"


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
    """The schedule at `step` (0-based optimizer step) as a fraction of the peak learning rate: the
    latest segment begun before it governs it. An early-stopped extension's segment runs past the step
    the next extend starts from; the first that reached `step` took the steps after that join, so the LR
    decayed on to 0 where that extend re-warmed, then jumped."""
    for seg in reversed(plan.segments):
        if seg.start < step or seg is plan.segments[0]:
            return segment_factor(seg, min(step, seg.end))
    return segment_factor(plan.segments[0], step)


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
