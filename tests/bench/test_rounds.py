"""Engines taking turns and the medians a benchmark report quotes (spark_trainer/bench/rounds.py)."""

from __future__ import annotations

import json

import pytest

from spark_trainer.bench.rounds import median_figures, median_ratios, ratio_lines, take_turns
from spark_trainer.errors import BadInput


def test_engines_take_turns_round_by_round() -> None:
    calls: list[str] = []
    rounds = take_turns(("a", "b"), lambda e: calls.append(e) or {"speed": len(calls)}, 3)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert [r["b"]["speed"] for r in rounds] == [2, 4, 6]
    with pytest.raises(BadInput, match="--repeats"):
        take_turns(("a",), lambda e: {}, 0)


def test_each_engine_s_figures_are_logged_as_it_ends() -> None:
    # gpu_check.sh stops the 1b benchmark at its deadline: the engines that finished keep their figures
    # in the log (the report itself is printed only at the end).
    lines: list[str] = []
    take_turns(("ours", "packed"), lambda e: {"tokens_per_s": 10.0 if e == "ours" else 5.0}, 1, log=lines.append)
    done = [json.loads(line.split(" done: ", 1)[1]) for line in lines if " done: " in line]
    assert done == [{"tokens_per_s": 10.0}, {"tokens_per_s": 5.0}]
    assert lines[1].startswith("ours done: ")
    assert lines[2].startswith("ours took ") and lines[2].endswith("(building the model, compile warm-up, timed steps)")


def test_median_round_and_median_of_the_rounds_ratios() -> None:
    # Round 2 ran on a loaded machine: both engines slow. A ratio of medians taken from different rounds
    # would mix moments; the median of each round's own ratio does not.
    rounds = [{"a": {"speed": 100.0, "peak": 1}, "b": {"speed": 50.0, "peak": 2}},
              {"a": {"speed": 30.0, "peak": 3}, "b": {"speed": 40.0, "peak": 4}},
              {"a": {"speed": 90.0, "peak": 5}, "b": {"speed": 60.0, "peak": 6}}]
    figures = median_figures(rounds, "speed")
    assert figures["a"] == {"speed": 90.0, "peak": 5, "rounds_speed": [100.0, 30.0, 90.0]}
    assert figures["b"]["speed"] == 50.0 and figures["b"]["peak"] == 2
    ratios, by_round = median_ratios(rounds, {"a_vs_b": ("a", "b", "speed"), "a_vs_c": ("a", "c", "speed")})
    assert by_round == {"a_vs_b": [2.0, 0.75, 1.5]} and ratios == {"a_vs_b": 1.5}
    assert ratio_lines({"ratios": ratios, "ratios_by_round": by_round}) == [
        "  a vs b: 1.50x (median of 3 rounds: 2.00, 0.75, 1.50)"]


def test_one_round_adds_nothing() -> None:
    rounds = [{"a": {"speed": 3.0}, "b": {"speed": 2.0}}]
    assert median_figures(rounds, "speed") == {"a": {"speed": 3.0}, "b": {"speed": 2.0}}
    ratios, by_round = median_ratios(rounds, {"a_vs_b": ("a", "b", "speed")})
    assert ratio_lines({"ratios": ratios, "ratios_by_round": by_round}) == ["  a vs b: 1.50x"]
