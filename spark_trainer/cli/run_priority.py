"""`run priority RUN N`: change a queued run's place in the queue (higher starts first; ties by submission)."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    priority = actions.add_parser(
        "priority", help="change a queued run's priority (higher starts first)",
        description="Change a queued run's priority, -100 to 100: among queued runs the highest starts first, "
        "runs of equal priority in the order they were queued. A run file's `priority:` (default 0) sets it at "
        "submit; only a run still queued can change.", parents=[common])
    priority.add_argument("run", help="run id")
    priority.add_argument("priority", type=int, metavar="N", help="the new priority, -100 to 100")
    priority.set_defaults(handler=cmd_priority)


def cmd_priority(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.store.run_priority import changed_line, set_priority

    run, before = set_priority(ctx.store, args.run, args.priority)
    return Result(run, changed_line(run, before))
