"""Regenerate the experiment-setup, run-detail, compare and leaderboard screenshots from real runs.

Fills a temporary data home with a tiny local model and three real CPU training runs of it (LoRA
ranks and learning rates differ), started with `spark-trainer train --wait` exactly as a user
would, then renders each view through `spark-trainer-gui --screenshot`.

Run: .venv/bin/python docs/screenshots/make_run_screenshots.py [--out docs/screenshots] [--steps 240]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RUNS = (("lora-r8-lr1e-3", 8, 1e-3), ("lora-r16-lr3e-3", 16, 3e-3), ("lora-r4-lr3e-4", 4, 3e-4))
VIEWS = ("experiment-setup", "run-detail", "compare", "leaderboard")


def fill(home: Path, steps: int) -> None:
    sys.path.insert(0, str(ROOT))
    from spark_trainer.models.tiny import create_tiny_causal_lm

    model = create_tiny_causal_lm(home / "models" / "tiny-llama", vocab_size=400, hidden_size=64, num_layers=2,
                                  num_heads=4)
    for name, rank, lr in RUNS:
        run_file = home / f"{name}.yaml"
        run_file.write_text(yaml.safe_dump({
            "project": "support-bot", "name": name, "recipe": "causal-lm", "base_model": str(model),
            "dataset": str(ROOT / "resources" / "demo" / "train.jsonl"), "gpus": "cpu",
            "train": {"max_steps": steps, "learning_rate": lr, "batch_size": 8, "warmup_steps": 20},
            "recipe_config": {"method": "lora", "lora_r": rank, "lora_alpha": 2 * rank, "seq_len": 128,
                              "sample_prompts": ["Count up from 3:", "What is 2 plus 5?"]},
            "eval": {"every_steps": max(1, steps // 8), "max_batches": 2, "samples_every_steps": max(1, steps // 3)},
            "checkpoint": {"every_steps": max(1, steps // 3), "keep": 2},
        }))
        print(f"training {name} ({steps} steps on the CPU)…", flush=True)
        subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "train", str(run_file), "--wait"],
                       check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--steps", type=int, default=240)
    parser.add_argument("--home", type=Path, help="reuse a data home already filled by this script")
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="spark-shots-"))
    if args.home is None:
        fill(home, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)
    for view in VIEWS:
        target = args.out / f"{view}.png"
        subprocess.run([sys.executable, "-m", "app.main", "--home", str(home), "--screenshot", str(target),
                        "--view", view, *(["--run", "2"] if view == "run-detail" else [])], check=True, cwd=ROOT)
        print(f"wrote {target}")


if __name__ == "__main__":
    main()
