"""`train CONFIG.yaml [--wait]`: one run file describes project, dataset, model and hyperparameters."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.runs import WAIT_HELP, start_and_maybe_wait
from spark_trainer.config.sweep import EXAMPLE, MAX_RUNS

if TYPE_CHECKING:
    from spark_trainer.ingest.types import IngestReport


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("train", help="train from one run file (project, dataset, recipe, model, settings)",
                            parents=[common],
                            description="Without --wait, prints the run id and returns; the run trains in the "
                            "background and is started by whichever scheduler is alive. Among queued runs the one "
                            "of highest priority starts first (the run file's priority: -100 to 100, default 0; "
                            "ties in the order queued); `run priority RUN N` changes it while the run waits.")
    parser.add_argument("config", metavar="CONFIG.yaml", help="the run file")
    parser.add_argument("--gpus", help="override the file's gpus: auto | cpu | cpu:N | GPU ids like 0 or 0,1 | count:N")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override one config value, e.g. train.max_steps=50 (repeatable)")
    parser.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2,...",
                        help="queue one run per value (several --sweep: per combination), e.g. "
                        f"{EXAMPLE}; every combination is checked before any is queued (at most {MAX_RUNS} runs)")
    parser.add_argument("--sweep-name", metavar="NAME", help="the sweep's name (default: EXPERIMENT-sweep-N)")
    parser.add_argument("--wait", action="store_true",
                        help=WAIT_HELP + "; with --sweep, wait for every run and show them ranked")
    parser.set_defaults(handler=cmd_train)


def cmd_train(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.config import apply_overrides, validate_config
    from spark_trainer.config.yaml_io import load_yaml
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.jobs.submit import submit_config

    data, node = load_yaml(args.config)
    if args.sweep:
        from spark_trainer.cli.sweep_train import train_sweep

        return train_sweep(ctx, args, data)
    if args.sweep_name:
        from spark_trainer.errors import BadInput

        raise BadInput("--sweep-name names a sweep: give it with --sweep KEY=V1,V2,...")
    # --gpus, checked at submit, replaces the file's: then the file's is not checked as typed.
    config = validate_config(apply_overrides(data, args.set), args.config, node, args.set, typed=args.gpus is None)
    for note in config.upgrade_notes:
        ctx.info(f"note: {args.config}: {note}")
    store = ctx.store
    reconcile(store)
    submitted = submit_config(store, config, base_dir=Path(args.config).resolve().parent, gpus=args.gpus)
    intro = f"ingested {submitted.dataset.name!r}; " if submitted.ingested else ""
    if submitted.report is not None:
        for line in ingest_lines(submitted.dataset.name, submitted.report, Path(submitted.dataset.path)):
            ctx.info(line)
    for warning in submitted.warnings:
        ctx.info(f"warning: {warning}")
    return start_and_maybe_wait(ctx, store, submitted.run.id, args.wait, intro)


def ingest_lines(name: str, report: IngestReport, dataset_dir: Path) -> list[str]:
    """What `train` says about the dataset it just ingested: rejections (lines of text files, or
    files of other kinds) and the report's notes (say, the hidden and system files left out)."""
    from spark_trainer.cli.ingest import rejection_lines

    lines = []
    if report.rejected:
        n = len(report.rejected)
        what = ("line" if report.kind == "text" else "file") + ("" if n == 1 else "s")
        lines.append(f"dataset {name!r}: {n} {what} rejected")
        lines += rejection_lines(report, dataset_dir)
    return lines + [f"dataset {name!r}: note: {note}" for note in report.notes]
