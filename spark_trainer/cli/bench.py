"""`bench lora`: our engine against Hugging Face Trainer + PEFT, same model and data, one process."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import positive_int


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    bench = sub.add_parser("bench", help="measure training speed against Hugging Face baselines (in a temporary "
                           "folder: no data home is read or written)", parents=[common])
    kinds = bench.add_subparsers(dest="bench_kind", required=True, metavar="KIND")
    lora = kinds.add_parser("lora", parents=[common],
                            help="LoRA fine-tuning: real tokens/s and peak memory vs HF Trainer (padded and packed)")
    lora.add_argument("--preset", choices=["tiny", "1b"], default="tiny",
                      help="tiny: CPU-sized, about a minute; 1b: the 1.1B GPU job (default: tiny)")
    lora.add_argument("--steps", type=positive_int, default=None, metavar="N", help="timed steps per engine")
    lora.add_argument("--compile", dest="compile", action="store_true", default=None,
                      help="train.compile: true for our run (default: the run-file default, auto: compile on CUDA only)")
    lora.add_argument("--no-compile", dest="compile", action="store_false")
    lora.add_argument("--attention", choices=["auto", "flex", "varlen", "sdpa"], default="auto",
                      help="our engine's attention kernel (auto: flex on CUDA, varlen on the CPU; sdpa: one "
                      "masked call per row)")
    lora.add_argument("--engines", default="ours,packed,padded", help="comma-separated subset to run")
    lora.add_argument("--repeats", type=positive_int, default=1, metavar="N",
                      help="rounds, the engines taking turns; figures and ratios are the rounds' medians "
                           "(steadier on a busy machine; default 1)")
    lora.set_defaults(handler=cmd_bench_lora)
    from spark_trainer.cli.bench_diffusion import register_diffusion

    register_diffusion(kinds, common)


def cmd_bench_lora(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.bench.lora import bench_lora, format_report
    from spark_trainer.errors import BadInput

    if args.steps is not None and args.steps < 1:
        raise BadInput("--steps must be at least 1")
    say_home_unused(ctx, args)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    report = bench_lora(args.preset, steps=args.steps, compile=args.compile, attention=args.attention,
                        engines=engines, repeats=args.repeats, log=ctx.info)
    return Result(report, format_report(report))


def say_home_unused(ctx: Context, args: argparse.Namespace) -> None:
    """A benchmark's run and model live in a temporary folder, so its figures never land among the user's
    runs: a --home given is said to be unused (it was ignored without a word)."""
    if "home" in vars(args):
        ctx.info(f"bench {args.bench_kind} works in a temporary folder of its own: --home {args.home} is not "
                 "read or written")
