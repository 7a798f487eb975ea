"""`dataset list|show|rename|delete` (ingestion commands register here too)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli.confirm import ASKS, add_yes, declined
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, human_bytes, table
from spark_trainer.cli.ingest import register_dataset_actions
from spark_trainer.store import dataset_counts, datasets


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> argparse._SubParsersAction:
    parser = sub.add_parser("dataset", help="ingest, list, show, browse, rename and delete datasets", parents=[common])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    lst = actions.add_parser("list", help="list datasets", parents=[common])
    lst.add_argument("--project", help="only this project's datasets (name or id)")
    lst.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="show one dataset", parents=[common])
    show.add_argument("dataset", help="dataset name or id")
    show.add_argument("--project", help="project, when the name is used in several")
    show.set_defaults(handler=cmd_show)

    rename = actions.add_parser(
        "rename", help="rename a dataset",
        description="Gives a dataset a new name (unique in its project). Runs, experiments and exports find "
        "it by id and follow; a run file that names the old name fails, and its error gives the new one.",
        parents=[common])
    rename.add_argument("dataset", help="dataset name or id")
    rename.add_argument("new_name", help="the new name")
    rename.add_argument("--project", help="project, when the name is used in several")
    rename.set_defaults(handler=cmd_rename)

    delete = actions.add_parser(
        "delete", help="delete a dataset (its folder too with --delete-files; asks first on a terminal)",
        description="Deletes the dataset's record (and with --delete-files its folder in the data home; your "
        "original files are never touched). " + ASKS, parents=[common])
    delete.add_argument("dataset", help="dataset name or id")
    delete.add_argument("--force", action="store_true", help="delete even if experiments use it")
    delete.add_argument("--delete-files", action="store_true", help="also remove the dataset folder")
    add_yes(delete)
    delete.set_defaults(handler=cmd_delete)
    register_dataset_actions(actions, common)
    from spark_trainer.cli.dataset_browse import register as register_browse

    register_browse(actions, common)
    return actions


def dataset_text(d: datasets.Dataset) -> str:
    note = dataset_counts.manifest_note(d)
    return fields(
        [("id", d.id), ("name", d.name), ("project", d.project), ("kind", d.kind), ("version", d.version or "-"),
         ("items", d.num_items), ("train / val", f"{d.num_train} / {d.num_val}"),
         ("rejected", d.num_rejected), ("duplicates", d.num_duplicates), ("size", human_bytes(d.size_bytes)),
         ("path", d.path), ("created", d.created_at), *([("note", note)] if note else [])]
    )


def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    items = [dataset_counts.current(ctx.store, d) for d in datasets.list_all(ctx.store, args.project)]
    rows = [(d.id, d.project, d.name, d.kind, d.num_items, d.num_rejected, human_bytes(d.size_bytes),
             d.version[:12] or "-") for d in items]
    return Result(items, table(["id", "project", "name", "kind", "items", "rejected", "size", "version"], rows,
                               empty=f"no datasets in project {args.project!r} yet; add one with `spark-trainer dataset "
                                     f"ingest PATH --project {args.project}`" if args.project else
                                     "no datasets yet; add one with `spark-trainer dataset ingest PATH --project P`"))


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    dataset = dataset_counts.current(ctx.store, datasets.get(ctx.store, args.dataset, args.project))
    return Result(dataset, dataset_text(dataset))


def cmd_rename(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.ingest.rename import rename_dataset

    renamed = rename_dataset(ctx.store, args.dataset, args.new_name, args.project)
    if renamed.card_note:
        ctx.info(f"warning: {renamed.card_note}")
    dataset = renamed.dataset
    if renamed.old_name == dataset.name:  # `rename X X`: the store wrote nothing, and says no rename happened
        return Result(dataset, f"dataset {dataset.name!r} (id {dataset.id}) already has that name: nothing changed")
    return Result(dataset, f"renamed dataset {renamed.old_name!r} to {dataset.name!r} (id {dataset.id}, "
                           f"project {dataset.project!r})")


def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.reconcile import reconcile

    reconcile(ctx.store)  # a run whose worker died must not block the delete
    from spark_trainer.jobs.dataset_delete import check_deletable, delete_dataset

    found = datasets.get(ctx.store, args.dataset)
    resumable = check_deletable(ctx.store, found, force=args.force)  # refuse before asking; the delete checks again
    files = args.delete_files and Path(found.path).is_relative_to(ctx.home.datasets_dir)
    stranded = (f" {'Runs' if len(resumable) > 1 else 'Run'} {datasets.resumable_text(resumable)} can then no "
                "longer be resumed." if resumable else "")
    cancelled = declined(args, f"Delete dataset {found.name!r} ({found.num_items:,} items)"
                               + (f" and its folder {found.path}?" if files else "? Its folder stays on disk.")
                               + stranded)
    if cancelled is not None:
        return cancelled
    deleted = delete_dataset(ctx.store, found.id, force=args.force, delete_files=args.delete_files)
    dataset, removed, folder = deleted.dataset, deleted.removed, deleted.folder
    note = f"; removed {folder}" if removed else (f"; kept {folder}" if folder.exists() else "")
    return Result({"deleted": dataset, "removed_folder": removed}, f"deleted dataset {dataset.name!r}{note}")
