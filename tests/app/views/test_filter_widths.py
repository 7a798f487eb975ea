"""Drop-downs filled after the view is shown (their items come from a pool read) still show their
whole choice: the leaderboard's filters read 'all projec', 'all datas', 'all recipe' at 1280 px."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
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
    runs_view.project_filter.setCurrentIndex(  # the item's text is elided, its tooltip the whole name
        runs_view.project_filter.findData("support-tickets-classifier-2026", Qt.ItemDataRole.ToolTipRole))
    datasets_view.project_combo.setCurrentIndex(
        datasets_view.project_combo.findText("support-tickets-classifier-2026"))
    qtbot.wait(50)
    assert not clipped(runs_view.project_filter, qtbot)
    assert not clipped(datasets_view.project_combo, qtbot)


@pytest.mark.parametrize("width", [1280, 1024])
def test_runs_filters_fit_a_long_project_and_sweep_name(store, ctx, qtbot, width):
    """At 1024 px (the view 854 px) the project filter was clipped and the sweep filter read
    'support-ti…ra-sweep-3 (2 r': the filters, Open and Compare now fit, long names elided with their
    whole name in the tooltip."""
    from app.views.runs_view import RunsView
    from tests.app.model_sync import sync_model
    from tests.app.views.test_runs_view_sweeps import _sweep

    long = "support-tickets-classifier-2026"
    swept = _sweep(store, f"{long}-lora-sweep-3", [{"train.seed": s} for s in (1, 2)], project=long)
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.resize(width - 170, 700)  # the window less the navigation list
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    view.project_filter.setCurrentIndex(view.project_filter.findData(long, Qt.ItemDataRole.ToolTipRole))
    view.sweep_filter.choose(f"{long}-lora-sweep-3")
    qtbot.wait(50)  # the layout settles
    view.grab().save(str(Path(os.environ.get("SPARK_SHOTS", store.home.root)) / f"runs-filters-{width}.png"))
    for combo in (view.project_filter, view.status_filter, view.sweep_filter):
        assert not clipped(combo, qtbot), combo.currentText()
    assert view.sweep_filter.currentText().endswith("-sweep-3 (2 runs)")
    assert view.project_filter.toolTip() == long and view.sweep_filter.toolTip().startswith(f"{long}-lora-sweep-3")
    for selected in ([], [r.id for r in swept]):  # "Compare sweep", then the wider "Compare selected"
        view.table.select_keys(selected)
        qtbot.wait(50)
        for button in (view.open_button, view.compare_button):
            assert button.width() >= button.sizeHint().width(), button.text()
        assert view.compare_button.geometry().right() <= view.list_page.width()
        assert not clipped(view.sweep_filter, qtbot), view.sweep_filter.currentText()
    assert view.compare_button.text() == "Compare selected"
    view.shutdown()
