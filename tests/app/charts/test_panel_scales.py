"""Comparing runs of different recipes: each evaluation metric and each throughput unit has a chart of
its own, so accuracy (0-1) is never flattened at 0 under perplexity (~200), nor examples/s under
tokens/s. The Loss chart keeps training and evaluation loss together (one quantity)."""

from __future__ import annotations

import re

import numpy as np

from app.model.reads import MetricBatch

BASE = {"loss", "lr", "throughput", "memory", "eval", "grad"}


def _batch(run_id: int, series: dict[str, list[float]]) -> MetricBatch:
    out = {}
    for key, values in series.items():
        steps = np.arange(1, len(values) + 1, dtype=float) * (50 if key.startswith("eval_") else 1)
        out[key] = (steps, steps + 1e9, np.array(values, dtype=float))
    return MetricBatch(run_id=run_id, last_id=0, full=False, series=out)


CAUSAL = {"loss": [3.0, 2.5, 2.2], "eval_loss": [2.9, 2.6], "eval_perplexity": [220.0, 180.0],
          "tokens_per_s": [5000.0, 5200.0, 5100.0]}
CLASSIFIER = {"loss": [0.9, 0.7, 0.6], "eval_loss": [0.8, 0.65], "eval_accuracy": [0.61, 0.74],
              "eval_macro_f1": [0.55, 0.7], "examples_per_s": [40.0, 42.0, 41.0]}


def _keys(chart) -> set[str]:
    return {re.sub(r"^run \d+ ", "", name) for name in chart.curve_names()}


def test_each_chart_holds_one_metric_scale_when_comparing_recipes(qtbot) -> None:
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 900)
    panel.show()
    panel.add_batch(_batch(1, CAUSAL), prefix="run 1 ")
    panel.add_batch(_batch(2, CLASSIFIER), prefix="run 2 ")
    for name, chart in panel.charts.items():
        keys = _keys(chart)
        assert len(keys) <= 1 or keys <= {"loss", "eval_loss"}, f"chart {name} mixes {sorted(keys)}"
    charted = set().union(*(_keys(c) for c in panel.charts.values()))
    assert charted == set(CAUSAL) | set(CLASSIFIER)  # nothing dropped on the way

    accuracy = panel.chart_of("eval_accuracy")
    assert accuracy is not panel.chart_of("eval_perplexity") and accuracy is not panel.chart_of("eval_macro_f1")
    qtbot.waitUntil(lambda: accuracy.plot_widget.isVisible())
    low, high = accuracy.plot.getViewBox().viewRange()[1]
    assert 0.0 < low and high < 1.0  # accuracy fills its own axis
    assert "accuracy" in accuracy._title and "perplexity" not in accuracy._title
    titles = {panel.chart_of(k)._title for k in ("tokens_per_s", "examples_per_s")}
    assert titles == {"Throughput (tokens/s)", "Throughput (examples/s)"}

    panel.clear()  # the next comparison starts from the six charts
    assert set(panel.charts) == BASE
    panel.add_batch(_batch(3, {"eval_accuracy": [0.5], "images_per_s": [9.0]}))
    assert panel.chart_of("eval_accuracy") is panel.charts["eval"]
    assert panel.chart_of("images_per_s") is panel.charts["throughput"]


def test_new_charts_take_the_panels_current_settings(qtbot) -> None:
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.log_scale.setChecked(True)
    panel.x_axis.setCurrentText("time")
    panel.smoothing.setValue(30)
    panel.add_batch(_batch(1, CAUSAL), prefix="run 1 ")
    panel.add_batch(_batch(2, CLASSIFIER), prefix="run 2 ")
    extra = panel.chart_of("eval_macro_f1")
    assert extra not in (panel.charts["eval"],)
    assert extra._log_y and extra._x_axis == "time"
    throughput = panel.chart_of("examples_per_s")
    assert throughput._smoothing == 0.3 and throughput._log_y


def test_further_charts_keep_three_rows(qtbot) -> None:
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.add_batch(_batch(1, CAUSAL), prefix="run 1 ")
    panel.add_batch(_batch(2, CLASSIFIER), prefix="run 2 ")
    assert len(panel.charts) == 9 and panel.grid.count() == 9
    rows = {panel.grid.getItemPosition(i)[0] for i in range(panel.grid.count())}
    assert rows == {0, 1, 2}
    panel.clear()
    assert panel.grid.count() == 6
    assert {panel.grid.getItemPosition(i)[1] for i in range(6)} == {0, 1}


def _labelled_ticks(chart) -> list[float]:
    """The y axis' tick values of the levels it labels (pyqtgraph's first two)."""
    axis = chart.plot.getAxis("left")
    low, high = chart.plot.getViewBox().viewRange()[1]
    return [float(v) for _spacing, values in axis.tickValues(low, high, axis.height())[:2] for v in values]


def test_an_accuracy_axis_ends_at_one_not_above(qtbot) -> None:
    """Seen: an accuracy of 1.0 at every evaluation was drawn on an axis from 0.9 to 1.1 (ticks 1.05, 1.1),
    one ending at 1.0 on an axis to 1.04: values an accuracy cannot take. The axis ends at 1.0, with a few
    pixels for the marker on it; an unbounded metric (and an accuracy logged in percent) keeps its padding."""
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 900)
    panel.show()
    panel.add_batch(_batch(1, {"eval_accuracy": [1.0, 1.0, 1.0], "eval_macro_f1": [0.5, 0.8, 1.0],
                               "eval_perplexity": [1.0, 1.0, 1.0], "eval_top5_accuracy": [50.0, 100.0]}))
    for key in ("eval_accuracy", "eval_macro_f1", "eval_perplexity", "eval_top5_accuracy"):
        panel.chart_of(key).grab()  # auto-range runs before a paint
    for key in ("eval_accuracy", "eval_macro_f1"):
        chart = panel.chart_of(key)
        low, high = chart.plot.getViewBox().viewRange()[1]
        assert 1.0 < high <= 1.0 + 0.03 * (high - low), (key, low, high)  # the marker at 1.0 seen whole
        assert max(_labelled_ticks(chart)) == 1.0, (key, _labelled_ticks(chart))
    assert panel.chart_of("eval_perplexity").plot.getViewBox().viewRange()[1][1] >= 1.1  # not bounded
    assert panel.chart_of("eval_top5_accuracy").plot.getViewBox().viewRange()[1][1] > 100.0  # percent: not 0..1
