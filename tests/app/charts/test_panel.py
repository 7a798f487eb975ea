"""Which metrics the run view's chart panel draws as evaluations (unsmoothed, dashed, a marker on
every point)."""

from __future__ import annotations

import numpy as np

from app.model.reads import MetricBatch


def _evaluation(id_: int, data: str, step: int, metrics: dict[str, float], *, task: str = "classification",
                base: bool = False, status: str = "completed"):
    from datetime import datetime

    from spark_trainer.store.evaluations import Evaluation

    return Evaluation(id=id_, run_id=1, task=task, data_path=data, base=base, checkpoint=str(step), step=step,
                      status=status, gpus=[], pid=None, pid_start_time=None, done=1, total=1,
                      result={"metrics": metrics}, error=None, created_at=datetime(2026, 1, 1, 0, id_),
                      finished_at=datetime(2026, 1, 1, 0, id_, 30))


def test_results_of_spark_trainer_eval_are_drawn_as_evaluations(qtbot) -> None:
    # `spark-trainer eval` stores its results as evals/<task>_<metric>, usually one point at the
    # checkpoint's step: drawn as a plain curve, a single point showed as an empty chart.
    from app.charts.panel import ChartPanel, is_evaluation

    assert is_evaluation("evals/perplexity") and is_evaluation("eval_loss") and not is_evaluation("loss")
    panel = ChartPanel()
    qtbot.addWidget(panel)
    panel.show_evaluations([_evaluation(1, "/d/wiki.txt", 300, {"perplexity": 492.8}, task="perplexity")],
                           {"/d/wiki.txt": "wiki.txt"})
    chart = panel.chart_of("evals/perplexity")
    assert chart.is_evaluation("wiki.txt")
    assert chart._curves["wiki.txt"].raw.opts["symbol"] is not None  # the one point is seen
    assert chart._title == "Evaluation: evals/perplexity on wiki.txt"  # one curve, no legend: the title names its data


def test_evaluations_on_different_data_are_never_joined_into_one_line(qtbot) -> None:
    """Seen: a run evaluated on two files (accuracy 0.9 on one at step 10, 0.3 on the other at step 20, 0.95
    on the first at step 30) was charted as one line 0.9 -> 0.3 -> 0.95, as the run metric evals/... holds
    every evaluation's results. Each data gets its own labelled curve; a base-model evaluation none."""
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    evaluated = []
    panel.evaluated.connect(lambda: evaluated.append(True))
    steps = np.array([10.0, 20.0, 30.0])
    # The run metric as logged: the batch is not drawn as it is, but says the evaluations must be read.
    panel.add_batch(MetricBatch(run_id=1, last_id=0, full=False, series={
        "evals/classification_accuracy": (steps, steps + 1e9, np.array([0.9, 0.3, 0.95]))}))
    assert evaluated and panel.chart_of("evals/classification_accuracy") is None
    found = [_evaluation(1, "/d/held.csv", 10, {"accuracy": 0.9}), _evaluation(2, "/d/hard.csv", 20, {"accuracy": 0.3}),
             _evaluation(3, "/d/held.csv", 30, {"accuracy": 0.95}),
             _evaluation(4, "/d/held.csv", 0, {"accuracy": 0.1}, base=True),
             _evaluation(5, "/d/hard.csv", 30, {"accuracy": 0.5}, status="failed")]
    panel.show_evaluations(found, {"/d/held.csv": "dataset held", "/d/hard.csv": "hard.csv"})
    chart = panel.chart_of("evals/classification_accuracy")
    assert sorted(chart.curve_names()) == ["dataset held", "hard.csv"]  # each named for its data
    held = chart.series("dataset held")
    hard = chart.series("hard.csv")
    assert list(held.steps[:held.n]) == [10, 30] and list(held.values[:held.n]) == [0.9, 0.95]
    assert list(hard.steps[:hard.n]) == [20] and list(hard.values[:hard.n]) == [0.3]
    assert chart.colour_of("dataset held") != chart.colour_of("hard.csv")
    panel.show_evaluations(found, {"/d/held.csv": "dataset held", "/d/hard.csv": "hard.csv"})  # read again
    assert held.n == 2 and hard.n == 1


