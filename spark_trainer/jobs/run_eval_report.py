"""A run's newest evaluation report (artifact kind "eval_report", written at each evaluation by the
classifiers and diffusion-LoRA) and its confusion-matrix picture, read without Qt: the run page's
Evaluation tab and `spark-trainer run report` both read it here."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spark_trainer.store.store import Store


@dataclass
class RunEvalReport:
    data: dict[str, Any] | None  # the report's JSON (None: unreadable, see `error`)
    path: str
    image_path: str | None = None  # the confusion matrix of the same step (or the newest one)
    error: str = ""


def report_metrics(data: dict[str, Any]) -> dict[str, float]:
    """A report's metrics: a classifier's `metrics` mapping, or the top-level `eval_*` numbers others write."""
    metrics = data.get("metrics")
    if isinstance(metrics, dict):
        return metrics
    return {k: v for k, v in data.items() if k.startswith("eval_") and isinstance(v, (int, float))}


def latest_eval_report(store: Store, run_ref: int | str) -> RunEvalReport | None:
    """The newest `eval_report` of a run and its confusion-matrix picture; None if it has none."""
    from spark_trainer.store import artifacts, runs

    run_id = runs.get(store, run_ref).id
    reports = artifacts.list_for(store, run_id, "eval_report")
    if not reports:
        return None
    latest = reports[-1]
    try:
        data = json.loads(Path(latest.path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return RunEvalReport(None, latest.path, error=f"cannot read {latest.path}: {exc}")
    images = [a for a in artifacts.list_for(store, run_id, "eval_image") if (a.meta or {}).get("name") == "confusion"]
    same_step = [a for a in images if a.step == latest.step] or images[-1:]
    return RunEvalReport(data, latest.path, same_step[-1].path if same_step else None)
