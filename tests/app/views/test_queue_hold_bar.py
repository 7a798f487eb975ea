"""The Runs view's Hold queue / Release queue button and its "Queue held since ..." line, over the store's
queue hold (`spark_trainer.store.queue_hold`), which the CLI's `queue hold` / `queue release` switch too."""

from __future__ import annotations

from datetime import datetime

import pytest

from spark_trainer.store import queue_hold
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import sync_model


def _view(store, ctx, qtbot, *, scheduling: bool = False):
    from app.views.runs_view import RunsView

    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    if not scheduling:
        view.scheduler.stop()  # no worker is started for the rows the test made
    view.resize(1280, 760)
    view.show()
    sync_model(qtbot, ctx)
    return view


def _status_cells(view) -> dict[int, str]:
    from app.views.runs_view import COLUMNS

    status = COLUMNS.index("Status")
    return {view.rows.row(r).run.id: view.rows.data(view.rows.index(r, status)) for r in range(view.rows.rowCount())}


def test_the_button_holds_and_releases_the_stores_queue_and_the_line_says_so(store, ctx, project, qtbot) -> None:
    queued = add_experiment_with_runs(store, project.name, statuses=("completed", "queued", "queued"))[1:]
    view = _view(store, ctx, qtbot)
    bar = view.queue_hold
    assert bar.button.text() == "Hold queue" and not bar.line.isVisible()

    bar.button.click()
    qtbot.waitUntil(lambda: bar.task is not None and bar.task.delivered, timeout=10_000)
    since = queue_hold.held_since(store)
    assert since is not None
    assert bar.button.text() == "Release queue" and bar.line.isVisible()
    assert bar.line.text() == f"Queue held since {since:%H:%M}: queued runs wait until you release it; running runs go on."
    qtbot.waitUntil(lambda: all(_status_cells(view)[r.id] == "queued: queue is held" for r in queued), timeout=10_000)

    bar.button.click()
    qtbot.waitUntil(lambda: bar.task.delivered, timeout=10_000)
    assert queue_hold.held_since(store) is None
    assert bar.button.text() == "Hold queue" and not bar.line.isVisible()
    assert view.banner.text() == "Queue released: queued runs start as they fit." and view.banner.role == "ok"
    qtbot.waitUntil(lambda: not any("held" in _status_cells(view)[r.id] for r in queued), timeout=10_000)



def test_holding_says_so_in_the_banner_as_releasing_does(store, ctx, project, qtbot) -> None:
    """Holding said nothing while releasing said "Queue released: ..."."""
    add_experiment_with_runs(store, project.name, statuses=("queued",))
    view = _view(store, ctx, qtbot)
    view.queue_hold.button.click()
    qtbot.waitUntil(lambda: view.queue_hold.task is not None and view.queue_hold.task.delivered, timeout=10_000)
    assert view.banner.role == "ok"
    assert view.banner.text() == "Queue held. Order the queued runs meanwhile: right-click a run ▸ Priority…"

def test_a_banner_the_hold_made_untrue_goes_when_a_terminal_changes_it(store, ctx, project, qtbot) -> None:
    # Seen: "Queue released: queued runs start as they fit." stayed above "Queue held since 13:09" for
    # minutes after `spark-trainer queue hold`.
    add_experiment_with_runs(store, project.name, statuses=("queued",))
    view = _view(store, ctx, qtbot)
    view.queue_hold.button.click()  # hold, in the app
    qtbot.waitUntil(lambda: view.queue_hold.task.delivered, timeout=10_000)
    view.queue_hold.button.click()  # release, in the app
    qtbot.waitUntil(lambda: view.banner.text().startswith("Queue released"), timeout=10_000)
    assert queue_hold.hold(store)  # `spark-trainer queue hold`, in another process
    sync_model(qtbot, ctx)
    assert view.queue_hold.line.isVisible() and view.banner.text() == ""
    view.banner.show_message("Run 3 priority 5 (was 0)", "ok")  # any other line stays
    assert queue_hold.release(store)
    sync_model(qtbot, ctx)
    assert view.banner.text() == "Run 3 priority 5 (was 0)"


