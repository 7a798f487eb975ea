"""Which metrics the run view's chart panel draws as evaluations (unsmoothed, dashed, a marker on
every point)."""

from __future__ import annotations

import numpy as np

from app.model.reads import MetricBatch


def test_results_of_spark_trainer_eval_are_drawn_as_evaluations(qtbot) -> None:
    # `spark-trainer eval` stores its results as evals/<task>_<metric>, usually one point at the
    # checkpoint's step: drawn as a plain curve, a single point showed as an empty chart.
    from app.charts.panel import ChartPanel, is_evaluation

    assert is_evaluation("evals/perplexity") and is_evaluation("eval_loss") and not is_evaluation("loss")
    panel = ChartPanel()
    qtbot.addWidget(panel)
    step = np.array([300.0])
    panel.add_batch(MetricBatch(run_id=1, last_id=0, full=False,
                                series={"evals/perplexity": (step, step + 1e9, np.array([492.8]))}))
    chart = panel.chart_of("evals/perplexity")
    assert chart.is_evaluation("evals/perplexity")
    assert chart._curves["evals/perplexity"].raw.opts["symbol"] is not None  # the one point is seen
