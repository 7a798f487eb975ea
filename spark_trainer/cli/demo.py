"""`demo`: build the demo project and train it end to end (about a minute on a CPU)."""

from __future__ import annotations

import argparse
import sys

from spark_trainer.cli.context import Context, Result


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("demo", help="create a demo project with a tiny local model and train it end to end",
                            parents=[common])
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps (default 300; 40 for diffusion-lora)")
    parser.add_argument("--recipe", default="causal-lm", metavar="NAME",
                        help="which recipe to demonstrate: causal-lm (default) or diffusion-lora")
    parser.add_argument("--no-wait", action="store_true", help="queue the demo run and return at once")
    parser.set_defaults(handler=cmd_demo)


def cmd_demo(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.errors import BadInput
    from spark_trainer.jobs.demo import build_demo

    if args.steps is None:
        args.steps = 40 if args.recipe == "diffusion-lora" else 300
    if args.steps < 1:
        raise BadInput(f"--steps must be at least 1, got {args.steps}")
    tty = sys.stderr.isatty()
    last_stage = [""]

    def progress(p) -> None:
        if tty and p.stage == "training":
            sys.stderr.write(f"\r{p.message}   ")
            sys.stderr.flush()
        elif p.stage != last_stage[0] and p.stage != "training":
            ctx.info(("\n" if tty and last_stage[0] == "training" else "") + p.message)
        last_stage[0] = p.stage

    result = build_demo(ctx.store, wait=not args.no_wait, progress=progress, steps=args.steps, recipe=args.recipe)
    if args.no_wait:
        return Result(result, f"demo run {result.run.id} {result.run.status.value}; follow it with "
                              f"`spark-trainer run show {result.run.id}`")

    def text() -> str:
        def f(v):
            return "-" if v is None else f"{v:.3f}"

        return (f"demo run {result.run.id} completed {result.run.step} steps: loss {f(result.first_loss)} -> "
                f"{f(result.final_loss)}, validation loss {f(result.eval_loss)}\nreport: {result.report_path}")

    return Result(result, text)
