"""The demo: a project from sample data shipped in `resources/demo/`, a tiny base model created
locally under `models/`, then a real training run with evaluation and a short report.

`build_demo` is the whole pipeline in about a minute on a CPU; the CLI's `demo` command and the
GUI's welcome panel both call it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spark_trainer import shipped
from spark_trainer.config import ExperimentConfig, validate_config
from spark_trainer.errors import BadInput, OperationFailed
from spark_trainer.jobs.finish import steps_text
from spark_trainer.jobs.scheduler import hold_of, schedule_once
from spark_trainer.jobs.submit import submit_config
from spark_trainer.models.loading import DEMO_MODELS
from spark_trainer.numbers import metric_text
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import Run, RunStatus
from spark_trainer.store.store import Store

DEMO_PROJECT = "demo"
DEMO_MODEL = DEMO_MODELS["causal-lm"]
REPORT_NAME = "demo-report.md"


@dataclass(frozen=True)
class DemoProgress:
    stage: str  # model | data | queued | held (what holds the queued run, once per spell) | training | report | done
    message: str
    step: int = 0
    total: int = 0
    run: int | None = None  # the demo run's id, once it is queued


@dataclass(frozen=True)
class DemoResult:
    project: str
    run: Run
    model_path: Path
    first_loss: float | None
    final_loss: float | None
    eval_loss: float | None
    report_path: Path | None
    metrics: dict[str, float] = field(default_factory=dict)

    def figures(self) -> list[tuple[str, str]]:
        """The final figures, (label, value), that the CLI's printout and `demo-report.md` both give:
        the training loss, then the last value of each evaluation metric the recipe declares (the
        validation loss first), so neither can show a figure the other leaves out."""
        from spark_trainer.recipes.registry import get_recipe

        figures = [("training loss", f"{_fmt(self.first_loss)} -> {_fmt(self.final_loss)}"),
                   ("validation loss", _fmt(self.eval_loss))]
        for spec in get_recipe(self.run.recipe).metrics:
            if spec.key != "eval_loss" and spec.key in self.metrics:
                figures.append((spec.label, _fmt(self.metrics[spec.key])))
        return figures

    def summary(self) -> str:
        """The CLI's one-line printout of a finished demo: its figures, as the report gives them."""
        figures = ", ".join(f"{label} {value}" for label, value in self.figures())
        return f"demo run {self.run.id} completed {steps_text(self.run.step)}: {figures}"


def demo_data_dir() -> Path:
    """`resources/demo/` from a source checkout, an installed tree, or a frozen (PyInstaller) app."""
    candidates = [root / "resources" / "demo" for root in shipped.roots()]
    for folder in candidates:
        if (folder / "train.jsonl").is_file():
            return folder
    raise OperationFailed(f"the demo's sample data is missing; looked in {', '.join(map(str, candidates))}")


