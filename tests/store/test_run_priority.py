"""The queue's start order and a priority change's line, shared by `run priority`, `queue show` and the app."""

from __future__ import annotations

from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.run_priority import changed_line, set_priority, start_order


def test_start_order_is_highest_priority_first_then_the_order_queued(store) -> None:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    made = [runs.create(store, "e", requested_gpus="cpu", priority=p) for p in (0, 5, -10, 5)]
    assert [r.id for r in start_order(reversed(made))] == [made[1].id, made[3].id, made[0].id, made[2].id]

    run, before = set_priority(store, made[2].id, 7)
    assert changed_line(run, before) == f"run {run.id} priority 7 (was -10)"
    run, before = set_priority(store, made[2].id, 7)
    assert changed_line(run, before) == f"run {run.id} priority 7 (unchanged)"
