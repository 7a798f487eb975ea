"""Regenerate the classification recipes' screenshots from real runs.

Fills a temporary data home with `spark-trainer demo --recipe text-classification` and
`--recipe image-classification` (tiny local models, generated data, real CPU training through a
managed worker), then renders for each run its setup form, its run detail (charts), its Evaluation
tab (confusion matrix, per-class table) and its Samples tab through `spark-trainer-gui --screenshot`.

Run: .venv/bin/python docs/screenshots/make_recipe_screenshots.py [--out docs/screenshots] [--home DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RECIPES = ("text-classification", "image-classification")
VIEWS = ("experiment-setup", "run-detail", "run-evaluation", "run-samples")


def fill(home: Path) -> dict[str, int]:
    run_ids = {}
    for recipe in RECIPES:
        print(f"training the {recipe} demo on the CPU…", flush=True)
        done = subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "--json", "demo",
                               "--recipe", recipe], check=True, capture_output=True, text=True, cwd=ROOT)
        run_ids[recipe] = json.loads(done.stdout)["run"]["id"]
    return run_ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--home", type=Path, help="reuse a data home already filled by this script")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="spark-recipe-shots-"))
    run_ids = fill(home) if args.home is None else dict(zip(RECIPES, (1, 2), strict=True))
    args.out.mkdir(parents=True, exist_ok=True)
    for recipe, run_id in run_ids.items():
        for view in VIEWS:
            target = args.out / f"{recipe}-{view.removeprefix('run-') if view != 'run-detail' else 'run'}.png"
            subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--screenshot", str(target),
                            "--view", view, "--run", str(run_id)], check=True, cwd=ROOT)
            print(f"wrote {target}")


if __name__ == "__main__":
    main()
