"""Evaluation series are drawn as measured (no smoothing) with a marker per point; training series smoothed."""

from __future__ import annotations

import numpy as np

from app.charts.feed import MetricBatch
from app.charts.panel import ChartPanel, is_evaluation


def _batch(series: dict[str, tuple[list[float], list[float]]]) -> MetricBatch:
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
    panel.add_batch(_batch({"loss": (steps, loss), "eval_loss": (eval_steps, [1.2, 0.7, 0.6, 0.55]),
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
    panel.add_batch(_batch({"eval_perplexity": ([500], [8.8])}))
    x, y = chart.drawn("eval_perplexity")
    assert list(y) == [*perplexity, 8.8] and x[-1] == 500
    panel.smoothing.setValue(0)
    _, drawn_loss = loss_chart.drawn("loss")
    assert np.allclose(drawn_loss, loss) and not loss_chart._curves["loss"].shadow.isVisible()


def test_which_keys_are_evaluations() -> None:
    assert all(is_evaluation(k) for k in ("eval_loss", "eval_perplexity", "eval_accuracy", "val_loss"))
    assert not any(is_evaluation(k) for k in ("loss", "lr", "grad_norm", "tokens_per_s", "interval"))
