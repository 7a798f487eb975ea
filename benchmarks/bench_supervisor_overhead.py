"""Supervisor overhead: tokens/s of a run under the managed subprocess vs the same engine in-process.

Both sides train the same tiny model on the same data with the same config; tokens/s is the
engine's own per-step `tokens_per_s` metric (median over steps after warm-up), so the ratio shows
what the worker adds around the training loop: the heartbeat thread, batched store writes, the
SIGTERM handler. Start-up (importing torch, loading the model) is reported separately.

    .venv/bin/python benchmarks/bench_supervisor_overhead.py [--steps 300] [--repeats 3] [--gpus cpu]

Goal: ratio (managed / in-process) of 0.98 or better.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


class _Collect:
    """A reporter that keeps tokens/s in memory (the in-process side)."""

    def __init__(self) -> None:
        self.tokens_per_s: list[tuple[int, float]] = []

    def on_start(self, *, start_step: int, total_steps: int) -> None: ...
    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        if "tokens_per_s" in values:
            self.tokens_per_s.append((step, values["tokens_per_s"]))
    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None: ...
    def on_artifact(self, kind, path, step=None, meta=None) -> None: ...
    def on_log(self, message: str) -> None: ...
    def flush(self) -> None: ...


def _median_after_warmup(points: list[tuple[int, float]], warmup: int) -> float:
    values = [v for step, v in sorted(points) if step > warmup]
    return statistics.median(values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gpus", default="cpu", help="cpu, or a GPU id like 0, for both sides")
    parser.add_argument("--warmup", type=int, default=10, help="steps left out of the median")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for both sides (set before torch loads; 0 leaves torch's default)")
    args = parser.parse_args()
    if args.threads:
        # The worker inherits the environment, so both sides get the same thread count.
        os.environ["OMP_NUM_THREADS"] = str(args.threads)

    from spark_trainer.config import validate_config
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.submit import submit_config
    from spark_trainer.models.tiny import create_tiny_causal_lm
    from spark_trainer.store import datasets, metrics, runs
    from spark_trainer.store.entities import RunStatus
    from spark_trainer.store.store import Store
    from spark_trainer.training.engine import run_training
    from spark_trainer.training.reporting import Commands

    gpus = "cpu" if args.gpus == "cpu" else f"{args.gpus},"
    with tempfile.TemporaryDirectory(prefix="bench-supervisor-") as tmp, Store.open(Path(tmp) / "home") as store:
        model = create_tiny_causal_lm(Path(tmp) / "model")
        config = validate_config({
            "project": "bench", "name": "overhead", "recipe": "causal-lm", "base_model": str(model),
            "dataset": str(REPO / "resources" / "demo" / "train.jsonl"), "gpus": gpus,
            "train": {"max_steps": args.steps, "batch_size": 8, "learning_rate": 1e-3},
            "recipe_config": {"method": "lora", "lora_r": 8, "seq_len": 128},
            "eval": {"every_steps": None, "val_fraction": 0.1},
            "checkpoint": {"every_steps": None},
        })
        first = submit_config(store, config, base_dir=REPO)
        runs.transition(store, first.run.id, RunStatus.CANCELLED, "bench: only used to ingest the data")
        data_path = Path(datasets.get(store, first.dataset.id).path)

        inproc, managed, startups = [], [], []
        for i in range(args.repeats):
            collect = _Collect()
            in_config = config.model_copy(deep=True)
            in_config.gpus = "cpu" if gpus == "cpu" else "auto"
            run_training(in_config, data_path=data_path, run_dir=Path(tmp) / f"inproc-{i}", reporter=collect,
                         commands=Commands())
            inproc.append(_median_after_warmup(collect.tokens_per_s, args.warmup))

            began = time.monotonic()
            run = submit_config(store, config, base_dir=REPO).run
            schedule_once(store)
            while runs.get(store, run.id).status in (RunStatus.QUEUED, RunStatus.STARTING, RunStatus.RUNNING):
                time.sleep(0.2)
            wall = time.monotonic() - began
            done = runs.get(store, run.id)
            if done.status != RunStatus.COMPLETED:
                print(f"managed run {run.id} ended {done.status.value}: {done.error}", file=sys.stderr)
                return 1
            points = [(m.step, m.value) for m in metrics.read(store, run.id, keys=["tokens_per_s"])]
            managed.append(_median_after_warmup(points, args.warmup))
            startups.append(wall)
            print(f"repeat {i + 1}: in-process {inproc[-1]:,.0f} tok/s, managed {managed[-1]:,.0f} tok/s, "
                  f"managed wall {wall:.1f} s for {args.steps} steps")

        ratio = statistics.median(m / p for m, p in zip(managed, inproc, strict=True))
        print(f"device: {gpus}; steps: {args.steps}; repeats: {args.repeats}")
        print(f"in-process median tokens/s: {statistics.median(inproc):,.0f}")
        print(f"managed    median tokens/s: {statistics.median(managed):,.0f}")
        print(f"ratio managed/in-process: {ratio:.3f} (goal >= 0.98)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
