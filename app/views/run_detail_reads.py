"""What the run detail shows besides its live state, read off the GUI thread in one task.

Checkpoint folders are walked (step, eval metric, size), the sample, evaluation-report, export and
evaluation lists and the run's events are read from the store, at a run's opening and at each of
its status changes; the view only fills its widgets with the `RunStatic` this returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.views.samples import LoadedSample, load_sample
from spark_trainer.jobs.run_checkpoints import CheckpointRow, checkpoint_rows
from spark_trainer.store.entities import Run, RunEvent
from spark_trainer.store.store import Store


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
    data_names: dict[str, str] = field(default_factory=dict)  # what each evaluation's data is called
    events: list[RunEvent] = field(default_factory=list)


def read_eval_report(store: Store, run_id: int) -> EvalReport | None:
    """The newest `eval_report` artifact of a run (spark_trainer.jobs.run_eval_report) and its
    confusion-matrix picture decoded; None if it has none."""
    from PySide6.QtGui import QImage

    from spark_trainer.jobs.run_eval_report import latest_eval_report

    found = latest_eval_report(store, run_id)
    if found is None:
        return None
    if found.data is None:
        return EvalReport(None, found.path, error=found.error)
    return EvalReport(found.data, found.path, QImage(found.image_path) if found.image_path else None)


def read_exports(store: Store, run_id: int) -> tuple[list[Any], list[Any], dict[str, str]]:
    """A run's exports and evaluations (an evaluation still running is refreshed from its worker), and
    what each evaluation's data is called."""
    from spark_trainer.evaluation.jobs import list_for_run
    from spark_trainer.store import exports
    from spark_trainer.store.evaluations import data_names

    evals = list_for_run(store, run_id)
    return exports.list_for(store, run_id), evals, data_names(store, evals)


def read_static(store: Store, run: Run) -> RunStatic:
    from spark_trainer.store import artifacts, runs

    static = RunStatic(run.id, checkpoint_rows(run.run_dir))
    static.has_weights = bool(static.checkpoints) or bool(run.run_dir and (Path(run.run_dir) / "final").is_dir())
    static.samples = [load_sample(Path(a.path), a.step)
                      for a in reversed(artifacts.list_for(store, run.id, "sample")[-10:])]
    static.report = read_eval_report(store, run.id)
    static.exports, static.evaluations, static.data_names = read_exports(store, run.id)
    static.events = runs.events(store, run.id)
    return static
