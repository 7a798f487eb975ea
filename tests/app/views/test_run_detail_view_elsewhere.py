"""The run page while others change the run under it (its worker, another process): what it says stays
as long as it holds, and a run deleted elsewhere leaves nothing to act on."""

from __future__ import annotations

from pathlib import Path

from tests.app.views.test_run_detail_view import _cancelled_run, _page


def test_an_error_said_of_an_active_run_stays_until_what_it_says_is_gone(store, ctx, qtbot) -> None:
    """The walk: an error shown on the page of a running run (an action refused, a disk full) went at the
    next poll, a second later, unread. It stays; the run's own error goes once the run no longer has it."""
    from dataclasses import replace

    from spark_trainer.store.entities import RunStatus

    run = _cancelled_run(store)
    ctx.scheduler.stop()
    view = _page(store, ctx, qtbot, run)
    running = replace(run, status=RunStatus.RUNNING, step=3, error=None)
    ctx.model.runs.apply_written(running)
    qtbot.waitUntil(lambda: view.badge.text() == "running")
    view._act_failed("the database cannot be written: disk full")  # what a refused Pause says
    for step in (4, 5):  # the next polls
        ctx.model.runs.apply_written(replace(running, step=step))
        qtbot.waitUntil(lambda s=step: view.progress.value() == s)
        assert view.banner.isVisible() and view.banner.text() == "the database cannot be written: disk full"
    failed = replace(running, status=RunStatus.FAILED, step=6, error="CUDA out of memory\ntraceback")
    ctx.model.runs.apply_written(failed)
    qtbot.waitUntil(lambda: view.banner.text() == "CUDA out of memory")
    ctx.model.runs.apply_written(replace(failed, status=RunStatus.QUEUED, error=None))  # resumed
    qtbot.waitUntil(lambda: view.badge.text() == "queued")
    assert not view.banner.isVisible(), view.banner.text()
    view.stop()


def test_a_run_deleted_elsewhere_keeps_no_exports_nor_export_actions_on_its_page(store, ctx, qtbot) -> None:
    """The walk: after `spark-trainer run delete` in a terminal, the open run page still listed the run's
    exports (their records gone with it) and its tab's Export… and Evaluate… stayed enabled."""
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.jobs import control
    from spark_trainer.store import exports

    run = _cancelled_run(store)
    Path(run.run_dir, "final").mkdir(parents=True)  # weights: Export… and Evaluate… are offered
    made = store.home.export_dir(1)
    made.mkdir(parents=True)
    exports.add(store, run.id, step=1, options={}, path=str(made))
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show()
    view.show_run(run.id)
    tab = view.exports_tab
    qtbot.waitUntil(lambda: tab.exports.rowCount() == 1 and tab.export_button.isEnabled(), timeout=10_000)
    assert view.eta.text() == "asked auto"  # a cancelled run that never started: the devices it asked for
    control.delete(store, run.id)  # as another process would: this window noted nothing
    qtbot.waitUntil(lambda: "no longer exists" in view.banner.text(), timeout=10_000)
    qtbot.wait(300)  # anything delivered after enables nothing again
    assert view.badge.text() == "deleted"  # not "cancelled" beside "no longer exists"
    assert view.eta.text() == ""  # nor "asked auto" beside its progress bar
    assert tab.exports.rowCount() == 0 and tab.evaluations.rowCount() == 0
    assert [b.text() for b in (tab.export_button, tab.evaluate_button) if b.isEnabled()] == []
    assert tab.open_export() is None and tab.open_evaluate() is None
    view.stop()
