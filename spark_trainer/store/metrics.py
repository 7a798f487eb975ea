"""Metrics: written in batches, read incrementally (rows after the last id a reader saw)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select

from spark_trainer.store import runs
from spark_trainer.store.entities import Metric
from spark_trainer.store.models import MetricRow
from spark_trainer.store.store import Store


def add_batch(store: Store, run_id: int, points: Iterable[tuple[str, int, float] | tuple[str, int, float, float]]) -> int:
    """Insert (key, step, value[, wall_time]) points in one transaction; returns how many."""
    now = time.time()
    rows = [
        {"run_id": run_id, "key": p[0], "step": int(p[1]), "value": float(p[2]),
         "wall_time": float(p[3]) if len(p) > 3 else now}
        for p in points
    ]
    if not rows:
        return 0
    with store.write() as session:
        session.execute(insert(MetricRow), rows)
    return len(rows)


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
        row = runs.row_for(session, run_id)
        # Plain columns, not ORM objects: a chart loads up to millions of points through here.
        query = (select(MetricRow.id, MetricRow.run_id, MetricRow.key, MetricRow.step, MetricRow.value,
                        MetricRow.wall_time)
                 .where(MetricRow.run_id == row.id, MetricRow.id > after_id).order_by(MetricRow.id))
        if keys:
            query = query.where(MetricRow.key.in_(list(keys)))
        if limit:
            query = query.limit(limit)
        return [Metric(*m) for m in session.execute(query)]


def keys(store: Store, run_id: int | str) -> list[str]:
    with store.read() as session:
        row = runs.row_for(session, run_id)
        return sorted(session.scalars(select(MetricRow.key).where(MetricRow.run_id == row.id).distinct()))


def delete_after(store: Store, run_id: int | str, step: int) -> int:
    """Delete a run's points with step > `step` (a resumed run rewrites them); returns how many."""
    from sqlalchemy import delete

    with store.write() as session:
        row = runs.row_for(session, run_id)
        result = session.execute(delete(MetricRow).where(MetricRow.run_id == row.id, MetricRow.step > step))
        return int(result.rowcount or 0)
