"""Real runs through the GUI: launch from experiment setup, watch the chart fill, close and reopen,
and a run started by `spark-trainer train` in another process showing up live."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import QSettings

from spark_trainer.jobs import process
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import RunStatus

REPO = Path(__file__).resolve().parents[2]
DEMO_DATA = REPO / "resources" / "demo" / "train.jsonl"
STEPS = 120


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from spark_trainer.models.tiny import create_tiny_causal_lm

    return create_tiny_causal_lm(tmp_path_factory.mktemp("models") / "tiny", vocab_size=300, hidden_size=32,
                                 num_layers=1, num_heads=2)


def make_ctx(store, tmp_path: Path, name: str):
    from app.context import AppContext

    return AppContext(store, QSettings(str(tmp_path / f"{name}.ini"), QSettings.Format.IniFormat), poll_gpus=False)


def wait_for(qtbot, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        qtbot.wait(50)


def fill_setup(view, tiny_model: Path, *, name: str = "gui-run", steps: int = STEPS) -> None:
    view.project.setCurrentText("gui")
    view.name.setText(name)
    view.dataset.setCurrentText(str(DEMO_DATA))
    view.base_model.setCurrentText(str(tiny_model))
    view.gpus.setCurrentText("cpu")
    train = view.forms["train"].rows
    for field, value in (("max_steps", steps), ("batch_size", 4), ("learning_rate", "0.001")):
        train[field].widget.setText(str(value))
    view.forms["eval"].rows["every_steps"].widget.setText("40")
    view.forms["eval"].rows["max_batches"].widget.setText("1")
    view.forms["checkpoint"].rows["every_steps"].widget.setText("40")
    view.forms["recipe_config"].rows["lora_r"].widget.setText("4")
    view.forms["recipe_config"].rows["seq_len"].widget.setText("64")


def test_invalid_values_disable_launch_and_say_why(store, ctx, qtbot, tmp_path, tiny_model) -> None:
    from app.views.experiment_setup_view import ExperimentSetupView

    view = ExperimentSetupView(store, ctx)
    qtbot.addWidget(view)
    fill_setup(view, tiny_model)
    checked = lambda: not view.checking  # noqa: E731 - store and disk checks answer from the pool
    qtbot.waitUntil(checked)
    assert view.launch.isEnabled(), view.launch_reason.text()

    lr = view.forms["train"].rows["learning_rate"]
    lr.widget.setText("-0.001")
    assert not view.launch.isEnabled()
    assert lr.error.text() == "Learning rate must be greater than 0" and not lr.error.isHidden()
    assert "Learning rate must be greater than 0" in view.launch_reason.text()
    lr.widget.setText("0.001")

    batch = view.forms["train"].rows["batch_size"]
    batch.widget.setText("0")
    assert not view.launch.isEnabled() and batch.error.text() == "Batch size must be at least 1"
    batch.widget.setText("4")

    no_config = tmp_path / "not-a-model"
    no_config.mkdir()
    view.base_model.setCurrentText(str(no_config))
    qtbot.waitUntil(checked)
    assert not view.launch.isEnabled()
    assert "has no config.json" in view.errors["base_model"].text()
    assert not view.errors["base_model"].isHidden()
    assert "Choose a base model" in view.memory.text()
    view.base_model.setCurrentText(str(tiny_model))
    qtbot.waitUntil(checked)
    assert view.launch.isEnabled() and view.launch_reason.text() == ""
    assert "per GPU" in view.memory.text() and "trainable parameters" in view.memory.text()

    preset = view.save_preset_to(tmp_path / "preset.yaml")  # what `spark-trainer train` reads
    saved = yaml.safe_load(preset.read_text())
    assert saved["train"]["max_steps"] == STEPS and saved["recipe_config"]["lora_r"] == 4
    view.name.setText("other")
    view.load_preset_from(preset)
    assert view.name.text() == "gui-run"


def test_launch_trains_live_and_survives_closing_the_app(store, qtbot, tmp_path, tiny_model) -> None:
    from app.views.experiment_setup_view import ExperimentSetupView
    from app.views.runs_view import COLUMNS, RunsView

    ctx = make_ctx(store, tmp_path, "first")
    setup, runs_view = ExperimentSetupView(store, ctx), RunsView(store, ctx)
    qtbot.addWidget(setup)
    qtbot.addWidget(runs_view)
    ctx.navigate_requested.connect(lambda name, payload: runs_view.open_item(payload) if name == "runs" else None)
    fill_setup(setup, tiny_model)
    setup.launch.click()
    wait_for(qtbot, lambda: runs_view.detail.run is not None, 60, "the launched run to open")
    run_id = runs_view.detail.run.id
    chart = runs_view.detail.charts

    # Points arrive in the chart while the worker trains.
    seen_while_running = []

    def points_while_running() -> bool:
        run = runs.get(store, run_id)
        if run.status == RunStatus.RUNNING and chart.point_count("loss") > 0:
            seen_while_running.append(chart.point_count("loss"))
        return len(set(seen_while_running)) >= 2 or run.status.is_finished

    wait_for(qtbot, points_while_running, 180, "loss points while the run trains")
    assert len(set(seen_while_running)) >= 2, f"no live points; run is {runs.get(store, run_id).status.value}"
    assert runs_view.detail.badge.text() == "running"

    # Close the app (views and context) while it trains: the worker goes on. The step is read as the
    # close begins: on a fast machine the tiny run could finish during the shutdown's wait, and a step read
    # after it then left nothing to show the worker went on.
    pid = runs.get(store, run_id).pid
    step_at_close = runs.get(store, run_id).step
    assert step_at_close < STEPS
    runs_view.shutdown()
    ctx.shutdown(10.0)
    runs_view.close()
    setup.close()
    run = runs.get(store, run_id)
    assert run.status == RunStatus.COMPLETED or process.is_alive(pid, run.pid_start_time)
    deadline = time.monotonic() + 180
    while runs.get(store, run_id).status.is_active and time.monotonic() < deadline:
        time.sleep(0.2)
    finished = runs.get(store, run_id)
    assert finished.status == RunStatus.COMPLETED, process.log_tail(Path(finished.run_dir), 30)
    assert finished.step == STEPS and finished.step > step_at_close

    # Reopen: the run is listed and its whole curve is drawn.
    ctx2 = make_ctx(store, tmp_path, "second")
    reopened = RunsView(store, ctx2)
    qtbot.addWidget(reopened)
    wait_for(qtbot, lambda: reopened.table.rowCount() == 1, 30, "the run in the reopened Runs view")
    assert reopened.table.item(0, COLUMNS.index("Status")).text() == "completed"
    reopened.open_run(run_id)
    total = len(metrics.read(store, run_id, keys=["loss"]))
    assert total == STEPS
    wait_for(qtbot, lambda: reopened.detail.charts.point_count("loss") == total, 30, "the full curve")
    assert reopened.detail.badge.text() == "completed"
    assert reopened.detail.charts.point_count("eval_loss") >= 1
    wait_for(qtbot, lambda: reopened.detail.checkpoints.rowCount() >= 1, 10, "the checkpoints (read on the pool)")
    wait_for(qtbot, lambda: "completed" in reopened.detail.log.toPlainText().lower(), 10, "the log tail")
    reopened.shutdown()
    assert ctx2.shutdown(10.0)


def test_run_started_from_the_cli_appears_and_updates_live(store, home, qtbot, tmp_path, tiny_model) -> None:
    from app.views.runs_view import RunsView

    ctx = make_ctx(store, tmp_path, "cli")
    view = RunsView(store, ctx)
    qtbot.addWidget(view)
    run_file = tmp_path / "cli-run.yaml"
    run_file.write_text(yaml.safe_dump({
        "project": "scripts", "name": "from-cli", "recipe": "causal-lm", "base_model": str(tiny_model),
        "dataset": str(DEMO_DATA), "gpus": "cpu",
        "train": {"max_steps": STEPS, "batch_size": 4, "learning_rate": 1e-3},
        "recipe_config": {"method": "lora", "lora_r": 4, "seq_len": 64},
        "eval": {"every_steps": None, "val_fraction": 0.1, "max_batches": 1},
        "checkpoint": {"every_steps": None, "keep": 1},
    }))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    started = subprocess.run([sys.executable, "-m", "spark_trainer", "--home", str(home), "--json", "train",
                              str(run_file)], capture_output=True, text=True, env=env, timeout=120)
    assert started.returncode == 0, started.stderr
    wait_for(qtbot, lambda: view.table.rowCount() == 1, 30, "the CLI run in the Runs view")
    run_id = int(view.table.item(0, 1).text())
    assert view.table.item(0, 3).text() == "from-cli"
    view.open_run(run_id)
    notified: list[tuple[int, str]] = []
    view.scheduler.run_finished.connect(lambda run, what: notified.append((run.id, what)))
    counts = []

    def growing() -> bool:
        count = view.detail.charts.point_count("loss")
        if not counts or counts[-1] != count:
            counts.append(count)
        return runs.get(store, run_id).status.is_finished

    wait_for(qtbot, growing, 180, "the CLI run to finish")
    wait_for(qtbot, lambda: view.detail.charts.point_count("loss") == STEPS, 30, "the last points")
    assert len([c for c in counts if 0 < c < STEPS]) >= 1, f"the chart only saw {counts}"
    wait_for(qtbot, lambda: view.detail.badge.text() == "completed", 10, "the completed badge")
    wait_for(qtbot, lambda: (run_id, "completed") in notified, 10, "the completion notification")

    # Extend the completed run by 20 steps: the same run continues its series from its last checkpoint.
    assert view.detail.extend_button.isEnabled()
    view.detail.extend_steps.setValue(20)
    view.detail.extend_button.click()
    wait_for(qtbot, lambda: runs.get(store, run_id).total_steps == STEPS + 20, 30, "the extension to be queued")
    wait_for(qtbot, lambda: runs.get(store, run_id).status == RunStatus.COMPLETED
             and runs.get(store, run_id).step == STEPS + 20, 180, "the extended run to complete")
    steps = [m.step for m in metrics.read(store, run_id, keys=["loss"])]
    assert steps == list(range(1, STEPS + 21))  # no gap, no duplicate
    # The extension follows its LR plan: unchanged up to STEPS, then a short re-warm and a decay (step
    # N trains with the plan's rate after N - 1 optimizer steps).
    from spark_trainer.training import lr_plan

    plan = lr_plan.read_plan(runs.get(store, run_id).run_dir)
    assert plan is not None and plan.segments[-1].end == STEPS + 20
    lrs = {m.step: m.value for m in metrics.read(store, run_id, keys=["lr"])}
    for step in range(STEPS - 2, STEPS + 21):
        assert lrs[step] == pytest.approx(1e-3 * lr_plan.lr_multiplier(step - 1, plan), rel=1e-4, abs=1e-12), step
    wait_for(qtbot, lambda: view.detail.charts.point_count("loss") == STEPS + 20, 30, "the extended curve")
    view.shutdown()
    assert ctx.shutdown(10.0)
