"""Renaming and deleting a dataset in the Datasets view (app/views/dataset_actions.py) when another process
(`spark-trainer dataset delete`, `project delete`) has deleted it since the list was read."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import datasets, projects
from tests.app.gui_assets import write_text_dataset
from tests.app.views.test_datasets_view import shown_view


@pytest.mark.parametrize("action", ["rename", "delete-asked", "delete-confirmed"])
@pytest.mark.parametrize("gone_with", ["dataset", "project"])
def test_a_dataset_deleted_by_another_process_is_said_so_in_the_window_s_words(qtbot, store, ctx, tmp_path: Path,
                                                                                action, gone_with) -> None:
    """The walk: Rename or Delete of a dataset deleted elsewhere (alone, or with its project) said the store's
    "no dataset named or numbered ..." with a command to run, or asked to delete what was already gone."""
    from PySide6.QtWidgets import QDialogButtonBox

    from app.workers import pending
    from spark_trainer.jobs.control import delete_project
    from spark_trainer.jobs.dataset_delete import delete_dataset

    project = projects.create(store, "first")
    support = ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=4)], project=project.id,
                           name="support").dataset
    ingest_paths(store, [write_text_dataset(tmp_path / "other", n_good=4)], project=project.id, name="other")
    view = shown_view(qtbot, store, ctx)
    view.select(support.id)

    def delete_elsewhere() -> None:
        if gone_with == "dataset":
            delete_dataset(store, support.id)
        else:
            delete_project(store, project.id, [], delete_files=False)

    if action == "rename":
        dialog = view.rename_selected()
        dialog.name.setText("help")
        delete_elsewhere()  # while the dialog was open
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        qtbot.waitUntil(lambda: not pending(view.rename_task), timeout=10_000)
    elif action == "delete-asked":
        delete_elsewhere()  # before this window's next read of the list
        view.delete_selected()
        qtbot.waitUntil(lambda: not pending(view.delete_task), timeout=10_000)
        assert view.delete_box is None  # nothing asked of what is gone
    else:
        view.delete_selected()
        qtbot.waitUntil(lambda: view.delete_box is not None and view.delete_box.isVisible(), timeout=10_000)
        delete_elsewhere()  # while the box asked
        next(b for b in view.delete_box.buttons() if b.text() == "Delete dataset").click()
        qtbot.waitUntil(lambda: not pending(view.delete_task), timeout=10_000)
    assert view.banner.text() == "Dataset 'support' no longer exists (deleted elsewhere); the list has been refreshed."
    assert "spark-trainer" not in view.banner.text()
    qtbot.waitUntil(lambda: "support" not in [r[0] for r in view.row_texts()], timeout=10_000)
    assert datasets.list_all(store) == ([] if gone_with == "project" else [datasets.get(store, "other")])
