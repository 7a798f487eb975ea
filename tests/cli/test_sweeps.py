"""`spark-trainer sweep list|show` (spark_trainer/cli/sweeps.py) on a sweep queued in the store, with
metrics written as a worker writes them."""

from __future__ import annotations

from pathlib import Path

from spark_trainer.config.sweep import parse_axis
from spark_trainer.jobs.sweeps import queue_sweep
from spark_trainer.store import metrics
from spark_trainer.store.store import Store
from tests.recipes.helpers import write_jsonl


def _queue(store: Store, tmp_path: Path, *axes: str, name: str | None = None) -> list[int]:
    model = tmp_path / "model"
    model.mkdir(exist_ok=True)
    (model / "config.json").write_text("{}")
    (model / "tokenizer_config.json").write_text("{}")
    # Five rows a class: one row of each, five times, was two after de-duplication, one held out,
    # so one class was in validation only (refused at submit).
    rows = write_jsonl(tmp_path / "tickets.jsonl", [{"text": label, "label": label, "n": i} for label in "xy" for i in range(5)])
    data = {"project": "p", "name": "tickets", "recipe": "text-classification", "base_model": str(model),
            "dataset": str(rows), "gpus": "cpu", "train": {"max_steps": 2}}
    queued = queue_sweep(store, data, [parse_axis(a) for a in axes or ("train.learning_rate=1e-4,1e-3",)],
                         name=name, machine=[])
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


def test_sweep_show_gives_tied_runs_one_rank_and_names_a_deleted_combination(store: Store, tmp_path: Path,
                                                                            cli) -> None:
    # A walk: runs 17, 19 and 20 all at 1.0 were ranked 1, 2, 3 by id; after `run delete 20` the sweep
    # read "3 runs" and its combination was gone without a word.
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    first, second, third = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3,1e-2")
    for run, value in ((first, 1.0), (second, 1.0), (third, 0.5)):
        metrics.add_batch(store, run, [("eval_accuracy", 2, value)])
    shown = cli("--json", "sweep", "show", "tickets-sweep-1").json()
    assert [(r["rank"], r["tied"], r["id"]) for r in shown["runs"]] == [
        (1, True, first), (1, True, second), (3, False, third)]
    text = cli("sweep", "show", "tickets-sweep-1").out.splitlines()
    assert [line.split()[0] for line in text[2:]] == ["=1", "=1", "3"]
    assert (shown["deleted"], shown["deleted_combinations"]) == (0, [])
    runs.transition(store, second, RunStatus.CANCELLED, "test: stopped")
    runs.delete(store, second)
    text = cli("sweep", "show", "tickets-sweep-1").out.splitlines()
    assert text[0].startswith("sweep tickets-sweep-1: 2 runs of tickets (of 3 queued; 1 deleted), ranked by ")
    # Two settings: the deleted run's combination is named.
    two = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3", "train.seed=1,2", name="two")
    runs.transition(store, two[3], RunStatus.CANCELLED, "test: stopped")
    runs.delete(store, two[3])  # the last: no gap in the ids, yet its combination is known
    head = cli("sweep", "show", "two").out.splitlines()[0]
    assert head.startswith("sweep two: 3 runs of tickets (of 4 queued; 1 deleted: train.learning_rate=0.001 "
                           "train.seed=2), ranked by "), head
    assert cli("--json", "sweep", "show", "two").json()["deleted_combinations"] == [
        {"train.learning_rate": 1e-3, "train.seed": 2}]
