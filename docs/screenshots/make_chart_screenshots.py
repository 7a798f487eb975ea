"""Regenerate the live-chart screenshot: a real CPU training run whose evaluation metrics
(eval_loss, eval_perplexity: a point every 20 steps) are drawn unsmoothed with a marker per point
while the training loss is smoothed (the default 0.6) over its faint raw curve.

Run: .venv/bin/python docs/screenshots/make_chart_screenshots.py [--out docs/screenshots] [--steps 160]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def fill(home: Path, steps: int) -> None:
    sys.path.insert(0, str(ROOT))
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(home / "models" / "tiny-llama", vocab_size=400, hidden_size=64, num_layers=2,
                                  num_heads=4)
    run_file = home / "charts.yaml"
    run_file.write_text(yaml.safe_dump({
        "project": "support-bot", "name": "lora-r8-evals", "recipe": "causal-lm", "base_model": str(model),
        "dataset": str(ROOT / "resources" / "demo" / "train.jsonl"), "gpus": "cpu",
        "train": {"max_steps": steps, "learning_rate": 2e-3, "batch_size": 8, "seq_len": 128, "warmup_steps": 10},
        "recipe_config": {"method": "lora", "lora_r": 8, "lora_alpha": 16},
        "eval": {"every_steps": max(1, steps // 8), "max_batches": 2},
        "checkpoint": {"every_steps": steps, "keep": 1},
    }))
    subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "train", str(run_file), "--wait"],
                   check=True, stdout=subprocess.DEVNULL, cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=160)
    parser.add_argument("--home", type=Path, help="reuse a data home already filled by this script")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="spark-chart-shots-"))
    if args.home is None:
        fill(home, args.steps)
    target = args.out / "run-detail-eval-markers.png"
    subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--screenshot", str(target),
                    "--view", "run-detail"], check=True, cwd=ROOT)
    print(f"wrote {target} (data home {home})")


if __name__ == "__main__":
    main()
