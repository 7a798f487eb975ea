"""A live metric chart on pyqtgraph: series appended in place, redrawn cheaply.

Each series keeps its points in growing numpy buffers (`Series`); a refresh hands pyqtgraph
slices of those buffers (no copies), and clip-to-view plus peak downsampling keep the number of
points actually drawn near the chart's pixel width however long the run gets. Smoothing is an
exponential moving average computed incrementally (the raw curve stays visible, faint).
Evaluation series (a point every few hundred steps) are never smoothed: they are drawn as they are,
with a marker on each point, so a curve of five points neither lags its values nor hides them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.charts.series import Series

# Distinct, colour-blind-friendly colours (Okabe-Ito, then Tableau).
# Above this many points in view a curve is drawn from its min/max envelope (see PeakIndex).
ENVELOPE_ABOVE = 20_000
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#4E79A7", "#F28E2B", "#59A14F", "#E15759", "#B07AA1"]


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _mix(colour_a: str, colour_b: str, share_a: float):
    a, b = pg.mkColor(colour_a), pg.mkColor(colour_b)
    return pg.mkColor(*(int(share_a * x + (1 - share_a) * y) for x, y in
                        ((a.red(), b.red()), (a.green(), b.green()), (a.blue(), b.blue()))))


MARKER_SIZE = 7


class _Curve:
    def __init__(self, plot: pg.PlotItem, name: str, pen_colour: str, dashed: bool = False,
                 background: str = "#000000", evaluation: bool = False) -> None:
        self.series = Series()
        self.colour = pen_colour
        self.evaluation = evaluation
        self.time_origin: float | None = None
        style = Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine
        # One min/max pair per pixel column looks the same as more and draws several times faster.
        self.raw = plot.plot(name=name, pen=pg.mkPen(pen_colour, width=1, style=style), skipFiniteCheck=True,
                             autoDownsampleFactor=1.0)
        # Opaque but pale (mixed with the background): translucent pens are slow to rasterise.
        faint = _mix(pen_colour, background, 0.3)
        # The faint raw curve behind a smoothed one needs less detail: one min/max pair per 3 pixels.
        self.shadow = plot.plot(pen=pg.mkPen(faint, width=1), skipFiniteCheck=True, autoDownsampleFactor=0.33)
        self.shadow.setZValue(-1)  # under every smoothed curve
        self.shadow.hide()
        for item in (self.raw, self.shadow):
            item.setClipToView(True)
            item.setDownsampling(auto=True, method="peak")
        if evaluation:  # a marker on every point: there are few, and each is a real measurement
            self.raw.setSymbol("o")
            self.raw.setSymbolSize(MARKER_SIZE)
            self.raw.setSymbolPen(pg.mkPen(background, width=1))
            self.raw.setSymbolBrush(pg.mkBrush(pen_colour))
        self.dirty = False

    @property
    def smoothed(self) -> bool:
        return not self.evaluation and self.series.smoothing > 0


class LiveChartWidget(QWidget):
    """One chart with several named series. Call `append` as data arrives and `refresh` to draw."""

    def __init__(self, title: str = "", y_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setMinimumHeight(160)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self._title = title
        # No grid: translucent grid lines cost a third of each redraw in Qt's software rasteriser.
        self.plot.setLabel("left", y_label)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.empty_label = QLabel("")
        self.empty_label.setObjectName("Muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.plot_widget)
        layout.addWidget(self.empty_label, 1)
        self.empty_label.setMinimumHeight(160)
        self.plot_widget.hide()
        self._curves: dict[str, _Curve] = {}
        self.set_empty_text("No points yet")
        self.apply_theme()
        self._smoothing = 0.0
        self._x_axis = "step"
        self._log_y = False
        self._set_x_label()
        # After the user zooms or pans, long curves are re-sliced to what is in view.
        self.plot.getViewBox().sigXRangeChanged.connect(self._on_x_range)

    def _on_x_range(self, *_args: object) -> None:
        if not self.plot.getViewBox().autoRangeEnabled()[0]:
            for curve in self._curves.values():
                curve.dirty = curve.series.n > ENVELOPE_ABOVE or curve.dirty
            self.refresh()

    def set_title(self, title: str) -> None:
        self._title = title
        self.apply_theme()

    def set_empty_text(self, text: str) -> None:
        """What the chart says while it has no points (its title, then `text`)."""
        self.empty_label.setText(f"<b>{self._title}</b><br>{text}" if self._title else text)

    def apply_theme(self) -> None:
        """Background and axis colours of the app's current theme (dark or light)."""
        from app import theme

        current = theme.current()
        self.plot_widget.setBackground(current.plot_bg)
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(current.plot_fg))
            axis.setTextPen(pg.mkPen(current.plot_fg))
        if self._title:
            self.plot.setTitle(self._title, color=current.plot_fg)
        backdrop = pg.mkColor(current.plot_bg)
        backdrop.setAlpha(200)
        self.legend.setBrush(pg.mkBrush(backdrop))
        self.legend.setLabelTextColor(current.plot_fg)
        for curve in self._curves.values():  # markers are outlined in the background colour
            if curve.evaluation:
                curve.raw.setSymbolPen(pg.mkPen(current.plot_bg, width=1))

    # --- data ---------------------------------------------------------------------------------
    def curve_names(self) -> list[str]:
        return list(self._curves)

    def series(self, name: str) -> Series:
        return self._curves[name].series

    def _curve(self, name: str, pen_colour: str | None = None, dashed: bool = False,
               evaluation: bool = False) -> _Curve:
        curve = self._curves.get(name)
        if curve is None:
            from app import theme

            curve = _Curve(self.plot, name, pen_colour or colour(len(self._curves)), dashed, theme.current().plot_bg,
                           evaluation)
            curve.series.set_smoothing(0.0 if evaluation else self._smoothing)
            self._curves[name] = curve
        return curve

    def append(self, name: str, steps: np.ndarray, times: np.ndarray, values: np.ndarray,
               pen_colour: str | None = None, dashed: bool = False, evaluation: bool = False) -> None:
        """Add points (in step order) to series `name`; drawn at the next `refresh`.
        Colour, dash and `evaluation` (never smoothed, a marker per point) apply when the series is
        first seen."""
        curve = self._curve(name, pen_colour, dashed, evaluation)
        steps, times, values = (np.asarray(a, dtype=float) for a in (steps, times, values))
        finite = np.isfinite(values)
        if not finite.all():  # a NaN loss cannot be drawn; the table and log still show it
            steps, times, values = steps[finite], times[finite], values[finite]
        if len(times) and curve.time_origin is None:
            curve.time_origin = float(times[0])
        curve.series.append(steps, times - (curve.time_origin or 0.0), values)
        curve.dirty = True

    def clear(self) -> None:
        for curve in self._curves.values():
            self.plot.removeItem(curve.raw)
            self.plot.removeItem(curve.shadow)
        self.legend.clear()
        self._curves.clear()
        self.empty_label.show()
        self.plot_widget.hide()

    def is_evaluation(self, name: str) -> bool:
        return self._curves[name].evaluation

    def drawn(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The points handed to pyqtgraph for series `name` (its foreground curve)."""
        return self._curves[name].raw.getOriginalDataset()

    def point_count(self, name: str | None = None) -> int:
        if name is not None:
            return self._curves[name].series.n if name in self._curves else 0
        return sum(c.series.n for c in self._curves.values())

    # --- view options -------------------------------------------------------------------------
    def set_smoothing(self, weight: float) -> None:
        self._smoothing = weight
        for curve in self._curves.values():
            if not curve.evaluation:
                curve.series.set_smoothing(weight)
                curve.dirty = True
        self.refresh()

    def set_log_y(self, log: bool) -> None:
        self._log_y = log
        self.plot.setLogMode(x=False, y=log)
        self.plot.enableAutoRange()

    def set_x_axis(self, axis: str) -> None:
        """'step' or 'time' (seconds since the series' first point)."""
        self._x_axis = axis
        self._set_x_label()
        for curve in self._curves.values():
            curve.dirty = True
        self.refresh()
        self.plot.enableAutoRange()

    def _set_x_label(self) -> None:
        self.plot.setLabel("bottom", "time (s)" if self._x_axis == "time" else "step")

    # --- drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Hand changed series to pyqtgraph (buffer views, or a gathered envelope for long series)."""
        for curve in self._curves.values():
            if not curve.dirty:
                continue
            curve.dirty = False
            if curve.smoothed:
                self._draw(curve.raw, curve.series, smoothed=True)
                self._draw(curve.shadow, curve.series, smoothed=False)
                curve.shadow.show()
            else:
                self._draw(curve.raw, curve.series, smoothed=False)
                curve.shadow.hide()
        empty = self.point_count() == 0
        self.empty_label.setVisible(empty)
        self.plot_widget.setVisible(not empty)

    def _draw(self, item: pg.PlotDataItem, series: Series, *, smoothed: bool) -> None:
        """Hand pyqtgraph what is worth drawing: every point when few are in view, else the envelope."""
        x, y = series.x(self._x_axis), series.y(smoothed)
        n = len(x)
        box = self.plot.getViewBox()
        if n <= ENVELOPE_ABOVE:
            item.setData(x, y)
            return
        if box.autoRangeEnabled()[0]:
            lo, hi = 0, n
        else:
            left, right = box.viewRange()[0]
            lo, hi = int(np.searchsorted(x, left)), int(np.searchsorted(x, right))
        visible = hi - lo
        if visible > ENVELOPE_ABOVE:
            item.setData(*series.envelope_xy(self._x_axis, smoothed))
        else:  # zoomed in: the real points in view, and as many again either side for panning
            lo, hi = max(0, lo - visible - 2), min(n, hi + visible + 2)
            item.setData(x[lo:hi], y[lo:hi])
