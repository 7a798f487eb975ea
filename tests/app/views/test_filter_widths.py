"""Drop-downs filled after the view is shown (their items come from a pool read) still show their
whole choice: the leaderboard's filters read 'all projec', 'all datas', 'all recipe' at 1280 px."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QComboBox

from spark_trainer.ingest import ingest_paths


def clipped(combo: QComboBox, qtbot) -> bool:
    """The combo is narrower than the style needs to show its current text whole (frame and arrow included)."""
    fresh = QComboBox()
    qtbot.addWidget(fresh)
    fresh.addItem(combo.currentText())
    return combo.width() < fresh.sizeHint().width()


@pytest.mark.parametrize("width", [1280, 1024])  # at 1024 px the project filter read 'all projec'
def test_leaderboard_filters_show_their_whole_choice(store, ctx, qtbot, width, tmp_path):
    from app.views.leaderboard_view import LeaderboardView
    from spark_trainer.store import projects
    from tests.app.model_sync import sync_model

    projects.create(store, "p")
    for name in ("tickets", "support-tickets-classifier-2026"):  # a long name widens the dataset filter
        rows = tmp_path / f"{name}.jsonl"
        rows.write_text("".join(json.dumps({"text": f"{name} {i}"}) + "\n" for i in range(4)))
        ingest_paths(store, [rows], project="p", name=name)
    sync_model(qtbot, ctx)
    view = LeaderboardView(store, ctx)
    qtbot.addWidget(view)
    view.resize(width - 170, 700)  # the window less the navigation list
    view.show()
    qtbot.waitUntil(lambda: not view.busy() and view.recipe.count() > 1)
    qtbot.wait(50)  # the layout settles
    for combo in (view.metric_box, view.use, view.project, view.dataset, view.recipe):
        assert not clipped(combo, qtbot), combo.currentText()
    view.grab().save(str(store.home.root / f"leaderboard-{width}.png"))


def test_runs_and_datasets_project_pickers_grow_to_a_project_made_after_they_showed(store, ctx, qtbot):
    from app.views.datasets_view import DatasetsView
    from app.views.runs_view import RunsView
    from spark_trainer.store import projects
    from tests.app.model_sync import sync_model

    projects.create(store, "p")
    sync_model(qtbot, ctx)
    runs_view, datasets_view = RunsView(store, ctx), DatasetsView(store, ctx)
    for view in (runs_view, datasets_view):
        qtbot.addWidget(view)
        view.resize(1280, 700)
        view.show()
    projects.create(store, "support-tickets-classifier-2026")
    sync_model(qtbot, ctx)
    runs_view.project_filter.setCurrentIndex(runs_view.project_filter.findText("support-tickets-classifier-2026"))
    datasets_view.project_combo.setCurrentIndex(
        datasets_view.project_combo.findText("support-tickets-classifier-2026"))
    qtbot.wait(50)
    assert not clipped(runs_view.project_filter, qtbot)
    assert not clipped(datasets_view.project_combo, qtbot)
