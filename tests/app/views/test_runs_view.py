"""The Runs list's message line: what it says never moves the rows the user is about to click."""

from __future__ import annotations

from PySide6.QtCore import QPoint

from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import sync_model


def test_the_compare_hint_moves_no_row_of_the_list(qtbot, window, store, project) -> None:
    # Seen on Xvfb: "Compare selected" with one run selected said "Select two or more runs to compare
    # (Ctrl+click rows)" above the list, and the list moved 38 px down under the Ctrl+click it asked for.
    add_experiment_with_runs(store, project.name, statuses=("completed", "completed"))
    sync_model(qtbot, window.ctx)
    view = window.show_view("runs")
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    qtbot.wait(50)  # laid out

    def table_top() -> int:
        return view.table.mapTo(window, QPoint(0, 0)).y()

    before = table_top()
    view.compare_button.click()
    assert view.banner.isVisible() and "Ctrl+click" in view.banner.text()
    qtbot.wait(50)
    assert table_top() == before


def test_the_message_line_takes_no_strip_of_its_own_above_the_filters(qtbot, window) -> None:
    # Seen in a screenshot: an empty 38 px strip between the title and the filters, held for messages;
    # the line is in the title row now (a LineBanner), and a message there moves no filter.
    view = window.show_view("runs")
    view.scheduler.stop()
    qtbot.wait(50)  # laid out

    def filters_top() -> int:
        return view.project_filter.mapTo(view, QPoint(0, 0)).y()

    title_bottom = view.title_label.mapTo(view, QPoint(0, view.title_label.height())).y()
    before = filters_top()
    assert before - title_bottom < 20, f"{before - title_bottom} px between the title and the filters"
    view.banner.show_message("2 runs were interrupted when the app last closed. " * 4, "warning")
    view.resume_button.show()
    qtbot.wait(50)
    assert filters_top() == before and view.banner.isVisible()
    assert view.banner.shown().endswith("…") and view.banner.toolTip() == view.banner.text()


def test_every_default_column_fits_a_1280_pixel_window(qtbot, window, store) -> None:
    # Seen in a GUI walk: at 1280 x 800 the Runs list scrolled sideways for its last columns (eval_loss,
    # Created): Qt's fit left room for the sort arrow beside every title, a queued run's "waiting for
    # run 5 to finish" was 212 px wide, and Progress was fixed at 160 px.
    from app.views.runs_view import COLUMNS
    from spark_trainer.store import metrics, projects, runs

    projects.create(store, "customer-support")
    lora = add_experiment_with_runs(store, "customer-support", name="llama-lora-r16-lr3e-4",
                                    statuses=("completed", "failed", "paused", "running", "cancelled"))
    add_experiment_with_runs(store, "customer-support", name="full-ft-seq512", statuses=("queued", "queued"))
    for run in lora:
        metrics.add_batch(store, run.id, [("eval_loss", 10, 2.3456)])
    runs.update(store, lora[3].id, eta_seconds=1830.0)
    sync_model(qtbot, window.ctx)
    view = window.show_view("runs")
    view.scheduler.stop()
    status = COLUMNS.index("Status")
    qtbot.waitUntil(lambda: view.table.rowCount() == 7 and "waiting" in view.table.item(0, status).text(),
                    timeout=10_000)
    qtbot.wait(50)  # laid out
    table = view.table
    widths = [table.columnWidth(c) for c in range(table.columnCount())]
    assert sum(widths) <= table.viewport().width(), (widths, table.viewport().width())
    assert not table.horizontalScrollBar().isVisible()


def test_a_queued_runs_status_tooltip_says_when_it_should_start(qtbot, store, qsettings, monkeypatch) -> None:
    """As `queue show`'s starts column; an active run has none."""
    from PySide6.QtCore import Qt

    from app.views.runs_view import COLUMNS, RunsView
    from tests.app.queue_night import at, estimated_window

    ids, ctx = estimated_window(store, qsettings, qtbot, monkeypatch)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()  # the queued rows stay queued: no worker starts

    def tip(run_id: int) -> str:
        row = next(r for r in range(view.rows.rowCount()) if view.rows.row(r).run.id == run_id)
        return view.rows.data(view.rows.index(row, COLUMNS.index("Status")), Qt.ItemDataRole.ToolTipRole)

    qtbot.waitUntil(lambda: "starts" in tip(ids["a"]), timeout=10_000)
    assert tip(ids["a"]).endswith(f"\npriority 0, 1st of 3 queued to start\nstarts {at(600)}")
    assert tip(ids["b"]).endswith(f"\nstarts {at(1040)}")
    assert tip(ids["c"]).endswith(f"\nstarts {at(1150)}")  # after the runs ahead of it; its own end is not counted
    assert "starts" not in tip(ids["active"])
    ctx.shutdown()
