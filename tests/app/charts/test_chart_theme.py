"""A chart drawn in one theme and shown in the other after Ctrl+Shift+T: its faint raw curves and its
legend follow the new theme. Seen on Xvfb: after switching to dark, the raw curves stayed mixed with the
light theme's white (bright, near-white lines over the smoothed ones) and the legend's names stayed dark
grey on the dark plot (unreadable)."""

from __future__ import annotations

import os
import re

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app import theme  # noqa: E402
from app.charts.colours import mix  # noqa: E402
from app.charts.live_chart import LiveChartWidget  # noqa: E402


def _legend_colours(chart: LiveChartWidget) -> set[str]:
    """The colours the legend's names are drawn in (pyqtgraph writes them into each name's HTML)."""
    return {found for _sample, label in chart.legend.items
            for found in re.findall(r"color:(#[0-9a-f]{6})", label.item.toHtml())}


def test_raw_curves_and_legend_follow_a_theme_switch(qtbot, tmp_path) -> None:
    app = QApplication.instance()
    start = theme.current().name
    theme.apply(app, "light")
    try:
        chart = LiveChartWidget("Loss")
        qtbot.addWidget(chart)
        chart.resize(600, 300)
        chart.show()
        steps = np.arange(1, 101, dtype=float)
        chart.set_smoothing(0.6)
        chart.append("loss", steps, steps, np.exp(-steps / 30))
        chart.append("eval_loss", steps[::20], steps[::20], np.exp(-steps[::20] / 30), evaluation=True)
        chart.refresh()
        assert _legend_colours(chart) == {theme.LIGHT.plot_fg}

        theme.apply(app, "dark")
        chart.apply_theme()  # what the Runs view does on theme_changed
        shadow = chart._curves["loss"].shadow.opts["pen"].color().name()
        legend = _legend_colours(chart)
        assert (shadow, legend) == (mix(chart.colour_of("loss"), theme.DARK.plot_bg, 0.3).name(),  # pale, not white
                                    {theme.DARK.plot_fg})
        chart.grab().save(str(tmp_path / "chart-dark-after-light.png"))
    finally:
        theme.apply(app, start)
