"""Datasets view: what the lower pane shows as the user moves between projects."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.gui_assets import write_image_folder, write_text_dataset
from tests.app.model_sync import shown, sync_model


def shown_view(qtbot, store, ctx):  # noqa: ANN001, ANN201 - Qt objects
    """The Datasets view, shown at a usual size once the app model has read the store."""
    from app.views.datasets_view import DatasetsView

    return shown(qtbot, ctx, DatasetsView(store, ctx), (1100, 750))


def test_choosing_another_project_shows_its_dataset_below_not_the_last_one(qtbot, store, ctx, tmp_path: Path):
    # Seen on Xvfb: after switching the Project box from a project whose newest dataset (its last row)
    # was shown to one with a single dataset, the list selected that dataset while Preview, Report and
    # Card went on showing the previous project's one ("10 items" under a 1,300-frame dataset).
    first = projects.create(store, "first")
    second = projects.create(store, "second")
    ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=12)], project=first.id)
    shapes = ingest_paths(store, [write_image_folder(tmp_path / "shapes", per_class=2)], project=first.id).dataset
    dots = ingest_paths(store, [write_image_folder(tmp_path / "dots", per_class=3, classes=("a", "b"))],
                        project=second.id).dataset
    view = shown_view(qtbot, store, ctx)
    view.project_combo.setCurrentIndex(view.project_combo.findData(first.id))
    qtbot.waitUntil(lambda: shapes.name in view.card.toPlainText(), timeout=10_000)
    assert view.selected_dataset().id == shapes.id

    view.project_combo.setCurrentIndex(view.project_combo.findData(second.id))
    assert view.selected_dataset().id == dots.id
    qtbot.waitUntil(lambda: dots.name in view.card.toPlainText(), timeout=10_000)
    assert view.preview.grid.model.dataset.id == dots.id
    assert f"Dataset {dots.name}" in view.report.summary.text()



def test_a_file_of_another_kind_is_rejected_in_words_that_fit_the_app(qtbot, store, ctx, tmp_path: Path):
    # Seen on Xvfb: a dropped file that was not text was rejected with "pass --kind to ingest another
    # kind", a command-line flag; in the app the choice is the Kind box beside the drop zone.
    from tests.app.drag import drop

    projects.create(store, "first")
    view = shown_view(qtbot, store, ctx)
    write_text_dataset(tmp_path / "mixed", n_good=5)
    (tmp_path / "mixed" / "notes.xyz").write_bytes(b"\x00\x01 not text")
    drop(view, [tmp_path / "mixed"])
    qtbot.waitUntil(lambda: view.banner.role in ("warning", "error"), timeout=30_000)
    qtbot.waitUntil(lambda: bool(view.report.reasons()), timeout=10_000)
    reason = next(r for r in view.report.reasons() if "text file" in r)
    assert "Kind" in reason and view.kind_label.text() == "Kind", reason


def _datasets_view(store, ctx, qtbot):  # noqa: ANN001, ANN202 - Qt objects
    return shown_view(qtbot, store, ctx)


def test_a_rename_redraws_the_list_once_and_the_same_name_changes_nothing(qtbot, store, ctx, tmp_path: Path):
    # The answer to a rename refreshed the view itself after apply_written, whose datasets_reset had
    # refreshed it already; and a rename to the same name said "Renamed dataset 'support' to 'support'".
    from app.workers import pending
    from spark_trainer.store import datasets

    projects.create(store, "demo")
    support = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=4)], project="demo",
                           name="support").dataset
    view = _datasets_view(store, ctx, qtbot)
    view.select(support.id)
    redraws: list[int] = []
    fill = view._fill_table
    view._fill_table = lambda: (redraws.append(1), fill())[1]  # a spy on every refresh's table fill
    view._rename(support, "tickets")
    qtbot.waitUntil(lambda: not pending(view.rename_task), timeout=10_000)
    # The read the rename asks for brings the project too (touched: a new updated_at); CI once saw its
    # projects_reset redraw the rows a second time when that read landed before this assertion.
    sync_model(qtbot, ctx)
    assert [row[0] for row in view.row_texts()] == ["tickets"] and view.selected_dataset().name == "tickets"
    assert len(redraws) == 1, f"the list was redrawn {len(redraws)} times for one rename"

    view._rename(view.selected_dataset(), "tickets")
    qtbot.waitUntil(lambda: not pending(view.rename_task), timeout=10_000)
    assert view.banner.text() == "'tickets' already has that name: nothing changed."
    assert view.banner.role == "info"
    assert datasets.get(store, support.id).meta["renamed_from"] == ["support"]  # not ["support", "tickets"]


def test_rename_checks_the_name_as_typed_and_every_view_shows_the_new_one(qtbot, store, ctx, tmp_path: Path):
    from PySide6.QtWidgets import QDialogButtonBox

    from app.workers import pending
    from spark_trainer.store import datasets
    from tests.app.views.test_experiment_setup_view import filled_form

    setup = filled_form(store, ctx, qtbot, tmp_path)  # its Dataset box says 'reviews'
    ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=4)], project="demo", name="support")
    view = _datasets_view(store, ctx, qtbot)
    reviews = datasets.get(store, "reviews")
    view.select(reviews.id)
    dialog = view.rename_selected()
    ok = dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)
    assert dialog.name.text() == "reviews" and ok.isEnabled()
    for bad, said in (("", "dataset name must not be empty"), ("2024", "is all digits")):
        dialog.name.setText(bad)
        assert not ok.isEnabled() and said in dialog.error.text()
    dialog.name.setText("support")  # taken: refused as typed, the dialog and its text stay (walk s09)
    assert not ok.isEnabled() and dialog.error.text() == "a dataset named 'support' already exists in this project"
    assert datasets.get(store, reviews.id).name == "reviews"

    dialog.name.setText("opinions")
    dialog.grab().save(str(tmp_path / "rename-dialog.png"))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: not pending(view.rename_task), timeout=10_000)
    assert view.banner.role == "ok" and "Renamed dataset 'reviews' to 'opinions'" in view.banner.text()
    assert datasets.get(store, reviews.id).name == "opinions"
    assert sorted(row[0] for row in view.row_texts()) == ["opinions", "support"]
    assert view.selected_dataset().id == reviews.id
    qtbot.waitUntil(lambda: view.card.toPlainText().startswith("opinions"), timeout=10_000)
    # The setup form meant this dataset: its box follows the name, and the form has nothing to say about it.
    assert setup.dataset.currentText() == "opinions"
    assert "opinions" in [setup.dataset.itemText(i) for i in range(setup.dataset.count())]
    qtbot.waitUntil(lambda: not setup.checking, timeout=15_000)
    assert setup.errors["dataset"].text() == ""
    view.grab().save(str(tmp_path / "datasets-renamed.png"))


def test_f2_and_the_right_click_menu_rename_the_selected_dataset(qtbot, store, ctx, tmp_path: Path):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    project = projects.create(store, "first")
    made = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=4)], project=project.id).dataset
    view = _datasets_view(store, ctx, qtbot)
    view.select(made.id)
    menu = view.menu()
    assert [(a.text(), a.isEnabled()) for a in menu.actions()] == [("Rename…", True), ("Delete dataset…", True)]
    assert view.rename_button.isEnabled()
    view.table.setFocus()
    QTest.keyClick(view.table, Qt.Key.Key_F2)
    assert view.dialog is not None and view.dialog.isVisible()
    assert view.dialog.windowTitle() == f"Rename {made.name}"


def test_the_created_line_goes_when_another_project_is_chosen(qtbot, store, ctx, tmp_path: Path):
    # As on Projects: "Dataset support created: 12 items" stayed at the top after the Project box
    # moved to a project without that dataset.

    first = projects.create(store, "first")
    second = projects.create(store, "second")
    view = shown_view(qtbot, store, ctx)
    view.project_combo.setCurrentIndex(view.project_combo.findData(first.id))
    view.ingest([write_text_dataset(tmp_path / "support", n_good=12)])
    qtbot.waitUntil(lambda: view.banner.role == "ok", timeout=30_000)
    assert "created: 12 items" in view.banner.text() and view.project_id() == first.id
    view.project_combo.setCurrentIndex(view.project_combo.findData(second.id))
    assert not view.banner.isVisible() and view.banner.text() == ""


def test_a_drop_of_two_kinds_in_equal_numbers_names_the_kind_box(qtbot, store, ctx, tmp_path: Path):
    # "as many image as text files; choose one with --kind": a flag, to someone who dropped a folder.
    from tests.app.drag import drop

    projects.create(store, "first")
    view = shown_view(qtbot, store, ctx)
    write_image_folder(tmp_path / "mixed", per_class=1, classes=("only",))
    write_text_dataset(tmp_path / "mixed", n_good=5)  # one image, one JSONL file
    drop(view, [tmp_path / "mixed"])
    qtbot.waitUntil(lambda: view.banner.role == "error", timeout=30_000)
    said = view.banner.text()
    assert "as many" in said and "Kind" in said and view.kind_label.text() == "Kind", said
    assert "choose one with --kind" not in said


def test_the_created_line_moves_neither_the_drop_zone_nor_its_buttons(qtbot, store, ctx, tmp_path: Path):
    # Seen on Xvfb: after "Add files…" built a dataset, its line pushed the drop zone and its buttons
    # 38 px down, so a second "Add files…" click landed on the zone's text instead.
    from PySide6.QtCore import QPoint


    projects.create(store, "first")
    view = shown_view(qtbot, store, ctx)
    qtbot.wait(50)  # laid out
    before = view.files_button.mapTo(view, QPoint(0, 0))
    view.ingest([write_text_dataset(tmp_path / "support", n_good=12)])
    qtbot.waitUntil(lambda: view.banner.role == "ok", timeout=30_000)
    qtbot.wait(50)
    assert view.banner.isVisible() and view.files_button.mapTo(view, QPoint(0, 0)) == before


def test_a_dataset_an_experiment_uses_can_be_deleted_after_a_second_question(qtbot, store, ctx, tmp_path: Path):
    # Seen on Xvfb: deleting a dataset an experiment used said "Could not delete: ... delete them first or
    # pass --force"; the app has no flag to pass, nor a way to delete an experiment: a dead end.
    from spark_trainer.store import datasets, experiments

    first = projects.create(store, "first")
    dataset = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=12)], project=first.id).dataset
    experiments.create(store, project="first", name="uses-it", recipe="causal-lm", base_model="m",
                       dataset=dataset.id, config={})
    view = shown_view(qtbot, store, ctx)
    view.delete_selected()
    qtbot.waitUntil(lambda: view.delete_box is not None and view.delete_box.isVisible(), timeout=10_000)
    next(b for b in view.delete_box.buttons() if b.text() == "Delete dataset").click()
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    again = view.confirm_box
    assert again is not None and again.isVisible()
    assert again.text().startswith("Experiment uses-it uses dataset 'support'. Deleted, it leaves")
    assert "--force" not in again.text() + view.banner.text()
    assert datasets.list_all(store)  # nothing deleted until the second answer
    next(b for b in again.buttons() if b.text() == "Delete anyway").click()
    qtbot.waitUntil(lambda: not view.busy() and view.banner.role == "ok", timeout=10_000)
    assert datasets.list_all(store) == [] and view.banner.text() == "Deleted dataset 'support'."
    assert experiments.get(store, "uses-it").dataset_id is None


def test_ingesting_the_same_file_again_says_it_is_a_second_copy(qtbot, store, ctx, tmp_path: Path):
    # Seen in a GUI walk: the same file dropped twice made 'support-2' under a green "created" line
    # alone; the command says "note: the same items as dataset 'support' (id 1): this one is a second copy".
    projects.create(store, "first")
    source = write_text_dataset(tmp_path / "support", n_good=12)
    first = ingest_paths(store, [source], project=projects.list_all(store)[0].id).dataset
    view = shown_view(qtbot, store, ctx)
    view.ingest([source])
    qtbot.waitUntil(lambda: view.banner.role in ("ok", "warning"), timeout=30_000)
    from PySide6.QtGui import QTextDocument

    shown_text = QTextDocument()
    shown_text.setHtml(view.banner.text())  # as the label draws it
    said = shown_text.toPlainText()
    assert "support-2" in said and "created: 12 items" in said, said
    assert f"the same items as dataset '{first.name}' (id {first.id})" in said, said
    assert "second copy" in said and view.banner.role == "warning"


def test_a_home_without_projects_shows_no_filter_box(qtbot, store, ctx, tmp_path: Path):
    # Seen in a GUI walk: an empty home's Datasets view showed "Filter datasets (Ctrl+F)" alone in the
    # middle of the page, with nothing to filter.
    view = shown_view(qtbot, store, ctx)
    assert view.new_project_button.isVisible() and not view.row_filter.isVisible()
    projects.create(store, "first")
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: view.project_id() is not None, timeout=10_000)
    assert view.empty.isVisible() and view.row_filter.isVisible()  # a project: its list, empty for now


def test_deleting_a_paused_runs_dataset_asks_again_saying_the_run_cannot_resume(qtbot, store, ctx, tmp_path: Path):
    """A run paused on a dataset no experiment names (its run file's data changed: a new ingestion) was
    deleted unasked; and "Delete anyway" said only that runs, charts and exports stay, while the paused run
    could then never be resumed."""
    from spark_trainer.store import datasets, experiments, runs
    from spark_trainer.store.entities import RunStatus

    first = projects.create(store, "first")
    dataset = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=12)], project=first.id).dataset
    exp = experiments.create(store, project="first", name="tc", recipe="causal-lm", base_model="m", dataset=None,
                             config={})
    run = runs.create(store, exp.id, dataset_id=dataset.id)
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.PAUSED):
        runs.transition(store, run.id, status, "test")
    view = shown_view(qtbot, store, ctx)
    view.delete_selected()
    qtbot.waitUntil(lambda: view.delete_box is not None and view.delete_box.isVisible(), timeout=10_000)
    next(b for b in view.delete_box.buttons() if b.text() == "Delete dataset").click()
    qtbot.waitUntil(lambda: not view.busy(), timeout=10_000)
    again = view.confirm_box
    assert again is not None and again.isVisible()
    assert again.text() == (f"Run {run.id} (paused) trains on dataset 'support'. Deleted, it can no longer be "
                            "resumed: only its charts, checkpoints and exports stay.")
    assert datasets.list_all(store)  # nothing deleted until the second answer
    next(b for b in again.buttons() if b.text() == "Delete anyway").click()
    qtbot.waitUntil(lambda: not view.busy() and view.banner.role == "ok", timeout=10_000)
    assert datasets.list_all(store) == [] and runs.get(store, run.id).dataset_id is None


def test_a_dataset_a_run_trains_on_is_refused_before_asking_and_the_refusal_goes_with_its_project(
        qtbot, store, ctx, tmp_path: Path):
    """The walk (s50, s51): Delete dataset asked "Delete walk2?" and only once answered said a run used
    it; then the refusal stayed over another project's list (s52e)."""
    from spark_trainer.store import datasets, experiments, runs
    from spark_trainer.store.entities import RunStatus

    first = projects.create(store, "first")
    other = projects.create(store, "other")
    dataset = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=12)], project=first.id).dataset
    exp = experiments.create(store, project="first", name="tc", recipe="causal-lm", base_model="m",
                             dataset=dataset.id, config={})
    run = runs.create(store, exp.id)
    for status in (RunStatus.STARTING, RunStatus.RUNNING):
        runs.transition(store, run.id, status, "test")
    ctx.set_current_project(first.id)
    view = shown_view(qtbot, store, ctx)
    view.delete_selected()
    qtbot.waitUntil(lambda: not view.busy() and view.banner.role == "error", timeout=10_000)
    assert view.delete_box is None  # refused before asking
    assert view.banner.text().startswith(f"Cannot delete: dataset 'support' is in use by run {run.id}, which is "
                                         "running; cancel it before deleting")
    assert datasets.list_all(store)
    sync_model(qtbot, ctx)
    assert view.banner.role == "error"  # still true: it stays
    runs.transition(store, run.id, RunStatus.CANCELLED, "test: cancelled")
    sync_model(qtbot, ctx)
    assert not view.banner.isVisible() and view.banner.text() == ""  # no longer true: it goes
    view.delete_selected()
    qtbot.waitUntil(lambda: view.delete_box is not None, timeout=10_000)  # asked, now
    view.delete_box.reject()
    view.banner.show_message("Cannot delete: dataset 'support' is in use by run 9, which is running.", "error",
                             about=first.id)
    ctx.set_current_project(other.id)
    assert not view.banner.isVisible() and view.banner.text() == ""  # about a list no longer shown


