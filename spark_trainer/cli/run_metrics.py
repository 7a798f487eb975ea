"""`run metrics RUN [--key K]... [--csv]`: a run's metric points, sorted by key then step.

A long run has millions of points (20 keys x 500,000 steps): they are written as they are read, a
series at a time in pieces of PIECE_ROWS, as the text table, CSV or JSON document that holding them
all would have printed (the same bytes). The table's columns are as wide as their widest cell over
every row: the steps' width comes from each series' step range, read first, the keys' from their
names; the values are the last column, never padded.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from collections.abc import Iterator
from itertools import repeat

from spark_trainer.cli.context import Context, Result, Streamed
from spark_trainer.cli.format import cells_wide, pad
from spark_trainer.errors import BadInput
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import metrics, runs
from spark_trainer.store.metrics import Extent
from spark_trainer.store.store import Store

PIECE_ROWS = 8192  # points formatted and written at once: a few hundred KB of text, a MB or two of JSON
_JSON_FLOATS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}  # as json.dumps writes them


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    met = actions.add_parser("metrics", help="print a run's metric series", parents=[common])
    met.add_argument("run", help="run id")
    met.add_argument("--key", action="append", metavar="K", help="only this metric (repeatable)")
    met.add_argument("--csv", action="store_true", help="print CSV: step,key,value,wall_time")
    met.set_defaults(handler=cmd_metrics)


def cmd_metrics(ctx: Context, args: argparse.Namespace) -> Result:
    store = ctx.store
    reconcile(store)
    run = runs.get(store, args.run)
    extent = metrics.extent(store, run.id, keys=args.key)
    if args.key and run.status.is_finished:
        known = metrics.keys(store, run.id)
        missing = [k for k in args.key if k not in known]
        if missing and known:  # a finished run will not write it later: most likely a typo
            raise BadInput(f"--key {missing[0]!r}: run {run.id} has no such metric; its metrics are: "
                           f"{', '.join(known)}")
    text = _csv if args.csv else _table
    return Result(Streamed(lambda: _json(store, run.id, extent)), Streamed(lambda: text(store, run.id, extent)))


def _pieces(store: Store, run_id: int, extent: Extent) -> Iterator[tuple[str, list, list, list, list]]:
    """(key, ids, steps, wall times, values) of up to PIECE_ROWS points, by key then step; one series
    is read at a time, in its own read transaction (a reader pausing the output holds none)."""
    for key in extent.steps:
        series = metrics.by_step(store, run_id, key, up_to_id=extent.last_id)
        for start in range(0, len(series), PIECE_ROWS):
            part = slice(start, start + PIECE_ROWS)
            yield (key, series.ids[part].tolist(), series.steps[part].tolist(), series.wall_times[part].tolist(),
                   series.values[part].tolist())
        del series  # before the next one is read


def _table(store: Store, run_id: int, extent: Extent) -> Iterator[str]:
    """What cli.format.table printed for (step, key, value) rows, without holding them."""
    if not extent.steps:
        yield f"run {run_id} has no metrics yet"
        return
    # The widest step is the lowest or the highest of some series (a minus sign counts).
    step_wide = max(len("STEP"), *(len(str(step)) for span in extent.steps.values() for step in span))
    key_wide = max(len("KEY"), *(cells_wide(key) for key in extent.steps))
    yield f"{pad('STEP', step_wide)}  {pad('KEY', key_wide)}  VALUE"
    for key, _ids, steps, _walls, values in _pieces(store, run_id, extent):
        padded = pad(key, key_wide)
        yield "".join([f"\n{step:<{step_wide}}  {padded}  {value:.4g}" for step, value in zip(steps, values,
                                                                                              strict=True)])


def _csv(store: Store, run_id: int, extent: Extent) -> Iterator[str]:
    yield "step,key,value,wall_time"
    for key, _ids, steps, walls, values in _pieces(store, run_id, extent):
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(
            zip(steps, repeat(key), map(repr, values), [f"{wall:.3f}" for wall in walls], strict=False))
        yield "\n" + out.getvalue().removesuffix("\n")


def _json(store: Store, run_id: int, extent: Extent) -> Iterator[str]:
    """The list of points as json.dumps(..., indent=2) writes it, a piece of points at a time."""
    yield "["
    before = "\n"
    for key, ids, steps, walls, values in _pieces(store, run_id, extent):
        quoted = json.dumps(key)
        yield before + ",\n".join([
            f'  {{\n    "id": {i},\n    "run_id": {run_id},\n    "key": {quoted},\n    "step": {step},\n    '
            f'"value": {_json_float(value)},\n    "wall_time": {_json_float(wall)}\n  }}'
            for i, step, wall, value in zip(ids, steps, walls, values, strict=True)])
        before = ",\n"
    yield "\n]" if before == ",\n" else "]"


def _json_float(value: float) -> str:
    text = repr(value)
    return _JSON_FLOATS.get(text, text)
