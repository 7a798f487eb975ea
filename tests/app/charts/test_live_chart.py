"""Evaluation series are drawn as measured (no smoothing) with a marker per point; training series smoothed.
Long series are handed to pyqtgraph as min/max pairs per pixel column; the faint raw curve and the view
range change only when that changes what is drawn."""

from __future__ import annotations

import numpy as np

from app.charts.feed import MetricBatch
from app.charts.panel import ChartPanel, is_evaluation


def metric_batch(series: dict[str, tuple[list[float], list[float]]]) -> MetricBatch:
    """A batch of points per key: (steps, values), each step's time 1e9 + step."""
    return MetricBatch(run_id=1, last_id=0, full=False, series={
        key: (np.array(steps, dtype=float), np.array(steps, dtype=float) + 1e9, np.array(values, dtype=float))
        for key, (steps, values) in series.items()})


def test_eval_series_are_unsmoothed_with_markers_and_training_series_smoothed(qtbot) -> None:
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    assert panel.smoothing.value() == 60  # the app's default smoothing
    steps = list(range(1, 401))
    loss = list(3.0 * np.exp(-np.arange(400) / 100) + 0.1 * np.random.default_rng(0).standard_normal(400))
    eval_steps, perplexity = [100, 200, 300, 400], [40.0, 12.0, 9.5, 9.0]
    panel.add_batch(metric_batch({"loss": (steps, loss), "eval_loss": (eval_steps, [1.2, 0.7, 0.6, 0.55]),
                            "eval_perplexity": (eval_steps, perplexity)}))
    qtbot.waitExposed(panel)

    chart = panel.charts["eval"]
    assert chart.is_evaluation("eval_perplexity")
    x, y = chart.drawn("eval_perplexity")
    assert list(x) == eval_steps and list(y) == perplexity  # drawn as measured: no lag behind the values
    item = chart._curves["eval_perplexity"]
    assert item.raw.opts["symbol"] == "o" and item.raw.scatter.isVisible()
    assert not item.shadow.isVisible()  # no faint raw segment under it

    loss_chart = panel.charts["loss"]
    _, drawn_loss = loss_chart.drawn("loss")
    assert not np.allclose(drawn_loss, loss)  # smoothed
    assert loss_chart._curves["loss"].shadow.isVisible() and loss_chart._curves["loss"].raw.opts["symbol"] is None
    _, drawn_eval_loss = loss_chart.drawn("eval_loss")  # an eval series on the loss chart
    assert list(drawn_eval_loss) == [1.2, 0.7, 0.6, 0.55]

    # Moving the slider smooths training curves only; more eval points arrive unsmoothed.
    panel.smoothing.setValue(95)
    panel.add_batch(metric_batch({"eval_perplexity": ([500], [8.8])}))
    x, y = chart.drawn("eval_perplexity")
    assert list(y) == [*perplexity, 8.8] and x[-1] == 500
    panel.smoothing.setValue(0)
    _, drawn_loss = loss_chart.drawn("loss")
    assert np.allclose(drawn_loss, loss) and not loss_chart._curves["loss"].shadow.isVisible()


def test_which_keys_are_evaluations() -> None:
    assert all(is_evaluation(k) for k in ("eval_loss", "eval_perplexity", "eval_accuracy", "val_loss"))
    assert not any(is_evaluation(k) for k in ("loss", "lr", "grad_norm", "tokens_per_s", "interval"))


