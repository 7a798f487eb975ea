"""Benchmark engines taking turns over rounds, and the medians a report quotes.

One pass per engine on a busy or small machine mostly measures when each engine ran. With several
rounds the engines alternate (a, b, c, a, b, c, ...), each engine's figures are those of its median
round, and each ratio is the median of the ratios within rounds, whose engines ran back to back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from statistics import median
from typing import Any

from spark_trainer.errors import BadInput


def take_turns(engines: tuple[str, ...], run_one: Callable[[str], dict[str, Any]], repeats: int, *,
               describe: str = "", log: Any = None) -> list[dict[str, dict[str, Any]]]:
    """`repeats` rounds of `run_one(engine)` for each engine in turn: one {engine: figures} per round."""
    if repeats < 1:
        raise BadInput("--repeats must be at least 1")
    rounds = []
    for turn in range(repeats):
        found = {}
        for engine in engines:
            if log:
                log(f"running {engine} ({describe}" + (f", round {turn + 1} of {repeats})" if repeats > 1 else ")"))
            began = time.perf_counter()
            found[engine] = run_one(engine)
            if log:  # each engine's figures as it ends: a benchmark stopped by a deadline keeps those
                log(f"{engine} done: {json.dumps(found[engine], default=str)}")
                # What a deadline has to allow for: on the GPU the build and the compile, not the timed
                # steps, took most of it (the first lease's sd15 and 1b benches ran out of time).
                log(f"{engine} took {time.perf_counter() - began:.0f} s in all (building the model, "
                    "compile warm-up, timed steps)")
        rounds.append(found)
    return rounds


def median_figures(rounds: list[dict[str, dict[str, Any]]], speed: str) -> dict[str, dict[str, Any]]:
    """Each engine's figures from its median round by `speed`, with every round's `speed` when there were several."""
    results = {}
    for engine in rounds[0]:
        speeds = [found[engine][speed] for found in rounds]
        middle = median(speeds)
        results[engine] = dict(min((found[engine] for found in rounds), key=lambda f: abs(f[speed] - middle)))
        if len(rounds) > 1:
            results[engine][f"rounds_{speed}"] = speeds
    return results


def median_ratios(rounds: list[dict[str, dict[str, Any]]],
                  pairs: dict[str, tuple[str, str, str]]) -> tuple[dict[str, float], dict[str, list[float]]]:
    """({name: median ratio}, {name: ratio of each round}) for `pairs` {name: (engine, baseline, figure)};
    pairs whose engines did not both run are left out."""
    by_round = {name: [found[a][key] / found[b][key] for found in rounds]
                for name, (a, b, key) in pairs.items() if a in rounds[0] and b in rounds[0]}
    return {name: median(values) for name, values in by_round.items()}, by_round


def ratio_lines(report: dict[str, Any]) -> list[str]:
    """The report's ratio lines, each with its rounds when there were several."""
    by_round = report.get("ratios_by_round", {})
    lines = []
    for key, value in report["ratios"].items():
        spread = (f" (median of {len(by_round[key])} rounds: " + ", ".join(f"{v:.2f}" for v in by_round[key]) + ")"
                  if len(by_round.get(key, [])) > 1 else "")
        lines.append(f"  {key.replace('_', ' ')}: {value:.2f}x{spread}")
    return lines


def rounds_note(report: dict[str, Any]) -> str:
    repeats = report.get("repeats", 1)
    return f", {repeats} rounds, engines taking turns" if repeats > 1 else ""
