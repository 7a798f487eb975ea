"""`spark-trainer sweep list|show` (spark_trainer/cli/sweeps.py) on a sweep queued in the store, with
metrics written as a worker writes them."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.config.sweep import parse_axis
from spark_trainer.jobs.sweeps import queue_sweep
from spark_trainer.store import metrics
from spark_trainer.store.store import Store
from tests.recipes.helpers import write_jsonl


def _queue(store: Store, tmp_path: Path) -> list[int]:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "tokenizer_config.json").write_text("{}")
    # Five rows a class: one row of each, five times, was two after de-duplication, one held out,
    # so one class was in validation only (refused at submit).
    rows = write_jsonl(tmp_path / "tickets.jsonl", [{"text": label, "label": label, "n": i} for label in "xy" for i in range(5)])
    data = {"project": "p", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
            "dataset": str(rows), "gpus": "cpu", "train": {"max_steps": 2}}
    queued = queue_sweep(store, data, [parse_axis("train.learning_rate=1e-4,1e-3")], machine=[])
    return [r.id for r in queued.runs]


def test_sweep_show_json_names_the_ranked_value_score_as_leaderboard_does(store: Store, tmp_path: Path,
                                                                          cli) -> None:
    first, second = _queue(store, tmp_path)
    metrics.add_batch(store, first, [("eval_accuracy", 2, 0.6)])
    metrics.add_batch(store, second, [("eval_accuracy", 2, 0.9)])
    shown = cli("--json", "sweep", "show", "tickets-sweep-1").json()
    assert shown["metric"] == "eval_accuracy" and shown["higher_is_better"] is True
    assert [(r["rank"], r["id"], r["score"]) for r in shown["runs"]] == [(1, second, 0.9), (2, first, 0.6)]
    assert all("eval_accuracy" not in r for r in shown["runs"])  # the metric's name is said once, at the top
    board = cli("--json", "leaderboard", "eval_accuracy").json()
    assert board["metric"] == "eval_accuracy" and [(r["id"], r["score"]) for r in board["runs"]] == [
        (second, 0.9), (first, 0.6)]
    text = cli("sweep", "show", "tickets-sweep-1").out.splitlines()
    assert text[1].split() == ["RANK", "RUN", "STATUS", "TRAIN.LEARNING_RATE", "EVAL_ACCURACY"]  # text: unchanged
