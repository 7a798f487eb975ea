"""What a navigation view imports on the GUI thread when first shown, in a fresh process: never the
training libraries; charts (pyqtgraph, numpy) only for the view that draws them when shown (GPUs),
not the Runs list, whose run, compare and playground pages import them when first opened."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.gui_assets import add_experiment_with_runs, write_text_dataset
from tests.conftest import subprocess_env

TRAINING = ("torch", "transformers", "diffusers", "peft", "accelerate", "pandas", "pyarrow", "cv2")
CHARTS = ("pyqtgraph", "numpy")
ORDER = ("datasets", "runs", "settings", "experiments", "gpus", "leaderboard")  # Projects is built first

# A finder that finds nothing: it sees each module the first time any thread imports it, and notes
# those the GUI thread imports, under the view being shown.
PROBE = """
import json, sys, threading
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

imported = {"projects": set()}
showing = ["projects"]

class Spy:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread() is threading.main_thread():
            imported[showing[0]].add(name)
        return None

sys.meta_path.insert(0, Spy())
app = QApplication([])
from app.main_window import MainWindow
from spark_trainer.store.store import Store

store = Store.open(sys.argv[1])
window = MainWindow(store, QSettings(sys.argv[2], QSettings.Format.IniFormat), poll_gpus=False, restore_state=False)
window.show()
app.processEvents()
for name in sys.argv[3:]:
    showing[0] = name
    imported[name] = set()
    window.show_view(name)
    app.processEvents()
window.close()
print("RESULT " + json.dumps({view: sorted(names) for view, names in imported.items()}))
"""


@pytest.fixture
def first_imports(store, tmp_path) -> Callable[[tuple[str, ...]], dict[str, list[str]]]:
    """Shows the views named, in order, after Projects; returns what each imported on the GUI thread.
    A module another view imported first is not seen again: the order decides what a view can show."""
    projects.create(store, "support-bot")
    ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=20)], project="support-bot")
    add_experiment_with_runs(store, "support-bot", dataset="support", statuses=("completed", "queued"))

    def show(order: tuple[str, ...]) -> dict[str, list[str]]:
        proc = subprocess.run([sys.executable, "-c", PROBE, str(store.home.root), str(tmp_path / "gui.ini"), *order],
                              capture_output=True, text=True, timeout=180,
                              env=subprocess_env(QT_QPA_PLATFORM="offscreen"))
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads(next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))[len("RESULT "):])

    return show


def _packages(names: list[str], wanted: tuple[str, ...]) -> list[str]:
    return sorted({n.split(".")[0] for n in names} & set(wanted))


def test_no_view_imports_training_libraries_and_only_gpus_imports_charts(first_imports) -> None:
    imported = first_imports(ORDER)
    assert sorted(imported) == sorted(("projects", *ORDER))
    assert imported["runs"], "the probe saw no import at all: it would pass whatever the views import"
    for view, names in imported.items():
        assert _packages(names, TRAINING) == [], f"{view} imported {_packages(names, TRAINING)} when first shown"
        if view != "gpus":
            assert _packages(names, CHARTS) == [], f"{view} imported {_packages(names, CHARTS)} when first shown"
    assert _packages(imported["gpus"], CHARTS) == sorted(CHARTS)  # its charts are shown at once
    # The Runs list needs the run-file schema (pydantic) only for a swept run's cell.
    assert _packages(imported["runs"], ("pydantic",)) == []
    assert "spark_trainer.config.schema" not in imported["runs"]


def test_leaderboard_does_not_import_evaluation_data_readers(first_imports) -> None:
    # It reads stored results, never an evaluation's data files (their readers bring the recipes' row
    # code). Shown first: the run page, once imported, brings the readers along.
    imported = first_imports(("leaderboard",))
    assert "app.views.leaderboard_view" in imported["leaderboard"]
    assert "spark_trainer.evaluation.data" not in imported["leaderboard"]
