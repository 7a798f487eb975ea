"""Asking before a delete, and saying what it removed.

On a terminal (stdin is a TTY) a delete asks `Delete ...? [y/N]` on stderr, so `--json` output on
stdout stays one clean document; anything but y or yes cancels: "nothing deleted", exit 1 (the
operation was not done), the database and the folders unchanged. `--yes` skips the question. With
stdin not a terminal (a script, a pipe, CI) nothing is asked and the delete goes ahead as it always
did, so no script breaks; `project delete` alone refuses then without `--yes`, as it always has.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from spark_trainer.cli.context import Result
from spark_trainer.jobs.deletion import Outcome

ASKS = "On a terminal it asks first; --yes does not ask, and with stdin not a terminal (a script) nothing is asked."
YES_HELP = "do not ask first (the question is asked only when stdin is a terminal; a script is never asked)"
NOTHING_DELETED = Result({"deleted": False}, "nothing deleted", exit_code=1)


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", "-y", action="store_true", help=YES_HELP)


def interactive() -> bool:
    """Whether there is someone to ask: stdin is a terminal."""
    return sys.stdin is not None and sys.stdin.isatty()


def ask(question: str) -> bool:
    """Ask on stderr; True only for y or yes (any case). End of input is a no."""
    print(question + " [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def declined(args: argparse.Namespace, question: str) -> Result | None:
    """The cancelled result when the user, asked on a terminal, did not say yes; None to go ahead."""
    if getattr(args, "yes", False) or not interactive() or ask(question):
        return None
    return NOTHING_DELETED


def _count(folders: list[str], word: str) -> str:
    return f"1 {word}" if len(folders) == 1 else f"{len(folders)} {word}s"


def deleted_text(what: str, done: Outcome, *, keep_files: bool) -> str:
    """"deleted run 5 and 1 run folder and 1 export folder; kept 1 export folder you chose (yours to remove): /x"."""
    removed = [_count(found, word) for found, word in ((done.removed_folders, "run folder"),
                                                       (done.removed_exports, "export folder")) if found]
    text = f"deleted {what}" + "".join(f" and {part}" for part in removed)
    if keep_files and (done.kept_folders or done.kept_exports):
        text += "; " + " and ".join(_count(found, word) for found, word in (
            (done.kept_folders, "run folder"), (done.kept_exports, "export folder")) if found) + " kept on disk"
    elif done.kept_folders or done.kept_exports:
        text += f"; could not remove {', '.join(done.kept_folders + done.kept_exports)}"
    if done.user_exports:
        text += (f"; kept {_count(done.user_exports, 'export folder')} you chose (yours to remove): "
                 + ", ".join(done.user_exports))
    return text


def deleted_result(entity: object, what: str, done: Outcome, *, keep_files: bool) -> Result:
    """--json: the deleted record, and each kind of folder removed or kept (`user_exports`: export
    folders outside the home's exports/ folder, never removed)."""
    return Result({"deleted": entity, **asdict(done)}, deleted_text(what, done, keep_files=keep_files))
