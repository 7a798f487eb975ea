"""`dataset rows|report|card D`: the Datasets view's Preview, Report and Card tabs from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import non_negative_int, positive_int, table
from spark_trainer.store import dataset_counts, datasets

CELL_CHARS = 80  # a text cell shown in a terminal table; --json has the rows whole


def register(actions: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    rows = actions.add_parser("rows", help="a page of a dataset's rows (the app's Preview tab)", parents=[common])
    rows.add_argument("dataset", help="dataset name or id")
    rows.add_argument("--project", help="project, when the name is used in several")
    rows.add_argument("--offset", type=non_negative_int, default=0, metavar="N", help="skip the first N rows")
    rows.add_argument("--limit", type=positive_int, default=50, metavar="N", help="rows to show (default 50, the "
                      "Preview's page)")
    rows.set_defaults(handler=cmd_rows)
    report = actions.add_parser("report", help="what ingestion kept, and each rejected or duplicate item with its "
                                "reason (the app's Report tab)", parents=[common])
    report.add_argument("dataset", help="dataset name or id")
    report.add_argument("--project", help="project, when the name is used in several")
    report.set_defaults(handler=cmd_report)
    card = actions.add_parser("card", help="the dataset card, markdown (the app's Card tab)", parents=[common])
    card.add_argument("dataset", help="dataset name or id")
    card.add_argument("--project", help="project, when the name is used in several")
    card.set_defaults(handler=cmd_card)


def _short(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    flat = value.replace("\n", " ⏎ ")
    return flat if len(flat) <= CELL_CHARS else flat[:CELL_CHARS - 1] + "…"


def cmd_rows(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest import read_manifest
    from spark_trainer.ingest.browse import preview_columns

    dataset = dataset_counts.current(ctx.store, datasets.get(ctx.store, args.dataset, args.project))
    found = read_manifest(Path(dataset.path), args.offset, args.limit)
    headers, cells = preview_columns(dataset.kind, found)
    shown = [tuple(_short(c) for c in row) for row in cells]
    last = args.offset + len(found)
    note = f"rows {args.offset + 1}-{last} of {dataset.num_items:,}" if found else ""
    text = table(headers, shown, empty=f"no rows after row {args.offset} (dataset {dataset.name!r} has "
                 f"{dataset.num_items:,})")

    def say() -> str:
        if note:
            ctx.info(note)
        return text

    return Result({"dataset": dataset.id, "offset": args.offset, "total": dataset.num_items, "rows": found}, say)


def cmd_report(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest import read_report
    from spark_trainer.ingest.browse import nothing_rejected, report_rows, report_summary, with_note

    dataset = dataset_counts.current(ctx.store, datasets.get(ctx.store, args.dataset, args.project))
    report = with_note(read_report(Path(dataset.path)), dataset_counts.manifest_note(dataset))
    lines = [report_summary(report), *(report.get("notes") or [])]
    rows = report_rows(report)
    listed = table(["", "source", "line", "reason"], rows,
                   empty=nothing_rejected(report))
    return Result(report, "\n".join(lines) + "\n\n" + listed)


def cmd_card(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest.browse import CARD, noted_card, read_card

    dataset = dataset_counts.current(ctx.store, datasets.get(ctx.store, args.dataset, args.project))
    text = noted_card(read_card(dataset.path), dataset_counts.manifest_note(dataset))
    if not text:
        ctx.info(f"dataset {dataset.name!r} has no card ({Path(dataset.path) / CARD} is missing)")
    return Result({"dataset": dataset.id, "card": text}, text.rstrip("\n"))