def test_skipped_steps_get_a_chart_of_their_own_named_for_what_they_are(qtbot) -> None:
    # skipped_steps (the engine's count of steps skipped for a non-finite loss or gradient norm) fell
    # into the evaluation group and was titled "Evaluation: skipped_steps".
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    steps = np.arange(1.0, 11.0)
    panel.add_batch(MetricBatch(run_id=1, last_id=0, full=False, series={
        "loss": (steps, steps + 1e9, np.linspace(3, 1, 10)),
        "eval_loss": (np.array([5.0, 10.0]), np.array([5.0, 10.0]) + 1e9, np.array([2.5, 1.5])),
        "skipped_steps": (np.array([4.0, 7.0]), np.array([4.0, 7.0]) + 1e9, np.array([1.0, 2.0]))}))
    chart = panel.chart_of("skipped_steps")
    assert chart is not None and chart is not panel.chart_of("eval_loss")
    assert chart._title == "Skipped steps (loss or gradients not finite)"
    assert chart.is_evaluation("skipped_steps")  # drawn as counted: unsmoothed, a marker on each skip


def test_the_learning_rate_is_drawn_as_scheduled_not_smoothed(qtbot) -> None:
    """Seen on Xvfb: a cosine schedule ending at 0 was drawn (smoothing 0.60) ending at 0.0003 of a 0.003
    peak, and an extended run's re-warm-up as a slow bump: the schedule has no noise to smooth, only lag."""
    from app.charts.panel import ChartPanel

    panel = ChartPanel()
    qtbot.addWidget(panel)
    steps = np.arange(1.0, 13.0)
    lr = 0.003 * 0.5 * (1 + np.cos(np.pi * (steps - 1) / 11))
    loss = 1.0 + 0.1 * np.random.default_rng(0).standard_normal(12)
    panel.add_batch(MetricBatch(run_id=1, last_id=0, full=False,
                                series={"lr": (steps, steps + 1e9, lr), "loss": (steps, steps + 1e9, loss)}))
    for weight in (60, 95):
        panel.smoothing.setValue(weight)
        _, drawn = panel.charts["lr"].drawn("lr")
        assert np.allclose(drawn, lr) and drawn[-1] == 0.0, drawn
        assert not panel.charts["lr"]._curves["lr"].shadow.isVisible()
        assert not np.allclose(panel.charts["loss"].drawn("loss")[1], loss)  # training curves still smoothed


def test_every_chart_keeps_its_height_on_a_run_page_in_a_small_window(qtbot, window, store) -> None:
    # Seen at 1024 x 640: three rows of charts in a 370 px tab, each 115 px high while it needs 160: every
    # chart's step axis (and the lowest values) was cut off. Two rows of three fit; three rows of two
    # come back in a taller window.
    from spark_trainer.store import projects
    from tests.app.gui_assets import add_experiment_with_runs
    from tests.app.model_sync import sync_model

    projects.create(store, "p")
    run = add_experiment_with_runs(store, "p", statuses=("completed",))[0]
    sync_model(qtbot, window.ctx)
    rows = {}
    for size in ((1024, 640), (1280, 800), (1024, 640)):
        window.resize(*size)
        view = window.show_view("runs")
        view.open_run(run.id)
        panel = view.detail.charts
        qtbot.waitUntil(lambda s=size: window.size().toTuple() == s)
        qtbot.waitUntil(lambda p=panel: p.charts["loss"].point_count() > 0, timeout=10_000)
        qtbot.wait(50)
        squeezed = [f"{name} {c.height()} < {c.minimumSizeHint().height()} px" for name, c in panel.charts.items()
                    if c.height() < c.minimumSizeHint().height()]
        assert squeezed == [] and cut_off(panel) == [], size
        rows[size] = len({c.y() for c in panel.charts.values()})
    assert rows == {(1024, 640): 2, (1280, 800): 3}


def cut_off(panel) -> list[str]:
    """Charts whose plot (title, axes and their labels) is taller than the box it is drawn in: its
    bottom, the step axis first, is not seen."""
    return [f"{name}: plot {c.plot.geometry().height():.0f} px in {c.plot_widget.height()} px in {c.height()} px"
            for name, c in panel.charts.items() if c.plot_widget.isVisible()
            and max(c.plot.geometry().height(), c.plot_widget.height()) > c.height() + 1]
