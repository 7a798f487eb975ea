"""A live chart's title (app/charts/live_chart.py): shortened to the room its row has, in the middle, so
both ends of a metric's name stay ('Evaluation: eval_macro_f1' reads 'eval_macro_f1' or 'eval_…ro_f1'
in a narrow chart, never 'Evaluation: eval_mac' cut at the chart's edge); the whole title is the tooltip.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontMetrics

MIN_TITLE_PX = 40  # the least room a title is shown in, shortened with '…'
# Words a title can lose before it is shortened: the chart's dashed, marked curves say it is an evaluation.
DROPPABLE_PREFIXES = ("Evaluation: ",)
LEGEND_GAP_PX = 8  # the legend's offset from the row's right end, and a gap between it and the title


def free_title_width(label: pg.LabelItem) -> None:
    """pyqtgraph makes a title's text width the plot's minimum width (on every text change and
    resize): a plot narrower than its title was drawn wider than its box and cut off. The title keeps
    its height; its width follows the chart (`show_title` shortens the text to fit)."""
    measure = label.updateMin

    def update_min() -> None:
        measure()
        label.setMinimumWidth(0)
        label._sizeHint[Qt.SizeHint.MinimumSize] = (0, label._sizeHint[Qt.SizeHint.MinimumSize][1])
        label.updateGeometry()

    label.updateMin = update_min


def fit_title(title: str, metrics: QFontMetrics, room: int) -> str:
    """`title` as it fits in `room` px: whole; else without a prefix that says what the chart shows anyway
    ("Evaluation: "); else that, elided in the middle (the metric's start and its end both stay)."""
    if metrics.horizontalAdvance(title) <= room:
        return title
    for prefix in DROPPABLE_PREFIXES:
        if title.startswith(prefix) and len(title) > len(prefix):
            title = title[len(prefix):]
            break
    return metrics.elidedText(title, Qt.TextElideMode.ElideMiddle, max(MIN_TITLE_PX, room))


def title_font(label: pg.LabelItem) -> QFont:
    """The font the title is drawn in: pyqtgraph writes its size (11pt) into the title's HTML."""
    font = QFont(label.item.font())
    size = str(label.opts.get("size", ""))
    if size.endswith("pt"):
        font.setPointSizeF(float(size[:-2]))
    return font


def show_title(plot: pg.PlotItem, legend: pg.LegendItem, title: str, colour: str) -> str:
    """Show `title` in `plot`'s title row, fitted to it, and return the tooltip the chart should have (the
    whole title when it is shortened, else none).

    The title row is the view box's column (the value axis is left of it), so its room is the view box's
    width, less the text item's margins, less the legend's width when the legend shares the row (the
    title then starts at the row's left, clear of it)."""
    label = plot.titleLabel
    margins = 2 * int(label.item.document().documentMargin()) + 2  # +2: elidedText measures a bit narrower
    room = int(plot.getViewBox().width()) - margins
    justify = "center"
    if legend.isVisible():
        room -= int(legend.boundingRect().width()) + LEGEND_GAP_PX
        justify = "left"
    metrics = QFontMetrics(title_font(label))
    if justify == "left" and room < MIN_TITLE_PX and metrics.horizontalAdvance(title) > room:
        # A narrow chart: the legend, which names the curves, takes the row (the title, held at 40 px,
        # was drawn under it); a space keeps the row's height. The title is the tooltip.
        shown = " "
    else:
        shown = fit_title(title, metrics, room)
    if shown != label.text or label.opts.get("color") != colour or label.opts.get("justify") != justify:
        plot.setTitle(shown, color=colour, justify=justify)
    return title if shown != title else ""
