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
    assert [(r["rank"], r["id"], r["score"], r["step"]) for r in shown["runs"]] == [
        (1, second, 0.9, 2), (2, first, 0.6, 2)]
    assert all("eval_accuracy" not in r for r in shown["runs"])  # the metric's name is said once, at the top
    board = cli("--json", "leaderboard", "eval_accuracy").json()
    assert board["metric"] == "eval_accuracy" and [(r["id"], r["score"]) for r in board["runs"]] == [
        (second, 0.9), (first, 0.6)]
    text = cli("sweep", "show", "tickets-sweep-1").out.splitlines()
    assert text[1].split() == ["RANK", "RUN", "STATUS", "TRAIN.LEARNING_RATE", "EVAL_ACCURACY", "STEP"]


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
    assert text[0].startswith("sweep tickets-sweep-1: 2 runs of tickets (of 3 queued; 1 deleted: "
                              "train.learning_rate=0.001), ranked by ")
    # Two settings: the deleted run's combination is named.
    two = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3", "train.seed=1,2", name="two")
    runs.transition(store, two[3], RunStatus.CANCELLED, "test: stopped")
    runs.delete(store, two[3])  # the last: no gap in the ids, yet its combination is known
    head = cli("sweep", "show", "two").out.splitlines()[0]
    assert head.startswith("sweep two: 3 runs of tickets (of 4 queued; 1 deleted: train.learning_rate=0.001 "
                           "train.seed=2), ranked by "), head
    assert cli("--json", "sweep", "show", "two").json()["deleted_combinations"] == [
        {"train.learning_rate": 1e-3, "train.seed": 2}]


def _delete(store: Store, *ids: int) -> None:
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    for run_id in ids:
        runs.transition(store, run_id, RunStatus.CANCELLED, "test: stopped")
        runs.delete(store, run_id)


def test_sweep_show_counts_deleted_runs_from_the_plan_recorded_when_queued(store: Store, tmp_path: Path, cli) -> None:
    # A walk: a 2x2 sweep (runs 12-15) with 13 and 15 deleted said "2 runs (of 3 queued; 1 deleted)" and named
    # no combination (inferred from id gaps and the values left); a one-setting sweep whose last run was
    # deleted said nothing at all.
    two = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3", "train.seed=1,2", name="two")
    _delete(store, two[1], two[3])
    head = cli("sweep", "show", "two").out.splitlines()[0]
    assert head.startswith("sweep two: 2 runs of tickets (of 4 queued; 2 deleted: train.learning_rate=0.0001 "
                           "train.seed=2; train.learning_rate=0.001 train.seed=2), ranked by "), head
    shown = cli("--json", "sweep", "show", "two").json()
    assert (shown["queued"], shown["deleted"], shown["deleted_at_least"]) == (4, 2, 2)
    assert shown["deleted_combinations"] == [{"train.learning_rate": 1e-4, "train.seed": 2},
                                             {"train.learning_rate": 1e-3, "train.seed": 2}]
    one = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3", name="one")
    _delete(store, one[1])
    shown = cli("sweep", "show", "one").out.splitlines()
    assert shown[0].startswith("sweep one: 1 runs of tickets (of 2 queued; 1 deleted: train.learning_rate=0.001), ")
    assert not any(line.startswith("note:") for line in shown)
    listed = cli("--json", "sweep", "list").json()
    assert [(s["name"], s["num_runs"], s["queued"], s["deleted"]) for s in listed] == [("two", 2, 4, 2), ("one", 1, 2, 1)]
    assert [line.split()[3:5] for line in cli("sweep", "list").out.splitlines()[1:]] == [["2", "2"], ["1", "1"]]


def test_a_sweep_queued_without_a_plan_says_its_deleted_runs_are_inferred(store: Store, tmp_path: Path, cli) -> None:
    """Sweeps queued before migration 0012 have no plan: the count is a lower bound, and said to be one."""
    from sqlalchemy import text

    two = _queue(store, tmp_path, "train.learning_rate=1e-4,1e-3", "train.seed=1,2", name="old")
    with store.write() as session:  # as an older SparkTrainer queued it
        session.execute(text("DELETE FROM sweep_plans"))
    _delete(store, two[1], two[3])
    out = cli("sweep", "show", "old").out.splitlines()
    assert out[0].startswith("sweep old: 2 runs of tickets (at least 1 deleted), ranked by "), out[0]
    assert out[-1].startswith("note: sweep old was queued by an older SparkTrainer, which did not record the runs "
                              "a sweep queues: deleted runs are inferred from the runs left, and some may not be counted")
    shown = cli("--json", "sweep", "show", "old").json()
    assert (shown["queued"], shown["deleted"], shown["deleted_at_least"]) == (None, None, 1)
    listed = cli("sweep", "list").out.splitlines()
    assert listed[1].split()[3:5] == ["2", "?"] and listed[-1].startswith("?: queued by an older SparkTrainer")
    assert cli("--json", "sweep", "list").json()[0]["deleted"] is None


def test_sweep_show_says_the_step_a_run_stopped_early_is_ranked_at(store: Store, tmp_path: Path, cli) -> None:
    # A walk: a run cancelled at step 332 of 3000 was ranked first above a run still training, under a
    # heading saying "final value", with nothing to say its value was from step 332.
    first, second = _queue(store, tmp_path)
    metrics.add_batch(store, first, [("eval_accuracy", 100, 0.5), ("eval_accuracy", 332, 0.8)])
    metrics.add_batch(store, second, [("eval_accuracy", 3000, 0.7)])
    text = cli("sweep", "show", "tickets-sweep-1").out.splitlines()
    assert [line.split()[:2] + line.split()[-2:] for line in text[2:]] == [
        ["1", str(first), "0.8", "332"], ["2", str(second), "0.7", "3000"]]
