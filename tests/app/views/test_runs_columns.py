"""The Runs list's columns: a run's Created time is on this computer's clock, as every time the app
shows (stored UTC, it was shown as stored: five hours off in New York)."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

from app.views.runs_columns import RUN_COLUMNS


def test_created_is_shown_on_this_computers_clock_and_sorts_by_the_stored_time(new_york) -> None:
    (created,) = [c for c in RUN_COLUMNS if c.title == "Created"]
    row = SimpleNamespace(run=SimpleNamespace(created_at=datetime(2026, 12, 3, 16, 5)))
    assert created.text(row) == "2026-12-03 11:05"
    assert created.sort(row) == datetime(2026, 12, 3, 16, 5)


def test_a_tiny_loss_is_not_shown_as_zero() -> None:
    # An eval_loss of 4.35e-05 read "0.0000": a perfect loss to the eye (the sweep walk).
    (loss,) = [c for c in RUN_COLUMNS if c.title == "eval_loss"]
    assert loss.text(SimpleNamespace(metrics={"eval_loss": 4.35e-05})) == "4.35e-05"
    assert loss.text(SimpleNamespace(metrics={"eval_loss": 0.875})) == "0.8750"
    assert loss.text(SimpleNamespace(metrics={})) == "-"
