"""Metrics: written in batches, read incrementally (rows after the last id a reader saw).

Points are stored as `metric_packs` describes (recent ones as rows, older ones packed, a summary
per series); callers see only points. Whole-series reads (charts) use `series`, which hands out
numpy arrays per key; `read` gives one `Metric` per point for small reads (export); `extent` and
`by_step` let a reader print a long run one series at a time (`run metrics`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from spark_trainer.store import metric_packs, runs
from spark_trainer.store.entities import Metric
from spark_trainer.store.metric_packs import Series
from spark_trainer.store.store import Store

__all__ = ["Extent", "Series", "add_batch", "best_steps", "by_step", "delete_after", "extent", "keys", "read",
           "series"]


def add_batch(store: Store, run_id: int, points: Iterable[tuple[str, int, float] | tuple[str, int, float, float]]) -> int:
    """Insert (key, step, value[, wall_time]) points in one transaction; returns how many.

    A NaN value is left out (SQLite has no NaN: it became NULL, and the whole batch failed as "conflicts
    with existing data", which ended an fp16 run at its first NaN loss; the scaler skips such a step, and
    the charts would leave the point out anyway). Infinities are kept."""
    now = time.time()
    rows = [(str(p[0]), int(p[1]), value, float(p[3]) if len(p) > 3 else now) for p in points
            if not math.isnan(value := float(p[2]))]
    if not rows:
        return 0
    with store.write() as session:
        metric_packs.add_points(session, run_id, rows)
    return len(rows)


def series(
    store: Store,
    run_id: int | str,
    *,
    after_id: int = 0,
    keys: Sequence[str] | None = None,
    limit: int | None = None,
) -> dict[str, Series]:
    """A run's points with id greater than `after_id`, per key as arrays (ids, steps, wall times,
    values) in id order; with `limit`, the `limit` lowest ids over all keys."""
    with store.read() as session:
        row = runs.row_for(session, run_id)
        return metric_packs.read(session, row.id, after_id=after_id, keys=keys, limit=limit)


def read(
    store: Store,
    run_id: int | str,
    *,
    after_id: int = 0,
    keys: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[Metric]:
    """Metric rows of a run with id greater than `after_id`, in id order."""
    with store.read() as session:
        real = runs.row_for(session, run_id).id
        found = metric_packs.read(session, real, after_id=after_id, keys=keys, limit=limit)
    points = [Metric(i, real, key, step, value, wall)
              for key, s in found.items()
              for i, step, value, wall in zip(s.ids.tolist(), s.steps.tolist(), s.values.tolist(),
                                              s.wall_times.tolist(), strict=True)]
    if len(found) > 1:
        points.sort(key=lambda m: m.id)
    return points


@dataclass(frozen=True)
class Extent:
    """What a reader printing a run's series one at a time (`by_step`) knows before the first."""

    steps: dict[str, tuple[int, int]]  # per series with points, by key: its lowest and highest step
    last_id: int  # the highest point id then: points written since are left out, as one read would


def extent(store: Store, run_id: int | str, *, keys: Sequence[str] | None = None) -> Extent:
    """The series of a run (of `keys`, else all) that have points, with their step ranges."""
    with store.read() as session:
        row = runs.row_for(session, run_id)
        return Extent(*metric_packs.step_spans(session, row.id, keys))


def by_step(store: Store, run_id: int | str, key: str, *, up_to_id: int) -> Series:
    """One series' points with id <= `up_to_id` (an Extent's last_id), as arrays sorted by step (equal
    steps in id order). One series at a time is what a reader of a whole long run should hold: `read`
    makes an object of every point."""
    with store.read() as session:
        row = runs.row_for(session, run_id)
        return metric_packs.by_step(session, row.id, key, up_to_id)


def keys(store: Store, run_id: int | str) -> list[str]:
    from sqlalchemy import select

    from spark_trainer.store.models import MetricSeriesRow

    with store.read() as session:
        row = runs.row_for(session, run_id)
        return sorted(session.scalars(select(MetricSeriesRow.key).where(MetricSeriesRow.run_id == row.id)))


def delete_after(store: Store, run_id: int | str, step: int) -> int:
    """Delete a run's points with step > `step` (a resumed run rewrites them); returns how many."""
    with store.write() as session:
        row = runs.row_for(session, run_id)
        return metric_packs.delete_after(session, row.id, step)


def best_steps(store: Store, wanted: Iterable[tuple[int, str, float]]) -> dict[tuple[int, str], int]:
    """For each (run, key, value), the lowest step at which the run's series `key` has `value`: where
    its best value (a summary's min or max) was measured. The summaries keep the last point's step
    only, so this reads the series' points: ask for the runs a ranking shows, not thousands."""
    found: dict[tuple[int, str], int] = {}
    with store.read() as session:
        for run_id, key, value in wanted:
            step = metric_packs.first_step_at(session, run_id, key, value)
            if step is not None:
                found[(run_id, key)] = step
    return found