def test_a_hold_made_in_a_terminal_shows_after_a_refresh_and_its_release_too(store, ctx, project, qtbot) -> None:
    add_experiment_with_runs(store, project.name, statuses=("queued",))
    view = _view(store, ctx, qtbot)
    bar = view.queue_hold
    table_top = view.table.geometry().top()
    assert queue_hold.hold(store)  # `spark-trainer queue hold`, in another process
    sync_model(qtbot, ctx)
    assert bar.line.isVisible() and bar.line.text().startswith("Queue held since ")
    assert bar.button.text() == "Release queue"
    assert "spark-trainer queue release" in bar.button.toolTip()
    qtbot.wait(20)  # laid out: the line sits between the filters and the list
    assert view.table.geometry().top() > table_top
    assert bar.line.geometry().bottom() < view.table.geometry().top()
    assert queue_hold.release(store)  # `spark-trainer queue release`
    sync_model(qtbot, ctx)
    assert not bar.line.isVisible() and bar.button.text() == "Hold queue"


def test_the_held_line_names_the_day_of_an_older_hold() -> None:
    from app.views.queue_hold_bar import held_text

    now = datetime(2026, 12, 3, 9, 0)
    assert held_text(datetime(2026, 12, 3, 7, 5), now).startswith("Queue held since 07:05: ")
    assert held_text(datetime(2026, 12, 2, 23, 40), now).startswith("Queue held since 2026-12-02 23:40: ")


def test_the_held_line_gives_the_time_on_this_computers_clock(new_york) -> None:
    from app.views.queue_hold_bar import held_text

    now = datetime(2026, 12, 3, 14, 0)  # stored UTC: 09:00 in New York
    assert held_text(datetime(2026, 12, 3, 13, 5), now).startswith("Queue held since 08:05: ")
    assert held_text(datetime(2026, 12, 3, 3, 30), now).startswith("Queue held since 2026-12-02 22:30: ")


def test_releasing_asks_the_apps_scheduler_for_a_pass_at_once(store, ctx, project, qtbot,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The app is a scheduler: a release starts what fits now, not at its next pass (1.5 s later, or never
    here: the periodic passes are turned off, so only a pass asked for runs)."""
    from spark_trainer.jobs import scheduler

    passes: list[bool] = []  # whether the queue was held at each pass

    def fake_schedule_once(store_, **_kw) -> list[int]:  # starts no worker
        passes.append(queue_hold.held_since(store_) is not None)
        return []

    monkeypatch.setattr(scheduler, "schedule_once", fake_schedule_once)
    monkeypatch.setattr("app.model.poller.SCHEDULE_EVERY", 10**9)
    add_experiment_with_runs(store, project.name, statuses=("queued",))
    queue_hold.hold(store)
    view = _view(store, ctx, qtbot, scheduling=True)
    bar = view.queue_hold
    qtbot.waitUntil(lambda: bar.line.isVisible(), timeout=10_000)
    passes.clear()
    bar.button.click()
    qtbot.waitUntil(lambda: False in passes, timeout=10_000)  # a pass that saw the queue released
    view.scheduler.stop()


def test_a_write_that_fails_is_said_in_one_line(store, ctx, project, qtbot, monkeypatch: pytest.MonkeyPatch) -> None:
    from spark_trainer.errors import StoreError

    def refuse(_store) -> bool:
        raise StoreError("database is locked (another process is writing)")

    monkeypatch.setattr(queue_hold, "hold", refuse)
    view = _view(store, ctx, qtbot)
    view.queue_hold.button.click()
    qtbot.waitUntil(lambda: view.queue_hold.task.delivered, timeout=10_000)
    assert view.banner.role == "error"
    assert view.banner.text() == "Queue hold: database is locked (another process is writing)"
    assert view.queue_hold.button.isEnabled() and view.queue_hold.button.text() == "Hold queue"
    assert not view.queue_hold.line.isVisible()
