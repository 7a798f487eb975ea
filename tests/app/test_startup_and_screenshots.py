"""In a fresh process: the GUI reaches every view without importing torch, transformers, diffusers or
cv2, and `spark-trainer-gui --screenshot` renders every view of a store with real data to a PNG."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.main import VIEW_NAMES
from spark_trainer.ingest import ingest_paths
from spark_trainer.store import projects
from tests.app.gui_assets import add_experiment_with_runs, write_image_folder, write_text_dataset
from tests.conftest import subprocess_env

HEAVY = ("torch", "transformers", "diffusers", "cv2", "peft", "accelerate")

PROBE = """
import json, sys
from app.main import main
codes = {}
for view in sys.argv[3:]:
    codes[view] = main(["--home", sys.argv[1], "--screenshot", f"{sys.argv[2]}/{view}.png", "--view", view])
heavy = sorted(m for m in HEAVY if m in sys.modules)
print("RESULT " + json.dumps({"codes": codes, "heavy": heavy}))
""".replace("HEAVY", repr(HEAVY))


@pytest.fixture
def filled_home(store, tmp_path) -> Path:
    projects.create(store, "support-bot", "answers tickets")
    projects.create(store, "shapes", "image classification")
    ingest_paths(store, [write_text_dataset(tmp_path / "support", n_good=30, n_bad=2)], project="support-bot")
    ingest_paths(store, [write_image_folder(tmp_path / "img", per_class=4)], project="shapes")
    add_experiment_with_runs(store, "support-bot", dataset="support", statuses=("completed", "running", "queued"))
    return store.home.root


def test_every_view_renders_in_a_fresh_process_without_heavy_imports(filled_home, tmp_path):
    out = tmp_path / "shots"
    out.mkdir()
    proc = subprocess.run([sys.executable, "-c", PROBE, str(filled_home), str(out), *VIEW_NAMES],
                          capture_output=True, text=True, timeout=240,
                          env=subprocess_env(QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])
    assert result["heavy"] == [], f"imported at start-up: {result['heavy']}"
    assert result["codes"] == {view: 0 for view in VIEW_NAMES}
    for view in VIEW_NAMES:
        image = QImage(str(out / f"{view}.png"))
        assert not image.isNull(), view
        assert image.width() >= 800 and image.height() >= 600, (view, image.size())


def test_screenshot_command_line(filled_home, tmp_path):
    exe = Path(sys.executable).parent / "spark-trainer-gui"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "app.main"]
    target = tmp_path / "projects.png"
    scratch = tmp_path / "tmp"  # the GUI's own temporary folder: a screenshot must leave nothing in it
    scratch.mkdir()
    proc = subprocess.run([*command, "--home", str(filled_home), "--screenshot", str(target), "--view", "projects"],
                          capture_output=True, text=True, timeout=120, env={**subprocess_env(), "TMPDIR": str(scratch)})
    assert proc.returncode == 0, proc.stderr
    assert list(scratch.iterdir()) == []
    image = QImage(str(target))
    assert (image.width(), image.height()) == (1280, 800)
    bad = subprocess.run([*command, "--home", str(filled_home), "--screenshot", str(target), "--view", "nope"],
                         capture_output=True, text=True, timeout=120, env=subprocess_env())
    assert bad.returncode == 2 and "unknown view 'nope'" in bad.stderr
