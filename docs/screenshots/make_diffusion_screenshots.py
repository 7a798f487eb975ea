"""Render the diffusion-LoRA screenshots: the setup form and a finished run (charts and Samples tab).

Fills a temporary data home with `spark-trainer demo --recipe diffusion-lora` (a tiny local
pipeline, generated captioned shape images, a real managed CPU run), then renders offscreen.

Run: .venv/bin/python docs/screenshots/make_diffusion_screenshots.py [--out docs/screenshots] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def render_samples_tab(home: Path, target: Path) -> None:
    """The run-detail view of the latest run with its Samples tab open."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.screenshot import TARGETS, settle
    from app.theme import use_fusion
    from spark_trainer.store.store import Store

    app = QApplication.instance() or QApplication([])
    use_fusion(app)
    store = Store.open(home)
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "gui.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings, restore_state=False)
    window.resize(1280, 800)
    window.show()
    TARGETS["run-detail"](window)
    detail = window.views["runs"].detail
    detail.tabs.setCurrentIndex([detail.tabs.tabText(i) for i in range(detail.tabs.count())].index("Samples"))
    settle(1.0)
    window.grab().save(str(target))
    window.close()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--home", type=Path, help="reuse a data home already filled by this script")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="spark-diffusion-shots-"))
    if args.home is None:
        subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "demo", "--recipe",
                        "diffusion-lora", "--steps", str(args.steps)], check=True, cwd=ROOT)
    args.out.mkdir(parents=True, exist_ok=True)
    for view, name in (("experiment-setup", "experiment-setup-diffusion"), ("run-detail", "run-detail-diffusion")):
        subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--screenshot",
                        str(args.out / f"{name}.png"), "--view", view], check=True, cwd=ROOT)
    render_samples_tab(home, args.out / "run-detail-diffusion-samples.png")
    print(f"screenshots in {args.out} (data home {home})")


if __name__ == "__main__":
    main()
