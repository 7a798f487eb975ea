"""A queued run's priority in the app: the Runs list's Status tooltip and right-click ▸ Priority…, the
run page's Priority… button, all through `spark_trainer.store.run_priority` (as `run priority RUN N`)."""

from __future__ import annotations

from spark_trainer.store import runs, settings
from spark_trainer.store.entities import RunStatus
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import sync_model


def _view(store, ctx, qtbot):
    from app.views.runs_view import RunsView

    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()  # the queued rows stay queued: no worker starts
    view.resize(1280, 760)
    view.show()
    sync_model(qtbot, ctx)
    return view


def _cells(view, title: str) -> dict[int, str]:
    from app.views.runs_view import COLUMNS

    column = COLUMNS.index(title)
    return {view.rows.row(r).run.id: view.rows.data(view.rows.index(r, column)) for r in range(view.rows.rowCount())}


def _tip(view, run_id: int, title: str) -> str:
    from PySide6.QtCore import Qt

    from app.views.runs_view import COLUMNS

    row = next(r for r in range(view.rows.rowCount()) if view.rows.row(r).run.id == run_id)
    return view.rows.data(view.rows.index(row, COLUMNS.index(title)), Qt.ItemDataRole.ToolTipRole)


def _menu_priority(view):
    return next(a for a in view.list_actions.menu().actions() if a.data() == "priority")


def test_priority_from_the_runs_list_changes_the_store_and_the_order_shown(store, ctx, project, qtbot) -> None:
    settings.set_value(store, "max_concurrent_runs", 1)
    done, first, second = add_experiment_with_runs(store, project.name, statuses=("completed", "queued", "queued"))
    view = _view(store, ctx, qtbot)
    ready = "queued: ready: starts when a scheduler runs"
    qtbot.waitUntil(lambda: _cells(view, "Status")[first.id] == ready, timeout=10_000)
    assert _cells(view, "Status")[second.id] == f"queued: waiting for run {first.id} to finish"
    assert _tip(view, second.id, "Status").split("\nstarts ")[0].endswith("\npriority 0, 2nd of 2 queued to start")
    assert "priority" not in _tip(view, done.id, "Status")

    view.table.select_keys([done.id])
    assert not _menu_priority(view).isEnabled()  # a finished run's priority orders nothing
    view.table.select_keys([second.id])
    item = _menu_priority(view)
    assert item.isEnabled() and item.text() == "Priority (0)…"
    item.trigger()
    dialog = view.list_actions.priority.dialog
    assert dialog is not None and dialog.spin.value() == 0
    assert (dialog.spin.minimum(), dialog.spin.maximum()) == (-100, 100)
    dialog.spin.setValue(5)
    assert dialog.place.text() == "With priority 5, 1st of 2 queued to start."
    dialog.accept()
    qtbot.waitUntil(lambda: view.list_actions.priority.task.delivered, timeout=10_000)

    assert runs.get(store, second.id).priority == 5
    assert [e.reason for e in runs.events(store, second.id)][-1] == "priority 0 -> 5"
    assert view.banner.text() == f"Run {second.id} priority 5 (was 0)" and view.banner.role == "ok"
    assert _tip(view, second.id, "Status").split("\nstarts ")[0].endswith("\npriority 5, 1st of 2 queued to start")
    qtbot.waitUntil(lambda: _cells(view, "Status")[second.id] == ready, timeout=10_000)  # starts first now
    assert _cells(view, "Status")[first.id] == f"queued: waiting for run {second.id} to finish"
    assert _tip(view, first.id, "Status").split("\nstarts ")[0].endswith("\npriority 0, 2nd of 2 queued to start")


def test_a_run_that_started_meanwhile_gets_the_cores_refusal_and_nothing_changes(store, ctx, project, qtbot) -> None:
    (run,) = add_experiment_with_runs(store, project.name, statuses=("queued",))
    view = _view(store, ctx, qtbot)
    view.table.select_keys([run.id])
    dialog = view.list_actions.ask_priority()
    assert dialog is not None
    dialog.spin.setValue(9)
    runs.transition(store, run.id, RunStatus.STARTING, "a scheduler started it")  # while the dialog was open
    events = len(runs.events(store, run.id))
    dialog.accept()
    qtbot.waitUntil(lambda: view.list_actions.priority.task.delivered, timeout=10_000)

    assert view.banner.role == "error"
    assert view.banner.text() == (f"Run {run.id} is starting; only a queued run's priority can change "
                                  "(it orders the queue)")
    assert "\n" not in view.banner.text()
    assert runs.get(store, run.id).priority == 0 and len(runs.events(store, run.id)) == events
    qtbot.waitUntil(lambda: "priority" not in _tip(view, run.id, "Status"), timeout=10_000)  # no longer queued


def test_the_run_page_shows_a_queued_runs_priority_and_changes_it(store, ctx, project, qtbot) -> None:
    done, first, second = add_experiment_with_runs(store, project.name, statuses=("completed", "queued", "queued"))
    view = _view(store, ctx, qtbot)
    view.open_run(second.id)
    page = view.detail
    qtbot.waitUntil(lambda: "priority 0, 2nd of 2 queued to start" in page.eta.text(), timeout=10_000)
    assert page.priority_button.isVisible()
    page.priority_button.click()
    dialog = page.priority.dialog
    assert dialog is not None and dialog.windowTitle() == f"Priority of run {second.id}"
    dialog.spin.setValue(-3)
    dialog.accept()
    qtbot.waitUntil(lambda: page.priority.task.delivered, timeout=10_000)
    assert runs.get(store, second.id).priority == -3
    assert page.banner.text() == f"Run {second.id} priority -3 (was 0)"
    runs.update(store, first.id, priority=-5)  # another run moved behind it (`run priority` in a terminal)
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: "priority -3, 1st of 2 queued to start" in page.eta.text(), timeout=10_000)

    view.open_run(done.id)
    qtbot.waitUntil(lambda: page.run is not None and page.run.id == done.id, timeout=10_000)
    assert not page.priority_button.isVisible() and "priority" not in page.eta.text()


def test_places_are_said_in_words() -> None:
    from app.views.priority_dialog import capitalised, ordinal

    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"]
    assert capitalised("run 7 is running; only ...") == "Run 7 is running; only ..."
