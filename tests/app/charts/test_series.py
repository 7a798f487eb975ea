"""The incrementally smoothed series equals a from-scratch smoothing, however its points arrive."""

from __future__ import annotations

import numpy as np
import pytest

from app.charts.series import Series


def tensorboard_ema(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing, point by point: a biased EMA divided by (1 - weight^count)."""
    out, last = [], 0.0
    for count, value in enumerate(values, start=1):
        last = last * weight + (1 - weight) * value
        out.append(last / (1 - weight**count) if weight else value)
    return np.array(out)


def test_incremental_ema_equals_a_full_recompute_after_arbitrary_appends() -> None:
    rng = np.random.default_rng(7)
    series = Series(capacity=16)  # small, so appends cross several buffer growths
    series.set_smoothing(0.6)
    values = np.empty(0)
    step = 0
    for size in rng.integers(1, 400, size=60):  # uneven batches: single points, blocks, long runs
        new = 3.0 * np.exp(-step / 5000) + 0.2 * rng.standard_normal(size)
        steps = np.arange(step, step + size, dtype=float)
        series.append(steps, steps * 0.5, new)
        values = np.concatenate((values, new))
        step += size
        assert series.n == len(values)
        np.testing.assert_allclose(series.y(smoothed=True), tensorboard_ema(values, 0.6), rtol=1e-9, atol=1e-12)
    assert step > 5000


@pytest.mark.parametrize("weights", [(0.6, 0.9, 0.0, 0.99, 0.6), (0.0, 0.3)])
def test_changing_the_smoothing_then_appending_still_equals_a_full_recompute(weights) -> None:
    rng = np.random.default_rng(11)
    series = Series()
    values = np.empty(0)
    step = 0
    for weight in weights:
        series.set_smoothing(weight)
        for size in (1, 37, 5, 300):
            new = rng.standard_normal(size)
            steps = np.arange(step, step + size, dtype=float)
            series.append(steps, steps, new)
            values = np.concatenate((values, new))
            step += size
            np.testing.assert_allclose(series.y(smoothed=True), tensorboard_ema(values, weight), rtol=1e-9,
                                       atol=1e-12)


def test_a_resumed_run_rewriting_steps_is_smoothed_as_if_new() -> None:
    series = Series()
    series.set_smoothing(0.8)
    series.append(np.arange(100.0), np.arange(100.0), np.linspace(5, 1, 100))
    series.append(np.arange(60.0, 80.0), np.arange(60.0, 80.0), np.full(20, 9.0))  # resumed from step 60
    kept = np.concatenate((np.linspace(5, 1, 100)[:60], np.full(20, 9.0)))
    np.testing.assert_allclose(series.y(smoothed=True), tensorboard_ema(kept, 0.8), rtol=1e-9)
    series.append(np.array([80.0, 81.0]), np.array([80.0, 81.0]), np.array([1.0, 2.0]))
    np.testing.assert_allclose(series.y(smoothed=True), tensorboard_ema(np.append(kept, [1.0, 2.0]), 0.8),
                               rtol=1e-9)


def test_appending_a_few_points_costs_only_those_points() -> None:
    """A live append smooths the new points from the saved EMA state: earlier smoothed values are
    left exactly as they were (not recomputed), and stay equal to a full recompute."""
    series = Series()
    series.set_smoothing(0.6)
    series.append(np.arange(50_000.0), np.arange(50_000.0), np.random.default_rng(3).random(50_000))
    before = series.smoothed[:50_000].copy()
    series.smoothed[:10] = -1.0  # a full recompute would overwrite these
    series.append(np.arange(50_000.0, 50_010.0), np.arange(50_000.0, 50_010.0), np.ones(10))
    assert np.all(series.smoothed[:10] == -1.0)
    assert np.array_equal(series.smoothed[10:50_000], before[10:])
    series.smoothed[:10] = before[:10]
    np.testing.assert_allclose(series.y(smoothed=True), tensorboard_ema(series.y(), 0.6), rtol=1e-9)
