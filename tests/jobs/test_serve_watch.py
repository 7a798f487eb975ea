"""`RunWatch`, what `queue serve` says: runs that stopped before it began are not news, a run that
started and ended between two passes is said to start too, a run queued again (resumed) leaves the
summary, and several of one kind are named together."""

from __future__ import annotations

from spark_trainer.jobs.serve_watch import RunWatch
from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus

S, R, F = RunStatus.STARTING, RunStatus.RUNNING, RunStatus.FAILED


def _runs(store, n: int) -> list[int]:
    projects.create(store, "p")
    experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    return [runs.create(store, "e").id for _ in range(n)]


def test_only_what_ends_while_it_watches_is_summed_up(store) -> None:
    old, a, b = _runs(store, 3)
    for to in (S, F):
        runs.transition(store, old, to, "before serve", error="long ago")
    watch = RunWatch(store)
    assert watch.poll() == [] and watch.summary() == "no run ended"
    for run_id in (a, b):
        for to in (S, R, F):
            runs.transition(store, run_id, to, "test", error="boom" if to == F else None)
    assert watch.poll() == [f"run {a} (e) started on CPU", f"run {a} (e) failed: boom",  # within one pass: both
                            f"run {b} (e) started on CPU", f"run {b} (e) failed: boom"]
    assert watch.summary() == f"2 failed (runs {a}, {b})" and watch.ended_ids() == {"failed": [a, b]}
    runs.transition(store, a, RunStatus.QUEUED, "resumed")
    assert watch.poll() == [] and watch.summary() == f"1 failed (run {b})"


def test_a_run_queued_and_cancelled_between_passes_is_not_said_to_start(store) -> None:
    (queued,) = _runs(store, 1)
    watch = RunWatch(store)
    runs.transition(store, queued, RunStatus.CANCELLED, "cancelled while queued")
    assert watch.poll() == [f"run {queued} (e) was cancelled"]


def test_a_stall_and_a_recovery_are_said(store) -> None:
    (run_id,) = _runs(store, 1)
    for to in (S, R):
        runs.transition(store, run_id, to, "test")
    watch = RunWatch(store)
    runs.transition(store, run_id, RunStatus.STALLED, "no heartbeat for 130 s (threshold 120 s): worker pid 7 is "
                    "alive but silent; it will be killed if it stays silent for 120 s more")
    assert watch.poll() == [f"run {run_id} (e) stalled: no heartbeat for 130 s (threshold 120 s): worker pid 7 is "
                            "alive but silent; it will be killed if it stays silent for 120 s more"]
    runs.transition(store, run_id, R, "heartbeat again")
    assert watch.poll() == [f"run {run_id} (e) recovered: its worker beats again"]
    assert watch.active and watch.summary() == "no run ended"


def test_what_happened_in_one_pass_is_said_in_the_order_it_happened(store) -> None:
    # Seen: "[12:25:00] run 2 started on CPU" printed before "[12:25:00] run 3 completed 20 steps" with one
    # run at a time: run 3's worker had started run 2 as it ended. Lines were in run-id order.
    first, second = _runs(store, 2)
    for to in (S, R):
        runs.transition(store, second, to, "test")
    watch = RunWatch(store)
    runs.transition(store, second, RunStatus.COMPLETED, "done")
    for to in (S, R):
        runs.transition(store, first, to, "started by the worker that ended")
    assert watch.poll() == [f"run {second} (e) completed 0 steps", f"run {first} (e) started on CPU"]
