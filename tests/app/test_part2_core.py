"""Qt-free helpers of the second GUI issue: memory estimate, leaderboard, config diff, extend plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from spark_trainer import estimate, estimate_measured, leaderboard
from spark_trainer.errors import BadInput
from spark_trainer.jobs import extend
from spark_trainer.store import experiments, metrics, projects, runs
from spark_trainer.store.entities import RunStatus

LLAMA_7B = {"hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 11008, "vocab_size": 32000,
            "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": False}


def test_shape_counts_llama_7b_parameters() -> None:
    shape = estimate.ModelShape.from_config(LLAMA_7B)
    assert 6.6e9 < shape.num_params < 6.8e9  # Llama-2-7B has 6.74 B parameters


def test_estimate_orders_methods_and_grows_with_batch() -> None:
    shape = estimate.ModelShape.from_config(LLAMA_7B)
    by_method = {m: estimate.estimate_peak_memory(shape, method=m, batch_size=1, seq_len=512).total_gib
                 for m in estimate.METHODS}
    assert by_method["qlora"] < by_method["lora"] <= by_method["dora"] < by_method["full"]
    assert 12 < by_method["lora"] < 20  # 13.5 GB of bf16 weights plus a little
    assert 100 < by_method["full"] < 130  # 16 bytes per parameter
    small = estimate.estimate_peak_memory(shape, batch_size=1, seq_len=512)
    big = estimate.estimate_peak_memory(shape, batch_size=8, seq_len=2048)
    assert abs(big.parts["activations"] - 32 * small.parts["activations"]) <= 32  # each rounded to whole bytes
    ckpt = estimate.estimate_peak_memory(shape, batch_size=8, seq_len=2048, gradient_checkpointing=True)
    assert ckpt.total_bytes < big.total_bytes
    with pytest.raises(BadInput, match="method"):
        estimate.estimate_peak_memory(shape, method="adapter")


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no config.json"):
        estimate.ModelShape.from_folder(tmp_path)


def _run_with_metrics(store, name: str, points: list[tuple[str, int, float]], *, dataset=None, config=None):
    if not projects.list_all(store):
        projects.create(store, "p")
    exp = experiments.create(store, project="p", name=name, recipe="causal-lm", base_model="m", dataset=dataset,
                             config=config or {"train": {"learning_rate": 1e-4}})
    run = runs.create(store, exp.id)
    metrics.add_batch(store, run.id, points)
    return run


def test_leaderboard_ranks_by_best_or_last(store) -> None:
    a = _run_with_metrics(store, "a", [("eval_loss", 1, 2.0), ("eval_loss", 2, 1.0), ("eval_loss", 3, 1.5)])
    b = _run_with_metrics(store, "b", [("eval_loss", 1, 1.2), ("eval_loss", 2, 1.1)])
    _run_with_metrics(store, "c", [("accuracy", 1, 0.5)])
    best = leaderboard.rank(store, "eval_loss")
    assert [e.run.id for e in best] == [a.id, b.id] and [e.rank for e in best] == [1, 2]
    last = leaderboard.rank(store, "eval_loss", use="last")
    assert [e.run.id for e in last] == [b.id, a.id] and last[1].score == 1.5
    assert leaderboard.rank(store, "eval_loss", recipe="other") == []
    assert leaderboard.metric_keys(store) == ["accuracy", "eval_loss"]
    assert leaderboard.last_values(store, [a.id, b.id], ["eval_loss", "accuracy"]) == {
        a.id: {"eval_loss": 1.5}, b.id: {"eval_loss": 1.1}}
    assert leaderboard.lower_is_better("eval_loss") and not leaderboard.lower_is_better("accuracy")


def test_config_diff_lists_only_differences() -> None:
    one = {"name": "a", "train": {"learning_rate": 1e-4, "batch_size": 8}, "recipe_config": {"lora_r": 16}}
    two = {"name": "b", "train": {"learning_rate": 2e-4, "batch_size": 8}, "recipe_config": {"lora_r": 16},
           "notes": "x"}
    assert leaderboard.config_diff([one, two]) == {"train.learning_rate": [1e-4, 2e-4]}


def test_extension_schedule_is_continuous_and_decays_to_zero() -> None:
    train = {"lr_scheduler": "cosine", "warmup_steps": 10}
    plan = extend.plan_extension(train, 100, 50)
    base = extend.ExtendPlan([extend.base_segment(train, 100)])
    for step in range(0, 101):  # the original schedule is untouched up to the join
        assert extend.lr_multiplier(step, plan) == pytest.approx(extend.lr_multiplier(step, base))
    assert extend.lr_multiplier(100, plan) == pytest.approx(0.0, abs=1e-9)
    values = [extend.lr_multiplier(s, plan) for s in range(100, 151)]
    assert max(abs(b - a) for a, b in zip(values, values[1:], strict=False)) < 0.15  # no jump
    assert max(values) == pytest.approx(0.5)  # re-warmed to half the peak
    assert values[-1] == pytest.approx(0.0, abs=1e-9)
    twice = extend.plan_extension(train, 150, 20, plan)
    assert len(twice.segments) == 3
    assert extend.ExtendPlan.from_json(twice.to_json()) == twice


def test_extend_refuses_a_run_that_is_not_completed(store) -> None:
    run = _run_with_metrics(store, "x", [])
    with pytest.raises(BadInput, match="only a completed run"):
        extend.extend(store, run.id, 10)
    with pytest.raises(BadInput, match="steps must be"):
        extend.extend(store, run.id, 0)


def test_extend_requeues_a_completed_run_with_a_longer_config(store) -> None:
    from spark_trainer.training.checkpoints import write_checkpoint

    run = _run_with_metrics(store, "done", [("loss", 8, 1.0)])
    run_dir = Path(run.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)  # the run's submit created it
    (run_dir / "config.yaml").write_text(yaml.safe_dump({"name": "done", "train": {"max_steps": 8}}))
    write_checkpoint(run_dir, 8, {}, {})
    for status in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.COMPLETED):
        runs.transition(store, run.id, status, "test", step=8, total_steps=8, pid=None)
    queued = extend.extend(store, run.id, 12)
    assert queued.status == RunStatus.QUEUED and queued.total_steps == 20
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["max_steps"] == 20
    assert (run_dir / "config.before-extend-8.yaml").is_file()
    assert json.loads((run_dir / "extend.json").read_text())["segments"][-1]["end"] == 20
    assert "extended by 12 steps" in runs.events(store, run.id)[-1].reason


def test_sleep_inhibitor_says_why_it_cannot_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from spark_trainer.desktop import SleepInhibitor

    if sys.platform == "win32":
        pytest.skip("Windows holds through SetThreadExecutionState, without a helper program")
    monkeypatch.setenv("PATH", "")  # no systemd-inhibit / caffeinate to be found
    inhibitor = SleepInhibitor()
    assert inhibitor.hold() is False
    assert "awake" in inhibitor.status and "not found" in inhibitor.detail
    assert not inhibitor.held


def test_measured_peaks_are_put_next_to_the_estimate(store, tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(json.dumps(LLAMA_7B))
    projects.create(store, "p")
    config = {"train": {"batch_size": 1, "seq_len": 512, "precision": "bf16"}, "recipe_config": {"method": "lora"}}
    exp = experiments.create(store, project="p", name="gpu", recipe="causal-lm", base_model=str(model), dataset=None,
                             config=config)
    run = runs.create(store, exp.id)
    metrics.add_batch(store, run.id, [("gpu_mem_gb", 1, 14.0), ("gpu_mem_gb", 2, 15.0), ("loss", 1, 2.0)])
    [peak] = estimate_measured.compare_measured(store)
    assert peak.run_id == run.id and peak.measured_bytes == 15 * estimate.GIB
    expected = estimate.estimate_for_config(config, model).total_bytes
    assert peak.estimated_bytes == expected and 0.8 < peak.ratio < 1.25
