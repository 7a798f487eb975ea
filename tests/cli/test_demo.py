"""`spark-trainer demo`'s lines while it waits (the demo's training itself: tests/jobs/test_demo.py)."""

from __future__ import annotations

from spark_trainer.store import queue_hold, runs
from tests.jobs.test_demo import cancelled_after_held_passes


def test_demo_on_a_held_queue_says_why_it_waits_once(store, cli, monkeypatch) -> None:
    """It waited forever and never said why; now the hold line, once, as `train --wait` says it."""
    from spark_trainer.jobs import demo

    queue_hold.hold(store)
    monkeypatch.setattr(demo, "time", cancelled_after_held_passes(store))
    result = cli("demo", "--steps", "2")
    (run,) = runs.list_all(store)
    assert result.code == 1 and f"demo run {run.id} ended cancelled" in result.err
    held = (f"run {run.id} stays queued: the queue is held; it starts once it is released "
            "(`spark-trainer queue release`, or the app's Runs view)")
    assert result.err.count(held) == 1 and "Training run" not in result.err, result.err


def test_ctrl_c_while_the_demo_waits_says_where_its_run_stands(store, cli, monkeypatch) -> None:
    """It said "error: interrupted", as if the run had stopped; the run goes on (here: stays queued)."""
    from types import SimpleNamespace

    from spark_trainer.jobs import demo

    def sleep(_seconds: float) -> None:
        raise KeyboardInterrupt  # Ctrl-C while it waits

    queue_hold.hold(store)
    monkeypatch.setattr(demo, "time", SimpleNamespace(sleep=sleep))
    result = cli("demo", "--steps", "2")
    (run,) = runs.list_all(store)
    assert result.code == 130, result.err
    assert result.out == (f"stopped waiting; run {run.id} stays queued: the queue is held; it starts once it is "
                          "released (`spark-trainer queue release`, or the app's Release queue); "
                          f"`spark-trainer run cancel {run.id}` stops it\n"), (result.out, result.err)
    assert "error" not in result.err
