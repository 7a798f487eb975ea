"""The store reporter writes what the GUI and CLI read: metric rows, progress with ETA, artifacts."""

from __future__ import annotations

import io

from spark_trainer.store import artifacts, experiments, metrics, projects, runs
from spark_trainer.training.engine import run_training
from spark_trainer.training.reporters import ConsoleReporter, StoreReporter
from spark_trainer.training.reporting import Commands
from tests.training.helpers import make_config


def test_store_reporter_records_a_real_run(store, tiny_model, counting_data, tmp_path):
    config = make_config(tiny_model, train={"max_steps": 4}, eval={"every_steps": 2},
                         checkpoint={"every_steps": 2})
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model=str(tiny_model),
                             dataset=None, config=config.model_dump())
    run = runs.create(store, exp.id)
    reporter = StoreReporter(store, run.id, flush_interval_s=3600)  # only explicit flushes write
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run", reporter=reporter,
                           commands=Commands())

    rows = metrics.read(store, run.id)
    losses = [(m.step, m.value) for m in rows if m.key == "loss"]
    assert [s for s, _ in losses] == [1, 2, 3, 4]
    assert {"eval_loss", "eval_perplexity", "lr", "tokens_per_s"} <= set(metrics.keys(store, run.id))
    saved = runs.get(store, run.id)
    assert (saved.step, saved.total_steps) == (4, 4) and saved.heartbeat_at is not None
    kinds = [(a.kind, a.step) for a in artifacts.list_for(store, run.id)]
    assert ("checkpoint", 2) in kinds and ("checkpoint", 4) in kinds and ("final", None) in kinds
    assert outcome.final_path and str(outcome.final_path) in {a.path for a in artifacts.list_for(store, run.id)}


def test_console_reporter_prints_steps_and_evaluations():
    stream = io.StringIO()
    reporter = ConsoleReporter(stream, every=2)
    reporter.on_start(start_step=0, total_steps=4)
    for step in range(1, 5):
        reporter.on_metrics(step, {"loss": 5.0 - step})
    reporter.on_metrics(4, {"eval_loss": 1.5})
    lines = stream.getvalue().splitlines()
    assert lines[0] == "training steps 1..4"
    assert [line.split(":")[0] for line in lines[1:]] == ["step 1", "step 2", "step 4", "step 4"]
    assert "eval_loss 1.5" in lines[-1]


def test_an_fp16_run_whose_loss_becomes_nan_goes_on_and_its_other_points_are_kept(store, tiny_model, counting_data,
                                                                                tmp_path, monkeypatch):
    """fp16 leaves a NaN loss to its scaler (the step is not counted as skipped), so the step's loss reached
    the store: SQLite made the NaN a NULL and refused the whole batch, and the run failed at that flush."""
    import math

    from tests.training.nonfinite import NonFiniteLoss

    config = make_config(tiny_model, train={"max_steps": 4, "precision": "fp16"})
    projects.create(store, "p")
    exp = experiments.create(store, project="p", name="e", recipe="causal-lm", base_model=str(tiny_model),
                             dataset=None, config=config.model_dump())
    run = runs.create(store, exp.id)
    NonFiniteLoss(monkeypatch, at={2}, value=math.nan)
    outcome = run_training(config, data_path=counting_data, run_dir=tmp_path / "run",
                           reporter=StoreReporter(store, run.id, flush_interval_s=0), commands=Commands())
    assert outcome.status == "completed", outcome
    assert [m.step for m in metrics.read(store, run.id, keys=["loss"])] == [1, 3, 4]
    assert [m.step for m in metrics.read(store, run.id, keys=["lr"])] == [1, 2, 3, 4]
