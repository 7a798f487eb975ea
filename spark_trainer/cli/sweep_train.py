"""`train RUN_FILE --sweep KEY=V1,V2,... [--wait]`: queue one run per combination, then (with
--wait) act as the scheduler until all have ended and show them ranked."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.sweeps import result_data, result_text


def train_sweep(ctx: Context, args: argparse.Namespace, data: dict[str, Any]) -> Result:
    from spark_trainer.cli.train import ingest_lines
    from spark_trainer.config import apply_overrides
    from spark_trainer.config.sweep import parse_axis
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.jobs.scheduler import schedule_once
    from spark_trainer.jobs.sweeps import queue_sweep

    axes = [parse_axis(spec) for spec in args.sweep]
    fixed = [item.partition("=")[0].strip() for item in args.set]
    store = ctx.store
    reconcile(store)
    queued = queue_sweep(store, apply_overrides(data, args.set), axes, fixed=fixed, name=args.sweep_name,
                         base_dir=Path(args.config).resolve().parent, gpus=args.gpus)
    first = queued.submitted[0]
    if first.report is not None:
        for line in ingest_lines(first.dataset.name, first.report, Path(first.dataset.path)):
            ctx.info(line)
    for warning in dict.fromkeys(w for submitted in queued.submitted for w in submitted.warnings):
        ctx.info(f"warning: {warning}")
    ids = [run.id for run in queued.runs]
    listed = ", ".join(str(i) for i in ids)
    intro = f"ingested {first.dataset.name!r}; " if first.ingested else ""
    line = f"{intro}sweep {queued.name}: queued {len(ids)} runs ({listed})"
    schedule_once(store)
    if not args.wait:  # with --wait the wait says what holds them, once, as `train --wait` does
        return Result({"sweep": queued.name, "runs": ids}, f"{line}{_why_waiting(store, ids)}\n"
                      f"`spark-trainer sweep show {queued.name}` compares them")
    ctx.info(line)
    return _wait_all(store, queued.name, ids)


def _why_waiting(store: Any, ids: list[int]) -> str:
    """": <reason>" when every run of the sweep is still queued for one same reason (the queue held, the
    disk too full, GPUs the machine lacks), in the words `train` says it for one run ("run 5 queued:
    queue is held (it starts ...)"); else "": runs that started, or wait each for its own turn."""
    from spark_trainer.jobs.scheduler import READY, waiting_reasons

    waiting = waiting_reasons(store)
    reasons = {waiting.get(run_id) for run_id in ids}
    if len(reasons) != 1 or None in reasons or READY in reasons:
        return ""
    reason = reasons.pop()
    return ": " + (reason.replace(" (it starts ", " (they start ") if len(ids) > 1 else reason)


def _wait_all(store: Any, name: str, ids: list[int]) -> Result:
    from spark_trainer.cli.runs import ended_line, stopped_waiting_line
    from spark_trainer.cli.waiting import wait_for_run
    from spark_trainer.jobs.sweeps import sweep_result
    from spark_trainer.store import queue_hold, runs

    try:
        for run_id in ids:  # each wait schedules too, so the others start as slots free up
            wait_for_run(store, run_id)
    except KeyboardInterrupt:
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        held = queue_hold.held_since(store) is not None
        lines = [stopped_waiting_line(runs.get(store, i), held=held) for i in ids]
        return Result({"sweep": name, "runs": ids}, "\n".join(lines), exit_code=130)
    result = sweep_result(store, name)
    bad = result.ended_badly
    text = result_text(result)
    if bad:
        text += "\n" + "; ".join(ended_line(r) for r in bad)
    return Result(result_data(result), text, exit_code=1 if bad else 0)
