"""The Runs list and sweeps: a Sweep filter listing the home's sweeps, each run's swept values in
its row, and "Compare SWEEP" opening the sweep's runs in the compare page."""

from __future__ import annotations

import os
import time
from pathlib import Path

import yaml
from PySide6.QtCore import Qt

from app.widgets import table_texts
from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus
from tests.app.model_sync import sync_model


def _sweep(store, name: str, values: list[dict], experiment: str = "tiny", project: str = "lab") -> list:
    """Completed runs of one experiment, tagged with sweep `name` and their values (as submit tags them)."""
    if not any(p.name == project for p in projects.list_all(store)):
        projects.create(store, project)
    found = [e for e in experiments.list_all(store) if e.name == experiment]
    config = {"project": project, "name": experiment, "recipe": "causal-lm", "train": {"learning_rate": 2e-4}}
    exp = found[0] if found else experiments.create(store, project=project, name=experiment, recipe="causal-lm",
                                                    base_model="m", dataset=None, config=config)
    made = []
    for i, swept in enumerate(values):
        run = runs.create(store, exp.id, total_steps=2, sweep=name, sweep_values=swept)
        frozen = {**config, "train": {**config["train"], **{k.split(".")[1]: v for k, v in swept.items()
                                                              if k.startswith("train.")}}}
        Path(run.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(run.run_dir) / "config.yaml").write_text(yaml.safe_dump(frozen))
        metrics.add_batch(store, run.id, [("loss", 1, 3.0 - i, time.time()), ("loss", 2, 2.5 - i, time.time() + 1)])
        for to in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
            runs.transition(store, run.id, to, "test", step=2)
        made.append(run)
    return made


def test_the_sweep_filter_lists_sweeps_shows_their_values_and_compares_them(store, ctx, qtbot, tmp_path) -> None:
    from app.views.runs_view import COLUMNS, RunsView

    grid = _sweep(store, "tiny-sweep-1", [{"train.learning_rate": lr, "recipe_config.lora_r": r}
                                         for lr in (1e-4, 1e-3) for r in (8, 16)])
    seeds = _sweep(store, "seeds", [{"train.seed": s} for s in (1, 2)], experiment="other")
    plain = runs.create(store, experiments.list_all(store)[0].id, total_steps=2)  # `run start`: no sweep
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.resize(1280, 600)
    view.show()
    qtbot.waitUntil(lambda: view.table.rowCount() == 7, timeout=10_000)
    box = view.sweep_filter
    assert [box.itemText(i) for i in range(box.count())] == ["all runs", "seeds (2 runs)", "tiny-sweep-1 (4 runs)"]
    swept = {int(r[1]): r[COLUMNS.index("Sweep")] for r in table_texts(view.table)}
    assert swept[grid[1].id] == "learning_rate=0.0001 lora_r=16" and swept[seeds[0].id] == "seed=1"
    assert swept[plain.id] == ""
    row = next(i for i in range(view.table.rowCount()) if view.table.item(i, 1).text() == str(grid[1].id))
    assert view.table.item(row, COLUMNS.index("Sweep")).toolTip() == (
        "sweep tiny-sweep-1: train.learning_rate=0.0001 recipe_config.lora_r=16")
    assert view.compare_button.text() == "Compare selected"

    box.setCurrentIndex(box.findData("tiny-sweep-1"))
    assert sorted(int(r[1]) for r in table_texts(view.table)) == [r.id for r in grid]
    assert view.compare_button.text() == "Compare sweep"  # a sweep chosen, no rows selected
    view.table.select_keys([grid[0].id, grid[1].id])
    assert view.compare_button.text() == "Compare selected"
    view.table.select_keys([grid[0].id])  # one row: still the sweep's (as README says)
    assert view.compare_button.text() == "Compare sweep"
    view.table.select_keys([])
    assert view.compare_button.text() == "Compare sweep"
    view.table.sortByColumn(COLUMNS.index("Sweep"), Qt.SortOrder.AscendingOrder)  # by the swept values, numbers as numbers
    assert [r[COLUMNS.index("Sweep")] for r in table_texts(view.table)] == [
        "learning_rate=0.0001 lora_r=8", "learning_rate=0.0001 lora_r=16",
        "learning_rate=0.001 lora_r=8", "learning_rate=0.001 lora_r=16"]
    qtbot.wait(50)
    view.grab().save(str(Path(os.environ.get("SPARK_SHOTS", tmp_path)) / "runs-sweep-filter.png"))

    view.status_filter.setCurrentText("failed")  # the filters combine
    assert view.table.rowCount() == 0
    view.compare_button.click()
    assert "Fewer than two" in view.banner.text() and view.stack.currentWidget() is view.list_page
    view.status_filter.setCurrentIndex(0)

    view.compare_button.click()
    assert view.stack.currentWidget() is view.compare_page
    assert view.compare_page.run_ids == [r.id for r in grid]
    qtbot.waitUntil(lambda: view.compare_page.diff.rowCount() > 0, timeout=10_000)
    assert view.compare_page.diff.item(0, 0).text() == "train.learning_rate"
    view.show_list()

    runs.delete(store, seeds[0].id)  # a sweep whose runs go leaves the list
    runs.delete(store, seeds[1].id)
    box.setCurrentIndex(box.findData("seeds"))
    sync_model(qtbot, ctx)
    qtbot.waitUntil(lambda: box.count() == 2, timeout=10_000)
    assert box.current() is None and view.table.rowCount() == 5
    view.shutdown()


