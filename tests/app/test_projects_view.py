"""Projects view: welcome panel, create, rename, search, delete with a clear confirmation."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox

from spark_trainer.store import datasets, projects, runs
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import shown, sync_model


@pytest.fixture
def view(store, ctx, qtbot):
    from app.views.projects_view import ProjectsView

    return shown(qtbot, ctx, ProjectsView(store, ctx), (1000, 700))


@pytest.fixture
def sync(qtbot, ctx):
    """Wait until the view shows what the test wrote to the store (the view follows the app model)."""
    return lambda: sync_model(qtbot, ctx)


def fill_and_accept(dialog, name: str, description: str = "") -> None:
    dialog.name.setText(name)
    dialog.description.setText(description)
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled(), dialog.error.text()
    ok.click()


def written(qtbot, view) -> None:
    """Wait for the view's store write (on the pool) to be answered."""
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)


def test_an_empty_home_shows_the_welcome_panel(view):
    assert view.pages.currentWidget() is view.welcome
    assert "Welcome" in view.welcome.empty.title.text()
    assert not view.search.isVisible()


def test_create_from_the_dialog_then_the_table_lists_it(qtbot, view, store):
    fill_and_accept(view.new_project(), "support-bot", "answers tickets")
    written(qtbot, view)
    assert [p.name for p in projects.list_all(store)] == ["support-bot"]
    assert view.pages.currentWidget() is not view.welcome
    assert view.row_texts()[0][:4] == ["support-bot", "0", "0", "0"]
    assert view.row_texts()[0][5] == "answers tickets"
    assert view.banner.role == "ok"


def test_invalid_names_are_refused_inline(qtbot, view, store, sync):
    projects.create(store, "taken")
    sync()
    dialog = view.new_project()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    dialog.name.setText("   ")
    assert not ok.isEnabled() and "empty" in dialog.error.text()
    dialog.name.setText("12345")
    assert not ok.isEnabled() and "digits" in dialog.error.text()
    dialog.name.setText("taken")
    assert not ok.isEnabled() and dialog.error.text() == "a project named 'taken' already exists"
    projects.create(store, "taken-meanwhile")  # by another process: only the store knows
    dialog.name.setText("taken-meanwhile")
    ok.click()
    written(qtbot, view)
    assert view.banner.role == "error" and "already exists" in view.banner.text()
    assert len(projects.list_all(store)) == 2


def test_renaming_to_a_taken_name_is_refused_as_typed_and_keeps_the_dialog(qtbot, view, store, sync):
    """The walk (s09.png): renaming to an existing name closed the dialog, lost what was typed, then
    said so in the banner."""
    projects.create(store, "taken")
    mine = projects.create(store, "mine")
    sync()
    view.select(mine.id)
    dialog = view.rename_selected()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert ok.isEnabled()  # its own name
    dialog.name.setText("taken")
    assert not ok.isEnabled() and dialog.error.text() == "a project named 'taken' already exists"
    dialog.name.setText("mine-2")
    assert ok.isEnabled() and dialog.error.text() == ""


def test_counts_search_and_rename(qtbot, view, store, tmp_path, sync):
    alpha = projects.create(store, "alpha")
    projects.create(store, "beta")
    add_experiment_with_runs(store, "alpha", statuses=("completed", "failed"))
    sync()
    rows = {r[0]: r for r in view.row_texts()}
    assert rows["alpha"][1:4] == ["0", "1", "2"] and rows["beta"][1:4] == ["0", "0", "0"]
    view.search.setText("bet")
    assert [r[0] for r in view.row_texts()] == ["beta"]
    view.search.setText("zzz")
    assert view.row_texts() == [] and "No project matches" in view.empty_search.text()
    view.search.setText("")
    view.select(alpha.id)
    dialog = view.rename_selected()
    dialog.name.setText("alpha-2")
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    written(qtbot, view)
    assert {p.name for p in projects.list_all(store)} == {"alpha-2", "beta"}
    assert "alpha-2" in [r[0] for r in view.row_texts()]


