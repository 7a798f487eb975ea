"""Deleting runs, or an experiment with its runs, from the Runs list: what goes is said first (runs,
folders, exports, size), a box keeps the folders, a run in progress is refused in the window's words,
and every view follows. The app had no way to delete an experiment at all (only `exp delete`)."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from spark_trainer.store import experiments, exports, projects, runs
from tests.app.gui_assets import add_experiment_with_runs
from tests.app.model_sync import shown

SHOTS = os.environ.get("SPARK_TRAINER_SHOTS")  # a folder to keep the box's picture in, to look at


def _listed(qtbot, store, ctx, *statuses: str):
    from app.views.runs_view import RunsView

    projects.create(store, "p")
    made = add_experiment_with_runs(store, "p", statuses=statuses)
    other = add_experiment_with_runs(store, "p", name="other", statuses=("completed",))
    view = shown(qtbot, ctx, RunsView(store, ctx), (1100, 600))
    view.scheduler.stop()
    qtbot.waitUntil(lambda: view.table.rowCount() == len(made) + 1, timeout=10_000)
    return view, made, other


def _menu_item(view, what: str):
    return next(a for a in view.list_actions.menu().actions() if a.data() == what)


def _open_box(qtbot, view) -> QMessageBox:
    qtbot.waitUntil(lambda: view.list_actions.deletes.box is not None and view.list_actions.deletes.box.isVisible(),
                    timeout=10_000)
    return view.list_actions.deletes.box


def _deleted(qtbot, view) -> None:
    """The list follows and the delete is done. The rows go with the records, which a timer read can
    show before the delete task has removed the folders and said so in the banner (seen under load)."""
    qtbot.waitUntil(lambda: view.table.rowCount() == 1 and not view.list_actions.busy, timeout=10_000)


def test_delete_experiment_says_what_goes_then_removes_runs_folders_and_exports(qtbot, store, ctx, tmp_path) -> None:
    view, made, other = _listed(qtbot, store, ctx, "completed", "failed")
    export_dir = store.home.export_dir(1)
    export_dir.mkdir(parents=True)
    (export_dir / "adapter_model.safetensors").write_bytes(b"w" * 2**20)
    exports.add(store, made[0].id, step=50, options={}, path=str(export_dir))
    chosen = tmp_path / "my-export"  # a folder the user picked in the Export dialog
    chosen.mkdir()
    exports.add(store, made[1].id, step=50, options={}, path=str(chosen))
    view.table.select_keys([made[1].id])
    item = _menu_item(view, "delete-experiment")
    assert (item.text(), item.isEnabled()) == ("Delete experiment 'tiny-lora'…", True)
    item.trigger()
    box = _open_box(qtbot, view)
    assert box.windowTitle() == "Delete experiment tiny-lora?"
    assert box.text().startswith("Delete experiment 'tiny-lora' with 2 runs, their folders and 1 export folder (1.")
    assert f"Its runs ({made[0].id}, {made[1].id}) go with it" in box.informativeText()
    assert f"Export folders you chose (not in the data home's exports folder) stay: {chosen}." in box.informativeText()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)  # Enter never deletes
    keep = box.checkBox()
    assert keep.text() == "Keep the run folders on disk" and not keep.isChecked()
    keep.setChecked(True)
    assert box.text() == "Delete experiment 'tiny-lora' with 2 runs (folders stay on disk; 1 export folder you chose stays)?"
    keep.setChecked(False)
    box.grab().save(str(Path(SHOTS or tmp_path) / "delete-experiment-box.png"))
    next(b for b in box.buttons() if b.text() == "Delete experiment").click()
    _deleted(qtbot, view)
    assert [e.name for e in experiments.list_all(store)] == ["other"]
    assert not any(Path(r.run_dir).exists() for r in made) and not export_dir.exists()
    assert Path(other[0].run_dir).is_dir() and chosen.is_dir()
    assert view.banner.text() == ("Deleted experiment 'tiny-lora' and 2 run folders and 1 export folder; kept 1 export "
                                  f"folder you chose (yours to remove): {chosen}.")
    qtbot.waitUntil(lambda: ctx.model.projects.projects[0].num_experiments == 1, timeout=10_000)  # Projects' count


def test_delete_experiment_is_refused_in_the_windows_words_while_a_run_of_it_trains(qtbot, store, ctx) -> None:
    view, made, _other = _listed(qtbot, store, ctx, "completed", "running")
    view.table.select_keys([made[0].id])
    _menu_item(view, "delete-experiment").trigger()
    qtbot.waitUntil(lambda: view.banner.text().startswith("Cannot delete") and not view.list_actions.busy,
                    timeout=10_000)
    assert view.banner.text() == (f"Cannot delete: experiment 'tiny-lora' is in use by run {made[1].id}, which is "
                                  "running; cancel or pause it before deleting (right-click the run ▸ Pause or "
                                  "Cancel).")
    assert "--" not in view.banner.text()  # no command-line flag in the window
    assert view.list_actions.deletes.box is None  # refused before asking
    assert experiments.get(store, "tiny-lora") and len(runs.list_all(store)) == 3


def test_a_refusal_goes_once_the_run_it_names_is_no_longer_in_progress(qtbot, store, ctx) -> None:
    """The walk (m25.png): "Cannot delete: run 6 is in progress (running)" stayed minutes after run 6
    was cancelled, over a list that said cancelled."""
    from spark_trainer.store.entities import RunStatus
    from tests.app.model_sync import sync_model

    view, made, _other = _listed(qtbot, store, ctx, "running")
    view.table.select_keys([made[0].id])
    _menu_item(view, "delete").trigger()
    qtbot.waitUntil(lambda: view.banner.text().startswith("Cannot delete") and not view.list_actions.busy,
                    timeout=10_000)
    sync_model(qtbot, ctx)
    assert view.banner.isVisible()  # still true: it stays
    runs.transition(store, made[0].id, RunStatus.CANCELLED, "test: cancelled")
    sync_model(qtbot, ctx)
    assert not view.banner.isVisible() and view.banner.text() == ""


def test_deleting_runs_can_keep_their_folders(qtbot, store, ctx, tmp_path) -> None:
    view, made, _other = _listed(qtbot, store, ctx, "completed", "cancelled")
    view.table.select_keys([r.id for r in made])
    item = _menu_item(view, "delete")
    assert item.text() == "Delete 2 runs…"
    item.trigger()
    box = _open_box(qtbot, view)
    assert box.windowTitle() == "Delete 2 runs?"
    assert box.text().startswith(f"Delete runs {made[0].id}, {made[1].id} and their folders (")
    box.checkBox().setChecked(True)
    box.grab().save(str(Path(SHOTS or tmp_path) / "delete-runs-box.png"))
    next(b for b in box.buttons() if b.text() == "&Delete").click()
    _deleted(qtbot, view)
    assert all(Path(r.run_dir).is_dir() for r in made)
    assert view.banner.text() == "Deleted runs " + f"{made[0].id}, {made[1].id}; 2 run folders kept on disk."


def test_deleting_a_run_being_exported_is_refused_naming_the_export(qtbot, store, ctx) -> None:
    """The walk: the app's Delete removed a run's folder under a `spark-trainer export` reading its checkpoint.
    Refused before asking, naming the export's process, with no word of Pause or Cancel (the run is not running)."""
    import subprocess
    import sys

    from tests.jobs.test_control import _pin_of

    view, made, _other = _listed(qtbot, store, ctx, "completed")
    exporter = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        _pin_of(Path(made[0].run_dir), exporter.pid)
        view.table.select_keys([made[0].id])
        _menu_item(view, "delete").trigger()
        qtbot.waitUntil(lambda: view.banner.text().startswith("Cannot delete") and not view.list_actions.busy,
                        timeout=10_000)
    finally:
        exporter.kill()
        exporter.wait()
    assert view.banner.text() == (f"Cannot delete: run {made[0].id} is being exported (process {exporter.pid}); let "
                                  "the export finish or stop it before deleting.")
    assert view.list_actions.deletes.box is None and Path(made[0].run_dir).is_dir()
