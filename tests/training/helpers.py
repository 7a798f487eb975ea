"""Helpers for engine tests: a small learnable JSONL task, a config maker and a recording reporter."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from spark_trainer.config.schema import ExperimentConfig
from spark_trainer.training.reporting import Commands, StopKind

# peft's "all-linear" leaves out the output head; on a random tiny model the head is what must
# move first, so the learning tests adapt it too.
LEARNABLE_TARGETS = "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj,lm_head"


def counting_rows(n: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        start = rng.randint(0, 20)
        rows.append({"text": "count " + " ".join(str(start + k) for k in range(rng.randint(4, 9)))})
    return rows


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def make_config(model: Path, **sections: Any) -> ExperimentConfig:
    base: dict[str, Any] = {
        "name": "test", "recipe": "causal-lm", "base_model": str(model), "dataset": "data", "gpus": "cpu",
        "train": {"max_steps": 6, "learning_rate": 1e-2, "batch_size": 4, "warmup_steps": 1},
        "eval": {"every_steps": None, "val_fraction": 0.1},
        "checkpoint": {"every_steps": None, "keep": 3},
        "recipe_config": {"target_modules": LEARNABLE_TARGETS, "seq_len": 128},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return ExperimentConfig.model_validate(base)


class StopAtStep(Commands):
    """Commands whose stop request comes while step `step` of a run from step 0 is in flight: the engine
    asks once a step, once it has queued the step (side_work.agreed_stop), so the run stops at that
    step and saves it. (A reporter that asked on seeing step k's metrics would now stop at k + 1: the
    engine queues the next step before it reads a step's numbers.)"""

    def __init__(self, step: int, kind: StopKind = StopKind.CANCEL) -> None:
        super().__init__()
        self.step, self.kind, self.asked = step, kind, 0

    @property
    def stop_requested(self) -> StopKind | None:
        if not self.starting:
            self.asked += 1
            if self.asked >= self.step:
                self.request_stop(self.kind)
        return super().stop_requested


def commands_for(stop_at: int | None) -> Commands:
    return Commands() if stop_at is None else StopAtStep(stop_at)


class RecordingReporter:
    """A reporter that keeps everything."""

    def __init__(self, commands: Any = None) -> None:
        self.metrics: dict[int, dict[str, float]] = {}
        self.artifacts: list[tuple[str, Path, int | None]] = []
        self.logs: list[str] = []
        self.events: list[str] = []
        self.progress: list[tuple[int, int]] = []
        self.started: tuple[int, int] | None = None
        self.commands = commands

    def on_start(self, *, start_step: int, total_steps: int) -> None:
        self.started = (start_step, total_steps)

    def on_metrics(self, step: int, values: dict[str, float]) -> None:
        self.metrics.setdefault(step, {}).update(values)

    def on_progress(self, step: int, total_steps: int, eta_seconds: float | None) -> None:
        self.progress.append((step, total_steps))

    def on_artifact(self, kind: str, path: Path, step: int | None = None, meta: dict | None = None) -> None:
        self.artifacts.append((kind, Path(path), step))

    def on_log(self, message: str) -> None:
        self.logs.append(message)

    def on_event(self, message: str) -> None:
        self.events.append(message)

    def flush(self) -> None:
        pass

    def series(self, key: str) -> dict[int, float]:
        return {s: v[key] for s, v in sorted(self.metrics.items()) if key in v}