def test_delete_says_what_it_removes_and_removes_it(qtbot, view, store, tmp_path, sync):
    from spark_trainer.store.datasets import NewDataset

    project = projects.create(store, "doomed")
    folder = store.home.datasets_dir / "manual"
    folder.mkdir()
    (folder / "manifest.jsonl").write_text("{}\n")
    datasets.create(store, "doomed", NewDataset(name="d1", kind="text", path=str(folder), num_items=1))
    (run,) = add_experiment_with_runs(store, "doomed", dataset="d1", statuses=("completed",))
    from spark_trainer.store import exports

    made, chosen = store.home.export_dir(1), tmp_path / "my-export"  # the app's export, and one to a folder chosen
    for export_dir in (made, chosen):
        export_dir.mkdir(parents=True)
        exports.add(store, run.id, step=50, options={}, path=str(export_dir))
    sync()
    view.select(project.id)
    view.delete_selected()
    written(qtbot, view)  # what it would remove is read on the pool, then asked
    dialog = view.dialog
    text = dialog.summary.text()
    assert "1 dataset(s)" in text and "1 experiment(s)" in text and "1 run(s) with 10 metric points" in text
    # the dataset's folder, the run's (a run's submit creates its folder) and the export the app made
    assert "3 folder" in dialog.delete_files.text()
    run_dir = Path(runs.list_all(store)[0].run_dir)
    assert run_dir.is_dir()
    dialog.delete_files.setChecked(True)
    dialog.confirm.click()
    written(qtbot, view)
    assert projects.list_all(store) == []
    assert not folder.exists() and not run_dir.exists() and not made.exists()
    assert chosen.is_dir()  # the user's folder is never removed
    assert view.pages.currentWidget() is view.welcome


def test_delete_is_refused_while_a_run_is_in_progress(qtbot, view, store, sync):
    project = projects.create(store, "busy")
    add_experiment_with_runs(store, "busy", statuses=("running",))
    sync()
    view.select(project.id)
    view.delete_selected()
    written(qtbot, view)
    assert view.dialog is None
    assert view.banner.role == "error" and "which is running" in view.banner.text()
    assert [p.name for p in projects.list_all(store)] == ["busy"]
    other = projects.create(store, "other")
    sync()
    view.select(other.id)  # another project chosen: the error stays, not lost unread
    assert view.banner.isVisible() and view.banner.role == "error"
    from spark_trainer.store.entities import RunStatus

    (run,) = runs.list_all(store)
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: cancelled")
    sync()
    assert not view.banner.isVisible()  # no longer true once the run is cancelled (walk m25)


def test_welcome_panel_builds_the_demo_project_and_opens_its_run(qtbot, window, store):
    """The first-start path: one click gives a project with data and a training run."""
    from spark_trainer.jobs import control
    from spark_trainer.store import runs

    panel = window.views["projects"].welcome
    assert panel.demo_button is not None, "the demo builder is installed, so the button is offered"
    task = panel.create_demo()
    try:
        qtbot.waitUntil(lambda: task.delivered, timeout=120_000)
        assert panel.banner.text() == "", panel.banner.text()
        demo = projects.get(store, "demo")
        assert demo.num_datasets == 1 and demo.num_runs == 1
        run = runs.list_all(store, project="demo")[0]
        assert window.current_view_name() == "runs"
        assert f"run {run.id}" in panel.status.text()
        # the list replaces the welcome once the app model has read the new project (on the pool)
        qtbot.waitUntil(lambda: window.views["projects"].pages.currentWidget() is not panel, timeout=15_000)
    finally:
        for run in runs.list_all(store):
            if run.status.is_active or run.status.value == "queued":
                control.cancel(store, run.id, grace_s=5)


def test_a_demo_for_another_recipe_is_offered_once_projects_exist(qtbot, window, store, project):
    """The welcome panel's demo choice is gone once a project exists; the Projects view keeps
    offering every recipe's demo (seen: after the causal-LM demo no view offered another)."""
    from app.views.welcome_panel import DEMO_CHOICES
    from spark_trainer.jobs import control
    from spark_trainer.store import experiments

    view = window.show_view("projects")
    sync_model(qtbot, window.ctx)
    qtbot.waitUntil(lambda: view.pages.currentWidget() is not view.welcome, timeout=15_000)
    assert view.demo_button.isVisible()
    actions = view.demo_button.menu().actions()
    assert [a.data() for a in actions] == [recipe for recipe, _text in DEMO_CHOICES]
    view.welcome.demo_steps = 2
    next(a for a in actions if a.data() == "text-classification").trigger()
    task = view.welcome.task
    try:
        assert not view.demo_button.isEnabled()
        assert view.welcome.status.isVisible(), "the build's progress shows on the project list too"
        qtbot.waitUntil(lambda: task.delivered, timeout=120_000)
        assert view.welcome.banner.text() == "", view.welcome.banner.text()
        assert [e.recipe for e in experiments.list_all(store, project="demo")] == ["text-classification"]
        assert window.current_view_name() == "runs"
        assert view.demo_button.isEnabled()
    finally:
        for run in runs.list_all(store):
            if run.status.is_active or run.status.value == "queued":
                control.cancel(store, run.id, grace_s=5)


