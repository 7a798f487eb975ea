"""`export RUN`: a run's checkpoint as a Hugging Face folder (adapter or merged), optionally pushed."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.errors import BadInput


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", help="export a run as a Hugging Face model folder, optionally pushed to the Hub",
                       parents=[common])
    p.add_argument("run", help="run id")
    p.add_argument("--checkpoint", metavar="last|best|STEP",
                   help="which checkpoint: last (default), best (by the eval metric, in its recipe's direction: "
                   "lowest eval_loss, highest eval_accuracy) or a step number")
    p.add_argument("--merge", action="store_true",
                   help="merge the adapters into the base model (default: save the adapter only)")
    p.add_argument("--dtype", choices=["auto", "bf16", "fp16", "fp32"],
                   help="weight dtype (auto: the base model's for merged models, fp32 for adapters)")
    p.add_argument("--out", metavar="DIR", help="export folder (default: exports/<id>/ in the data home)")
    p.add_argument("--push", metavar="REPO_ID", help="upload to this Hub repo (created if needed); uses "
                   "HF_ENDPOINT and the token from the keyring or HF_TOKEN")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.add_argument("--list", action="store_true", help="list the run's exports instead of exporting")
    p.set_defaults(handler=cmd_export)


def cmd_export(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.cli.hangup import like_ctrl_c
    from spark_trainer.export import ExportOptions, export_run, push_export
    from spark_trainer.export.hub import check_repo_id
    from spark_trainer.store import exports

    store = ctx.store
    if args.list:
        given = [f"--{name}" for name in ("checkpoint", "merge", "dtype", "out", "push", "private")
                 if getattr(args, name)]
        if given:
            raise BadInput(f"--list lists the run's exports; leave out {', '.join(given)}")
        found = exports.list_for(store, args.run)
        rows = [(e.id, e.step, e.options.get("kind"), e.options.get("dtype"), exports.shown_path(e),
                 e.hub_url or "-") for e in found]
        return Result(found, table(["id", "step", "kind", "dtype", "path", "hub"], rows, empty="no exports yet"))
    if args.private and not args.push:
        raise BadInput("--private makes the Hub repo of --push private; add --push REPO_ID")
    if args.push:
        check_repo_id(args.push)  # a typo fails before minutes of merging
    if args.out is not None and not args.out.strip():  # "" was no --out: "already exported in <another folder>"
        raise BadInput("--out is empty; give the export folder, or leave --out out for the data home's exports/")
    options = ExportOptions(checkpoint=args.checkpoint or "last", merge=args.merge, dtype=args.dtype or "auto",
                            out=Path(args.out) if args.out else None)

    def show(phase: str, done: int, total: int) -> None:
        ctx.info(f"  {phase} ({done}/{total})")

    # A closed terminal or a SIGTERM stops it as Ctrl-C does: its staging folder and pinned checkpoint are
    # removed (the signals' default, death, left `.staging-*` beside --out).
    with like_ctrl_c():
        result = export_run(store, args.run, options, progress=show)
        export = result.export
        how = "already exported" if result.reused else "exported"
        ctx.info(f"{how}: run {export.run_id} step {export.step} ({export.options.get('kind')}, "
                 f"{export.options.get('dtype')}) in {export.path}")
        if result.note:
            ctx.info(result.note)
        pushed = None
        if args.push:
            export, pushed = push_export(store, export, args.push, private=args.private, progress=show)
    data = {"export": export, "reused": result.reused,
            "pushed": None if pushed is None else {"repo_id": pushed.repo_id, "url": pushed.url,
                                                   "files": pushed.files, "private": pushed.private}}
    text = export.path if pushed is None else f"{export.path}\npushed to {pushed.url}"
    return Result(data, text)
