"""`run samples RUN`: the run page's Samples tab (what training generated every N steps, and what was
saved from the Playground), newest first."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import positive_int


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    samples = actions.add_parser("samples", help="a run's samples, newest first (the app's Samples tab)",
                                 parents=[common])
    samples.add_argument("run", help="run id")
    samples.add_argument("--limit", type=positive_int, default=10, metavar="N",
                         help="the newest N sample files (default 10, as the Samples tab shows)")
    samples.set_defaults(handler=cmd_samples)


def cmd_samples(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.run_samples import run_samples
    from spark_trainer.store import runs

    run = runs.get(ctx.store, args.run)
    found = run_samples(ctx.store, run.id, args.limit)
    blocks = []
    for sample in found:
        lines = [f"step {sample.step}  {sample.path}" if sample.step is not None else sample.path]
        if sample.error:
            lines.append(f"  {sample.error}")
        for item in sample.items:
            if item.image is not None:  # where the picture is, for an image viewer
                lines.append(f"  {item.prompt or '(image)'}  ->  {Path(sample.path).parent / item.image}"
                             + (f"  ({item.caption})" if item.caption else ""))
            else:
                lines.append(f"  > {item.prompt}" if item.prompt else "  >")
                lines += [f"    {line}" for line in item.output.splitlines() or [""]]
        blocks.append("\n".join(lines))
    empty = (f"run {run.id} has no samples yet; set eval.samples_every_steps (and recipe_config.sample_prompts, "
             "or sample_texts for text classification), or "
             "save one with `spark-trainer generate RUN --prompt TEXT --save`")
    return Result({"run": run.id, "samples": found}, "\n\n".join(blocks) or empty)