def test_peak_columns_keep_every_columns_extremes_and_end_at_the_last_point() -> None:
    from app.charts.live_chart import peak_columns

    rng = np.random.default_rng(5)
    x, y = np.arange(10_007, dtype=float), rng.standard_normal(10_007)
    px, py = peak_columns(x, y, 100)
    assert len(px) < 250 and px[-1] == x[-1] and py[-1] == y[-1]
    per = len(x) // 100
    blocks = y[: (len(x) - 1) // per * per].reshape(-1, per)
    pairs = py[: 2 * len(blocks)].reshape(-1, 2)
    assert np.array_equal(pairs.max(axis=1), blocks.max(axis=1)) and np.array_equal(pairs.min(axis=1), blocks.min(axis=1))
    assert (pairs[:, 0] >= pairs[:, 1]).all()  # pyqtgraph's order: max, then min
    few_x, few_y = peak_columns(x[:150], y[:150], 100)  # few enough: every point, as it is
    assert np.array_equal(few_x, x[:150]) and np.array_equal(few_y, y[:150])


def test_the_faint_curve_and_the_view_change_only_when_what_is_drawn_changes(qtbot) -> None:
    from app.charts.live_chart import LiveChartWidget

    chart = LiveChartWidget("loss")
    qtbot.addWidget(chart)
    chart.resize(800, 400)
    chart.show()
    chart.set_smoothing(0.6)
    rng = np.random.default_rng(1)
    n = 200_000
    chart.append("loss", np.arange(n), np.arange(n), 1.0 + 0.1 * rng.standard_normal(n))
    chart.refresh()
    chart.grab()
    curve = chart._curves["loss"]
    box = chart.plot.getViewBox()
    faint_x, _ = curve.shadow.getOriginalDataset()
    x_range = box.viewRange()[0]

    def append(values: list[float]) -> None:
        start = chart.point_count("loss")
        chart.append("loss", np.arange(start, start + len(values)), np.arange(start, start + len(values)), values)
        chart.refresh()
        chart.grab()  # auto-range runs before a paint

    append([1.0, 1.01])  # inside the newest column's range, far under a pixel: nothing to draw anew
    assert curve.shadow.getOriginalDataset()[0] is faint_x and box.viewRange()[0] == x_range
    assert chart.drawn("loss")[0][-1] == n + 1  # the curve itself always reaches the newest point
    append([9.0])  # a spike shows at once in the faint curve, and the view grows to hold it
    assert curve.shadow.getOriginalDataset()[0][-1] == n + 2 and curve.shadow.getOriginalDataset()[1].max() == 9.0
    assert box.viewRange()[1][1] > 9.0
    drawn_x, _ = curve.shadow.getOriginalDataset()
    append(list(1.0 + 0.01 * rng.standard_normal(n // 100)))  # more than a column's worth of points
    assert curve.shadow.getOriginalDataset()[0] is not drawn_x
    assert box.viewRange()[0][1] > x_range[1] + (x_range[1] - x_range[0]) / box.width()  # followed the data


def test_a_long_title_is_shortened_so_the_chart_fits_its_box(qtbot) -> None:
    """Seen on Xvfb at 1280x800 and 1024x700: 'Evaluation: eval_accuracy, eval_macro_f1,
    evals/classification_accuracy' held the plot at the title's width, so the plot was wider than its
    box and cut off: the x axis stopped at 35 of 60 steps and the last points were hidden."""
    from app.charts.live_chart import LiveChartWidget

    title = "Evaluation: eval_accuracy, eval_macro_f1, evals/classification_accuracy, evals/classification_macro_f1"
    chart = LiveChartWidget(title)
    qtbot.addWidget(chart)
    chart.resize(380, 240)
    chart.show()
    steps = np.array([15.0, 30.0, 45.0, 60.0])
    chart.append("eval_accuracy", steps, steps + 1e9, np.array([0.3, 0.4, 0.5, 0.6]))
    chart.refresh()
    qtbot.waitExposed(chart)
    qtbot.waitUntil(lambda: chart.plot.geometry().width() <= chart.plot_widget.viewport().width() + 1)
    shown = chart.plot.titleLabel.text
    assert shown != title and "…" in shown and shown.endswith("macro_f1")  # shortened in the middle
    assert chart.plot_widget.toolTip() == title  # the whole title is still there to read
    chart.resize(1400, 240)  # room again: the whole title
    qtbot.waitUntil(lambda: chart.plot.titleLabel.text == title)


def test_a_flat_series_is_shown_around_its_value_whatever_the_chart_showed_before(qtbot) -> None:
    """Seen on Xvfb: run 2's eval_accuracy, 0.7 at every evaluation, was drawn on an axis from -8 to 9.5
    (the line read as 0), because the run detail's chart had shown run 1's eval_perplexity (507 to 521)
    and pyqtgraph keeps the previous height for a range of zero height."""
    from app.charts.live_chart import LiveChartWidget

    chart = LiveChartWidget("Evaluation")
    qtbot.addWidget(chart)
    chart.resize(500, 300)
    chart.show()
    steps = np.array([10.0, 20.0, 30.0])
    chart.append("eval_perplexity", steps, steps + 1e9, np.array([521.0, 510.0, 507.0]))
    chart.refresh()
    chart.grab()  # auto-range runs before a paint
    chart.clear()  # the next run is shown in the same chart
    chart.append("eval_accuracy", steps, steps + 1e9, np.array([0.7, 0.7, 0.7]))
    chart.refresh()
    chart.grab()
    low, high = chart.plot.getViewBox().viewRange()[1]
    assert low < 0.7 < high and high - low <= 0.2, (low, high)
    single = LiveChartWidget("Evaluation")  # one point: no width either
    qtbot.addWidget(single)
    single.resize(500, 300)
    single.show()
    single.append("eval_accuracy", np.array([300.0]), np.array([1e9]), np.array([0.5]))
    single.refresh()
    single.grab()
    (x_low, x_high), (y_low, y_high) = single.plot.getViewBox().viewRange()
    assert x_low < 300 < x_high and y_low < 0.5 < y_high and y_high - y_low <= 0.2, single.plot.getViewBox().viewRange()


def test_the_legend_lists_training_curves_before_evaluation_ones_whichever_came_first(qtbot) -> None:
    """The Loss chart's legend read "eval_loss  loss" for a run whose first batch held eval_loss (seen on
    Xvfb), and "loss  eval_loss" for another: the order followed which metric arrived first."""
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.add_batch(metric_batch({"eval_loss": ([10], [1.0])}))
    panel.add_batch(metric_batch({"loss": ([10, 11], [1.2, 1.1])}))
    chart = panel.charts["loss"]
    assert [label.text for _sample, label in chart.legend.items] == ["loss", "eval_loss"]
    assert chart.legend.isVisible()
    panel.add_batch(metric_batch({"loss": ([12], [1.0])}))  # nothing new: the legend stays as it is
    assert [label.text for _sample, label in chart.legend.items] == ["loss", "eval_loss"]


def test_a_step_axis_is_ticked_at_whole_steps_even_around_one_point(qtbot) -> None:
    # Seen on Xvfb: a 20-step run's one evaluation, at step 20, was drawn on an axis ticked 18.5, 19,
    # 19.5 ... 21.5: steps that cannot exist.
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.add_batch(metric_batch({"eval_perplexity": ([20], [452.0])}))
    chart = next(c for c in panel.charts.values() if c.point_count())
    qtbot.wait(50)
    axis = chart.plot.getAxis("bottom")
    low, high = chart.plot.getViewBox().viewRange()[0]
    assert low < 20 < high
    ticks = [value for _spacing, values in axis.tickValues(low, high, axis.width()) for value in values]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    chart.set_x_axis("time")  # seconds may fall between whole numbers
    assert not axis.whole


def test_a_narrow_charts_title_is_never_drawn_under_its_legend(qtbot) -> None:
    # Seen in a GUI walk: on narrow charts the "Loss" title, held at 40 px, was drawn under the legend
    # ("loss  eval_loss") that shares its row.
    from app.charts.live_chart import LiveChartWidget

    for width in (200, 220, 240, 260, 400):
        chart = LiveChartWidget("Loss")
        qtbot.addWidget(chart)
        steps = np.arange(1, 11, dtype=float)
        chart.append("loss", steps, steps + 1e9, 1 / steps)
        chart.append("eval_loss", steps, steps + 1e9, 1 / steps + 0.1, dashed=True, evaluation=True)
        chart.refresh()
        chart.resize(width, 220)
        chart.show()
        qtbot.waitExposed(chart)
        assert chart.legend.isVisible()
        title = chart.plot.titleLabel
        if title.text.strip():
            assert not title.item.sceneBoundingRect().intersects(chart.legend.sceneBoundingRect()), width
        else:  # the legend names the curves; the title is the tooltip
            assert chart.plot_widget.toolTip() == "Loss", width
        assert width < 260 or title.text == "Loss"  # where there is room it is shown whole
