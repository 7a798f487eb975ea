"""Render the Export dialog, the run view's exports & evaluations tab, and the leaderboard with
evaluation columns, from a data home with real runs, exports and evaluations.

Without --home it fills a temporary one: a tiny local model, two real CPU training runs
(`spark-trainer train --wait`), an mcq and a perplexity evaluation of each plus a base-model
baseline (`spark-trainer eval`), and a merged export (`spark-trainer export`), all as a user would.

Run: .venv/bin/python docs/screenshots/make_export_screenshots.py [--out docs/screenshots] [--home DIR]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNS = (("lora-r8", 8, 3e-3), ("lora-r4", 4, 1e-3))


def _cli(home: Path, *args: str) -> None:
    subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), *args], check=True,
                   stdout=subprocess.DEVNULL)


def _mcq_file(path: Path) -> Path:
    rng = random.Random(0)
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["subject", "question", "A", "B", "C", "D", "answer"])
        for subject in ("arithmetic", "counting", "words"):
            for _ in range(10):
                a = rng.randint(1, 9)
                writer.writerow([subject, f"What is {a} plus 1?", a + 1, a + 2, a, a + 3, "A"])
    return path


def fill(home: Path, steps: int) -> None:
    sys.path.insert(0, str(ROOT))
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(home / "models" / "tiny-llama", vocab_size=400, hidden_size=64, num_layers=2,
                                  num_heads=4)
    mcq = _mcq_file(home / "quiz.csv")
    held_out = home / "held-out.jsonl"
    held_out.write_text("".join(json.dumps({"text": f"count {s} {s + 1} {s + 2} {s + 3}"}) + "\n" for s in range(20)))
    for i, (name, rank, lr) in enumerate(RUNS, start=1):
        run_file = home / f"{name}.yaml"
        run_file.write_text(yaml.safe_dump({
            "project": "support-bot", "name": name, "recipe": "causal-lm", "base_model": str(model),
            "dataset": str(ROOT / "resources" / "demo" / "train.jsonl"), "gpus": "cpu",
            "train": {"max_steps": steps, "learning_rate": lr, "batch_size": 8, "warmup_steps": 5},
            "recipe_config": {"method": "lora", "lora_r": rank, "lora_alpha": 2 * rank, "seq_len": 128},
            "eval": {"every_steps": max(1, steps // 6), "max_batches": 2},
            "checkpoint": {"every_steps": max(1, steps // 3), "keep": 2},
        }))
        print(f"training {name}…", flush=True)
        _cli(home, "train", str(run_file), "--wait")
        _cli(home, "eval", str(i), "--task", "mcq", "--data", str(mcq), "--gpus", "cpu")
        _cli(home, "eval", str(i), "--task", "perplexity", "--data", str(held_out), "--gpus", "cpu")
    _cli(home, "eval", "1", "--task", "mcq", "--data", str(mcq), "--base", "--gpus", "cpu")
    _cli(home, "eval", "1", "--task", "perplexity", "--data", str(held_out), "--base", "--gpus", "cpu")
    _cli(home, "export", "1", "--merge")


def render(home: Path, out: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.screenshot import settle
    from app.theme import use_fusion
    from spark_trainer.store import runs
    from spark_trainer.store.store import Store

    app = QApplication.instance() or QApplication([])
    use_fusion(app)
    store = Store.open(home)
    settings = QSettings(str(home / "gui-screens.ini"), QSettings.Format.IniFormat)
    window = MainWindow(store, settings)
    window.resize(1280, 800)
    window.show()
    run_id = min(r.id for r in runs.list_all(store))
    view = window.show_view("runs")
    view.open_run(run_id)
    detail = view.detail
    detail.tabs.setCurrentWidget(detail.exports_tab)
    settle(1.0)
    window.grab().save(str(out / "run-exports.png"))
    dialog = detail.exports_tab.open_export()
    dialog.merge.setChecked(True)
    dialog.push.setChecked(True)
    dialog.repo.setText("your-name/support-bot-lora")
    settle(1.0, until=lambda: bool(dialog.token_note.text()))
    dialog.grab().save(str(out / "export-dialog.png"))
    dialog.reject()
    board = window.show_view("leaderboard")
    board.refresh()
    board.metric.setCurrentText("evals/mcq_accuracy")
    settle(1.0)
    window.grab().save(str(out / "leaderboard-evals.png"))
    window.close()
    window.ctx.shutdown()
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--home", type=Path, help="render from this data home instead of filling a new one")
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.home:
        render(args.home, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        fill(home, args.steps)
        render(home, args.out)


if __name__ == "__main__":
    main()
