"""The Checkpoints tab names the metric its 'Eval metric' column holds and which way is better: an
image classifier's checkpoints read '0.3333' under 'Eval metric', which could be a loss or an accuracy."""

from __future__ import annotations

from app.views.run_detail_reads import CheckpointRow, RunStatic
from tests.app.gui_assets import completed_run


def test_the_column_names_the_watched_metric_and_its_direction(store, ctx, qtbot):
    from app.views.run_detail_view import RunDetailView

    run = completed_run(store, "image-classification")
    view = RunDetailView(store, ctx)
    qtbot.addWidget(view)
    view.show_run(run.id)
    qtbot.waitUntil(lambda: view.run is not None and not view.busy())
    header = view.checkpoints.horizontalHeaderItem(1)
    view._show_static(RunStatic(run.id, [CheckpointRow(12, 0.3333, 1000, "/x/step-12", "eval_accuracy", True)]))
    assert header is not None and view.checkpoints.horizontalHeaderItem(1).text() == "eval_accuracy (higher is better)"
    table = view.checkpoints
    assert table.columnWidth(1) >= table.horizontalHeader().fontMetrics().horizontalAdvance(
        "eval_accuracy (higher is better)"), "the heading is clipped"
    view._show_static(RunStatic(run.id, []))  # nothing to name
    assert view.checkpoints.horizontalHeaderItem(1).text() == "Eval metric"
    view.stop()
