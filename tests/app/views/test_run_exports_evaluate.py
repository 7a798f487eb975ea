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


def test_an_evaluation_of_a_dataset_shows_the_datasets_name(store, ctx, qtbot):
    """Seen on Xvfb and in `eval --list`: an evaluation started with a dataset's name showed '1' as its
    data (the last part of the dataset's folder, datasets/1)."""
    from app.views.run_detail_view import RunDetailView
    from app.views.run_exports import EVAL_COLUMNS
    from spark_trainer.store import datasets, evaluations

    projects.create(store, "p")
    chat = datasets.create(store, "p", datasets.NewDataset(name="chat", kind="text", path=str(store.home.dataset_dir(1))))
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    evaluations.create(store, run.id, task="perplexity", data_path=chat.path, base=False, checkpoint="last", gpus=[])
    ctx.scheduler.stop()
    detail = RunDetailView(store, ctx)  # the run page reads its tabs on the pool
    qtbot.addWidget(detail)
    detail.show_run(run.id)
    table = detail.exports_tab.evaluations
    qtbot.waitUntil(lambda: table.rowCount() == 1, timeout=15_000)
    assert table.item(0, EVAL_COLUMNS.index("Data")).text() == "dataset chat"
    detail.stop()


def test_an_export_whose_folder_was_deleted_says_so_as_export_list_does(store, ctx, qtbot, tmp_path):
    """The Exports table showed an export whose folder the user had deleted as if it were there."""
    from app.views.run_exports import EXPORT_COLUMNS, RunExportsWidget
    from spark_trainer.store import exports

    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    (tmp_path / "kept").mkdir()
    for step, name in ((5, "kept"), (9, "gone")):
        exports.add(store, run.id, step=step, options={"kind": "adapter"}, path=str(tmp_path / name))
    widget = RunExportsWidget(store, ctx)
    qtbot.addWidget(widget)
    widget.show_run(run, (exports.list_for(store, run.id), []))
    folder = EXPORT_COLUMNS.index("Folder")
    assert [widget.exports.item(r, folder).text() for r in range(2)] == [
        f"{tmp_path / 'gone'} (folder missing)", str(tmp_path / "kept")]
