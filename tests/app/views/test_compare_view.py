"""Comparing runs of different recipes over real store rows: accuracy and perplexity, tokens/s and
examples/s are each on a chart of their own; every curve has its run's colour; added charts follow
the compare page's style (no legend over the curves: the runs are named above)."""

from __future__ import annotations

import time

from spark_trainer.store import experiments, metrics, projects, runs


def _run(store, recipe: str, rows: dict[str, list[float]], name: str | None = None, config: dict | None = None):
    if not any(p.name == "cmp" for p in projects.list_all(store)):
        projects.create(store, "cmp")
    exp = experiments.create(store, project="cmp", name=name or recipe, recipe=recipe, base_model="m", dataset=None,
                             config=config or {})
    run = runs.create(store, exp.id, total_steps=3)
    now = time.time()
    metrics.add_batch(store, run.id, [(key, i + 1, v, now + i) for key, values in rows.items()
                                      for i, v in enumerate(values)])
    return run


def test_comparing_recipes_gives_each_scale_its_chart(store, ctx, qtbot) -> None:
    from app.charts.live_chart import colour
    from app.views.runs_view import RunsView

    lm = _run(store, "causal-lm", {"loss": [3.0, 2.5, 2.2], "eval_perplexity": [220.0, 180.0, 150.0],
                                   "tokens_per_s": [5000.0, 5100.0, 5200.0]})
    cls = _run(store, "text-classification", {"loss": [0.9, 0.7, 0.6], "eval_accuracy": [0.6, 0.7, 0.75],
                                              "eval_macro_f1": [0.5, 0.6, 0.7], "examples_per_s": [40.0, 41.0, 42.0]})
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([lm.id, cls.id])
    page = view.compare_page
    panel = page.charts
    qtbot.waitUntil(lambda: panel.point_count(f"run {cls.id} examples_per_s") == 3
                    and panel.point_count(f"run {lm.id} tokens_per_s") == 3, timeout=10_000)
    perplexity, accuracy = panel.chart_of("eval_perplexity"), panel.chart_of("eval_accuracy")
    assert perplexity is not accuracy and accuracy is not panel.chart_of("eval_macro_f1")
    assert panel.chart_of("tokens_per_s") is not panel.chart_of("examples_per_s")
    assert accuracy.curve_names() == [f"run {cls.id} eval_accuracy"]
    for chart in panel.charts.values():
        assert not chart.legend.isVisible()
        for name in chart.curve_names():
            run_index = 0 if name.startswith(f"run {lm.id} ") else 1
            assert chart.colour_of(name) == colour(run_index), name
    qtbot.waitUntil(lambda: accuracy.plot_widget.isVisible())
    low, high = accuracy.plot.getViewBox().viewRange()[1]
    assert 0.5 < low and high < 0.9
    view.shutdown()


def test_comparing_diffusion_runs_says_where_their_evaluation_metric_is(store, ctx, qtbot) -> None:
    """Seen on Xvfb comparing two diffusion-LoRA runs: 'Evaluation metrics: No points yet' although both
    had evaluated; their one metric, eval_loss, is on the Loss chart, as a single run's page says."""
    from app.views.runs_view import RunsView

    first = _run(store, "diffusion-lora", {"loss": [1.2, 1.1, 1.1], "eval_loss": [1.15, 1.12, 1.11]})
    second = _run(store, "diffusion-lora", {"loss": [1.3, 1.2, 1.1], "eval_loss": [1.2, 1.15, 1.1]}, "copy",
                  config={"train": {"learning_rate": 0.001}})
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.resize(1280, 760)
    view.show()
    view.open_item([first.id, second.id])
    panel = view.compare_page.charts
    qtbot.waitUntil(lambda: panel.point_count(f"run {second.id} eval_loss") == 3, timeout=10_000)
    assert "is on the Loss chart" in panel.charts["eval"].empty_label.text(), panel.charts["eval"].empty_label.text()
    assert "images/s" in panel.charts["throughput"].empty_label.text()
    page = view.compare_page
    qtbot.waitUntil(lambda: page.diff.rowCount() == 1, timeout=10_000)
    assert page.diff_note.text() == "1 setting differs", page.diff_note.text()  # was "1 setting differ"
