"""`bench diffusion`: our diffusion-LoRA recipe against a diffusers-example-style LoRA loop."""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import positive_int


def register_diffusion(kinds: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = kinds.add_parser("diffusion", parents=[common],
                              help="diffusion LoRA: images/s and peak memory vs the diffusers example loop")
    parser.add_argument("--preset", choices=["tiny", "sd15"], default="tiny",
                        help="tiny: CPU-sized, about a minute; sd15: an SD1.5-shaped UNet at 512 px (GPU)")
    parser.add_argument("--steps", type=int, default=None, metavar="N", help="timed steps per engine")
    parser.add_argument("--compile", dest="compile", action="store_true", default=None,
                        help="torch.compile our recipe's model (default: on for sd15)")
    parser.add_argument("--no-compile", dest="compile", action="store_false")
    parser.add_argument("--engines", default="ours,example", help="comma-separated subset to run")
    parser.add_argument("--repeats", type=positive_int, default=1, metavar="N",
                        help="rounds, the engines taking turns; figures and ratios are the rounds' medians "
                             "(steadier on a busy machine; default 1)")
    parser.set_defaults(handler=cmd_bench_diffusion)


def cmd_bench_diffusion(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.bench.diffusion import bench_diffusion, format_report
    from spark_trainer.errors import BadInput

    if args.steps is not None and args.steps < 1:
        raise BadInput("--steps must be at least 1")
    from spark_trainer.cli.bench import say_home_unused

    say_home_unused(ctx, args)
    engines = tuple(e.strip() for e in args.engines.split(",") if e.strip())
    report = bench_diffusion(args.preset, steps=args.steps, compile=args.compile, engines=engines,
                             repeats=args.repeats, log=ctx.info)
    return Result(report, format_report(report))
