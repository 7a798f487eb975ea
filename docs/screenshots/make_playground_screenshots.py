"""Render the Playground for each completed run kind in DIR: a prompt of the causal-LM demo's
training set answered by the fine-tuned model and, beside it, by the base model (greedy, so the
picture is reproducible); a text-classification run's labels for a support ticket; an image-classification demo run's
labels for one of its shapes; and, when DIR
holds a completed diffusion-lora run (`spark-trainer demo --recipe diffusion-lora`), a caption of its
training images made with and without the LoRA.

Run: .venv/bin/python docs/screenshots/make_playground_screenshots.py --home DIR [--out docs/screenshots]
(the causal-LM demo run is trained first, with `spark-trainer demo`, when DIR has none).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOTS = {"causal-lm": ("playground.png", "Count up from 20:"),
         "text-classification": ("playground-text-classification.png", "refund for the invoice charge on my card"),
         "diffusion-lora": ("playground-diffusion.png", "a red circle on a blue background"),
         "image-classification": ("playground-image-classification.png", "")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only-existing", action="store_true", help="render only runs DIR already has")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.store import Store

    def latest() -> dict[str, int]:
        with Store.open(args.home) as store:
            return {r.recipe: r.id for r in runs.list_all(store) if r.status == RunStatus.COMPLETED}

    if "causal-lm" not in latest() and not args.only_existing:
        subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(args.home), "demo"], check=True)
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.screenshot import OPTIONS, render
    from app.theme import use_fusion

    app = QApplication([])
    use_fusion(app)
    store = Store.open(args.home)
    window = MainWindow(store, QSettings(str(args.home / "screenshots.ini"), QSettings.Format.IniFormat))
    ok = True
    for recipe, run_id in latest().items():
        if recipe not in SHOTS:
            continue
        name, prompt = SHOTS[recipe]
        image = args.home / "demo-data" / "shapes" / "red_square" / "000.png"  # `demo --recipe image-classification`
        OPTIONS.update({"run": run_id, "prompt": prompt, "compare": True, "temperature": 0.0,
                        "image": str(image) if recipe == "image-classification" else None})
        saved = render(window, "playground", args.out / name)
        print(args.out / name if saved else f"could not save {name}")
        ok = ok and saved
    window.views["runs"].playground.shutdown()
    window.close()
    store.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
