"""Experiment setup's "Open experiment…": an experiment made with `spark-trainer exp create` (or left
without runs when they were deleted) had no place in the app. It is listed with the project's other
experiments, opens in the form under its own name so Launch adds a run to it, and can be deleted."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.datasets import NewDataset
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.views.test_experiment_setup_view import _reviews_and_a_model, _setup_view

SHOTS = os.environ.get("SPARK_TRAINER_SHOTS")  # a folder to keep the dialog's picture in, to look at


def _nightly(cli, store, tmp_path: Path) -> int:
    """'nightly', made by the CLI as a user would, with no runs; returns its id."""
    model = _reviews_and_a_model(store, tmp_path)
    made = cli("exp", "create", "--project", "demo", "--name", "nightly", "--recipe", "text-classification",
               "--dataset", "reviews", "--base-model", model, "--set", "recipe_config.text_column=review",
               "--set", "train.max_steps=7", "--set", "train.learning_rate=0.0003", "--notes", "the night's baseline",
               "--json")
    assert made.code == 0, made.err
    return experiments.get(store, "nightly", "demo").id


def _picker(qtbot, view):  # noqa: ANN001, ANN202 - Qt objects
    picker = view.open_experiment_dialog()
    qtbot.waitUntil(lambda: not picker.busy() and (picker.table.rowCount() > 0 or picker.empty.isVisible()),
                    timeout=10_000)
    return picker


def test_an_experiment_without_runs_opens_in_the_form_and_launch_adds_its_run(qtbot, store, ctx, cli,
                                                                              tmp_path) -> None:
    nightly = _nightly(cli, store, tmp_path)
    gone = datasets.create(store, "demo", NewDataset(name="old-reviews", kind="text", path="/d", num_items=1))
    with_runs = add_experiment_with_runs(store, "demo", gone.id, name="older", statuses=("completed", "failed"))
    datasets.delete(store, gone.id, force=True)
    projects.create(store, "elsewhere")
    add_experiment_with_runs(store, "elsewhere", name="not-here", statuses=("completed",))
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    picker = _picker(qtbot, view)
    assert picker.windowTitle() == "Open an experiment" and "project 'demo'" in picker.heading.text()
    rows = {row[0]: row for row in picker.row_texts()}
    assert sorted(rows) == ["nightly", "older"]  # the other project's experiment is not listed
    assert [rows["nightly"][i] for i in (1, 2, 3, 5)] == ["text-classification", "reviews", "0", "tiny-bert"]
    assert picker.table.item(1, 5).toolTip() == str(store.home.models_dir / "tiny-bert")  # the newest first
    assert picker.table.item(1, 0).toolTip() == "the night's baseline"  # its notes
    assert rows["older"][2:4] == ["old-reviews (deleted)", "2"]  # its dataset deleted: the name it had
    picker.select(nightly)
    picker.grab().save(str(Path(SHOTS or tmp_path) / "experiment-picker.png"))
    picker.open_button.click()
    assert not picker.isVisible()

    assert (view.name.text(), view.recipe.currentText(), view.dataset.currentText()) == (
        "nightly", "text-classification", "reviews")
    train = view.forms["train"].values()
    assert (train["max_steps"], train["learning_rate"]) == (7, 0.0003)
    assert view.forms["recipe_config"].values()["text_column"] == "review"
    assert view.banner.text() == ("Opened experiment 'nightly' (no runs): Launch adds a run to it; another Name "
                                  "makes a new experiment.")
    view.grab().save(str(Path(SHOTS or tmp_path) / "setup-opened-experiment.png"))
    qtbot.waitUntil(lambda: not view.checking and view.launch.isEnabled(), timeout=15_000)
    view.launch_run()
    qtbot.waitUntil(lambda: view.banner.text().endswith("queued"), timeout=15_000)
    launched = [r for r in runs.list_all(store) if r.experiment_id == nightly]
    assert len(launched) == 1 and launched[0].total_steps == 7
    assert len(experiments.list_all(store, "demo")) == 2  # no new experiment: the run is nightly's
    assert len([r for r in runs.list_all(store) if r.experiment_id == with_runs[0].experiment_id]) == 2  # untouched


def test_an_experiment_is_deleted_from_the_picker_after_asking(qtbot, store, ctx, cli, tmp_path) -> None:
    nightly = _nightly(cli, store, tmp_path)
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("demo")
    picker = _picker(qtbot, view)
    assert [row[0] for row in picker.row_texts()] == ["nightly"]

    def box() -> QMessageBox:
        qtbot.waitUntil(lambda: picker.deletes.box is not None and picker.deletes.box.isVisible(), timeout=10_000)
        return picker.deletes.box

    picker.delete_button.click()
    asked = box()
    assert asked.windowTitle() == "Delete experiment nightly?"
    asked.button(QMessageBox.StandardButton.Cancel).click()  # Cancel: nothing goes
    assert experiments.get(store, nightly).name == "nightly"
    picker.deletes.box = None
    # The read that opened the box counts as busy until its task has finished (a signal after the box
    # opened): a click before that is ignored, as a second Delete while one is asked (seen under load).
    qtbot.waitUntil(lambda: not picker.busy(), timeout=10_000)

    picker.delete_button.click()
    next(b for b in box().buttons() if b.text() == "Delete experiment").click()
    qtbot.waitUntil(lambda: picker.empty.isVisible() and not picker.busy(), timeout=10_000)
    assert picker.banner.text() == "Deleted experiment 'nightly'."
    assert picker.empty.text().startswith("No experiments in project 'demo' yet")
    assert not picker.open_button.isEnabled() and not picker.delete_button.isEnabled()
    assert experiments.list_all(store, "demo") == []


def test_a_project_not_made_yet_has_no_experiments_to_read(qtbot, store, ctx) -> None:
    projects.create(store, "demo")
    view = _setup_view(store, ctx, qtbot)
    view.project.setCurrentText("brand-new")  # typed: made at the first launch
    picker = view.open_experiment_dialog()
    assert picker.read_task is None and picker.empty.isVisible()
    assert picker.empty.text() == ("No experiments in project 'brand-new' yet: Launch makes one, named as the "
                                   "form's Name says.")
    picker.reject()
