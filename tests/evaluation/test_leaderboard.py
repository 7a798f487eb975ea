"""The leaderboard's note on the evaluation data it shows: runs evaluated on 22 data sets named all 22
(three lines above the app's table, ~600 characters in a terminal); it names the first few and counts
the rest."""

from __future__ import annotations

from spark_trainer.evaluation.leaderboard import OTHERS_SHOWN, EvalColumns, EvalData, eval_data_line


def _columns(others: int) -> EvalColumns:
    shown = EvalData("/d/heldout.jsonl", "heldout.jsonl", 5)
    rest = [EvalData(f"/d/set{i:02d}.jsonl", f"set{i:02d}.jsonl", 1) for i in range(others)]
    return EvalColumns(keys=[], values={}, baselines=[], data=shown, choices=[shown, *rest])


def test_many_other_evaluation_data_are_counted_past_the_first_few() -> None:
    line = eval_data_line(_columns(22))
    assert line == ("evaluation results on heldout.jsonl (5 runs); also evaluated on: set00.jsonl (1 run), "
                    "set01.jsonl (1 run), set02.jsonl (1 run) and 19 more (--eval-data NAME shows those)")
    assert OTHERS_SHOWN == 3 and len(line) < 200


def test_a_few_other_evaluation_data_are_all_named() -> None:
    assert eval_data_line(_columns(3)).endswith(
        "also evaluated on: set00.jsonl (1 run), set01.jsonl (1 run), set02.jsonl (1 run) (--eval-data NAME shows those)")
    assert "also evaluated" not in eval_data_line(_columns(0))