def demo_config(model_path: Path, data_path: Path, *, steps: int = 300) -> ExperimentConfig:
    return validate_config({
        "project": DEMO_PROJECT,
        "name": "tiny-lora",
        "recipe": "causal-lm",
        "base_model": str(model_path),
        "dataset": str(data_path),
        "gpus": "auto",
        "notes": "Created by `spark-trainer demo`: a tiny random-weight model learning simple patterns.",
        "train": {"max_steps": steps, "learning_rate": 3e-3, "batch_size": 8,
                  "warmup_steps": min(20, steps // 10)},
        "recipe_config": {"method": "lora", "lora_r": 8, "lora_alpha": 16, "seq_len": 128},
        "eval": {"every_steps": max(1, steps // 3), "val_fraction": 0.1, "max_batches": 4},
        "checkpoint": {"every_steps": max(1, steps // 2), "keep": 2},
    })


def ensure_demo_model(store: Store) -> Path:
    """The tiny base model under `models/`, created once (random weights, local tokenizer)."""
    from spark_trainer.models.tiny import create_tiny_causal_lm

    dest = store.home.models_dir / DEMO_MODEL
    if not (dest / "config.json").is_file():
        create_tiny_causal_lm(dest)
    return dest


def build_demo(
    store: Store,
    *,
    wait: bool = True,
    progress: Callable[[DemoProgress], None] | None = None,
    steps: int | None = None,
    recipe: str = "causal-lm",
) -> DemoResult:
    """Create (or reuse) the demo project and start a training run; with `wait`, act as the
    scheduler until it ends, then write a report next to the run.

    Raises:
        OperationFailed: the sample data is missing, or the run did not complete.
    """
    queued: list[int] = []  # the demo run's id, once queued: every progress after says it

    def tell(stage: str, message: str, step: int = 0, total: int = 0) -> None:
        if progress is not None:
            progress(DemoProgress(stage, message, step, total, queued[0] if queued else None))

    if recipe != "causal-lm":  # an unknown recipe is bad input before anything is made
        from spark_trainer.jobs.demo_recipes import demo_setup_for

        demo_setup_for(recipe)
    tell("model", "Creating a tiny base model…")
    if recipe == "causal-lm":
        model_path = ensure_demo_model(store)
        data = demo_data_dir() / "train.jsonl"
        config = demo_config(model_path, data, steps=steps or 300)
    else:
        from spark_trainer.jobs.demo_recipes import demo_setup

        model_path, data, config = demo_setup(store, recipe, steps)
    steps = config.train.max_steps or 0
    tell("data", "Adding the sample dataset…")
    submitted = submit_config(store, config, base_dir=data.parent)
    run = submitted.run
    schedule_once(store)
    queued.append(run.id)
    tell("queued", f"Run {run.id} queued")
    if not wait:
        return _result(store, runs.get(store, run.id), model_path, None)
    held: str | None = None  # what holds the queued run now (`scheduler.hold_of`), said once per spell
    while True:
        run = runs.get(store, run.id)
        if run.status != RunStatus.QUEUED and not run.status.is_active:
            break
        if run.status == RunStatus.QUEUED:  # not training yet: say what holds it, as `train --wait` does
            hold = hold_of(store)
            if hold is not None and hold[0] != held:
                tell("held", hold[1])
            held = hold[0] if hold is not None else None
        else:
            tell("training", f"Training run {run.id}: step {run.step}/{run.total_steps or steps}", run.step,
                 run.total_steps or steps)
        time.sleep(0.5)
        schedule_once(store)
    if run.status != RunStatus.COMPLETED:
        first = (run.error or "").splitlines()[:1]
        raise OperationFailed(f"demo run {run.id} ended {run.status.value}" + (f": {first[0]}" if first else "")
                              + f"; see `spark-trainer run logs {run.id}`")
    tell("report", "Writing the report…")
    result = _result(store, run, model_path, Path(run.run_dir) / REPORT_NAME)
    write_report(result)
    tell("done", f"Demo run {run.id} completed")
    return result


def _series(store: Store, run_id: int, key: str) -> list[tuple[int, float]]:
    return sorted((m.step, m.value) for m in metrics.read(store, run_id, keys=[key]))


def _result(store: Store, run: Run, model_path: Path, report: Path | None) -> DemoResult:
    loss = _series(store, run.id, "loss")
    evals = _series(store, run.id, "eval_loss")
    last = {}
    for key in metrics.keys(store, run.id):
        points = _series(store, run.id, key)
        if points:
            last[key] = points[-1][1]
    return DemoResult(project=DEMO_PROJECT, run=run, model_path=model_path,
                      first_loss=loss[0][1] if loss else None, final_loss=loss[-1][1] if loss else None,
                      eval_loss=evals[-1][1] if evals else None, report_path=report, metrics=last)


def _fmt(value: float | None) -> str:
    return "-" if value is None else metric_text(value)


def write_report(result: DemoResult) -> None:
    """`demo-report.md`: where the demo's things are, and its final figures."""
    if result.report_path is None:
        raise BadInput("no report path")
    # The training loss reads first step -> last step; the other figures are the last evaluation's.
    lines = [
        f"# Demo run {result.run.id}",
        "",
        f"- project: `{result.project}`, experiment `{result.run.experiment}`",
        f"- base model: `{result.model_path}` (tiny, random weights, created locally)",
        f"- steps: {result.run.step}",
        *(f"- {label}: {value}" for label, value in result.figures()),
        f"- folder: `{result.run.run_dir}` (checkpoints/, final/, worker.log)",
        "",
    ]
    result.report_path.write_text("\n".join(lines), encoding="utf-8")
