"""Tick labels on one axis share one format: a learning-rate axis read "0.0002" next to "5e-05"."""

from __future__ import annotations

import re

import numpy as np
import pytest

from app.charts.live_chart import LiveChartWidget

SCIENTIFIC = re.compile(r"^-?\d(\.\d+)?e-?\d+$")
FIXED = re.compile(r"^-?\d+(\.\d+)?$")


def warmup_cosine(peak: float, steps: int = 400, warmup: int = 40) -> np.ndarray:
    """The learning rate of a run: linear warm-up from 0 to `peak`, then cosine down to 0."""
    step = np.arange(steps, dtype=float)
    rising = peak * step / warmup
    falling = peak * 0.5 * (1 + np.cos(np.pi * (step - warmup) / (steps - warmup)))
    return np.where(step < warmup, rising, falling)


def left_ticks(chart: LiveChartWidget) -> list[str]:
    """The strings the chart's left axis makes for its current range: its major and minor levels (the
    ones labelled as room allows; a third is labelled on tall charts only, with the decimals it needs)."""
    axis = chart.plot.getAxis("left")
    low, high = chart.plot.getViewBox().viewRange()[1]
    strings: list[str] = []
    for spacing, values in axis.tickValues(low, high, axis.height())[:2]:
        strings += axis.tickStrings(values, axis.autoSIPrefixScale, spacing)
    return strings


def chart_of(qtbot, values: np.ndarray) -> LiveChartWidget:
    chart = LiveChartWidget("Learning rate")  # as ChartPanel makes its charts: a title, no axis label
    qtbot.addWidget(chart)
    chart.resize(600, 320)
    chart.show()
    steps = np.arange(len(values), dtype=float)
    chart.append("lr", steps, steps, values)
    chart.refresh()
    qtbot.waitExposed(chart)
    chart.plot.getViewBox().updateAutoRange()
    return chart


@pytest.mark.parametrize("peak", [2e-4, 5e-5, 3e-4, 1e-5])
def test_a_learning_rate_schedule_is_ticked_in_one_scientific_format(qtbot, peak: float) -> None:
    ticks = left_ticks(chart_of(qtbot, warmup_cosine(peak)))
    assert len(ticks) >= 3, ticks
    shown = [t for t in ticks if t != "0"]
    assert all(SCIENTIFIC.match(t) for t in shown), ticks  # no "0.0002" beside "5e-05"
    assert not any(re.search(r"e-0\d", t) for t in shown), ticks  # "5e-5", not "5e-05"
    assert f"{peak:.0e}".replace("e-0", "e-") in ticks or any(float(t) <= peak for t in shown)


@pytest.mark.parametrize("values", [
    np.linspace(2.5, 0.4, 300),        # a loss
    np.linspace(0.0, 1.0, 300),        # an accuracy
    np.linspace(0.1, 0.01, 300),       # an SGD learning rate
    np.linspace(0, 8000, 300),         # tokens per second
])
def test_fixed_point_ranges_share_their_decimals(qtbot, values: np.ndarray) -> None:
    chart = chart_of(qtbot, values)
    ticks = left_ticks(chart)
    assert ticks and all(FIXED.match(t) for t in ticks), ticks
    decimals = {len(t.partition(".")[2]) for t in ticks if t != "0"}
    assert len(decimals) == 1, ticks
    axis = chart.plot.getAxis("left")
    minor = axis.tickValues(*chart.plot.getViewBox().viewRange()[1], axis.height())[1][0]
    assert decimals == {max(0, -int(np.floor(np.log10(minor))))}, ticks  # no more decimals than the labels need


@pytest.mark.parametrize("values", [np.linspace(0, 2.4e6, 300), np.linspace(0.002, 0.0005, 300)])
def test_big_and_small_values_are_one_scientific_format(qtbot, values: np.ndarray) -> None:
    ticks = left_ticks(chart_of(qtbot, values))
    shown = [t for t in ticks if t != "0"]
    assert shown and all(SCIENTIFIC.match(t) for t in shown), ticks  # not "800000" beside "1e+06"
    assert "+" not in "".join(ticks) and not re.search(r"\.\d*0e", "".join(ticks)), ticks  # no "1.50e-3"


def test_steps_on_the_bottom_axis_stay_whole_numbers(qtbot) -> None:
    chart = chart_of(qtbot, np.linspace(1, 0, 300))
    axis = chart.x_ticks
    strings = [s for spacing, values in axis.tickValues(0, 299, axis.width())
               for s in axis.tickStrings(values, 1.0, spacing)]
    assert strings and all(re.match(r"^\d+$", s) for s in strings), strings