def test_compare_sweep_from_the_setup_form_lists_and_compares_the_sweeps_runs(store, ctx, qtbot) -> None:
    """The setup form's "Compare SWEEP" asks for {"sweep": NAME}: the list is filtered on the sweep
    (whatever the filters said) and its runs are compared."""
    from app.views.runs_view import RunsView

    grid = _sweep(store, "tiny-sweep-1", [{"train.learning_rate": lr} for lr in (1e-4, 3e-4, 1e-3)])
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    view.status_filter.setCurrentText("queued")
    view.open_item({"sweep": "tiny-sweep-1"})
    assert view.stack.currentWidget() is view.compare_page
    assert view.compare_page.run_ids == [r.id for r in grid]
    assert view.sweep_filter.current() == "tiny-sweep-1" and view.status_filter.currentIndex() == 0
    view.show_list()
    assert view.table.rowCount() == 3
    view.open_run(grid[2].id)  # a run's page says which of the sweep's runs it is
    assert view.detail.heading.text() == f"Run {grid[2].id} · tiny · learning_rate=0.001"
    assert view.detail.heading.toolTip() == "sweep tiny-sweep-1: train.learning_rate=0.001"
    view.show_list()

    view.open_item({"sweep": "nope"})
    assert view.stack.currentWidget() is view.list_page
    assert view.banner.text() == "No run of sweep nope is known yet."
    view.shutdown()


def test_the_sweep_filter_lists_only_the_chosen_projects_sweeps(store, ctx, qtbot) -> None:
    """It listed every project's sweeps: project lab and a sweep of project tickets showed an empty
    table saying 'No runs yet. Set one up...'."""
    from app.views.runs_view import RunsView

    lab = _sweep(store, "tiny-sweep-1", [{"train.seed": s} for s in (1, 2)])
    tickets = _sweep(store, "cls-sweep-1", [{"train.seed": s} for s in (1, 2, 3)], experiment="cls",
                     project="tickets")
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 5, timeout=10_000)
    box = view.sweep_filter
    texts = lambda: [box.itemText(i) for i in range(box.count())]  # noqa: E731
    assert texts() == ["all runs", "cls-sweep-1 (3 runs)", "tiny-sweep-1 (2 runs)"]  # all projects: all sweeps
    box.setCurrentIndex(box.findData("cls-sweep-1"))
    assert view.table.rowCount() == 3
    view.project_filter.setCurrentText("lab")  # the chosen sweep is another project's: all of lab's runs
    assert texts() == ["all runs", "tiny-sweep-1 (2 runs)"]
    assert box.current() is None
    assert sorted(int(r[1]) for r in table_texts(view.table)) == [r.id for r in lab]
    view.project_filter.setCurrentText("tickets")
    assert texts() == ["all runs", "cls-sweep-1 (3 runs)"]
    view.project_filter.setCurrentIndex(0)
    assert texts() == ["all runs", "cls-sweep-1 (3 runs)", "tiny-sweep-1 (2 runs)"]

    view.project_filter.setCurrentText("lab")  # Compare SWEEP of another project's sweep: all projects again
    view.open_item({"sweep": "cls-sweep-1"})
    assert view.compare_page.run_ids == [r.id for r in tickets]
    assert view.project_filter.currentIndex() == 0 and box.current() == "cls-sweep-1"
    view.shutdown()


def test_the_sweep_column_sorts_sweep_names_by_their_numbers(store, ctx, qtbot) -> None:
    """Sweep names sorted as text put x-sweep-10 before x-sweep-2."""
    from app.views.runs_view import COLUMNS, RunsView

    ten = _sweep(store, "tiny-sweep-10", [{"train.seed": 1}])
    two = _sweep(store, "tiny-sweep-2", [{"train.seed": 1}])
    sync_model(qtbot, ctx)
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == 2, timeout=10_000)
    view.table.sortByColumn(COLUMNS.index("Sweep"), Qt.SortOrder.AscendingOrder)
    assert [int(r[1]) for r in table_texts(view.table)] == [two[0].id, ten[0].id]
    view.shutdown()
