"""A live chart's legend: one line of entries in the chart's title row, training curves before
evaluation ones, filled only while it is shown.

pyqtgraph's `LegendItem.addItem` re-measures every entry (`updateSize`), and a plot that owns a legend
adds each named curve to it as it is made. Filling it per curve, and clearing and refilling it to keep
the order, cost O(n²): comparing 50 runs (300 curves, none of whose legends are ever shown) spent 12 s
of a 17 s freeze there. So the chart marks its legend stale when a curve comes and fills it here at
its next refresh, and only when it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyqtgraph as pg

from app.charts.curve import Curve


def make_legend(plot: pg.PlotItem) -> pg.LegendItem:
    """The legend of `plot`, right-aligned in its title row (above the plot area, never over a curve:
    inside the view box it hid the newest points of small charts); hidden until filled. Not the plot's
    own legend (`plot.legend`), which would list each curve as it is made."""
    legend = pg.LegendItem(offset=None, labelTextSize="8pt", horSpacing=8, verSpacing=-6, frame=False)
    legend.layout.setContentsMargins(0, 4, 0, 0)  # as tall as the title row (30 px), not 39
    legend.setParentItem(plot)
    legend.anchor(itemPos=(1, 0), parentPos=(1, 0), offset=(-4, 0))
    legend.hide()
    return legend


def fill_legend(legend: pg.LegendItem, curves: Mapping[str, Curve]) -> None:
    """List `curves` on one line: training curves first, then evaluation ones, each in the order they
    came (the Loss chart's legend read "eval_loss  loss" or "loss  eval_loss" depending on which metric
    the run logged first). Each name's entry is made once; a training curve coming after evaluation
    ones moves the entries already made instead of clearing and making them all again."""
    wanted = sorted(curves.items(), key=lambda item: item[1].evaluation)  # stable within each kind
    entries = {label.text: (sample, label) for sample, label in legend.items}
    for name, curve in wanted:
        if name not in entries:
            legend.addItem(curve.raw, name)
            entries[name] = legend.items[-1]
    order = [entries[name] for name, _curve in wanted]
    if order == legend.items and legend.columnCount == len(order):
        return
    # As LegendItem.setColumnCount lays the entries out again, in the wanted order and on one row.
    legend.items = order
    legend.columnCount, legend.rowCount = max(1, len(order)), 1
    for index in range(legend.layout.count() - 1, -1, -1):
        legend.layout.removeAt(index)
    for sample, label in order:
        legend._addItemToLayout(sample, label)
    legend.updateSize()
