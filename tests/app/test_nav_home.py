"""Clicking the sidebar item of the view already shown takes it back to its first page."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.app.model_sync import sync_model
from tests.app.test_part2_views import _run


def _click_nav(qtbot, window, name: str) -> None:
    nav = window.nav
    row = next(r for r in range(nav.count()) if nav.item(r).data(Qt.ItemDataRole.UserRole) == name)
    qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=nav.visualItemRect(nav.item(row)).center())


def test_clicking_runs_again_on_a_run_page_shows_the_list(store, window, qtbot) -> None:
    """Seen on Xvfb: on a run's page (or Compare, or the Playground) a click on 'Runs' in the sidebar
    did nothing; only the small '← All runs' button led back to the list."""
    run = _run(store, "done", 1e-3, [3.0, 2.0])
    sync_model(qtbot, window.ctx)
    runs_view = window.show_view("runs")
    runs_view.scheduler.stop()
    runs_view.open_run(run.id)
    assert runs_view.stack.currentWidget() is runs_view.detail
    _click_nav(qtbot, window, "leaderboard")
    _click_nav(qtbot, window, "runs")  # coming back from another view keeps the run's page
    assert window.current_view_name() == "runs" and runs_view.stack.currentWidget() is runs_view.detail
    _click_nav(qtbot, window, "runs")  # a second click on the view already shown: its list
    assert runs_view.stack.currentWidget() is runs_view.list_page
