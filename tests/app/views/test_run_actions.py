"""The Runs list's right-click menu pauses, resumes and cancels the selected runs; Enter opens one."""

from __future__ import annotations

from PySide6.QtCore import Qt

from spark_trainer.store import runs
from spark_trainer.store.entities import RunStatus
from tests.app.model_sync import sync_model
from tests.app.test_part2_views import _run


def _actions(menu) -> dict[str, tuple[str, bool]]:
    return {a.data(): (a.text(), a.isEnabled()) for a in menu.actions() if a.data()}


def test_the_runs_list_menu_cancels_the_selected_runs_its_status_allows(store, ctx, qtbot) -> None:
    """Seen on a real display: the Runs list offered only Open and Compare (no right-click menu,
    Enter did nothing), so pausing or cancelling meant opening each run's page."""
    from app.views.runs_view import RunsView

    done = _run(store, "done", 1e-3, [3.0, 2.0])
    paused = _run(store, "paused-a", 1e-3, [3.0], status=RunStatus.PAUSED)
    paused_too = _run(store, "paused-b", 1e-3, [3.0], status=RunStatus.PAUSED)
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.resize(1100, 600)
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == 3, timeout=10_000)

    view.table.select_keys([done.id])
    assert _actions(view.list_actions.menu()) == {"pause": ("Pause", False), "resume": ("Resume", False),
                                             "cancel": ("Cancel", False), "priority": ("Priority…", False),
                                             "delete": ("Delete…", True),
                                             "delete-experiment": ("Delete experiment 'done'…", True)}
    view.table.select_keys([done.id, paused.id, paused_too.id])
    menu = view.list_actions.menu()
    assert _actions(menu) == {"pause": ("Pause", False), "resume": ("Resume 2 runs", True),
                              "cancel": ("Cancel 2 runs", True), "priority": ("Priority…", False),
                              "delete": ("Delete 3 runs…", True),
                              "delete-experiment": ("Delete experiment…", False)}  # runs of three experiments
    next(a for a in menu.actions() if a.data() == "cancel").trigger()
    qtbot.waitUntil(lambda: view.list_actions.task is not None and view.list_actions.task.delivered, timeout=15_000)
    assert [runs.get(store, r.id).status for r in (done, paused, paused_too)] == [
        RunStatus.COMPLETED, RunStatus.CANCELLED, RunStatus.CANCELLED]
    assert view.banner.text() == f"Run {paused.id} is now cancelled; Run {paused_too.id} is now cancelled"

    view.table.select_keys([done.id])
    view.table.setFocus()
    qtbot.keyClick(view.table, Qt.Key.Key_Return)
    assert view.stack.currentWidget() is view.detail and view.detail.run_id == done.id


def test_pausing_from_the_list_says_when_the_worker_died_before_its_checkpoint_was_saved(store, ctx, qtbot) -> None:
    """Seen with `run pause`: a worker killed -9 while it wrote its pause checkpoint was reported paused as if
    saved, and the resume started from step 0 unsaid (fault walk, item 3); the app said "Run 1 is now paused"."""
    from app.views.runs_view import RunsView
    from spark_trainer.store import experiments, projects, settings
    from tests.jobs.test_control import _saving_worker

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run, worker, _folder = _saving_worker(store, exp, chunks=5, then="die")
    runs.update(store, run.id, step=10)
    settings.set_value(store, "stop_grace_seconds", 1)
    try:
        sync_model(qtbot, ctx)
        view = RunsView(store, ctx)
        qtbot.addWidget(view)
        view.scheduler.stop()
        view.show()
        qtbot.waitUntil(lambda: view.table.rowCount() == 1, timeout=10_000)
        view.list_actions.apply("pause", [run.id])
        qtbot.waitUntil(lambda: view.list_actions.task.delivered, timeout=30_000)
    finally:
        worker.kill()
        worker.wait()
    assert view.banner.text() == (f"Run {run.id} is now paused: no checkpoint was saved at step 10, and none is "
                                  "complete: a resume starts from step 0")
    assert view.banner.property("role") == "warning"
