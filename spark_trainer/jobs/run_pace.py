"""How fast an earlier run trained (`measure`), and which earlier run predicts a queued one (`predictor`):
what `queue_eta` builds the queue's estimated end from.

A pace is measured from the run's metric wall times, bracketed by its events:

- The events give the spells the run's worker trained in: from each transition to running (its worker
  started) to the next stop (paused, interrupted, failed, cancelled, completed). Time between spells,
  paused or waiting in the queue, is in no spell and is never counted.
- Within a spell, the wall times of the per-step metric ("lr", recorded at every optimizer step, on
  the computer's clock as the events are) give seconds per step: (last wall - first wall) / (last step
  - first step), summed over spells. Points are grouped by spell, never joined across one: a resumed
  run rewrites the points past its checkpoint, so one step's neighbour may lie across the pause.
  Evaluations and checkpoint saves between steps are in this time, as they will be in the next run.
- Start-up (loading the model, caching, compiling: from the worker's start to its first step) and the
  finish (last step to completed: the final evaluation and save) are measured apart and added once:
  divided into the steps they would grow with a longer run, and a short run (the usual predictor, a
  trial) would make a long one look far slower than it is.

Plain event time (running -> completed over the steps) would be simpler, but counts start-up per
step and, for a resumed run, the restart too; it is only the fallback for a run without metric wall
times (then start-up is inside the steps, said by `Pace.from_events`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import Run, RunEvent, RunStatus
from spark_trainer.store.store import Store

STEP_KEY = "lr"  # recorded at every optimizer step by every recipe (training/engine.py)
_STOPS = {s.value for s in RunStatus if not s.is_active}  # a spell ends on any of these (queued included)

# How the predictor was chosen, best first, as the queue's line says it ("earlier runs of the same ...").
SAME_EXPERIMENT, SAME_SWEEP, SAME_SETTINGS = "experiment", "sweep", "settings"


@dataclass(frozen=True)
class Pace:
    run_id: int  # the earlier run measured
    seconds_per_step: float
    start_up_s: float  # worker start to first step (model load); 0 when unmeasured
    finish_s: float  # last step to completed (final evaluation, save)
    from_events: bool = False  # no metric wall times: event time over steps, start-up included
    how: str = SAME_EXPERIMENT  # which predictor it is (SAME_*)

    def seconds(self, steps: int) -> float:
        """How long a run of `steps` steps takes at this pace, start-up and finish included."""
        return self.start_up_s + max(0, steps) * self.seconds_per_step + self.finish_s


def _epoch(stored: datetime) -> float:
    return stored.replace(tzinfo=timezone.utc).timestamp()


def spells(events: Sequence[RunEvent]) -> list[tuple[float, float | None]]:
    """(start, end) epoch seconds of each spell the run's worker trained in; end None while it goes on.
    A stalled run that beats again stays in its spell."""
    found: list[tuple[float, float | None]] = []
    begun: float | None = None
    for event in events:
        if event.to_status == RunStatus.RUNNING.value and begun is None:
            begun = _epoch(event.created_at)
        elif event.to_status in _STOPS and begun is not None:
            found.append((begun, _epoch(event.created_at)))
            begun = None
    if begun is not None:
        found.append((begun, None))
    return found


def measure(store: Store, run: Run) -> Pace | None:
    """The pace `run` trained at (see the module's docstring), or None when it cannot be measured: no
    spell, no step trained."""
    events = runs.events(store, run.id)
    bracketed = spells(events)
    if not bracketed:
        return None
    found = metrics.series(store, run.id, keys=[STEP_KEY]).get(STEP_KEY)
    steps = found.steps.tolist() if found is not None else []
    walls = found.wall_times.tolist() if found is not None else []
    seconds = counted = 0.0
    first: tuple[float, float] | None = None  # (spell start, wall of its first step)
    for start, end in bracketed:
        inside = sorted((s, w) for s, w in zip(steps, walls, strict=True) if w >= start and (end is None or w <= end))
        if not inside:
            continue
        if first is None:
            first = (start, inside[0][1])
        if len(inside) > 1:
            seconds += inside[-1][1] - inside[0][1]
            counted += inside[-1][0] - inside[0][0]
    if counted > 0 and first is not None:
        per_step = seconds / counted
        start_up = max(0.0, first[1] - first[0] - per_step)  # the first point is written after step 1
        done = [e for e in events if e.to_status == RunStatus.COMPLETED.value]
        finish = max(0.0, _epoch(done[-1].created_at) - max(walls)) if done else 0.0
        return Pace(run.id, per_step, start_up, finish)
    total = sum(end - start for start, end in bracketed if end is not None)
    trained = run.total_steps if run.status == RunStatus.COMPLETED else run.step
    if not trained or total <= 0:
        return None
    return Pace(run.id, total / trained, 0.0, 0.0, from_events=True)


def longest_recent_step(store: Store, run: Run, last: int = 20) -> float | None:
    """The longest of the run's `last` latest steps, in seconds, from its per-step metric wall times
    (an evaluation or a checkpoint save lies inside the step after it, so a stop that waits this long
    for the step in flight waits for those too); steps of one spell only, newest spells first. None
    before two steps of a spell are known."""
    found = metrics.series(store, run.id, keys=[STEP_KEY]).get(STEP_KEY)
    if found is None or len(found.steps) < 2:
        return None
    points = list(zip(found.wall_times.tolist(), found.steps.tolist(), strict=True))
    durations: list[float] = []
    for start, end in reversed(spells(runs.events(store, run.id))):
        inside = sorted((w, s) for w, s in points if w >= start and (end is None or w <= end))
        durations += [(b[0] - a[0]) / (b[1] - a[1]) for a, b in zip(inside[:-1], inside[1:], strict=True)
                      if b[1] > a[1]][::-1]
        if len(durations) >= last:
            break
    return max(durations[:last]) if durations else None


def _settings_key(run: Run, machine_gpus: int | None = None) -> tuple | None:
    """What makes two runs train at one pace beyond their experiment: recipe, base model, batch size,
    gradient accumulation, sequence length (the frozen config in the run's folder) and CPU or GPUs: what
    it ran on, or for a run not started yet what it asks for (`auto` on a machine with `machine_gpus` 0
    is the CPU; None: not known, taken as GPUs)."""
    from spark_trainer.jobs import gpus as gpu_alloc
    from spark_trainer.jobs.submit import frozen_config

    try:
        config = frozen_config(Path(run.run_dir))
        if run.started_at:
            on_cpu = not run.gpus
        else:
            request = gpu_alloc.parse_request(run.requested_gpus)
            on_cpu = request.is_cpu or (request.auto and machine_gpus == 0)
    except Exception:  # noqa: BLE001 - a folder gone or a file edited by hand: no match, no estimate
        return None
    return (config.recipe, config.base_model, config.train.batch_size, config.train.grad_accum,
            config.recipe_config.get("seq_len"), "cpu" if on_cpu else "gpu")


SETTINGS_TRIES = 20  # completed runs of the same recipe whose config is read, newest first


class Memo:
    """Paces and settings read once for the many queued runs one estimate predicts, on a machine with
    `machine_gpus` GPUs (None: not known)."""

    def __init__(self, machine_gpus: int | None = None) -> None:
        self.machine_gpus = machine_gpus
        self.paces: dict[int, Pace | None] = {}
        self.keys: dict[int, tuple | None] = {}

    def pace(self, store: Store, run: Run) -> Pace | None:
        if run.id not in self.paces:
            self.paces[run.id] = measure(store, run)
        return self.paces[run.id]

    def key(self, run: Run) -> tuple | None:
        if run.id not in self.keys:
            self.keys[run.id] = _settings_key(run, self.machine_gpus)
        return self.keys[run.id]


def predictor(store: Store, run: Run, completed: Sequence[Run], memo: Memo | None = None) -> Pace | None:
    """The pace of the earlier run that predicts `run` best: the newest completed run (of `completed`)
    of the same experiment; else of the same sweep; else one with the same settings (`_settings_key`).
    In every tier a run whose settings differ from `run`'s (both read) is passed over: the same
    experiment trained with `--set train.batch_size=32` is not the batch-8 run's pace. A run measured
    on another machine (an imported cluster job) predicts nothing here."""
    memo = memo or Memo()
    local = sorted((r for r in completed if r.ran_on == "local" and r.id != run.id),
                   key=lambda r: (r.finished_at or datetime.min, r.id), reverse=True)
    tiers = [(SAME_EXPERIMENT, [r for r in local if r.experiment_id == run.experiment_id])]
    if run.sweep:
        tiers.append((SAME_SWEEP, [r for r in local if r.sweep == run.sweep and r.project_id == run.project_id]))
    for how, candidates in tiers:
        tried = 0
        for candidate in candidates[:SETTINGS_TRIES]:
            if tried == 3:  # a newest run that cannot be measured: the next one, three at most
                break
            if _differs(memo.key(run), memo.key(candidate)):
                continue
            tried += 1
            pace = memo.pace(store, candidate)
            if pace is not None:
                return _with(pace, how)
    same_recipe = [r for r in local if r.recipe == run.recipe][:SETTINGS_TRIES]
    if not same_recipe:
        return None
    key = memo.key(run)
    if key is None:
        return None
    for candidate in same_recipe:
        if memo.key(candidate) == key:
            pace = memo.pace(store, candidate)
            if pace is not None:
                return _with(pace, SAME_SETTINGS)
    return None


def _differs(key: tuple | None, other: tuple | None) -> bool:
    return key is not None and other is not None and key != other


def _with(pace: Pace, how: str) -> Pace:
    from dataclasses import replace

    return replace(pace, how=how)
