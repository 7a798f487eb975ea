"""A run's time left, from the pace of its recent steps.

The pace was the mean of the last 20 steps: for a tiny model stepping in 25 ms on a shared CPU, that is
half a second, and the ETA a user watched swung from under a minute to an hour and a half within a
minute as other work came and went (a real-window walk). The pace is now taken over at least the last
MIN_STEPS steps and at least the last WINDOW_S seconds of steps: steady for fast steps, and still
following a lasting change of pace within half a minute.
"""

from __future__ import annotations

from collections import deque

MIN_STEPS = 20
WINDOW_S = 30.0


class RecentPace:
    """Seconds per step over the recent steps (see the module's docstring)."""

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.total = 0.0
        self.steps = 0  # every step added, for "the first step of this process"

    def add(self, seconds: float) -> None:
        self.times.append(seconds)
        self.total += seconds
        self.steps += 1
        while len(self.times) > MIN_STEPS and self.total - self.times[0] >= WINDOW_S:
            self.total -= self.times.popleft()

    def seconds_per_step(self) -> float | None:
        return self.total / len(self.times) if self.times else None

    def eta(self, steps_left: int) -> float | None:
        """Seconds until `steps_left` more steps are done at this pace; None before the first step."""
        per_step = self.seconds_per_step()
        return None if per_step is None else max(0, steps_left) * per_step
