"""The run page's charts of `spark-trainer eval` results (beside test_run_detail_view.py, which is past
400 lines): a curve per evaluation data, never one line through every evaluation's points."""

from __future__ import annotations


def test_a_run_evaluated_on_two_files_shows_a_curve_per_file(store, ctx, qtbot) -> None:
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import evaluations, metrics
    from tests.app.gui_assets import completed_run
    from tests.app.model_sync import sync_model

    run = completed_run(store, "text-classification")
    metrics.add_batch(store, run.id, [("loss", 10, 2.0), ("loss", 30, 1.5)])
    for data, step, accuracy in (("/d/held.csv", 10, 0.9), ("/d/hard.csv", 20, 0.3), ("/d/held.csv", 30, 0.95)):
        ev = evaluations.create(store, run.id, task="classification", data_path=data, base=False,
                                checkpoint=str(step), gpus=[])
        evaluations.complete(store, ev.id, step=step, result={"metrics": {"accuracy": accuracy}},
                             points=[("evals/classification_accuracy", step, accuracy)],
                             report_path=f"/evals/{ev.id}.json", artifact_meta={})
    sync_model(qtbot, ctx)
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: view.charts.chart_of("evals/classification_accuracy") is not None, timeout=10_000)
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    chart = view.charts.chart_of("evals/classification_accuracy")
    assert sorted(chart.curve_names()) == ["hard.csv", "held.csv"]
    held = chart.series("held.csv")
    assert list(held.values[:held.n]) == [0.9, 0.95]  # step 20's 0.3, on the other file, is not between them
    view.stop()
