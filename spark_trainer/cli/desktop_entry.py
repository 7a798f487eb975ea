"""`desktop-entry [show|install|remove]`: this install in the user's desktop menu (Linux; the logic is
spark_trainer.menu_entry)."""

from __future__ import annotations

import argparse

from spark_trainer import menu_entry
from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import fields


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    entry = sub.add_parser("desktop-entry", help="add this install to your desktop menu, or remove it (Linux)",
                           parents=[common])
    entry.set_defaults(handler=cmd_show)
    actions = entry.add_subparsers(dest="entry_command", metavar="ACTION")
    show = actions.add_parser("show", help="whether the menu entry is installed and what it starts", parents=[common])
    show.set_defaults(handler=cmd_show)
    install = actions.add_parser("install", help="write the menu entry and icons for this install "
                                 "($XDG_DATA_HOME/applications, default ~/.local/share)", parents=[common])
    install.set_defaults(handler=cmd_install)
    remove = actions.add_parser("remove", help="delete the menu entry and icons `install` wrote", parents=[common])
    remove.set_defaults(handler=cmd_remove)


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    menu_entry.require_linux()
    state = menu_entry.status()
    data = {"desktop": str(state.desktop), "installed": state.installed, "ours": state.ours, "exec": state.exec,
            "exec_exists": state.exec_exists, "stale": state.stale, "this_install": state.this_install,
            "icons": [str(p) for p in state.icons]}
    if not state.installed:
        how = "" if state.this_install is None else "; `spark-trainer desktop-entry install` adds it"
        return Result(data, f"no menu entry at {state.desktop}{how}")
    starts = state.exec or "(no Exec line)"
    if state.stale:
        starts += " (stale: it no longer exists; run `desktop-entry install` from the install you use, or `remove`)"
    elif state.this_install is not None and state.exec != state.this_install:
        starts += f" (another install: this one is {state.this_install})"
    pairs = [("menu entry", state.desktop), ("starts", starts),
             ("icons", "\n".join(str(p) for p in state.icons) or "(none)")]
    if not state.ours:
        pairs.append(("written by", "not this command (`remove` leaves it)"))
    return Result(data, fields(pairs))


def cmd_install(ctx: Context, args: argparse.Namespace) -> Result:
    menu_entry.require_linux()
    done = menu_entry.install()
    data = {"desktop": str(done.desktop), "exec": done.exec, "icons": [str(p) for p in done.icons],
            "replaced": done.replaced, "refreshed": done.refreshed}
    verb = "replaced" if done.replaced else "wrote"
    return Result(data, f"{verb} the menu entry {done.desktop} (starts {done.exec}) and its icons "
                        f"{', '.join(str(p) for p in done.icons)}")


def cmd_remove(ctx: Context, args: argparse.Namespace) -> Result:
    menu_entry.require_linux()
    done = menu_entry.remove()
    data = {"desktop": str(done.desktop), "removed": [str(p) for p in done.removed]}
    if not done.removed:
        return Result(data, f"nothing to remove: no menu entry at {done.desktop}")
    return Result(data, "removed " + ", ".join(str(p) for p in done.removed))
