"""`project create|list|show|rename|delete`."""

from __future__ import annotations

import argparse
from pathlib import Path

from spark_trainer.cli import confirm
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, table
from spark_trainer.errors import BadInput
from spark_trainer.store import projects


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("project", help="create, list, show, rename and delete projects", parents=[common])
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="create a project", parents=[common])
    create.add_argument("name", help="project name (unique)")
    create.add_argument("--description", default="", help="free text")
    create.set_defaults(handler=cmd_create)

    lst = actions.add_parser("list", help="list projects with their counts", parents=[common])
    lst.add_argument("--search", help="only names containing this text")
    lst.set_defaults(handler=cmd_list)

    show = actions.add_parser("show", help="show one project", parents=[common])
    show.add_argument("project", help="project name or id")
    show.set_defaults(handler=cmd_show)

    rename = actions.add_parser("rename", help="rename a project", parents=[common])
    rename.add_argument("project", help="project name or id")
    rename.add_argument("new_name", help="the new name")
    rename.set_defaults(handler=cmd_rename)

    delete = actions.add_parser(
        "delete",
        help="delete a project with its datasets, experiments and runs",
        description="Deletes the project's rows from the database. Its folders on disk are kept "
        "unless you pass --delete-files or confirm at the prompt.",
        parents=[common],
    )
    delete.add_argument("project", help="project name or id")
    delete.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    files = delete.add_mutually_exclusive_group()
    files.add_argument("--delete-files", action="store_true", help="also remove dataset, run and export folders")
    files.add_argument("--keep-files", action="store_true", help="keep dataset and run folders on disk")
    delete.set_defaults(handler=cmd_delete)


def _project_text(p: projects.Project) -> str:
    return fields(
        [("id", p.id), ("name", p.name), ("description", p.description or "-"), ("datasets", p.num_datasets),
         ("experiments", p.num_experiments), ("runs", p.num_runs), ("created", p.created_at),
         ("last activity", p.last_activity)]
    )


def cmd_create(ctx: Context, args: argparse.Namespace) -> Result:
    project = projects.create(ctx.store, args.name, args.description)
    return Result(project, f"created project {project.name!r} (id {project.id})")


def cmd_list(ctx: Context, args: argparse.Namespace) -> Result:
    items = projects.list_all(ctx.store, args.search)
    rows = [(p.id, p.name, p.num_datasets, p.num_experiments, p.num_runs, p.last_activity) for p in items]
    return Result(items, table(["id", "name", "datasets", "experiments", "runs", "last activity"], rows,
                               empty=f"no project name contains {args.search!r}" if args.search else
                                     "no projects yet; create one with `spark-trainer project create NAME`"))


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    project = projects.get(ctx.store, args.project)
    return Result(project, _project_text(project))


def cmd_rename(ctx: Context, args: argparse.Namespace) -> Result:
    before = projects.get(ctx.store, args.project)
    project = projects.rename(ctx.store, args.project, args.new_name)
    if before.name == project.name:  # `rename X X`: nothing written, as `dataset rename` says
        return Result(project, f"project {project.name!r} (id {project.id}) already has that name: nothing changed")
    return Result(project, f"renamed project {before.name!r} to {project.name!r}")


def cmd_delete(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.deletion import refuse_if_pinned
    from spark_trainer.jobs.reconcile import reconcile
    from spark_trainer.store import in_use, runs

    reconcile(ctx.store)  # a run whose worker died must not block the delete
    found = projects.contents(ctx.store, args.project)
    p = found.project
    in_use.check(ctx.store, "project", p.id)  # refuse before asking; the delete checks again
    for run in runs.list_all(ctx.store, project=p.id):
        refuse_if_pinned(run)  # one of its runs being exported
    summary = (
        f"project {p.name!r}: {p.num_datasets} datasets, {p.num_experiments} experiments, "
        f"{p.num_runs} runs, {found.num_metrics} metric points"
    )
    interactive = confirm.interactive()  # the question goes to stderr: --json's stdout stays one document
    if not args.yes:
        if not interactive:
            raise BadInput(f"refusing to delete {summary} without --yes (no terminal to ask on)")
        if not confirm.ask(f"Delete {summary}?"):
            return confirm.NOTHING_DELETED
    from spark_trainer.jobs.deletion import made_by_the_app, project_folders

    folders = project_folders(found, ctx.home)  # inside the home only: never a folder the user chose
    made = {str(Path(d)) for d in found.export_dirs if made_by_the_app(ctx.home, d)}
    user_exports = [d for d in found.export_dirs if str(Path(d)) not in made and Path(d).exists()]
    delete_files = args.delete_files
    if folders and not (args.delete_files or args.keep_files) and interactive:
        delete_files = confirm.ask(f"Also delete {len(folders)} folders on disk (datasets, runs and exports)?")
    from spark_trainer.jobs.control import delete_project

    removed = [str(folder) for folder in delete_project(ctx.store, p.id, folders, delete_files=delete_files)]
    kept = [str(f) for f in folders if str(f) not in removed]
    text = f"deleted {summary}"
    if kept:
        text += f"\nkept {len(kept)} folders on disk (remove them with --delete-files):\n  " + "\n  ".join(kept)
    if user_exports:
        text += (f"\nkept {len(user_exports)} export folder(s) you chose (yours to remove):\n  "
                 + "\n  ".join(user_exports))
    # The shape of run and experiment deletes: the deleted record under "deleted" ({"deleted": false} when
    # nothing was), the app's export folders apart from the other folders.
    return Result({"deleted": p,
                   "removed_folders": [f for f in removed if f not in made],
                   "kept_folders": [f for f in kept if f not in made],
                   "removed_exports": [f for f in removed if f in made],
                   "kept_exports": [f for f in kept if f in made],
                   "user_exports": user_exports}, text)
