"""`settings [list | [show] KEY | [set] KEY VALUE]`: list the settings, show one, or change one (as the
GUI's Settings view does).

Secrets are not settings: the Hugging Face token lives in the OS keyring or `HF_TOKEN`.
"""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.cli.verbs import strip_verb
from spark_trainer.store import settings

USAGE = "settings [list | [show] KEY | [set] KEY VALUE]"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("settings", help="list the settings, show one, or set one", parents=[common],
                            usage="%(prog)s [-h] [--home DIR] [--json] [--debug] [list | [show] KEY | [set] KEY VALUE]",
                            description="With no words (or `list`), every setting with its value and default; "
                                        "with KEY (or `show KEY`), that setting's value; with KEY VALUE (or "
                                        "`set KEY VALUE`), changes it.")
    parser.add_argument("words", nargs="*", metavar="list | [show] KEY | [set] KEY VALUE",
                        help="what to do, as above")
    parser.set_defaults(handler=cmd_settings)


def cmd_settings(ctx: Context, args: argparse.Namespace) -> Result:
    words = strip_verb("settings", args.words, {"list": 0, "show": 1, "set": 2}, 2, USAGE)
    key, value = (words[0] if words else None), (words[1] if len(words) > 1 else None)
    if value is None:  # a stored value that is not of its setting's type reads as the default: say so
        for name, stored in settings.unusable(ctx.store).items():
            if key in (None, name):
                ctx.info(settings.unusable_line(name, stored))
    if key is None:
        values = settings.get_all(ctx.store)
        rows = [(name, current, settings.DEFAULTS[name]) for name, current in sorted(values.items())]
        return Result(values, table(["setting", "value", "default"], rows))
    if value is None:
        shown = settings.get(ctx.store, key)
        return Result({key: shown}, str(shown))
    if key == "default_gpus":  # GPU ids this machine lacks, as the app's Settings field refuses them
        from spark_trainer.jobs.scheduler import machine_gpus

        value = settings.check_default_gpus(value, machine_gpus())
    changed = settings.set_value(ctx.store, key, value)
    return Result({key: changed}, f"{key} = {changed}")
