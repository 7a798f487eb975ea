"""The welcome panel's line about the demo it built follows that run, and goes with it."""

from __future__ import annotations

from spark_trainer.store import projects
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import sync_model


def test_the_demo_line_goes_when_the_demo_project_is_deleted(qtbot, store, ctx) -> None:
    # Seen: with the demo project deleted, Projects showed the welcome page again over "Demo project
    # ready: run 1 is completed.", a run that no longer existed.
    from app.views.welcome_panel import WelcomePanel

    projects.create(store, "demo")
    run = add_experiment_with_runs(store, "demo", statuses=("completed",))[0]
    panel = WelcomePanel(store, ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.demo_run_id = run.id  # as a demo build sets it
    sync_model(qtbot, ctx)
    ctx.model.runs.apply_written(run)
    assert panel.status.text() == f"Demo project ready: run {run.id} is completed."
    projects.delete(store, "demo")
    sync_model(qtbot, ctx)
    assert panel.status.text() == "" and panel.demo_run_id is None
