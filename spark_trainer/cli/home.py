"""`home [show|set|new|move|compact]`: which data home the app and this command use, moving it, and
giving its database's unused space back to the disk.

The choice lives in the shared home record (spark_trainer.home_record), so `home set` here and the
app's Settings choose the same home; a move is spark_trainer.jobs.home_move.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from spark_trainer import home_record
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields, human_bytes
from spark_trainer.errors import BadInput
from spark_trainer.paths import DB_NAME, DataHome

if TYPE_CHECKING:
    from spark_trainer.jobs.home_move import MoveResult


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    home = sub.add_parser("home", help="show, choose, move or compact the data home", parents=[common])
    home.set_defaults(handler=cmd_show)
    actions = home.add_subparsers(dest="home_command", metavar="ACTION")
    show = actions.add_parser("show", help="the data home in use, why, its size and contents", parents=[common])
    show.set_defaults(handler=cmd_show)
    choose = actions.add_parser("set", help="choose the data home the app and this command use", parents=[common])
    choose.add_argument("dir", metavar="DIR", help="a data home (a folder holding " + DB_NAME + ")")
    choose.add_argument("--new", action="store_true", help="start a new, empty data home in DIR")
    choose.set_defaults(handler=cmd_set)
    new = actions.add_parser("new", help="start an empty data home where the chosen (or default) one is gone",
                             parents=[common])
    new.set_defaults(handler=cmd_new)
    move = actions.add_parser("move", help="move the whole data home to DEST (runs paused or finished)",
                              parents=[common])
    move.add_argument("dest", metavar="DEST", help="a new or empty folder")
    move.add_argument("--keep-old", action="store_true", help="copy, and keep the old folder as it is")
    move.set_defaults(handler=cmd_move)
    compact = actions.add_parser("compact", help="give the database's unused space back to the disk (after "
                                 "deleting runs; no run or evaluation may be running)", parents=[common])
    compact.set_defaults(handler=cmd_compact)


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    chosen = ctx.chosen
    root = chosen.home.root
    data: dict = {"home": str(root), "source": chosen.source, "why": chosen.why,
                  "record": str(home_record.record_path())}
    set_aside = home_record.set_aside_leftovers()
    data["old_homes_left"] = [{"folder": str(folder), "moved_to": new} for folder, new in set_aside]
    left = [("old home left", home_record.set_aside_line(folder, new)) for folder, new in set_aside]
    missing = home_record.missing_home(chosen)
    if missing is not None:
        line = home_record.missing_line(missing, chosen.source)
        data.update(missing=True, error=line)
        return Result(data, fields([("data home", f"{root} ({chosen.why})"), ("missing", line), *left]), exit_code=2)
    from spark_trainer.jobs.compact import database_size
    from spark_trainer.jobs.home_move import home_summary

    data.update(missing=False, **home_summary(ctx.store))
    database = database_size(ctx.store)
    data.update(database_bytes=database.file_bytes, database_unused_bytes=database.unused_bytes)
    return Result(data, lambda: fields([
        ("data home", root), ("why", chosen.why), ("size", human_bytes(data["bytes"])), ("database", database.line()),
        ("runs", data["runs"]), ("datasets", data["datasets"]), ("recorded in", data["record"]), *left]))


def cmd_set(ctx: Context, args: argparse.Namespace) -> Result:
    root = Path(args.dir).expanduser().resolve()
    if root.exists() and not root.is_dir():
        raise BadInput(f"{root} is a file, not a folder: a data home is a folder; choose one")
    if not args.new and not (root / DB_NAME).is_file():
        raise BadInput(f"{root} holds no data home ({DB_NAME} is not there); add --new to start an empty one there")
    from spark_trainer.store.store import Store

    if args.new:
        home_record.forget_moved(root)  # started here on purpose: no longer a place a home moved away from
    with Store.open(DataHome(root)) as store:  # created with --new; migrated, and moved paths followed
        if store.moved is not None:
            ctx.info(f"note: {store.moved.describe()}")
    home_record.set_chosen(root)
    home_record.set_opened(root)
    text = f"data home set to {root}"
    if ctx.chosen.explicit:
        text += f" (this command still uses {ctx.chosen.why}, which wins over the chosen home)"
    return Result({"home": str(root), "source": "chosen"}, text)


def cmd_new(ctx: Context, args: argparse.Namespace) -> Result:
    chosen = ctx.chosen
    if (chosen.home.db_path).is_file():
        raise BadInput(f"{chosen.home.root} already holds a data home; nothing to start")
    from spark_trainer.store.store import Store

    home_record.forget_moved(chosen.home.root)  # started here on purpose (after `home move` took the old one)
    with Store.open(chosen.home):
        pass
    if not chosen.explicit:
        home_record.set_opened(chosen.home.root)
    return Result({"home": str(chosen.home.root), "source": chosen.source},
                  f"started an empty data home at {chosen.home.root}")


def cmd_move(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs import home_move

    home = ctx.home
    if not home.db_path.is_file():  # opening the store would start an empty home, then "moved" it
        raise BadInput(f"no data home at {home.root} ({DB_NAME} is not there); nothing to move")
    plan = home_move.plan_move(ctx.store, args.dest, keep_old=args.keep_old)
    ctx.close()  # the database is copied or renamed next: this command no longer holds it open
    if plan.queued:  # said before the move, as it starts
        ctx.info(f"note: {home_move.queued_note(plan)}")
    how = "renaming" if plan.rename else f"copying {plan.files} files, {human_bytes(plan.bytes)}"
    ctx.info(f"moving the data home {plan.source} -> {plan.dest} ({how})")
    result = home_move.carry_out(plan, progress=_progress_printer(ctx))
    for note in result.notes:
        if not (plan.queued and note == home_move.queued_note(plan)):
            ctx.info(f"note: {note}")
    if result.env_note is not None:
        ctx.info(f"note: {result.env_note}")
    if result.moved is not None:
        ctx.info(f"note: {result.moved}")
    if (other := _not_chosen_note(result)) is not None:
        ctx.info(f"note: {other}")
    old = f"; the old folder {result.source} was kept" if result.kept_old else ""
    return Result(asdict(result), f"data home moved to {result.dest} ({result.method}){old}")


def _not_chosen_note(result: MoveResult) -> str | None:
    """What a move of a home that is not the chosen one says: the choice did not follow it (None when it
    was the chosen one, or $SPARK_TRAINER_HOME named it: `env_note` says what to do then)."""
    if result.chosen or result.env_note is not None:
        return None
    chosen = result.chosen_home or f"the default ({home_record.platform_default()})"
    return (f"the chosen home is still {chosen}; open the moved one with --home {result.dest}, or choose it with "
            f"`spark-trainer home set {result.dest}`")


def _progress_printer(ctx: Context):  # noqa: ANN202 - a home_move.Progress
    """Progress on stderr (so --json output stays one document): a line redrawn on a terminal, a line
    per 10% otherwise."""
    tty = sys.stderr.isatty()
    state = {"shown": -1, "at": 0.0}

    def show(done: int, total: int, _name: str) -> None:
        percent = 100 if total == 0 else int(100 * done / total)
        now = time.monotonic()
        if tty and (now - state["at"] > 0.2 or percent == 100):
            state["at"] = now
            end = "\n" if percent == 100 else ""
            print(f"\r  {percent:3d}%  {human_bytes(done)} of {human_bytes(total)}", end=end, file=sys.stderr,
                  flush=True)
        elif not tty and percent // 10 > state["shown"]:
            state["shown"] = percent // 10
            ctx.info(f"  {percent}%  {human_bytes(done)} of {human_bytes(total)}")

    return show


def cmd_compact(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.jobs.compact import compact

    done = compact(ctx.store, starting=lambda: ctx.info(f"compacting {ctx.store.home.db_path}..."))
    before, after = done.before.file_bytes, done.after.file_bytes
    text = (f"compacted {ctx.store.home.db_path}: {human_bytes(before)} -> {human_bytes(after)} "
            f"({human_bytes(max(0, before - after))} given back to the disk)")
    if done.in_log:
        text += ("; another window or command was reading it, so the database waits in its log (-wal) and "
                 "shrinks once they stop")
    return Result({"database": str(ctx.store.home.db_path), "bytes_before": before, "bytes_after": after,
                   "bytes_given_back": max(0, before - after), "waits_in_log": done.in_log}, text)
