"""A live metric chart on pyqtgraph: series appended in place, redrawn cheaply.

Each series keeps its points in growing numpy buffers (`Series`); a refresh hands pyqtgraph at most
one min/max pair per pixel column of what is in view (`peak_columns`, over the series' incremental
envelope when it is long), so the number of points drawn stays near the chart's pixel width however
long the run gets, and pyqtgraph's own clipping and downsampling (which redo their work on every
view-range change, i.e. after every append while the view follows the data) stay off. Smoothing is
an exponential moving average computed incrementally; the raw curve stays visible, faint and
coarser, and is handed over again only when new points would change what it shows (see
`Curve.shadow_stale`).
Evaluation series (a point every few hundred steps) are never smoothed: they are drawn as they are,
with a marker on each point, so a curve of five points neither lags its values nor hides them.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from app.charts.axes import StepAxis, ValueAxis
from app.charts.colours import PALETTE, colour, key_colour
from app.charts.curve import Curve
from app.charts.legend import fill_legend, make_legend
from app.charts.series import Series
from app.charts.title import free_title_width, show_title
from app.charts.view_box import FollowingViewBox

__all__ = ["ENVELOPE_ABOVE", "PALETTE", "FollowingViewBox", "LiveChartWidget", "colour", "key_colour", "peak_columns"]

# Above this many points in view a curve is drawn from its min/max envelope (see PeakIndex).
ENVELOPE_ABOVE = 20_000
# Pixel columns per min/max pair: the curve itself one per pixel, the faint raw curve behind a smoothed one
# one per 3 pixels (it needs less detail).
DETAIL = 1.0
SHADOW_DETAIL = 0.33


def peak_columns(x: np.ndarray, y: np.ndarray, columns: int) -> tuple[np.ndarray, np.ndarray]:
    """At most about `columns` max/min pairs drawing the same envelope as every point (pyqtgraph's 'peak'
    downsampling, which assumes evenly spaced x, like this), ending at the real last point."""
    n = len(x)
    if n <= 2 * columns:
        return x, y
    per = n // columns
    m = (n - 1) // per  # whole columns; the rest (1..per points, the newest) is drawn as it is
    pairs_x = np.empty((m, 2))
    pairs_x[:] = x[per // 2 : per // 2 + m * per : per, None]
    pairs_y = np.empty((m, 2))
    blocks = y[: m * per].reshape(m, per)
    np.max(blocks, axis=1, out=pairs_y[:, 0])
    np.min(blocks, axis=1, out=pairs_y[:, 1])
    return (np.concatenate((pairs_x.reshape(-1), x[m * per :])),
            np.concatenate((pairs_y.reshape(-1), y[m * per :])))


class LiveChartWidget(QWidget):
    """One chart with several named series. Call `append` as data arrives and `refresh` to draw."""

    def __init__(self, title: str = "", y_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.x_ticks = StepAxis(orientation="bottom")
        self.plot_widget = pg.PlotWidget(viewBox=FollowingViewBox(),
                                         axisItems={"bottom": self.x_ticks, "left": ValueAxis(orientation="left")})
        self.plot_widget.setMinimumHeight(160)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self._title = title
        # No grid: translucent grid lines cost a third of each redraw in Qt's software rasteriser.
        self.plot.setLabel("left", y_label)
        # The legend sits in the title row, one line; shown from the second curve on (see app/charts/legend.py).
        self.legend = make_legend(self.plot)
        self._legend_stale = False  # curves came since it was filled
        self.legend_shown = True  # False: never shown (the compare page names its runs above the charts)
        free_title_width(self.plot.titleLabel)
        self.empty_label = QLabel("")
        self.empty_label.setObjectName("Muted")
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)  # a long title or note wraps; it does not widen the chart
        layout.addWidget(self.plot_widget)
        layout.addWidget(self.empty_label, 1)
        self.empty_label.setMinimumHeight(160)
        self.plot_widget.hide()
        self._curves: dict[str, Curve] = {}
        self.set_empty_text("No points yet")
        self.apply_theme()
        self._smoothing = 0.0
        self._x_axis = "step"
        self._log_y = False
        self._bounds: tuple[float, float] | None = None  # see set_bounds
        self._set_x_label()
        # Curves are drawn from what is in view at the view's pixel width: after the user zooms or pans, when
        # the view goes back to following the data, and when the chart is resized, they are drawn again.
        self._drawn_for: tuple[float, float] | None = None  # the x range drawn for (None: all, following the data)
        box = self.plot.getViewBox()
        box.sigXRangeChanged.connect(self._on_x_range)
        box.sigResized.connect(self.redraw)
        box.sigResized.connect(self._show_title)  # the title row is the view box's column: its room changed

    def _on_x_range(self, *_args: object) -> None:
        box = self.plot.getViewBox()
        following = box.autoRangeEnabled()[0]
        if not following or self._drawn_for is not None:
            self.redraw()

    def redraw(self, *_args: object) -> None:
        """Hand every curve over again (the view's range or size changed)."""
        for curve in self._curves.values():
            curve.dirty = True
            curve.shadow_n = None
        self.refresh()

    def set_title(self, title: str) -> None:
        self._title = title
        self.apply_theme()
        self.set_empty_text(self._empty_text)  # the empty chart names itself by its new title too

    def _show_title(self) -> None:
        """The title, fitted to its row (see app/charts/title.py): pyqtgraph holds the plot at least as wide
        as its title, so a long one made the plot wider than its box and cut off its axis and last points."""
        if not self._title:
            return
        from app import theme

        self.plot_widget.setToolTip(show_title(self.plot, self.legend, self._title, theme.current().plot_fg))

    def set_legend_shown(self, shown: bool) -> None:
        self.legend_shown = shown
        self._show_legend()

    def _show_legend(self) -> None:
        """One line of entries in the title row, from the second curve on (one curve: the title names it);
        filled here, once for all the curves that came since, and never while it is not shown."""
        wanted = self.legend_shown and len(self._curves) > 1
        if wanted and self._legend_stale:
            fill_legend(self.legend, self._curves)
            self._legend_stale = False
        if wanted != self.legend.isVisible():
            self.legend.setVisible(wanted)
            self._show_title()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        if event.type() in (QEvent.Type.DevicePixelRatioChange, QEvent.Type.ScreenChangeInternal):
            self._scale_pens()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name: shown on a screen of its own ratio
        super().showEvent(event)
        self._scale_pens()

    def _scale_pens(self) -> None:
        """Curves as thick on a 2x (HiDPI) screen as on a 1x one (see app/charts/curve.py, LINE_PX)."""
        scale = self.devicePixelRatioF()
        for curve in self._curves.values():
            curve.set_pen_scale(scale)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._show_title()

    @property
    def empty_text(self) -> str:
        return self._empty_text

    def set_empty_text(self, text: str) -> None:
        """What the chart says while it has no points (its title, then `text`)."""
        self._empty_text = text
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
        self._show_title()
        self.legend.setLabelTextColor(current.plot_fg)  # for names added later: it leaves those shown as they are
        for _sample, label in self.legend.items:
            label.setText(label.text, color=current.plot_fg)
        for curve in self._curves.values():
            curve.set_background(current.plot_bg)

    # --- data ---------------------------------------------------------------------------------
    def curve_names(self) -> list[str]:
        return list(self._curves)

    def colour_of(self, name: str) -> str:
        return self._curves[name].colour

    def series(self, name: str) -> Series:
        return self._curves[name].series

    def _curve(self, name: str, pen_colour: str | None = None, dashed: bool = False,
               evaluation: bool = False) -> Curve:
        curve = self._curves.get(name)
        if curve is None:
            from app import theme

            curve = Curve(self.plot, name, pen_colour or key_colour(name), dashed, theme.current().plot_bg,
                           evaluation, pen_scale=self.devicePixelRatioF())
            curve.series.set_smoothing(0.0 if evaluation else self._smoothing)
            self._curves[name] = curve
            self._legend_stale = True  # listed at the next refresh, if the legend is shown
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
        if len(steps) and curve.series.n and steps[0] <= curve.series.last_step:
            curve.shadow_n = None  # a resumed run rewrites points: the faint curve is drawn again
        curve.series.append(steps, times - (curve.time_origin or 0.0), values)
        curve.dirty = True

    def clear(self) -> None:
        for curve in self._curves.values():
            curve.remove_from(self.plot)
        self.legend.clear()
        self._curves.clear()
        self._legend_stale = False
        self._show_legend()
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
                curve.shadow_n = None
        self.refresh()

    def set_bounds(self, bounds: tuple[float, float] | None) -> None:
        """The values the metric can take (an accuracy's 0..1; None: any): the y axis ends at them, with a
        few pixels of margin, while every point lies within them."""
        self._bounds = bounds
        self.plot.enableAutoRange()

    def set_log_y(self, log: bool) -> None:
        self._log_y = log
        self.plot.setLogMode(x=False, y=log)
        self.plot.enableAutoRange()

    def set_x_axis(self, axis: str) -> None:
        """'step' or 'time' (seconds since the series' first point)."""
        self._x_axis = axis
        self._set_x_label()
        self.redraw()
        self.plot.enableAutoRange()

    def _set_x_label(self) -> None:
        self.plot.setLabel("bottom", "time (s)" if self._x_axis == "time" else "step")
        self.x_ticks.whole = self._x_axis != "time"

    # --- drawing ------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Hand changed series to pyqtgraph, reduced to what the view's pixel columns can show."""
        box = self.plot.getViewBox()
        view = None if box.autoRangeEnabled()[0] else tuple(box.viewRange()[0])
        self._drawn_for = view
        width = max(1.0, box.width())
        for curve in self._curves.values():
            if not curve.dirty:
                continue
            curve.dirty = False
            if curve.smoothed:
                self._draw(curve.raw, curve.series, smoothed=True, view=view, columns=width * DETAIL)
                shadow_columns = max(1, int(width * SHADOW_DETAIL))
                if view is not None or curve.shadow_stale(shadow_columns):  # zoomed in: always
                    self._draw(curve.shadow, curve.series, smoothed=False, view=view, columns=width * SHADOW_DETAIL)
                    curve.shadow_drawn(shadow_columns)
                curve.shadow.show()
            else:
                self._draw(curve.raw, curve.series, smoothed=False, view=view, columns=width * DETAIL)
                curve.hide_shadow()
                curve.shadow_n = None
        if self._legend_stale:
            self._show_legend()
        low, high = self._bounds or (0.0, 0.0)
        box.bounds = self._bounds if all(low <= c.series.y_min and c.series.y_max <= high
                                         for c in self._curves.values() if c.series.n) else None
        empty = self.point_count() == 0
        self.empty_label.setVisible(empty)
        self.plot_widget.setVisible(not empty)

    def _draw(self, item: pg.PlotDataItem, series: Series, *, smoothed: bool, view: tuple[float, float] | None,
              columns: float) -> None:
        """Hand pyqtgraph what is worth drawing: the points in view (the envelope when many), as min/max
        pairs per pixel column. (Auto-range then fits the y axis to the points in view, as before.)"""
        x, y = series.x(self._x_axis), series.y(smoothed)
        n = len(x)
        if view is not None and n > 1:
            lo, hi = int(np.searchsorted(x, view[0])), int(np.searchsorted(x, view[1]))
            if hi - lo > ENVELOPE_ABOVE:
                x, y = series.envelope_xy(self._x_axis, smoothed)
                lo, hi = int(np.searchsorted(x, view[0])), int(np.searchsorted(x, view[1]))
            # One point beyond each edge, so the curve runs to the edges (pans and zooms draw it again).
            lo, hi = max(0, lo - 1), min(len(x), hi + 1)
            x, y = x[lo:hi], y[lo:hi]
            span = view[1] - view[0]
            if len(x) > 1 and span > 0:  # the pixel columns of the view, over the wider range handed over
                columns *= max(1.0, (x[-1] - x[0]) / span)
        elif n > ENVELOPE_ABOVE:
            x, y = series.envelope_xy(self._x_axis, smoothed)
        item.setData(*peak_columns(x, y, max(1, int(columns))))
