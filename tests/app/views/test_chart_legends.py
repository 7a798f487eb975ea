"""Chart legends never cover the curves: on the run page at the app's default size (1280x800) and in a
1024x700 window, each chart's legend lies outside its plot area."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QWidget

from spark_trainer.store import experiments, metrics, projects, runs


def _global_rect(chart, item) -> QRect:
    """Where `item` (a widget, or an item of the chart's plot scene) is on screen."""
    if isinstance(item, QWidget):
        return QRect(item.mapToGlobal(item.rect().topLeft()), item.size())
    view = chart.plot_widget
    polygon = view.mapFromScene(item.sceneBoundingRect())
    rect = polygon.boundingRect()
    return QRect(view.mapToGlobal(rect.topLeft()), rect.size())


def _classifier_run(store):
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="cls", recipe="text-classification", base_model="m",
                             dataset=None, config={})
    run = runs.create(store, exp.id, total_steps=400)
    now = time.time()
    rows = [("loss", s, 1.0 / (1 + s / 100), now + s) for s in range(1, 401)]
    rows += [(k, s, v, now + s) for s in (100, 200, 300, 400)
             for k, v in (("eval_loss", 0.9 - s / 1000), ("eval_accuracy", 0.5 + s / 1000),
                          ("eval_macro_f1", 0.45 + s / 1000))]
    metrics.add_batch(store, run.id, rows)
    return run


@pytest.mark.parametrize("size", [(1280, 800), (1024, 700)])
def test_legends_lie_outside_the_plot_area(store, window, qtbot, size) -> None:
    run = _classifier_run(store)
    window.resize(*size)
    runs_view = window.show_view("runs")
    runs_view.open_run(run.id)
    page = runs_view.stack.currentWidget()
    charts = page.charts
    qtbot.waitUntil(lambda: charts.point_count("loss") == 400 and charts.point_count("eval_loss") == 4)
    qtbot.wait(50)
    loss = charts.charts["loss"]
    assert loss.legend.isVisible()  # two curves here: the legend says which is which
    box = _global_rect(loss, loss.plot.getViewBox())
    legend = _global_rect(loss, loss.legend)
    assert not box.intersects(legend), (box, legend)
    for chart in charts.charts.values():
        if chart.legend.isVisible():
            assert not _global_rect(chart, chart.plot.getViewBox()).intersects(_global_rect(chart, chart.legend))
