"""`demo`: build the demo project and train it end to end (about a minute on a CPU)."""

from __future__ import annotations

import argparse
import sys

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import positive_int


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("demo", help="create a demo project with a tiny local model and train it end to end",
                            parents=[common])
    parser.add_argument("--steps", type=positive_int, default=None,
                        help="training steps (default: 300 for causal-lm, fewer for the classification and diffusion demos)")
    parser.add_argument("--recipe", default="causal-lm",
                        help="which recipe to demonstrate: causal-lm (default), text-classification, "
                        "image-classification, diffusion-lora")
    parser.add_argument("--no-wait", action="store_true", help="queue the demo run and return at once")
    parser.set_defaults(handler=cmd_demo)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.errors import BadInput
    from spark_trainer.jobs.demo import build_demo

    if args.steps is not None and args.steps < 1:
        raise BadInput(f"--steps must be at least 1, got {args.steps}")
    tty = sys.stderr.isatty()
    last_stage = [""]
    run_id: list[int] = []  # the demo run's, once queued

    def progress(p) -> None:
        if p.run is not None and not run_id:
            run_id.append(p.run)
        if tty and p.stage == "training":
            sys.stderr.write(f"\r{p.message}   ")
            sys.stderr.flush()
        elif (p.stage != last_stage[0] or p.stage == "held") and p.stage != "training":  # held: once per spell
            ctx.info(("\n" if tty and last_stage[0] == "training" else "") + p.message)
        last_stage[0] = p.stage

    try:
        result = build_demo(ctx.store, wait=not args.no_wait, progress=progress, steps=args.steps,
                            recipe=args.recipe)
    except KeyboardInterrupt:  # Ctrl-C once the run is queued stops the waiting, as for `train --wait`
        if not run_id:
            raise  # nothing queued yet: "interrupted"
        return _stopped_waiting(ctx, run_id[0], tty)
    if args.no_wait:
        return Result(result, f"demo run {result.run.id} {result.run.status.value}; follow it with "
                              f"`spark-trainer run show {result.run.id}`")

    return Result(result, lambda: f"{result.summary()}\nreport: {result.report_path}")


def _stopped_waiting(ctx: Context, run_id: int, tty: bool) -> Result:
    """Ctrl-C while the demo run trains or waits: it goes on without this command (or stays queued), as
    `train --wait` says it; it said "error: interrupted" as if the run had stopped."""
    from spark_trainer.cli.runs import stopped_waiting_line
    from spark_trainer.store import queue_hold, runs

    if tty:
        sys.stderr.write("\n")  # off the progress line
    run = runs.get(ctx.store, run_id)
    return Result(run, stopped_waiting_line(run, held=queue_hold.held_since(ctx.store) is not None), exit_code=130)
