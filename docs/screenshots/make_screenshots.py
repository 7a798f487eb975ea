"""Regenerate the README screenshots from a temporary data home filled with real data.

The data home gets: the demo project (a real tiny training run, `build_demo`), a text dataset with
broken lines, an image dataset, and a frame dataset made by the video wizard from generated videos.
The views of the first GUI issue are rendered through the same code as `spark-trainer-gui
--screenshot`, plus a few states worth showing (the thumbnail grid, the rejected-items report, the
wizard's pages); `make_run_screenshots.py` renders the experiment and run views.

Run: .venv/bin/python docs/screenshots/make_screenshots.py [--out docs/screenshots] [--steps 60]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
OTHER_SCRIPT = ("experiment-setup", "run-detail", "compare", "leaderboard")


def second_run(store: object, model_path: Path, steps: int) -> None:
    """A second demo experiment with a lower learning rate, trained to the end (for the compare view)."""
    import time

    from spark_trainer.jobs.demo import demo_config, demo_data_dir
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.store import runs

    data = demo_data_dir() / "train.jsonl"
    config = demo_config(model_path, data, steps=steps)
    config.name = "tiny-lora-lr1e-3"
    config.train.learning_rate = 1e-3
    run = submit_config(store, config, base_dir=data.parent).run
    while runs.get(store, run.id).status.value in ("queued", "starting", "running"):
        schedule_once(store)
        time.sleep(0.5)


def fill(home: Path, scratch: Path, steps: int) -> None:
    from spark_trainer.ingest import ingest_paths
    from spark_trainer.ingest.video import VideoOptions, build_video_dataset
    from spark_trainer.jobs.demo import build_demo
    from spark_trainer.store import projects
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import write_image_folder, write_text_dataset, write_video

    with Store.open(home) as store:
        print("demo project with two real training runs…", flush=True)
        demo = build_demo(store, wait=True, steps=steps)
        second_run(store, demo.model_path, steps)
        projects.create(store, "support-bot", "Answers customer tickets")
        projects.create(store, "shapes", "Circles vs squares classifier")
        ingest_paths(store, [write_text_dataset(scratch / "support-tickets", n_good=240, n_bad=4)],
                     project="support-bot")
        ingest_paths(store, [write_image_folder(scratch / "shapes", per_class=24, size=(128, 128))], project="shapes")
        clips = [write_video(scratch / "clips" / f"street-{i}.avi", n_frames=60, fps=10.0, size=(160, 96), seed=i)
                 for i in range(3)]
        build_video_dataset(store, clips, project="shapes", name="street-frames",
                            options=VideoOptions(mode="fps", fps=2.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=60, help="training steps of the demo run")
    parser.add_argument("--theme", choices=("dark", "light"), default="dark")
    args = parser.parse_args()

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main import VIEW_NAMES
    from app.main_window import MainWindow
    from app.screenshot import render, settle
    from app.theme import use_fusion
    from spark_trainer.store import datasets
    from spark_trainer.store.store import Store
    from tests.app.gui_assets import write_video

    scratch = Path(tempfile.mkdtemp(prefix="spark-shots-"))
    home = scratch / "home"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("SparkTrainer")
    use_fusion(app)
    # First start: an empty data home shows the welcome panel.
    from app.main import main as gui_main

    gui_main(["--home", str(scratch / "empty"), "--screenshot", str(out / "projects-welcome.png"),
              "--view", "projects", "--theme", args.theme])
    fill(home, scratch, args.steps)
    store = Store.open(home)
    window = MainWindow(store, QSettings(str(scratch / "gui.ini"), QSettings.Format.IniFormat), restore_state=False)
    window.apply_theme(args.theme)
    # experiment-setup (the Experiments view), run-detail, compare and leaderboard come from
    # make_run_screenshots.py, with more runs in the store.
    shown = [v for v in VIEW_NAMES if v not in ("video-wizard", "experiments", *OTHER_SCRIPT)]
    for view in shown:
        if view == "datasets":
            window.ctx.set_current_project(datasets.get(store, "support-tickets").project_id)
        render(window, view, out / f"{view}.png")
        print("wrote", out / f"{view}.png", flush=True)

    # Datasets: the rejected-items report, and the thumbnail grid of an image dataset.
    view = window.show_view("datasets")
    view.open_item(datasets.get(store, "support-tickets").id)
    view.tabs.setCurrentWidget(view.report)
    render(window, "datasets", out / "datasets-report.png")
    view.open_item(datasets.get(store, "shapes").id)
    view.tabs.setCurrentWidget(view.preview)
    render(window, "datasets", out / "datasets-images.png")

    # The video wizard: the inspect page (one truncated file flagged) and the configure page.
    clips = [write_video(scratch / "wizard" / f"interview-{i}.avi", n_frames=80, fps=20.0, size=(320, 180), seed=9 + i)
             for i in range(3)]
    broken = scratch / "wizard" / "interview-3-truncated.avi"
    broken.write_bytes(clips[0].read_bytes()[:400])
    wizard = view.open_video_wizard()
    wizard.resize(1000, 680)
    wizard.add_page.add_paths([scratch / "wizard"])
    wizard.next()
    settle(0.3, until=lambda: wizard.inspect_page.probed, timeout=60)
    wizard.grab().save(str(out / "video-wizard.png"))
    wizard.next()
    wizard.configure_page.fps.setValue(4.0)
    wizard.configure_page.resize_px.setValue(256)
    wizard.configure_page.dedupe.setChecked(True)
    settle(0.3)
    wizard.grab().save(str(out / "video-wizard-configure.png"))
    wizard.reject()
    window.close()
    store.close()
    print("screenshots in", out)


if __name__ == "__main__":
    main()
