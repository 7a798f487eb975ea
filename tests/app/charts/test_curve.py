"""Curves look as thick on a 2x (HiDPI) screen as on a 1x one: pyqtgraph's cosmetic pens count device
pixels, so a 1 px curve was drawn one device pixel wide at 2x, half as thick and hard to see."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]

# A chart with a flat line, grabbed; prints how many device-pixel rows the line covers in one column.
_MEASURE = """
import numpy as np
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication
app = QApplication([])
from app.charts.live_chart import LiveChartWidget
chart = LiveChartWidget("Loss")
steps = np.arange(1, 101, dtype=float)
chart.append("loss", steps, steps + 1e9, np.ones(100))
chart.refresh(); chart.resize(400, 250); chart.show()
for _ in range(20):
    app.processEvents()
image = chart.grab().toImage()
want = QColor(chart.colour_of("loss"))
x = image.width() // 2
def near(y):
    c = QColor(image.pixel(x, y))
    return abs(c.red() - want.red()) + abs(c.green() - want.green()) + abs(c.blue() - want.blue()) < 90
print(image.devicePixelRatio(), sum(near(y) for y in range(image.height())))
"""


def _line_rows(scale: str) -> tuple[float, int]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": scale, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _MEASURE], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=True)
    ratio, rows = done.stdout.split()
    return float(ratio), int(rows)


def test_a_curve_is_as_thick_at_2x_as_at_1x() -> None:
    assert _line_rows("1") == (1.0, 1)
    assert _line_rows("2") == (2.0, 2)  # two device pixels: one logical pixel, as at 1x


def test_pens_follow_the_device_pixel_ratio(qtbot) -> None:
    import pyqtgraph as pg

    from app.charts.curve import Curve

    widget = pg.PlotWidget()
    qtbot.addWidget(widget)
    curve = Curve(widget.getPlotItem(), "eval_accuracy", "#1f77b4", dashed=True, evaluation=True, pen_scale=2.0)
    assert curve.raw.opts["pen"].widthF() == 2.0
    assert curve.raw.opts["symbolPen"].widthF() == 2.0
    curve.set_pen_scale(1.0)  # the window moved to a 1x screen
    assert curve.raw.opts["pen"].widthF() == 1.0 and curve.raw.opts["pen"].style() == pg.QtCore.Qt.PenStyle.DashLine
    curve.series.append(np.array([1.0]), np.array([0.0]), np.array([0.5]))
    assert curve.shadow.opts["pen"].widthF() == 1.0
