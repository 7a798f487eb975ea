"""A run's ETA from the pace of its recent steps: steady for a fast model on a shared CPU, still following
a lasting change of pace (spark_trainer/training/eta.py)."""

from __future__ import annotations

import pytest

from spark_trainer.training.eta import MIN_STEPS, WINDOW_S, RecentPace


def test_a_burst_of_slow_steps_does_not_swing_the_eta_of_fast_ones() -> None:
    """A real-window walk watched a tiny model's ETA go from 55 s to 1 h 29 min within a minute: its 25 ms
    steps were averaged over the last 20 (half a second), and a few slowed by other work made the mean 20x."""
    pace = RecentPace()
    for _ in range(2000):
        pace.add(0.025)
    calm = pace.eta(2340)
    for _ in range(5):
        pace.add(2.0)  # another process took the CPU for ten seconds
    assert calm == pytest.approx(2340 * 0.025)
    assert pace.eta(2335) < 1.5 * calm  # the mean of the last 20 steps would have said 20x


def test_a_lasting_change_of_pace_is_followed_within_the_window() -> None:
    pace = RecentPace()
    for _ in range(2000):
        pace.add(0.025)
    for _ in range(int(WINDOW_S / 2.0) + MIN_STEPS):  # slow for longer than the window
        pace.add(2.0)
    assert pace.seconds_per_step() == pytest.approx(2.0)
    slow = RecentPace()
    for _ in range(3):
        slow.add(5.0)
    assert slow.seconds_per_step() == 5.0 and len(slow.times) == 3  # a short run: every step counts
    for _ in range(50):
        slow.add(5.0)
    assert len(slow.times) == MIN_STEPS  # slow steps: the last 20, as before
    assert RecentPace().eta(10) is None and slow.steps == 53
