"""`spark-trainer demo` / build_demo: sample data + locally created tiny model -> trained, evaluated, reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_trainer.errors import OperationFailed
from spark_trainer.jobs.demo import DEMO_MODEL, REPORT_NAME, DemoResult, build_demo, write_report
from spark_trainer.recipes.registry import get_recipe
from spark_trainer.store import datasets, experiments, projects, runs
from spark_trainer.store.entities import RunStatus
from spark_trainer.store.store import Store
from tests.jobs.conftest import finished, wait_until


@pytest.mark.slow  # ~40 s; the demo's training is also driven in the default suite by tests/app/test_demo_run_threads.py
def test_build_demo_trains_evaluates_and_reports(store: Store) -> None:
    stages = []
    result = build_demo(store, steps=12, progress=lambda p: stages.append(p.stage))
    assert result.run.status == RunStatus.COMPLETED and result.run.step == 12
    assert result.model_path == store.home.models_dir / DEMO_MODEL
    assert (result.model_path / "config.json").is_file()
    assert result.first_loss is not None and result.eval_loss is not None
    report = result.report_path.read_text()
    assert f"# Demo run {result.run.id}" in report and "validation loss" in report
    assert "validation perplexity" in result.summary()
    assert all(f"- {label}: {value}" in report for label, value in result.figures())
    assert stages[0] == "model" and stages[-1] == "done"
    assert [p.name for p in projects.list_all(store)] == ["demo"]

    again = build_demo(store, steps=2, wait=False)  # reuses the model and the ingested sample data
    assert again.run.id != result.run.id
    assert len(datasets.list_all(store, "demo")) == 1
    assert wait_until(store, again.run.id, finished).status == RunStatus.COMPLETED


@pytest.mark.slow
def test_cli_demo_full_length(cli) -> None:
    result = cli("demo")
    assert result.code == 0, result.err
    assert "completed 300 steps" in result.out


@pytest.mark.parametrize("recipe", ["causal-lm", "text-classification", "image-classification", "diffusion-lora"])
def test_the_report_gives_every_figure_the_printout_gives(store: Store, tmp_path: Path, recipe: str) -> None:
    projects.create(store, "demo")
    exp = experiments.create(store, project="demo", name="e", recipe=recipe, base_model="m", dataset=None, config={})
    run = runs.create(store, exp.id, requested_gpus="cpu")
    declared = {spec.key: 0.5 + i / 8 for i, spec in enumerate(get_recipe(recipe).metrics)}
    result = DemoResult(project="demo", run=run, model_path=tmp_path, first_loss=2.25, final_loss=1.125,
                        eval_loss=declared["eval_loss"], report_path=tmp_path / REPORT_NAME,
                        metrics={"loss": 1.125, "lr": 0.001, **declared})
    write_report(result)

    printed, report = result.summary(), result.report_path.read_text()
    assert "2.2500 -> 1.1250" in printed
    for value in declared.values():  # every evaluation metric the recipe declares, in the printout...
        assert f"{value:.4f}" in printed, (value, printed)
    for label, value in result.figures():  # ...and each of the printout's figures in the report
        assert f"{label} {value}" in printed and f"- {label}: {value}" in report, (label, report)
    assert "learning rate" not in printed and "0.0010" not in report  # engine metrics are not final figures


def cancelled_after_held_passes(store: Store, passes: int = 4):
    """A stand-in for the demo's `time`: after `passes` waits the queued demo run is cancelled by hand, so
    that a wait on a held queue (which starts nothing) ends; nothing trains."""
    from types import SimpleNamespace

    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == passes:
            (run,) = runs.list_all(store, statuses={RunStatus.QUEUED})
            runs.transition(store, run.id, RunStatus.CANCELLED, "test")

    return SimpleNamespace(sleep=sleep)


def test_a_demo_on_a_held_queue_says_the_hold_once_and_never_that_it_trains(store: Store, monkeypatch) -> None:
    """It waited in silence, telling "Training run 1: step 0/2" at every pass, as if training."""
    from spark_trainer.jobs import demo
    from spark_trainer.store import queue_hold

    queue_hold.hold(store)
    monkeypatch.setattr(demo, "time", cancelled_after_held_passes(store))
    told = []
    with pytest.raises(OperationFailed, match="ended cancelled"):
        build_demo(store, steps=2, progress=told.append)
    (run,) = runs.list_all(store)
    assert [p.stage for p in told] == ["model", "data", "queued", "held"]
    assert told[-1].message == (f"run {run.id} stays queued: the queue is held; it starts once it is released "
                                "(`spark-trainer queue release`, or the app's Runs view)")
