"""Evaluate… is offered only for runs an evaluation task exists for: on a diffusion run (and on an
image-classification run, before the classification task took them) it opened a dialog whose Task
list was empty, so nothing could be started."""

from __future__ import annotations

import pytest

from spark_trainer.store import experiments, projects, runs
from spark_trainer.store.entities import RunStatus


@pytest.mark.parametrize(("recipe", "offered"), [("causal-lm", True), ("text-classification", True),
                                                 ("image-classification", True), ("diffusion-lora", False)])
def test_evaluate_is_enabled_only_where_a_task_exists(store, ctx, qtbot, recipe, offered):
    from app.views.run_exports import RunExportsWidget

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe=recipe, base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        run = runs.transition(store, run.id, to, "test")
    widget = RunExportsWidget(store, ctx)
    qtbot.addWidget(widget)
    widget.show_run(run, ([], []))
    assert widget.export_button.isEnabled()
    assert widget.evaluate_button.isEnabled() == offered
    if not offered:
        assert recipe in widget.evaluate_button.toolTip()
