"""The charts' axes: one number format per axis, and whole-number ticks while the x axis counts steps."""

from __future__ import annotations

from math import floor, log10
from typing import Any

import pyqtgraph as pg

# Below this (the axis' largest tick) or from this up, an axis is labelled in scientific notation.
SMALL = 1e-2
BIG = 1e6


def _digits(value: float) -> int:
    """The power of ten of `value`'s leading digit (2e-4 -> -4)."""
    return floor(log10(abs(value)))


def tick_labels(values: list[float], spacing: float, biggest: float) -> list[str]:
    """Labels for `values`, all in one format chosen from the axis' `biggest` tick and the `spacing` of its
    labels:
    scientific ("2e-4", "1.5e-4", "5e-5", and "0") for a learning rate or a count in millions, else fixed
    point with one number of decimals for the whole axis ("0.5", "1.0", "1.5"). pyqtgraph chose per tick,
    so a learning-rate axis read "0.0002" beside "5e-05"."""
    if spacing <= 0:
        return [f"{v:g}" for v in values]
    if biggest and (biggest < SMALL or biggest >= BIG):
        return [_scientific(v, spacing) for v in values]
    places = max(0, -_digits(spacing))
    return [f"{v:.{places}f}" for v in values]


def _scientific(value: float, spacing: float) -> str:
    if abs(value) < spacing / 2:  # zero, or a float's rounding of it (pyqtgraph's -1.2e-21)
        return "0"
    mantissa, _, power = f"{value:.{max(0, _digits(value) - _digits(spacing))}e}".partition("e")
    if "." in mantissa:  # "2.0e-4" -> "2e-4": the power tells the scale, the digits only what differs
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(power)}"


class ValueAxis(pg.AxisItem):
    """An axis whose tick labels share one format (`tick_labels`). pyqtgraph asks for every tick
    level's labels separately: the format follows the largest tick, the decimals the minor level (the
    finer of the two levels labelled when there is room: "1.0, 1.5, 2.0", never "1, 1.5, 2"). A third,
    finer level, labelled only on a tall chart, keeps the decimals it needs; taking those for every
    label wrote "6.20, 6.00, 5.80" on a small loss chart that showed no third level."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._minor = 0.0
        self._biggest = 0.0

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float, list[float]]]:  # noqa: N802,N803
        levels = super().tickValues(minVal, maxVal, size)
        shown = [(spacing, values) for spacing, values in levels if len(values)]
        self._minor = min((spacing for spacing, _values in shown[:2]), default=0.0)
        self._biggest = max((abs(float(v)) for _spacing, values in shown for v in values), default=0.0)
        return levels

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:  # noqa: N802
        if self.logMode:
            return super().tickStrings(values, scale, spacing)
        finer = min(spacing, self._minor or spacing)
        return tick_labels([v * scale for v in values], finer * scale, self._biggest * scale)


class StepAxis(ValueAxis):
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
