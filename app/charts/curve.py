"""One curve of a live chart (app/charts/live_chart.py): the pyqtgraph items that draw a series, their
pens mixed with the theme's background, and when the faint raw curve behind a smoothed one must be
handed its points again (`shadow_stale`)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt

from app.charts.colours import mix
from app.charts.series import Series

MARKER_SIZE = 7
# Line width in the widget's logical pixels. pyqtgraph's pens are cosmetic: their width counts device pixels,
# so a 1 px curve was half as thick on a 2x (HiDPI) screen; `pen_scale` (the device pixel ratio) makes
# up for it.
LINE_PX = 1.0


class Curve:
    """One series on the chart: its curve (markers on an evaluation's points), the faint raw curve behind
    it when smoothed, and when that raw curve needs its points again."""

    def __init__(self, plot: pg.PlotItem, name: str, pen_colour: str, dashed: bool = False,
                 background: str = "#000000", evaluation: bool = False, pen_scale: float = 1.0) -> None:
        self.series = Series()
        self.colour = pen_colour
        self.evaluation = evaluation
        self.time_origin: float | None = None
        self._style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        self.pen_scale = pen_scale
        # The chart hands over finite points already reduced to the view's pixel columns (see refresh), so
        # pyqtgraph's finite check, clip-to-view, downsampling and dynamic range limit are off: with them on,
        # every view-range change (each append, while the view follows the data) redid that work per curve.
        self._options = dict(skipFiniteCheck=True, clipToView=False, autoDownsample=False, dynamicRangeLimit=None)
        self._plot = plot
        self.raw = plot.plot(name=name, pen=self._pen(), **self._options)
        # The faint raw curve is made when first drawn: an evaluation's never is, and making it for every
        # curve was half the cost of opening a comparison of 50 runs (300 curves).
        self._shadow: pg.PlotDataItem | None = None
        self._background = background
        # What the shadow was last drawn from: the series' point count (None: redraw it at the next refresh)
        # and the value range its newest column covers.
        self.shadow_n: int | None = None
        self.shadow_range = (0.0, 0.0)
        if evaluation:  # a marker on every point: there are few, and each is a real measurement
            self.raw.setSymbol("o")
            self.raw.setSymbolSize(MARKER_SIZE)
            self.raw.setSymbolBrush(pg.mkBrush(pen_colour))
        self.set_background(background)
        self.dirty = False

    @property
    def shadow(self) -> pg.PlotDataItem:
        """The faint raw curve behind the smoothed one (made hidden on first use)."""
        if self._shadow is None:
            self._shadow = self._plot.plot(**self._options)
            self._shadow.setZValue(-1)  # under every smoothed curve
            self._shadow.hide()
            self._shadow.setPen(self._shadow_pen())
        return self._shadow

    def hide_shadow(self) -> None:
        if self._shadow is not None:
            self._shadow.hide()

    def remove_from(self, plot: pg.PlotItem) -> None:
        plot.removeItem(self.raw)
        if self._shadow is not None:
            plot.removeItem(self._shadow)

    def _pen(self) -> pg.QtGui.QPen:
        return pg.mkPen(self.colour, width=LINE_PX * self.pen_scale, style=self._style)

    def _shadow_pen(self) -> pg.QtGui.QPen:
        # Opaque but pale (mixed with the background): translucent pens are slow to rasterise.
        return pg.mkPen(mix(self.colour, self._background, 0.3), width=LINE_PX * self.pen_scale)

    def set_pen_scale(self, scale: float) -> None:
        """Pens for a screen of device pixel ratio `scale` (the window moved to another screen)."""
        if scale == self.pen_scale:
            return
        self.pen_scale = scale
        self.raw.setPen(self._pen())
        self.set_background(self._background)  # the faint curve's and the markers' outlines

    def set_background(self, background: str) -> None:
        """Colours mixed with the plot's background, again when the theme changes (a raw curve mixed
        with the light theme's white was drawn near-white over the dark theme's curves)."""
        self._background = background
        if self._shadow is not None:
            self._shadow.setPen(self._shadow_pen())
        if self.evaluation:  # markers are outlined in the background colour
            self.raw.setSymbolPen(pg.mkPen(background, width=LINE_PX * self.pen_scale))

    @property
    def smoothed(self) -> bool:
        return not self.evaluation and self.series.smoothing > 0

    def shadow_stale(self, columns: int) -> bool:
        """Whether the faint raw curve must be handed its points again. Points appended since it was drawn
        change nothing it shows while they are fewer than one of its columns (it already reaches within a
        column of them) and lie inside the value range its newest column covers: a spike shows at once."""
        n, drawn = self.series.n, self.shadow_n
        if drawn is None or drawn > n:
            return True
        if n - drawn >= max(1, n // max(1, columns)):
            return True
        if n == drawn:
            return False
        new = self.series.values[drawn:n]
        return bool(new.min() < self.shadow_range[0] or new.max() > self.shadow_range[1])

    def shadow_drawn(self, columns: int) -> None:
        n = self.series.n
        newest = self.series.values[max(0, n - max(1, n // max(1, columns))) : n]
        self.shadow_n = n
        self.shadow_range = (float(newest.min()), float(newest.max())) if len(newest) else (0.0, 0.0)
