"""The store poller's catalog reads never undo this app's own writes on screen; a stopped poller reads
nothing more."""

from __future__ import annotations

from app.model.reads import PollRequest, poll_once
from spark_trainer.store import projects
from tests.app.model_sync import sync_model


def test_a_list_read_before_this_apps_rename_does_not_bring_the_old_name_back(store, ctx, qtbot) -> None:
    """A read in flight when the Projects view renames a project lands after the rename was shown:
    it predates the write, so it is dropped; the read the write asked for follows."""
    alpha = projects.create(store, "alpha")
    sync_model(qtbot, ctx)
    poller, model = ctx.model.poller, ctx.model.projects
    asked = (model.writes, ctx.model.datasets.writes)
    stale = poll_once(store, PollRequest(runs_since=None, schedule=False, catalog=True))  # read, not yet landed
    renamed = projects.rename(store, alpha.id, "alpha-2")
    model.apply_written(renamed)  # what the view does when its write is answered
    poller._apply(stale, asked)
    assert [p.name for p in model.projects] == ["alpha-2"]
    # A read asked for after the write is applied as usual.
    asked = (model.writes, ctx.model.datasets.writes)
    projects.create(store, "beta")
    poller._apply(poll_once(store, PollRequest(runs_since=None, schedule=False, catalog=True)), asked)
    assert [p.name for p in model.projects] == ["alpha-2", "beta"]


def test_a_tick_queued_before_the_poller_stopped_reads_nothing(store, ctx, qtbot) -> None:
    """An app closed (SIGTERM) right after opening: a read asked for just before (`poke` queues a tick)
    ran after the poller had stopped and the pool had been waited for, on a pool thread the exiting
    app tore Qt down under ("RuntimeError: Signal source has been deleted", once a crash)."""
    poller = ctx.model.poller
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: not poller.busy, timeout=15000)
    ctx.model.refresh()  # queues a tick for the next turn of the event loop
    assert poller.stop(10.0)
    ticks = poller.ticks
    qtbot.wait(100)  # that turn, and the timer's next interval
    assert poller.ticks == ticks and not poller.busy


def test_a_tick_between_a_read_ending_and_its_answer_landing_asks_for_nothing_twice(store, ctx, qtbot,
                                                                                    monkeypatch) -> None:
    """A read's pool thread ends (`done`) before its answer reaches the GUI thread. A tick in between
    (the timer, a poke) started a second read from the state before that answer: the first read of a
    queued night asked for the queue's estimate twice (the estimate reads every completed run; CI's
    loaded machine caught it), and a request built from stale tails and hold asks again for what the
    first answer brings."""
    from spark_trainer.jobs import queue_eta
    from spark_trainer.store import runs, settings
    from tests.app.queue_night import night

    night(store, monkeypatch)
    settings.set_value(store, "max_concurrent_runs", 1)
    calls = []
    monkeypatch.setattr(queue_eta, "estimate", lambda store_: calls.append(1) or queue_eta.QueueEstimate(
        runs.utcnow(), False, None))
    poller = ctx.model.poller
    poller.queue_end._key = poller.queue_end._at = None  # as before a first read with runs queued
    ctx.model.runs.loaded = False
    ticks = poller.ticks
    poller.tick()
    assert poller.ticks == ticks + 1, (ticks, poller.ticks, poller.applied)
    assert poller._task.done.wait(15)  # the read is over on its pool thread; its answer is not handled yet
    poller.tick()  # the timer's tick, in that gap
    assert poller.ticks == ticks + 1 and poller.busy, (ticks, poller.ticks, poller.busy)  # one after the answer
    qtbot.waitUntil(lambda: poller.applied >= ticks + 2, timeout=15_000)  # the read that tick asked for
    # Failed once in a loaded full suite (2026-12-04), never alone: say enough to tell which read asked again.
    end = poller.queue_end
    assert calls == [1], (calls, ticks, poller.ticks, poller.applied, end.asked, end._key, end._at, end.clock())


def test_a_stopped_poller_whose_last_read_was_never_answered_is_not_busy(store, ctx, qtbot) -> None:
    """SIGTERM while a read was in flight: `stop` waited for it, but its answer, queued for an event loop
    that the quitting app no longer runs, never arrived, and the poller said it was still busy."""
    poller = ctx.model.poller
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: not poller.busy, timeout=15_000)
    poller.tick()  # a read in flight, its answer not handled (no event loop turn until the asserts)
    assert poller.busy
    assert poller.stop(10.0)
    assert not poller.busy
