"""`sweep list|show`: the sweeps `train --sweep` (or the app's sweep panel) queued, side by side."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.config.sweep import values_text
from spark_trainer.jobs.reconcile import reconcile
from spark_trainer.jobs.sweeps import SweepResult, sweep_result
from spark_trainer.store import sweeps


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("sweep", help="list sweeps, or show one sweep's runs ranked by the recipe's main metric",
                            parents=[common],
                            description="A sweep is queued by `spark-trainer train RUN_FILE --sweep KEY=V1,V2,...`.")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = actions.add_parser("list", help="list sweeps", parents=[common])
    lst.set_defaults(handler=cmd_list)
    show = actions.add_parser("show", help="a sweep's runs with their swept values and main metric, best first",
                              parents=[common])
    show.add_argument("name", help="the sweep's name (printed when it was queued; see `sweep list`)")
    show.set_defaults(handler=cmd_show)


# Said of a sweep without a plan (`sweep_plans`, migration 0012): its deleted runs can only be inferred.
NO_PLAN = ("queued by an older SparkTrainer, which did not record the runs a sweep queues: deleted runs are "
           "inferred from the runs left, and some may not be counted")


def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    found = sweeps.list_all(ctx.store)
    rows = [(s.name, s.experiment, s.recipe, s.num_runs, "?" if s.deleted is None else s.deleted, s.created_at)
            for s in found]
    text = table(["sweep", "experiment", "recipe", "runs", "deleted", "created"], rows, empty="no sweeps yet")
    if any(s.queued is None for s in found):
        text += f"\n?: {NO_PLAN}"
    return Result([{**asdict(s), "deleted": s.deleted} for s in found], text)


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    reconcile(ctx.store)
    result = sweep_result(ctx.store, args.name)
    return Result(result_data(result), result_text(result))


def result_text(result: SweepResult) -> str:
    """A heading line, then one row per run: rank, run, status, the swept values, the final metric and
    the step it was logged at (a run cancelled early is ranked by its value there); for
    a sweep queued without a plan, a last line saying its deleted runs are inferred."""
    direction = "higher" if result.higher_is_better else "lower"
    gone, known = result.deleted, "; ".join(values_text(c) for c in result.missing)
    said = f"{gone} deleted{': ' + known if known else ''}"
    if result.counted:
        deleted = f" (of {result.queued} queued; {said})" if gone else ""
    else:
        deleted = f" (at least {said})" if gone else ""
    head = (f"sweep {result.name}: {len(result.rows)} runs of {result.experiment}{deleted}, ranked by {result.metric} "
            f"(final value; {direction} is better)")
    rows = [(row.rank_text, row.run.id, row.run.status.value,
             *(row.run.sweep_values.get(k) for k in result.keys), row.final, row.step) for row in result.rows]
    tail = "" if result.counted else f"\nnote: sweep {result.name} was {NO_PLAN}"
    return head + "\n" + table(["rank", "run", "status", *result.keys, result.metric, "step"], rows) + tail


def result_data(result: SweepResult) -> dict[str, Any]:
    """As `leaderboard --json`: the metric named once at the top, each run's ranked value under `score`
    (a fixed key scripts read without knowing the metric, and one that cannot land on a row's own fields).
    `queued` and `deleted` are null for a sweep queued without a plan; `deleted_at_least` is always given."""
    return {"sweep": result.name, "experiment": result.experiment, "metric": result.metric,
            "higher_is_better": result.higher_is_better, "keys": result.keys, "queued": result.queued,
            "deleted": result.deleted if result.counted else None, "deleted_at_least": result.deleted,
            "deleted_combinations": result.missing,
            "runs": [{"rank": row.rank, "tied": row.tied, "id": row.run.id, "status": row.run.status.value,
                      "values": row.run.sweep_values, "score": row.final, "step": row.step}
                     for row in result.rows]}
