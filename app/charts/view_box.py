"""The charts' view box: the range it follows the data with, kept still for sub-pixel changes, never of
zero height, and within a metric's bounds (an accuracy's axis ends at 1.0, not 1.1)."""

from __future__ import annotations

import pyqtgraph as pg

# Beyond a bounded metric's bound, the view shows this many pixels: a marker on the bound is seen whole,
# and no tick beyond it (1.05, 1.1) is in view to be labelled.
BOUND_MARGIN_PX = 5.0


def _with_height(wanted):
    """A range of zero height (a flat series, or one point) as 10% of its value either side (0.5 around 0).
    pyqtgraph would keep the height the view had before: in a chart reused for another run, an accuracy
    of 0.7 at every evaluation was drawn on an axis from -8 to 9.5, read as 0."""
    if wanted is None or wanted[0] != wanted[1]:
        return wanted
    value = float(wanted[0])
    half = 0.1 * abs(value) or 0.5
    return (value - half, value + half)


class FollowingViewBox(pg.ViewBox):
    """A ViewBox whose auto-range (following the data as it grows) leaves the view alone while the range
    it would set differs from the current one by under half a pixel at both ends of an axis.

    Appending a few points to a long series moves the data's bounds by a fraction of a pixel; a range
    change re-lays out the axes and re-transforms every curve, which costs as much as drawing the new
    points. The range catches up as soon as the difference reaches half a pixel, so what is drawn is
    the same to the pixel. With `bounds` set (a 0..1 metric whose points are all within them), the y range
    goes no further than a few pixels beyond them."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.bounds: tuple[float, float] | None = None

    def setRange(self, rect=None, xRange=None, yRange=None, padding=None, update=True,  # noqa: N802 (Qt's name)
                 disableAutoRange=True):  # noqa: N803
        if self._updatingRange and rect is None:  # called by updateAutoRange
            xRange, yRange = _with_height(xRange), _with_height(yRange)
            if self.bounds is not None and yRange is not None and not self.state["logMode"][1]:
                yRange = within_bounds(yRange, self.bounds, self.height())
            xRange, yRange = self._unless_subpixel(0, xRange), self._unless_subpixel(1, yRange)
            if xRange is None and yRange is None:
                return
        super().setRange(rect, xRange, yRange, padding, update, disableAutoRange)

    def _unless_subpixel(self, axis: int, wanted):
        if wanted is None:
            return None
        low, high = self.viewRange()[axis]
        pixels = self.width() if axis == 0 else self.height()
        if pixels <= 0 or not high > low:
            return wanted
        half_pixel = 0.5 * (high - low) / pixels
        if abs(wanted[0] - low) < half_pixel and abs(wanted[1] - high) < half_pixel:
            return None
        return wanted


def within_bounds(wanted, bounds: tuple[float, float], pixels: float):
    """`wanted` (a y range, padded by auto-range) no further than `BOUND_MARGIN_PX` beyond `bounds` at
    either end: auto-range padded an accuracy of 1.0 to 1.04, and a flat one to 1.1, ticks printed there."""
    if wanted is None:
        return None
    low, high = float(wanted[0]), float(wanted[1])
    inner_low, inner_high = max(low, bounds[0]), min(high, bounds[1])
    if inner_high <= inner_low:  # nothing of the view inside the bounds: leave it
        return wanted
    margin = (inner_high - inner_low) * (BOUND_MARGIN_PX / pixels if pixels > 0 else 0.01)
    return (max(low, bounds[0] - margin), min(high, bounds[1] + margin))
