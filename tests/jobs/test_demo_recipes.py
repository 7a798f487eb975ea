"""`spark-trainer demo --recipe NAME` for the classification recipes: a tiny local model and
generated data, trained end to end offline by the worker's code, run in this process here (the demo
through a worker process: tests/app/test_demo_run_threads.py and test_real_display.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spark_trainer.store import artifacts
from spark_trainer.store.entities import RunStatus


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("recipe", "steps"), [("text-classification", 40), ("image-classification", 12)])
def test_cli_demo_trains_a_classification_recipe(cli, home: Path, recipe: str, steps: int, monkeypatch) -> None:
    from spark_trainer.jobs import demo
    from tests.worker_here import schedule_here

    monkeypatch.setattr(demo, "schedule_once", schedule_here)
    result = cli("--json", "demo", "--recipe", recipe, "--steps", str(steps))
    assert result.code == 0, result.err
    data = result.json()
    assert data["run"]["status"] == RunStatus.COMPLETED.value and data["run"]["step"] == steps
    assert data["metrics"]["eval_accuracy"] > 0.6, data["metrics"]  # three classes: chance is 1/3
    report = Path(data["report_path"]).read_text()  # the printout's accuracy is in the report too
    assert f"validation accuracy: {data['metrics']['eval_accuracy']:.4f}" in report, report

    from spark_trainer.store.store import Store

    with Store.open(home) as store:
        reports = artifacts.list_for(store, data["run"]["id"], "eval_report")
        samples = artifacts.list_for(store, data["run"]["id"], "sample")
    confusion = json.loads(Path(reports[-1].path).read_text())["confusion"]
    assert len(confusion) == 3 and sum(map(sum, confusion)) > 0
    assert samples, "the demo writes prediction samples at its last step"


def test_demo_for_an_unknown_recipe_is_bad_input(cli) -> None:
    result = cli("demo", "--recipe", "nope")
    assert result.code == 2 and "no demo for recipe 'nope'" in result.err
    assert result.err.count("\n") == 1