def test_the_search_placeholder_is_shown_whole_in_a_wide_window(qtbot, view, store, sync, tmp_path):
    """Seen at 1280 px: the box stayed at its size hint next to a stretch and read 'Search projects (…'."""
    projects.create(store, "support-bot")
    sync()
    view.resize(1090, 700)  # the view's share of a 1280 px window
    qtbot.waitUntil(lambda: view.width() == 1090)
    qtbot.wait(20)
    view.grab().save(str(tmp_path / "projects-search.png"))
    needed = view.search.fontMetrics().horizontalAdvance(view.search.placeholderText())
    assert view.search.width() >= needed + 20, (view.search.width(), needed)


def test_a_done_line_goes_once_it_no_longer_describes_what_is_shown(qtbot, view, store, sync):
    # Seen: "Created project 'gamma'." stayed above the list after the user chose another project,
    # after gamma was deleted (from the command line), and on coming back to Projects much later.
    beta = projects.create(store, "beta")
    sync()
    fill_and_accept(view.new_project(), "gamma")
    written(qtbot, view)
    assert view.banner.isVisible() and view.banner.text() == "Created project 'gamma'."
    view.select(beta.id)  # another project chosen
    assert not view.banner.isVisible()

    fill_and_accept(view.new_project(), "delta")
    written(qtbot, view)
    assert view.banner.isVisible() and view.selected_project().name == "delta"
    projects.delete(store, view.selected_project().id)  # gone, deleted elsewhere
    sync()
    assert not view.banner.isVisible()

    fill_and_accept(view.new_project(), "epsilon")
    written(qtbot, view)
    assert view.banner.isVisible()
    view.hide()  # another view chosen, then Projects again
    view.show()
    assert not view.banner.isVisible() and view.banner.text() == ""

    view.select(beta.id)  # a deletion's line stays over the list it changed
    view.delete_selected()
    written(qtbot, view)
    view.dialog.confirm.click()
    written(qtbot, view)
    sync()
    assert view.banner.isVisible() and view.banner.text() == "Deleted project 'beta'."
    shown = view.selected_project()  # another project than the one the list shows selected after the delete
    view.select(next(p.id for p in view.ctx.model.projects.projects if shown is None or p.id != shown.id))
    assert not view.banner.isVisible()


def test_a_message_moves_no_row_of_the_list(qtbot, view, store, sync):
    # Seen: "Created project 'gamma'." appeared above the table and every row moved 38 px down, the
    # new project's row too, under the double-click meant for it.
    projects.create(store, "alpha")
    projects.create(store, "beta")
    sync()
    qtbot.wait(20)  # laid out

    def rows() -> list[int]:
        header = view.table.viewport().mapTo(view, view.table.viewport().rect().topLeft()).y()
        return [header + view.table.rowViewportPosition(row) for row in range(view.table.rowCount())]

    before = rows()
    fill_and_accept(view.new_project(), "aardvark")  # sorts first: every row below it moves one row, no more
    written(qtbot, view)
    qtbot.wait(20)
    assert view.banner.isVisible() and "aardvark" in view.banner.text()
    assert rows()[: len(before)] == before
    view.banner.clear_message()
    qtbot.wait(20)
    assert rows()[: len(before)] == before


def welcome_top(qtbot, view):
    """The welcome page is shown: a function giving its title's top in the view, once laid out."""
    welcome = view.welcome
    assert view.pages.currentWidget() is welcome
    qtbot.wait(20)
    return lambda: welcome.empty.title.mapTo(view, welcome.empty.title.rect().topLeft()).y()


def test_the_welcome_page_stays_put_while_a_demo_builds(qtbot, view):
    # Seen: the welcome text and buttons jumped 8 px up when "Create demo project" showed its progress bar.
    welcome, top = view.welcome, welcome_top(qtbot, view)
    before = top()
    welcome.progress.show()  # as create_demo does, without building one
    welcome.status.setText("Building the demo project…")
    qtbot.wait(20)
    assert welcome.progress.isVisible() and top() == before
    welcome.progress.hide()
    welcome.status.setText("Demo project ready: run 1 is queued.")
    qtbot.wait(20)
    assert top() == before


