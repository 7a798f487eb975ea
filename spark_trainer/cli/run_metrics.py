"""`run metrics RUN [--key K]... [--csv]`: a run's metric points, sorted by key then step."""

from __future__ import annotations

import argparse
import csv
import io

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.errors import BadInput
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.store import metrics, runs
from spark_trainer.store.entities import to_jsonable


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
    points = sorted(metrics.read(store, run.id, keys=args.key), key=lambda m: (m.key, m.step))
    if args.key and run.status.is_finished:
        known = metrics.keys(store, run.id)
        missing = [k for k in args.key if k not in known]
        if missing and known:  # a finished run will not write it later: most likely a typo
            raise BadInput(f"--key {missing[0]!r}: run {run.id} has no such metric; its metrics are: "
                           f"{', '.join(known)}")
    if args.csv and not ctx.json:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["step", "key", "value", "wall_time"])
        for m in points:
            writer.writerow([m.step, m.key, repr(m.value), f"{m.wall_time:.3f}"])
        return Result(to_jsonable(points), out.getvalue().rstrip("\n"))
    rows = [(m.step, m.key, m.value) for m in points]
    return Result(points, table(["step", "key", "value"], rows, empty=f"run {run.id} has no metrics yet"))
