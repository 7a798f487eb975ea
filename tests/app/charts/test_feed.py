"""A feed passes many runs' histories on over several event-loop turns, in order: opening a comparison
of 50 runs drew their 300 curves in the one slot that delivered them (a 6-18 s freeze)."""

from __future__ import annotations

import numpy as np

from app.charts import feed as feed_module
from app.charts.feed import MetricBatch, MetricFeed


def _batch(run_id: int) -> MetricBatch:
    steps = np.array([1.0, 2.0])
    return MetricBatch(run_id=run_id, last_id=2, full=False, series={"loss": (steps, steps, steps)})


def test_batches_beyond_a_turns_budget_pass_in_later_turns_in_order(ctx, qtbot, monkeypatch) -> None:
    monkeypatch.setattr(feed_module, "TURN_BUDGET_S", 0.0)  # one batch a turn
    model = ctx.model.runs
    feed = MetricFeed(model)
    got: list[int] = []
    feed.points.connect(lambda batch: got.append(batch.run_id))
    run_ids = list(range(9001, 9011))
    feed.watch(run_ids)
    feed.start()
    for run_id in run_ids:  # as one poll result delivering ten histories in one slot
        model.metrics_appended.emit(run_id, _batch(run_id))
    assert got == run_ids[:1]  # the rest wait for the next turns: the window paints in between
    assert feed.busy
    qtbot.waitUntil(lambda: len(got) == len(run_ids), timeout=5_000)
    assert got == run_ids
    feed.stop()
    assert not feed.busy


def test_a_stopped_feed_drops_what_it_had_queued(ctx, qtbot, monkeypatch) -> None:
    monkeypatch.setattr(feed_module, "TURN_BUDGET_S", 0.0)
    model = ctx.model.runs
    feed = MetricFeed(model)
    got: list[int] = []
    feed.points.connect(lambda batch: got.append(batch.run_id))
    feed.watch([9001, 9002, 9003])
    feed.start()
    for run_id in (9001, 9002, 9003):
        model.metrics_appended.emit(run_id, _batch(run_id))
    feed.stop()  # another comparison was opened: the old runs' curves must not land on its charts
    qtbot.wait(50)
    assert got == [9001]
