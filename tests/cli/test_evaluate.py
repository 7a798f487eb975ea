"""`eval`'s progress lines: every update on a terminal, a few in a log (a pipe or a file)."""

from __future__ import annotations

from types import SimpleNamespace

from spark_trainer.cli.evaluate import EvalProgress


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _feed(progress: EvalProgress, clock: _Clock, updates: list[int], total: int, seconds_each: float) -> None:
    for done in updates:
        clock.now += seconds_each
        progress(SimpleNamespace(done=done, total=total))


def test_a_log_gets_a_line_a_tenth_and_the_last(capsys) -> None:
    """70 updates for 360 items were 70 lines in a non-tty stderr (a CI log)."""
    clock = _Clock()
    updates = list(range(0, 361, 5))[1:] + [360]  # what the worker reports, and a repeat of the last
    _feed(EvalProgress(tty=False, clock=clock), clock, updates, 360, 0.1)
    lines = capsys.readouterr().err.splitlines()
    assert lines[-1] == "  360/360" and lines[0] == "  40/360"
    assert len(lines) == 10 and lines.count("  360/360") == 1


def test_a_slow_evaluation_still_says_it_is_alive_in_a_log(capsys) -> None:
    clock = _Clock()
    _feed(EvalProgress(tty=False, clock=clock, every_s=10.0), clock, [1, 2, 3, 4, 5, 6], 1000, 4.0)
    assert capsys.readouterr().err.splitlines() == ["  3/1000", "  6/1000"]  # at 12 s, then 24 s (10 s later)


def test_a_terminal_gets_every_update(capsys) -> None:
    clock = _Clock()
    _feed(EvalProgress(tty=True, clock=clock), clock, [5, 10, 15], 360, 0.1)
    assert capsys.readouterr().err.splitlines() == ["  5/360", "  10/360", "  15/360"]
