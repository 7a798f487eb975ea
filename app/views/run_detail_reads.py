"""What the run detail shows besides its live state, read off the GUI thread in one task.

Checkpoint folders are walked (step, eval metric, size), the sample, evaluation-report, export and
evaluation lists and the run's events are read from the store, at a run's opening and at each of
its status changes; the view only fills its widgets with the `RunStatic` this returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.views.samples import LoadedSample, load_sample
from spark_trainer.store.entities import Run, RunEvent
from spark_trainer.store.store import Store


@dataclass
class CheckpointRow:
    step: Any
    metric: float | None
    size_bytes: int
    path: str
    metric_key: str | None = None  # the metric the run watches (its recipe's main one, or early_stopping_metric)
    higher_is_better: bool | None = None


def metric_title(rows: list[CheckpointRow]) -> str:
    """The Checkpoints tab's metric column heading: which metric, and which way is better."""
    named = next((r for r in rows if r.metric_key), None)
    if named is None:
        return "Eval metric"
    return f"{named.metric_key} ({'higher' if named.higher_is_better else 'lower'} is better)"


@dataclass
class EvalReport:
    data: dict[str, Any] | None  # the report's JSON (None: unreadable, see `error`)
    path: str
    image: Any = None  # a QImage of the confusion matrix (loaded here: QImage is safe off the GUI thread)
    error: str = ""


@dataclass
class RunStatic:
    run_id: int
    checkpoints: list[CheckpointRow] = field(default_factory=list)
    has_weights: bool = False
    samples: list[LoadedSample] = field(default_factory=list)  # newest first, read and decoded
    report: EvalReport | None = None
    exports: list[Any] = field(default_factory=list)
    evaluations: list[Any] = field(default_factory=list)
    events: list[RunEvent] = field(default_factory=list)


def read_eval_report(store: Store, run_id: int) -> EvalReport | None:
    """The newest `eval_report` artifact of a run and its confusion-matrix picture; None if it has none."""
    from PySide6.QtGui import QImage

    from spark_trainer.store import artifacts

    reports = artifacts.list_for(store, run_id, "eval_report")
    if not reports:
        return None
    latest = reports[-1]
    try:
        data = json.loads(Path(latest.path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return EvalReport(None, latest.path, error=f"cannot read {latest.path}: {exc}")
    images = [a for a in artifacts.list_for(store, run_id, "eval_image") if (a.meta or {}).get("name") == "confusion"]
    same_step = [a for a in images if a.step == latest.step] or images[-1:]
    image = QImage(same_step[-1].path) if same_step else None
    return EvalReport(data, latest.path, image)


def read_exports(store: Store, run_id: int) -> tuple[list[Any], list[Any]]:
    """A run's exports and evaluations (an evaluation still running is refreshed from its worker)."""
    from spark_trainer.evaluation.jobs import refresh as refresh_eval
    from spark_trainer.store import evaluations, exports

    found = exports.list_for(store, run_id)
    evals = [refresh_eval(store, e.id) if e.is_active else e for e in evaluations.list_for(store, run_id)]
    return found, evals


def read_static(store: Store, run: Run) -> RunStatic:
    from spark_trainer.store import artifacts, runs
    from spark_trainer.training.checkpoints import list_checkpoints, read_state

    static = RunStatic(run.id)
    found = list_checkpoints(Path(run.run_dir)) if run.run_dir else []
    for path in reversed(found):
        state = read_state(path)
        size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        static.checkpoints.append(CheckpointRow(state.get("step"), state.get("metric"), size, str(path),
                                                state.get("metric_key"), state.get("higher_is_better")))
    static.has_weights = bool(found) or bool(run.run_dir and (Path(run.run_dir) / "final").is_dir())
    static.samples = [load_sample(Path(a.path), a.step)
                      for a in reversed(artifacts.list_for(store, run.id, "sample")[-10:])]
    static.report = read_eval_report(store, run.id)
    static.exports, static.evaluations = read_exports(store, run.id)
    static.events = runs.events(store, run.id)
    return static
