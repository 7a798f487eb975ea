"""`spark-trainer demo` / build_demo: sample data + locally created tiny model -> trained, evaluated, reported."""

from __future__ import annotations

import pytest

from spark_trainer.jobs.demo import DEMO_MODEL, build_demo
from spark_trainer.store import datasets, projects
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
