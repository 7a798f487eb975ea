"""The charts' bottom axis: ticks at whole numbers while it counts optimizer steps."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg


class StepAxis(pg.AxisItem):
    """Ticks only at whole numbers while `whole` (the x axis is the step): a 20-step run's one
    evaluation, at step 20, was drawn on an axis ticked 18.5, 19, 19.5 ... 21.5, steps that cannot exist.
    Seconds (the time axis) keep pyqtgraph's ticks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.whole = True

    def tickSpacing(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, float]]:  # noqa: N802,N803
        levels = super().tickSpacing(minVal, maxVal, size)
        if not self.whole:
            return levels
        return [(spacing, offset) for spacing, offset in levels if spacing >= 1] or [(1.0, 0.0)]
