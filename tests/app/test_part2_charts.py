"""The live chart: buffers grow in place, EMA smoothing, envelopes for long series, axis and scale."""

from __future__ import annotations

import numpy as np
import pytest

from app.charts.series import PeakIndex, Series, linear_scan


def test_linear_scan_matches_a_loop() -> None:
    x = np.random.default_rng(0).random(1000)
    expected, s = [], 0.3
    for v in x:
        s = 0.9 * s + v
        expected.append(s)
    assert np.allclose(linear_scan(x, 0.9, 0.3), expected)


def test_smoothing_is_the_same_appended_in_pieces_or_at_once() -> None:
    y = np.random.default_rng(1).random(3000)
    pieces, whole = Series(), Series()
    pieces.set_smoothing(0.8)
    for chunk in np.array_split(np.arange(3000), 7):
        pieces.append(chunk, chunk, y[chunk])
    whole.append(np.arange(3000), np.arange(3000), y)
    whole.set_smoothing(0.8)
    assert np.allclose(pieces.y(smoothed=True), whole.y(smoothed=True))
    # TensorBoard's debiasing: the first smoothed point is the first value, not pulled to zero.
    assert pieces.y(smoothed=True)[0] == pytest.approx(y[0])


def test_rewritten_steps_replace_the_old_tail() -> None:
    series = Series()
    series.append(np.arange(10), np.arange(10), np.arange(10.0))
    series.append(np.array([6.0, 7.0]), np.array([60.0, 70.0]), np.array([-1.0, -2.0]))  # a resumed run
    assert list(series.x()) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert list(series.y()[-2:]) == [-1.0, -2.0]


def test_envelope_keeps_every_extreme() -> None:
    rng = np.random.default_rng(2)
    y = rng.standard_normal(10_000)
    incremental, whole = PeakIndex(block=128), PeakIndex(block=128)
    for end in (100, 700, 701, 5000, 10_000):  # points arriving in uneven batches
        incremental.update(y, end)
    whole.update(y, 10_000)
    assert np.array_equal(incremental.indices(10_000), whole.indices(10_000))
    index = whole
    idx = index.indices(10_000)
    assert np.all(np.diff(idx) > 0)
    assert len(idx) < 200
    full_blocks = y[: 78 * 128].reshape(78, 128)
    assert set(full_blocks.max(axis=1)) <= set(y[idx]) and set(full_blocks.min(axis=1)) <= set(y[idx])


def test_chart_appends_without_losing_points(qtbot) -> None:
    from app.charts.live_chart import ENVELOPE_ABOVE, LiveChartWidget

    chart = LiveChartWidget("loss")
    qtbot.addWidget(chart)
    chart.resize(600, 300)
    chart.show()
    n = ENVELOPE_ABOVE * 3
    chart.append("loss", np.arange(n), np.arange(n) * 0.1 + 1000.0, np.linspace(3, 1, n))
    chart.append("loss", [n, n + 1], [5000.0, 5001.0], [float("nan"), 0.5])  # NaN is skipped
    chart.refresh()
    assert chart.point_count("loss") == n + 1
    drawn_x, _ = chart._curves["loss"].raw.getOriginalDataset()
    assert len(drawn_x) < n / 10  # the envelope, not every point
    assert drawn_x[-1] == n + 1
    chart.set_x_axis("time")
    drawn_x, _ = chart._curves["loss"].raw.getOriginalDataset()
    assert drawn_x[0] == 0.0 and drawn_x[-1] == pytest.approx(4001.0)  # seconds since the first point
    chart.set_x_axis("step")
    chart.plot.getViewBox().setXRange(100, 200, padding=0)  # the user zooms in: real points in view
    drawn_x, _ = chart._curves["loss"].raw.getOriginalDataset()
    assert 100 <= len(drawn_x) < 1000 and drawn_x[0] <= 100 <= 200 <= drawn_x[-1]
    chart.set_smoothing(0.9)
    assert chart._curves["loss"].shadow.isVisible()
    chart.set_log_y(True)
    assert chart.plot.getAxis("left").logMode
    assert not chart.empty_label.isVisible()


def test_incremental_envelope_points_match_a_fresh_gather() -> None:
    rng = np.random.default_rng(3)
    series = Series()
    series.set_smoothing(0.5)

    def check() -> None:
        for axis in ("step", "time"):
            for smoothed in (False, True):
                x, y = series.envelope_xy(axis, smoothed)
                idx = series.envelope(smoothed)
                assert np.array_equal(x, series.x(axis)[idx]) and np.array_equal(y, series.y(smoothed)[idx])

    start = 0
    for size in (50, 300, 1000, 7, 2000):  # uneven live batches
        steps = np.arange(start, start + size, dtype=float)
        series.append(steps, steps * 2.0, rng.standard_normal(size))
        start += size
        check()
    series.append(np.array([1500.0, 1501.0]), np.array([1.0, 2.0]), np.array([9.0, -9.0]))  # a resumed run
    check()
    series.set_smoothing(0.9)
    check()
