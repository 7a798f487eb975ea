"""How metric points are kept so that years of history stay fast to list, rank and chart.

Three places, one truth:
- `metrics`: points as rows, as workers write them (the newest points of each series);
- `metric_blocks`: older points of a series, moved out of `metrics` in id order as packed arrays
  once `PACK_ROWS` of them are waiting (a million-point series is a few hundred blob rows);
- `metric_series`: per (run, key) the count, min, max and last value, updated in the same
  transaction as every write, so lists and rankings never read points.

Ids travel with the points, so "rows after the last id a reader saw" means the same as before.
Every function here takes an open SQLAlchemy connection or session inside the caller's
transaction (the migration that introduced the tables uses them too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

PACK_ROWS = 1024  # a series' raw points become one block once this many are waiting
BLOCK_MAX = 65536  # points per block at most (packing a long legacy series makes several)


@dataclass
class Series:
    """One metric series (or the part after some id): parallel numpy arrays in id order."""

    ids: Any  # np.ndarray[int64]
    steps: Any  # np.ndarray[int64]
    wall_times: Any  # np.ndarray[float64]
    values: Any  # np.ndarray[float64]

    def __len__(self) -> int:
        return len(self.ids)


def _arrays(ids: Any, steps: Any, walls: Any, values: Any) -> Series:
    import numpy as np

    return Series(np.asarray(ids, dtype="<i8"), np.asarray(steps, dtype="<i8"), np.asarray(walls, dtype="<f8"),
                  np.asarray(values, dtype="<f8"))


def _decode(ids: bytes, steps: bytes, walls: bytes, values: bytes) -> Series:
    import numpy as np

    return Series(np.frombuffer(ids, "<i8"), np.frombuffer(steps, "<i8"), np.frombuffer(walls, "<f8"),
                  np.frombuffer(values, "<f8"))


def _concat(parts: list[Series]) -> Series:
    import numpy as np

    if len(parts) == 1:
        return parts[0]
    return Series(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("ids", "steps", "wall_times", "values")))


def _slice(series: Series, mask: Any) -> Series:
    return Series(series.ids[mask], series.steps[mask], series.wall_times[mask], series.values[mask])


def _dbapi(conn: Any) -> Any:
    """The sqlite3 connection under a SQLAlchemy session or connection, in its open transaction:
    per-point statements go straight to it (SQLAlchemy's per-row parameter handling costs more
    than SQLite's insert)."""
    if hasattr(conn, "get_bind"):  # a Session
        conn = conn.connection()
    return conn.connection.driver_connection


def _write_block(conn: Any, run_id: int, key: str, s: Series) -> None:
    conn.execute(text(
        "INSERT INTO metric_blocks (run_id, key, count, first_id, last_id, max_step, ids, steps, wall_times, "
        "\"values\") VALUES (:r, :k, :n, :first, :last, :max_step, :ids, :steps, :walls, :vals)"),
        {"r": run_id, "k": key, "n": len(s), "first": int(s.ids[0]), "last": int(s.ids[-1]),
         "max_step": int(s.steps.max()), "ids": s.ids.astype("<i8").tobytes(), "steps": s.steps.astype("<i8").tobytes(),
         "walls": s.wall_times.astype("<f8").tobytes(), "vals": s.values.astype("<f8").tobytes()})


def add_points(conn: Any, run_id: int, rows: Sequence[tuple[str, int, float, float]]) -> None:
    """Insert (key, step, value, wall_time) points, update their series' summaries and pack the
    series that have `PACK_ROWS` raw points waiting. Must run inside a write transaction."""
    db = _dbapi(conn)
    db.executemany("INSERT INTO metrics (run_id, key, step, value, wall_time) VALUES (?, ?, ?, ?, ?)",
                   [(run_id, k, s, v, w) for k, s, v, w in rows])
    # Inside one write transaction AUTOINCREMENT hands out consecutive ids, in insert order.
    first = int(db.execute("SELECT last_insert_rowid()").fetchone()[0]) - len(rows) + 1
    agg: dict[str, list[Any]] = {}
    for i, (key, step, value, _wall) in enumerate(rows):
        a = agg.setdefault(key, [0, None, None, step, value, first + i])
        a[0] += 1
        if not math.isnan(value):
            a[1] = value if a[1] is None else min(a[1], value)
            a[2] = value if a[2] is None else max(a[2], value)
        if step >= a[3]:  # the highest step; among equal steps the newest point
            a[3], a[4], a[5] = step, value, first + i
    for key, a in agg.items():  # one statement per key, which also says how many points wait to be packed
        waiting = db.execute(
            "INSERT INTO metric_series (run_id, key, count, packed, min_value, max_value, last_step, last_value, "
            "last_id) VALUES (?, ?, ?, 0, ?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, key) DO UPDATE SET count = count + excluded.count, "
            "min_value = coalesce(min(min_value, excluded.min_value), min_value, excluded.min_value), "
            "max_value = coalesce(max(max_value, excluded.max_value), max_value, excluded.max_value), "
            "last_value = CASE WHEN excluded.last_step >= last_step THEN excluded.last_value ELSE last_value END, "
            "last_id = CASE WHEN excluded.last_step >= last_step THEN excluded.last_id ELSE last_id END, "
            "last_step = max(last_step, excluded.last_step) RETURNING count - packed",
            (run_id, key, a[0], a[1], a[2], a[3], a[4], a[5])).fetchone()[0]
        if waiting >= PACK_ROWS:
            pack(conn, run_id, key)


def pack(conn: Any, run_id: int, key: str) -> int:
    """Move every raw point of one series into blocks; returns how many moved."""
    found = _dbapi(conn).execute(
        "SELECT id, step, wall_time, value FROM metrics INDEXED BY ix_metrics_run_key_step "
        "WHERE run_id = ? AND key = ? ORDER BY id", (run_id, key)).fetchall()
    if not found:
        return 0
    ids, steps, walls, values = zip(*found, strict=True)
    series = _arrays(ids, steps, walls, values)
    for start in range(0, len(series), BLOCK_MAX):
        _write_block(conn, run_id, key, _slice(series, slice(start, start + BLOCK_MAX)))
    conn.execute(text("DELETE FROM metrics WHERE run_id = :r AND key = :k AND id <= :last"),
                 {"r": run_id, "k": key, "last": int(series.ids[-1])})
    conn.execute(text("UPDATE metric_series SET packed = packed + :n WHERE run_id = :r AND key = :k"),
                 {"n": len(series), "r": run_id, "k": key})
    return len(series)


def read(conn: Any, run_id: int, *, after_id: int = 0, keys: Sequence[str] | None = None,
         limit: int | None = None) -> dict[str, Series]:
    """A run's points with id > `after_id` (of `keys`, else every key), per key in id order; with
    `limit`, only the `limit` lowest ids over all keys."""
    import numpy as np

    db = _dbapi(conn)
    key_filter = f" AND key IN ({', '.join('?' * len(keys))})" if keys else ""
    params = (run_id, after_id, *(keys or ()))
    upper = _upper_bound(db, params, key_filter, limit) if limit is not None else None
    bound = "" if upper is None else f" AND first_id <= {int(upper)}"
    parts: dict[str, list[Series]] = {}
    for key, ids, steps, walls, values in db.execute(
            "SELECT key, ids, steps, wall_times, \"values\" FROM metric_blocks "
            f"WHERE run_id = ? AND last_id > ?{key_filter}{bound} ORDER BY key, last_id", params):
        block = _decode(ids, steps, walls, values)
        if block.ids[0] <= after_id:
            block = _slice(block, block.ids > after_id)
        parts.setdefault(key, []).append(block)
    raw: dict[str, list[tuple[int, int, float, float]]] = {}
    bound = "" if upper is None else f" AND id <= {int(upper)}"
    for key, *point in db.execute("SELECT key, id, step, wall_time, value FROM metrics INDEXED BY "
                                  f"ix_metrics_run_key_step WHERE run_id = ? AND id > ?{key_filter}{bound} "
                                  "ORDER BY id", params):
        raw.setdefault(key, []).append(point)  # type: ignore[arg-type]
    for key, points in raw.items():
        parts.setdefault(key, []).append(_arrays(*zip(*points, strict=True)))
    # Raw points of a series are always newer than its blocks (packing takes them all), so the
    # concatenation is in id order.
    result = {key: _concat(found) for key, found in sorted(parts.items())}
    if limit is not None and sum(len(s) for s in result.values()) > limit:
        cut = np.partition(np.concatenate([s.ids for s in result.values()]), limit - 1)[limit - 1]
        result = {k: _slice(s, s.ids <= cut) for k, s in result.items()}
        result = {k: s for k, s in result.items() if len(s)}
    return result


def first_step_at(conn: Any, run_id: int, key: str, value: float) -> int | None:
    """The lowest step at which a series has `value` (where its best value was measured), None when
    no point has it. Reads the series' raw rows by index and its blocks' steps and values only."""
    import numpy as np

    db = _dbapi(conn)
    raw = db.execute("SELECT min(step) FROM metrics INDEXED BY ix_metrics_run_key_step "
                     "WHERE run_id = ? AND key = ? AND value = ?", (run_id, key, value)).fetchone()[0]
    found = [] if raw is None else [int(raw)]
    for steps, values in db.execute("SELECT steps, \"values\" FROM metric_blocks WHERE run_id = ? AND key = ?",
                                    (run_id, key)):
        hit = np.frombuffer(values, dtype="<f8") == value
        if hit.any():
            found.append(int(np.frombuffer(steps, dtype="<i8")[hit].min()))
    return min(found) if found else None


def step_spans(conn: Any, run_id: int, keys: Sequence[str] | None = None) -> tuple[dict[str, tuple[int, int]], int]:
    """Per series with points (of `keys`, else every key), its lowest and highest step, by key; and the
    highest point id of those series (0: none). Reads the raw rows' index and the blocks' steps, not
    their values: what a reader printing series one at a time must know before the first."""
    import numpy as np

    db = _dbapi(conn)
    key_filter = f" AND key IN ({', '.join('?' * len(keys))})" if keys else ""
    params = (run_id, *(keys or ()))
    spans: dict[str, tuple[int, int]] = {}
    last_id = 0
    found = db.execute("SELECT key, min(step), max(step), max(id) FROM metrics INDEXED BY ix_metrics_run_key_step "
                       f"WHERE run_id = ?{key_filter} GROUP BY key", params).fetchall()
    for key, top_id, blob in db.execute(f"SELECT key, last_id, steps FROM metric_blocks WHERE run_id = ?{key_filter}",
                                        params):
        steps = np.frombuffer(blob, "<i8")
        found.append((key, int(steps.min()), int(steps.max()), top_id))
    for key, low, high, top_id in found:
        seen = spans.get(key, (low, high))
        spans[key] = (min(seen[0], low), max(seen[1], high))
        last_id = max(last_id, top_id)
    return dict(sorted(spans.items())), last_id


def by_step(conn: Any, run_id: int, key: str, up_to_id: int) -> Series:
    """One series' points with id <= `up_to_id`, sorted by step (equal steps in id order: as written)."""
    import numpy as np

    series = read(conn, run_id, keys=[key]).get(key) or _arrays([], [], [], [])
    if len(series) and series.ids[-1] > up_to_id:
        series = _slice(series, series.ids <= up_to_id)
    if len(series) > 1 and (np.diff(series.steps) < 0).any():  # a resumed run rewrote steps: rarely
        series = _slice(series, np.argsort(series.steps, kind="stable"))
    return series


def _upper_bound(db: Any, params: tuple, key_filter: str, limit: int) -> int | None:
    """An id at or above the `limit`-th lowest id after `after_id`, from the blocks' id ranges
    alone (no blob is read): blocks and rows past it are not needed. None: no bound."""
    spans = db.execute("SELECT first_id, last_id, count FROM metric_blocks "
                       f"WHERE run_id = ? AND last_id > ?{key_filter} ORDER BY last_id", params).fetchall()
    seen = 0
    for first_id, last_id, count in spans:
        if first_id > params[1]:  # a block straddling after_id is not counted: the bound stays an upper one
            seen += count
        if seen >= limit:
            return int(last_id)
    return None


def summarise(conn: Any, run_id: int | None = None) -> None:
    """Rebuild the summaries (of one run, else of every run) from its raw points and blocks."""
    where = "" if run_id is None else " WHERE run_id = :r"
    params = {} if run_id is None else {"r": run_id}
    conn.execute(text(f"DELETE FROM metric_series{where}"), params)
    conn.execute(text(
        "INSERT INTO metric_series (run_id, key, count, packed, min_value, max_value, last_step, last_value, last_id) "
        f"SELECT run_id, key, count(*), 0, min(value), max(value), max(step), NULL, 0 FROM metrics{where} "
        "GROUP BY run_id, key"), params)
    conn.execute(text(
        "UPDATE metric_series SET (last_value, last_id) = (SELECT m.value, m.id FROM metrics m "
        "WHERE m.run_id = metric_series.run_id AND m.key = metric_series.key ORDER BY m.step DESC, m.id DESC LIMIT 1)"
        + where), params)
    current: tuple[int, str] | None = None
    parts: list[Series] = []
    for block_run, key, *arrays in _dbapi(conn).execute(
            f"SELECT run_id, key, ids, steps, wall_times, \"values\" FROM metric_blocks{where.replace(':r', '?')} "
            "ORDER BY run_id, key", tuple(params.values())):
        if (block_run, key) != current:
            if parts:
                _fold(conn, *current, _concat(parts))  # type: ignore[misc]
            current, parts = (block_run, key), []
        parts.append(_decode(*arrays))
    if parts:
        _fold(conn, *current, _concat(parts))  # type: ignore[misc]


def _fold(conn: Any, run_id: int, key: str, block: Series) -> None:
    """Add packed points of one series to its summary (creating the summary if it has none)."""
    import numpy as np

    finite = block.values[~np.isnan(block.values)]
    lo, hi = (float(finite.min()), float(finite.max())) if len(finite) else (None, None)
    last = int(np.lexsort((block.ids, block.steps))[-1])
    conn.execute(text(
        "INSERT INTO metric_series (run_id, key, count, packed, min_value, max_value, last_step, last_value, last_id) "
        "VALUES (:r, :k, :n, :n, :lo, :hi, :step, :value, :id) "
        "ON CONFLICT (run_id, key) DO UPDATE SET count = count + excluded.count, packed = packed + excluded.packed, "
        "min_value = coalesce(min(min_value, excluded.min_value), min_value, excluded.min_value), "
        "max_value = coalesce(max(max_value, excluded.max_value), max_value, excluded.max_value), "
        "last_value = CASE WHEN (excluded.last_step, excluded.last_id) > (last_step, last_id) "
        "THEN excluded.last_value ELSE last_value END, "
        "last_id = CASE WHEN (excluded.last_step, excluded.last_id) > (last_step, last_id) "
        "THEN excluded.last_id ELSE last_id END, "
        "last_step = max(last_step, excluded.last_step)"),
        {"r": run_id, "k": key, "n": len(block), "lo": lo, "hi": hi, "step": int(block.steps[last]),
         "value": float(block.values[last]), "id": int(block.ids[last])})


def delete_after(conn: Any, run_id: int, step: int) -> int:
    """Delete a run's points with step > `step`, raw and packed; returns how many."""
    removed = int(conn.execute(text("DELETE FROM metrics WHERE run_id = :r AND step > :s"),
                               {"r": run_id, "s": step}).rowcount or 0)
    for block_id, key, *arrays in conn.execute(text(
            "SELECT id, key, ids, steps, wall_times, \"values\" FROM metric_blocks "
            "WHERE run_id = :r AND max_step > :s"), {"r": run_id, "s": step}).all():
        block = _decode(*arrays)
        kept = _slice(block, block.steps <= step)
        removed += len(block) - len(kept)
        conn.execute(text("DELETE FROM metric_blocks WHERE id = :id"), {"id": block_id})
        if len(kept):
            _write_block(conn, run_id, key, kept)
    if removed:
        summarise(conn, run_id)
    return removed


def pack_all(conn: Any) -> int:
    """Pack every series with `PACK_ROWS` or more raw points (after `summarise`); returns how many moved."""
    waiting = conn.execute(text("SELECT run_id, key FROM metric_series WHERE count - packed >= :n"),
                           {"n": PACK_ROWS}).all()
    return sum(pack(conn, run_id, key) for run_id, key in waiting)


def unpack(conn: Any, run_id: int, key: str) -> int:
    """Move a series' blocks back into rows (same ids); returns how many points moved."""
    moved = 0
    for block_id, *arrays in conn.execute(text(
            "SELECT id, ids, steps, wall_times, \"values\" FROM metric_blocks WHERE run_id = :r AND key = :k"),
            {"r": run_id, "k": key}).all():
        block = _decode(*arrays)
        conn.execute(text("INSERT INTO metrics (id, run_id, key, step, value, wall_time) "
                          "VALUES (:id, :r, :k, :s, :v, :w)"),
                     [{"id": int(i), "r": run_id, "k": key, "s": int(s), "v": float(v), "w": float(w)}
                      for i, s, w, v in zip(block.ids, block.steps, block.wall_times, block.values, strict=True)])
        conn.execute(text("DELETE FROM metric_blocks WHERE id = :id"), {"id": block_id})
        moved += len(block)
    conn.execute(text("UPDATE metric_series SET packed = packed - :n WHERE run_id = :r AND key = :k"),
                 {"n": moved, "r": run_id, "k": key})
    return moved
