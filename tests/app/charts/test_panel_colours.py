"""A metric's colour comes from its key, not from the order its points arrive: loss is the same colour
while the run is live (loss first, evaluation later) and after reopening it (every key in one read)."""

from __future__ import annotations

from tests.app.charts.test_live_chart import metric_batch


def test_a_metric_keeps_its_colour_live_and_reopened(qtbot) -> None:
    from app.charts.panel import ChartPanel

    live = ChartPanel()
    qtbot.addWidget(live)
    live.add_batch(metric_batch({"loss": ([1, 2], [3.0, 2.8]), "lr": ([1, 2], [1e-4, 1e-4])}))
    live.add_batch(metric_batch({"eval_loss": ([2], [2.9]), "eval_accuracy": ([2], [0.4]),
                                 "eval_macro_f1": ([2], [0.3])}))
    live.add_batch(metric_batch({"loss": ([3], [2.7])}))

    reopened = ChartPanel()
    qtbot.addWidget(reopened)
    # One read of every row, keys in the store's order (evaluation keys sort before 'loss').
    reopened.add_batch(metric_batch({"eval_accuracy": ([2], [0.4]), "eval_loss": ([2], [2.9]),
                                     "eval_macro_f1": ([2], [0.3]), "loss": ([1, 2, 3], [3.0, 2.8, 2.7]),
                                     "lr": ([1, 2, 3], [1e-4] * 3)}))
    for key in ("loss", "eval_loss", "lr", "eval_accuracy", "eval_macro_f1"):
        assert live.chart_of(key).colour_of(key) == reopened.chart_of(key).colour_of(key), key
    loss_chart = live.charts["loss"]
    assert loss_chart.colour_of("loss") != loss_chart.colour_of("eval_loss")  # one chart: told apart
