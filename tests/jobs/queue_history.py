"""Runs with a known history for the queue's estimate: events at fixed times (the store's clock is set,
never slept on) and per-step metric points with known wall times."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store

T0 = datetime(2026, 1, 5, 20, 0)  # naive UTC, as stored
NOW = T0 + timedelta(hours=2)  # when the night's queue is estimated


class Clock:
    """The store's `utcnow`, at T0 + `at` seconds."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.at = 0.0
        monkeypatch.setattr(runs, "utcnow", lambda: T0 + timedelta(seconds=self.at))


def wall(at: float) -> float:
    """Epoch seconds of T0 + `at`, as a metric point's wall time."""
    return (T0 + timedelta(seconds=at)).replace(tzinfo=timezone.utc).timestamp()


def experiment(store: Store, name: str) -> None:
    if not any(p.name == "p" for p in projects.list_all(store)):
        projects.create(store, "p")
    experiments.create(store, project="p", name=name, recipe="causal-lm", base_model="m", dataset=None, config={})


def spell(store: Store, clock: Clock, run_id: int, start: float, steps: range, per_step: float, start_up: float,
          finish: float, to: RunStatus) -> float:
    """One worker's spell: it starts at `start`, loads for `start_up` s, trains `steps` at `per_step` s
    each (an "lr" point per step), ends `finish` s after its last step as `to`; returns that time."""
    clock.at = start
    runs.transition(store, run_id, RunStatus.STARTING, "claimed")
    runs.transition(store, run_id, RunStatus.RUNNING, "worker started")
    last = start + start_up
    points = []
    for step in steps:
        last += per_step
        points.append(("lr", step, 1e-3, wall(last)))
    metrics.add_batch(store, run_id, points)
    clock.at = last + finish
    runs.transition(store, run_id, to, "test", step=steps[-1])
    return clock.at


def completed(store: Store, clock: Clock, exp: str, *, steps: int, per_step: float, start_up: float, finish: float,
              start: float = 0.0, sweep: str | None = None) -> int:
    """A run of `exp` that trained `steps` steps in one spell from `start` and completed."""
    run_id = runs.create(store, exp, requested_gpus="cpu", total_steps=steps, sweep=sweep).id
    spell(store, clock, run_id, start, range(1, steps + 1), per_step, start_up, finish, RunStatus.COMPLETED)
    return run_id


def a_night(store: Store, clock: Clock) -> dict[str, int]:
    """Experiment a trained at 2 s a step (30 s start-up, 10 s finish), b at 1 s (10 s start-up); one
    run of a trains (600 s left); queued in this order: 200 steps of a (440 s), 100 of b (110 s), 100 of
    c, which never ran (no estimate). Returns the run ids: "active", "a", "b", "c"."""
    for name in ("a", "b", "c"):
        experiment(store, name)
    completed(store, clock, "a", steps=100, per_step=2.0, start_up=30.0, finish=10.0)
    completed(store, clock, "b", steps=50, per_step=1.0, start_up=10.0, finish=0.0, start=1000.0)
    active = runs.create(store, "a", requested_gpus="cpu", total_steps=500).id
    runs.transition(store, active, RunStatus.STARTING, "claimed")
    runs.transition(store, active, RunStatus.RUNNING, "worker started", step=200, eta_seconds=600.0)
    ids = {"active": active}
    for name, steps in (("a", 200), ("b", 100), ("c", 100)):
        ids[name] = runs.create(store, name, requested_gpus="cpu", total_steps=steps).id
    return ids
