"""`leaderboard`'s STEP and evaluation columns (spark_trainer/cli/ranking.py): where the ranked value was
measured, not the run's last step or its last evaluation."""

from __future__ import annotations

from tests.cli.test_ranking import _evaluated, _run


def test_step_under_use_best_is_where_the_best_value_was_measured(store, cli) -> None:
    # A walk: run 13's best eval_accuracy, 0.875, was at step 100 (0.7917 at 200); STEP said 200.
    run = _run(store, "cls", "text-classification", [("eval_accuracy", 100, 0.875), ("eval_accuracy", 200, 0.7917)])
    best = cli("--json", "leaderboard", "eval_accuracy").json()["runs"][0]
    assert (best["score"], best["step"], best["last"], best["last_step"]) == (0.875, 100, 0.7917, 200)
    row = cli("leaderboard", "eval_accuracy").out.splitlines()[-1].split()
    assert row[:2] == ["1", str(run)] and row[-2:] == ["100", "cancelled"]
    last = cli("--json", "leaderboard", "eval_accuracy", "--use", "last").json()["runs"][0]
    assert (last["score"], last["step"]) == (0.7917, 200)


def test_an_evals_ranking_by_best_shows_the_evaluation_that_gave_the_score(store, cli) -> None:
    # A walk: run 13 evaluated at step 200 (0.7917), then `--checkpoint best` at step 100 (0.875);
    # `leaderboard evals/classification_accuracy` showed 0.875 with STEP 200 and the columns of the last
    # evaluation (0.7917 and its macro F1).
    run = _run(store, "cls", "text-classification", [("eval_accuracy", 200, 0.7917)])
    _evaluated(store, run, "classification", "/d/cls.jsonl", {"accuracy": 0.7917, "macro_f1": 0.7884}, step=200)
    _evaluated(store, run, "classification", "/d/cls.jsonl", {"accuracy": 0.875, "macro_f1": 0.8748}, step=100)
    shown = cli("--json", "leaderboard", "evals/classification_accuracy").json()["runs"][0]
    assert (shown["score"], shown["step"]) == (0.875, 100)
    assert shown["evals"] == {"evals/classification_accuracy": 0.875, "evals/classification_macro_f1": 0.8748}
    text = cli("leaderboard", "evals/classification_accuracy").out.splitlines()
    assert "each run's from the evaluation that gave its best classification_accuracy" in text[1]
    assert text[-1].split()[-4:] == ["100", "cancelled", "0.875", "0.8748"]
    last = cli("--json", "leaderboard", "evals/classification_accuracy", "--use", "last").json()["runs"][0]
    assert (last["score"], last["step"], last["evals"]["evals/classification_macro_f1"]) == (0.7917, 200, 0.7884)


def test_tied_runs_share_a_rank(store, cli) -> None:
    # Runs 17 and 19, both eval_accuracy 1.0, were ranked 1 and 2 by their ids, with no word of a tie.
    a = _run(store, "a", "text-classification", [("eval_accuracy", 1, 1.0)])
    b = _run(store, "b", "text-classification", [("eval_accuracy", 1, 1.0)])
    c = _run(store, "c", "text-classification", [("eval_accuracy", 1, 0.5)])
    shown = cli("--json", "leaderboard", "eval_accuracy").json()["runs"]
    assert [(r["rank"], r["tied"], r["id"]) for r in shown] == [(1, True, a), (1, True, b), (3, False, c)]
    rows = cli("leaderboard", "eval_accuracy").out.splitlines()[2:]
    assert [row.split()[:2] for row in rows] == [["=1", str(a)], ["=1", str(b)], ["3", str(c)]]


def test_runs_without_the_metric_are_counted_as_left_out(store, cli) -> None:
    # A failed and a cancelled run were left out of the ranking without a word.
    from spark_trainer.store import runs
    from spark_trainer.store.entities import RunStatus

    ranked = _run(store, "a", "causal-lm", [("eval_loss", 1, 1.0)])
    _run(store, "b", "causal-lm", [("loss", 1, 2.0)])  # cancelled before its first evaluation
    failed = _run(store, "c", "causal-lm", [])
    with store.write() as session:  # as a worker that died at start leaves it
        from spark_trainer.store.models import RunRow

        session.get(RunRow, failed).status = RunStatus.FAILED.value
    head = cli("leaderboard", "eval_loss").out.splitlines()[0]
    assert head == "ranked by eval_loss (best value; lower is better): 1 run (2 runs without eval_loss left out: " \
                   "1 cancelled, 1 failed)"
    data = cli("--json", "leaderboard", "eval_loss").json()
    assert [r["id"] for r in data["runs"]] == [ranked] and len(data["left_out"]) == 2
    assert runs.get(store, failed).status == RunStatus.FAILED