def test_add_files_keeps_the_view_on_its_project_and_says_the_dataset_was_created(qtbot, window, store, tmp_path):
    """The walk (s16, s19_1): Datasets on 'walk', Add files…, and the view jumped to the project selected
    in the Projects list ('demo-renamed'): no new row, no 'Dataset created' line."""
    chosen_there = projects.create(store, "demo-renamed")
    walk = projects.create(store, "walk")
    sync_model(qtbot, window.ctx)
    listing = window.show_view("projects")
    qtbot.waitUntil(lambda: len(listing.row_texts()) == 2, timeout=10_000)
    listing.select(chosen_there.id)
    view = window.show_view("datasets")
    view.project_combo.setCurrentIndex(view.project_combo.findData(walk.id))
    assert window.ctx.current_project == walk.id
    view.ingest([write_text_dataset(tmp_path / "support", n_good=8)])
    qtbot.waitUntil(lambda: view.banner.role in ("ok", "warning"), timeout=30_000)
    sync_model(qtbot, window.ctx)
    qtbot.wait(200)
    assert window.ctx.current_project == walk.id and view.project_id() == walk.id
    assert "created" in view.banner.text() and view.banner.isVisible()
    assert [row[0] for row in view.row_texts()] == ["support"]


def test_a_manifest_cut_by_hand_shows_its_rows_now_and_says_it_was_edited(qtbot, store, ctx, tmp_path: Path):
    # The table, the Preview's pager and the settings advice counted the ingested rows of a manifest
    # cut by hand in the data home, while runs trained on what was left.
    projects.create(store, "demo")
    support = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=12)], project="demo").dataset
    manifest = Path(support.path) / "manifest.jsonl"
    manifest.write_text("".join(manifest.read_text().splitlines(keepends=True)[:5]))
    view = shown_view(qtbot, store, ctx)
    qtbot.waitUntil(lambda: view.row_texts() and view.row_texts()[0][2] == "5", timeout=10_000)
    qtbot.waitUntil(lambda: "Rows 1–5 of 5" == view.preview.pager.position.text(), timeout=10_000)
    assert view.report.notes.text().startswith("manifest.jsonl was edited outside the app since ingestion: runs "
                                               "train on its 5 items"), view.report.notes.text()
    assert view.card.toPlainText().startswith("Note: manifest.jsonl was edited"), view.card.toPlainText()[:200]
    assert ctx.model.datasets.get(support.id).num_items == 5
