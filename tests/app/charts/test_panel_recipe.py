"""The chart grid follows the run's recipe before any point arrives and after switching runs: its
throughput chart names the recipe's unit (never 'tokens/s' over an image run), and a recipe whose
only evaluation metric is eval_loss says where that curve is instead of 'No points yet' forever."""

from __future__ import annotations

import numpy as np

from app.model.reads import MetricBatch


def _batch(key: str) -> MetricBatch:
    steps = np.array([1.0, 2.0])
    return MetricBatch(run_id=1, last_id=2, full=False, series={key: (steps, steps, np.array([5.0, 6.0]))})


def test_throughput_title_and_eval_note_follow_the_recipe(qtbot):
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.add_batch(_batch("tokens_per_s"))
    assert panel.charts["throughput"]._title == "Throughput (tokens/s)"

    panel.clear()
    panel.expect_recipe("image-classification")  # another run, no points yet
    assert panel.charts["throughput"]._title == "Throughput (images/s)"
    assert "Throughput (images/s)" in panel.charts["throughput"].empty_label.text()
    assert "No points yet" in panel.charts["eval"].empty_label.text()

    panel.clear()
    panel.expect_recipe("diffusion-lora")
    note = panel.charts["eval"].empty_label.text()
    assert "No points yet" not in note and "eval_loss" in note and "Loss chart" in note

    panel.clear()
    panel.expect_recipe("no-such-recipe")  # an old run of a recipe this version does not have
    assert panel.charts["throughput"]._title == "Throughput"


def test_run_detail_names_the_recipes_unit_before_the_first_point(store, ctx, qtbot):
    from app.views.run_detail_view import RunDetailView
    from spark_trainer.store import experiments, projects, runs

    projects.create(store, "p")
    ids = {}
    for recipe in ("causal-lm", "image-classification"):
        exp = experiments.create(store, project="p", name=recipe, recipe=recipe, base_model="m", dataset=None, config={})
        ids[recipe] = runs.create(store, exp.id, requested_gpus="cpu").id  # queued: no points
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    for recipe, unit in (("causal-lm", "tokens"), ("image-classification", "images")):
        view.show_run(ids[recipe])
        qtbot.waitUntil(lambda: view.run is not None)
        assert view.charts.charts["throughput"]._title == f"Throughput ({unit}/s)"
    view.stop()


def test_comparing_runs_of_two_units_gives_each_unit_its_chart(qtbot):
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.add_batch(_batch("examples_per_s"), prefix="run 2 ")
    panel.add_batch(_batch("images_per_s"), prefix="run 3 ")
    panel.add_batch(_batch("images_per_s"), prefix="run 4 ")
    assert panel.charts["throughput"]._title == "Throughput (examples/s)"
    images = panel.chart_of("images_per_s")
    assert images._title == "Throughput (images/s)" and images.curve_names() == ["run 3 images_per_s",
                                                                                 "run 4 images_per_s"]
    assert panel.units == ["examples/s", "images/s"]
    panel.clear()
    panel.add_batch(_batch("tokens_per_s"))
    assert panel.charts["throughput"]._title == "Throughput (tokens/s)"