def test_the_hint_sits_right_under_the_list(qtbot, view, store, sync):
    # Seen in a real window: 60 px of nothing between the list and its hint, the empty lines of a
    # search that matched, of a demo not being built and the room of its progress bar.
    projects.create(store, "alpha")
    sync()
    qtbot.wait(20)
    assert view.pages.currentIndex() == 0
    table_bottom = view.table.mapTo(view, view.table.rect().bottomLeft()).y()
    gap = view.hint.mapTo(view, view.hint.rect().topLeft()).y() - table_bottom - 1
    assert gap <= 2 * view.body.spacing(), gap
    view.search.setText("zzz")  # a search that matches nothing says so there
    qtbot.wait(20)
    assert view.empty_search.isVisible() and "zzz" in view.empty_search.text()


def test_projects_are_listed_a_to_z(qtbot, view, store, sync):
    # Seen in a real window: 'gamma' above 'demo' under a Name header marked sorted: Qt's first sort
    # order is descending, and the list was never told another.
    for name in ("beta", "alpha"):
        projects.create(store, name)
    sync()
    fill_and_accept(view.new_project(), "gamma")
    written(qtbot, view)
    assert [row[0] for row in view.row_texts()] == ["alpha", "beta", "gamma"]


def test_the_welcome_page_stays_put_when_a_message_shows_under_it(qtbot, view):
    # "Deleted project 'doomed'." (the last project gone: the welcome page is back) and a demo that could
    # not be built showed their line under the welcome page, and its centred text moved up 6 px.
    welcome, top = view.welcome, welcome_top(qtbot, view)
    before = top()
    for banner, text in ((view.banner, "Deleted project 'doomed'."),
                         (welcome.banner, "The demo could not be built: disk full")):
        banner.show_message(text, "error")
        qtbot.wait(20)
        assert banner.isVisible() and top() == before, text
        banner.clear_message()


def test_enter_in_the_delete_dialog_cancels(qtbot, view, store, sync):
    """Delete then Enter (the walk's d1.png showed "Delete project" focused) must not delete a project
    with its runs: Cancel is the default button and has the focus."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QPushButton

    project = projects.create(store, "keep-me")
    add_experiment_with_runs(store, "keep-me", statuses=("completed",))
    sync()
    view.select(project.id)
    view.delete_selected()
    written(qtbot, view)
    dialog = view.dialog
    qtbot.waitUntil(dialog.isVisible)
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text().replace("&", "") == "Cancel")
    assert cancel.isDefault() and not dialog.confirm.isDefault() and not dialog.confirm.autoDefault()
    dialog.activateWindow()
    qtbot.waitUntil(lambda: dialog.focusWidget() is not None)
    assert dialog.focusWidget() is cancel
    QTest.keyClick(dialog.focusWidget(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.isVisible())
    written(qtbot, view)
    assert [p.name for p in projects.list_all(store)] == ["keep-me"]


def test_a_refill_of_the_list_never_changes_the_current_project(qtbot, view, store, ctx, sync):
    """The walk: Datasets view on 'walk', Add files…, and the new counts refilled this list, whose
    selection ('demo-renamed') was made current again: the Datasets view jumped away from its new row."""
    chosen_here = projects.create(store, "demo-renamed")
    elsewhere = projects.create(store, "walk")
    sync()
    view.select(chosen_here.id)
    assert ctx.current_project == chosen_here.id
    ctx.set_current_project(elsewhere.id)  # the Datasets view's project box
    projects.create(store, "third")  # any change the poller reads refills the list
    sync()
    assert len(view.row_texts()) == 3 and view.selected_project().id == chosen_here.id
    assert ctx.current_project == elsewhere.id
    view.select(elsewhere.id)  # a click on a row still chooses it
    view.select(chosen_here.id)
    assert ctx.current_project == chosen_here.id


def test_a_long_name_is_elided_and_the_other_columns_stay_in_view(qtbot, view, store, sync, tmp_path):
    # A 150-character name fitted its column to itself: Datasets, Experiments, Runs and Last activity
    # scrolled off to the right for every row (a walk with odd names).
    from app.widgets import WIDEST_COLUMN

    long_name = "Projet très long " + "W" * 150 + " fin"
    projects.create(store, long_name)
    projects.create(store, "short")
    sync()
    table = view.table
    assert table.columnWidth(0) <= WIDEST_COLUMN
    last = table.columnCount() - 1
    assert table.columnViewportPosition(last) < table.viewport().width()  # every column starts in view
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == long_name)
    assert table.item(row, 0).toolTip() == long_name
    view.grab().save(str(tmp_path / "projects-long-name.png"))
