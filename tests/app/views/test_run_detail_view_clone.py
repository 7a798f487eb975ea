"""The run page's Clone fills the setup form as `spark-trainer run config` writes the run file."""

from __future__ import annotations


def test_clone_after_a_project_rename_names_the_project_by_its_new_name(store, ctx, qtbot) -> None:
    # Seen: after `project rename p q`, Clone put the frozen old name 'p' in the setup form; launching
    # it made a new project 'p' without the run's dataset. `run config` had been fixed alone.
    from app.views.experiment_setup_view import ExperimentSetupView
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import experiments, projects, runs

    projects.create(store, "p")
    config = {"project": "p", "name": "e", "recipe": "causal-lm", "base_model": "m", "dataset": "d",
              "train": {"max_steps": 5}}
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None,
                             config=config)
    run = runs.create(store, exp.id, requested_gpus="cpu")
    projects.rename(store, "p", "q")  # as `spark-trainer project rename p q` does
    ctx.scheduler.stop()
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.clone_button.isEnabled(), timeout=10_000)
    qtbot.waitUntil(lambda: view.run is not None, timeout=10_000)
    with qtbot.waitSignal(view.clone_requested, timeout=10_000) as cloned:
        view.clone_button.click()
    data = cloned.args[0]
    assert data["project"] == "q" and data["name"] == "e-copy"
    setup = ExperimentSetupView(store, ctx)
    qtbot.addWidget(setup)
    setup.open_item({"clone": data})  # as the runs view hands it over
    assert setup.project.currentText() == "q" and setup.name.text() == "e-copy"
    view.stop()
