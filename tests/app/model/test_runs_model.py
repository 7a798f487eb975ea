"""The app model over a real store: incremental metric delivery (with a backfill for a feed that
joins late), runs read by `updated_at`, writes shown at once, and views that agree."""

from __future__ import annotations

import time

from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from tests.app.model_sync import sync_model


def _run(store, name: str = "e"):
    if not projects.list_all(store):
        projects.create(store, "p")
    experiments.create(store, project="p", name=name, recipe="causal-lm", base_model="m", dataset=None, config={})
    return runs.create(store, name)


def _write(store, run_id: int, steps: range) -> None:
    now = time.time()
    metrics.add_batch(store, run_id, [("loss", s, 1.0 / s, now + s) for s in steps])


def test_feeds_get_only_new_rows_and_a_late_feed_gets_the_history_first(store, ctx, qtbot) -> None:
    from app.charts.feed import MetricFeed

    run = _run(store)
    _write(store, run.id, range(1, 11))
    first, second = MetricFeed(ctx.model.runs), MetricFeed(ctx.model.runs)
    got: dict[str, list[float]] = {"first": [], "second": []}
    first.points.connect(lambda b: got["first"].extend(b.series["loss"][0]))
    second.points.connect(lambda b: got["second"].extend(b.series["loss"][0]))
    first.watch([run.id])
    first.start()
    qtbot.waitUntil(lambda: len(got["first"]) == 10)
    _write(store, run.id, range(11, 16))
    qtbot.waitUntil(lambda: len(got["first"]) == 15)
    second.watch([run.id])
    second.start()  # joins after 15 rows were delivered: a backfill, then the appends
    _write(store, run.id, range(16, 21))
    qtbot.waitUntil(lambda: len(got["first"]) == 20 and len(got["second"]) == 20)
    assert got["first"] == got["second"] == list(map(float, range(1, 21)))  # whole, in order, no duplicate
    assert not first.busy and not second.busy
    first.stop()
    second.stop()


def test_run_changes_reach_every_signal_and_a_stale_write_is_ignored(store, ctx, qtbot) -> None:
    run = _run(store)
    sync_model(qtbot, ctx)
    model = ctx.model.runs
    assert model.get(run.id).status == RunStatus.QUEUED and model.counts() == (0, 1)
    changed, finished = [], []
    model.run_changed.connect(lambda r: changed.append((r.id, r.status)))
    model.run_finished.connect(lambda r, what: finished.append((r.id, what)))
    stale = model.get(run.id)
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, to, "test", step=3)
    sync_model(qtbot, ctx)  # read by updated_at: the poller sees what another process wrote
    assert model.get(run.id).status == RunStatus.COMPLETED and model.counts() == (0, 0)
    assert (run.id, RunStatus.COMPLETED) in changed and finished == [(run.id, "completed")]
    model.apply_written(stale)  # an older state handed in late does not go back in time
    assert model.get(run.id).status == RunStatus.COMPLETED
    runs.delete(store, run.id)
    removed = []
    model.run_removed.connect(removed.append)
    sync_model(qtbot, ctx)
    assert removed == [run.id] and model.get(run.id) is None


def test_a_starting_run_says_what_it_is_doing_until_its_first_step(store, ctx, qtbot) -> None:
    # Seen on Xvfb: a diffusion run caching the VAE latents of 1,300 frames sat at "running 0/10, ETA -"
    # for 25 minutes; only its Log tab said why.
    run = _run(store)
    runs.transition(store, run.id, RunStatus.STARTING, "test")
    runs.transition(store, run.id, RunStatus.RUNNING, "test")
    runs.beat(store, run.id, "loading the model: caching VAE latents 340/2,600 images")
    sync_model(qtbot, ctx)  # the heartbeat's write reaches the model by updated_at, as any other
    model = ctx.model.runs
    shown = model.get(run.id)
    assert model.status_text(shown) == "running: loading the model: caching VAE latents 340/2,600 images"
    assert model.status_text(shown, short=True) == "running: caching VAE latents 340/2,600 images"
    runs.update(store, run.id, step=0, total_steps=10, phase=None)  # training starts (StoreReporter.on_start)
    sync_model(qtbot, ctx)
    assert model.status_text(model.get(run.id)) == "running"


def test_projects_and_datasets_follow_the_store(store, ctx, qtbot) -> None:
    sync_model(qtbot, ctx)
    assert ctx.model.projects.projects == []
    resets = []
    ctx.model.projects.projects_reset.connect(resets.append)
    projects.create(store, "made-elsewhere")  # as the CLI would, in another process
    qtbot.waitUntil(lambda: [p.name for p in ctx.model.projects.projects] == ["made-elsewhere"], timeout=10_000)
    sync_model(qtbot, ctx)
    assert len(resets) == 1  # an unchanged list is not announced again


def test_the_queue_hold_is_read_at_every_tick_and_this_apps_own_hold_is_not_undone_by_an_older_read(
        store, ctx, qtbot) -> None:
    """The Runs view's Hold queue button shows the hold whoever made it (a terminal's `queue hold`): the
    poller reads it. A read asked for before this app's own release must not show the queue held again."""
    from datetime import datetime

    from app.model.reads import PollRequest, PollResult
    from spark_trainer.store import queue_hold

    model = ctx.model.runs
    seen: list[object] = []
    model.queue_hold_changed.connect(seen.append)
    assert model.held_since is None
    queue_hold.hold(store)  # as `spark-trainer queue hold` does, in another process
    sync_model(qtbot, ctx)
    assert model.held_since == queue_hold.held_since(store) and seen == [model.held_since]
    old = PollRequest(runs_since=None, schedule=False, catalog=False)
    model.fill_request(old)  # asked before the release below
    model.apply_hold(None)  # this app released the queue
    model.apply(PollResult(old, datetime(2026, 1, 1), held_since=datetime(2026, 1, 1)))  # read before it
    assert model.held_since is None and seen[-1] is None
    queue_hold.release(store)
    queue_hold.hold(store)
    sync_model(qtbot, ctx)  # a read asked for after the release: the terminal's new hold shows
    assert model.held_since == queue_hold.held_since(store)
