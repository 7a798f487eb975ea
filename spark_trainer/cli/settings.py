"""`settings [KEY [VALUE]]`: list the settings, show one, or change one (as the GUI's Settings view does).

Secrets are not settings: the Hugging Face token lives in the OS keyring or `HF_TOKEN`.
"""

from __future__ import annotations

import argparse

from spark_trainer.cli.context import Context, Result
from spark_trainer.cli.format import table
from spark_trainer.store import settings


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("settings", help="list the settings, show one, or set one", parents=[common])
    parser.add_argument("key", nargs="?", help="a setting's name, to show it (or set it with VALUE)")
    parser.add_argument("value", nargs="?", help="the new value")
    parser.set_defaults(handler=cmd_settings)


def cmd_settings(ctx: Context, args: argparse.Namespace) -> Result:
    if args.key is None:
        values = settings.get_all(ctx.store)
        rows = [(key, value, settings.DEFAULTS[key]) for key, value in sorted(values.items())]
        return Result(values, table(["setting", "value", "default"], rows))
    if args.value is None:
        value = settings.get(ctx.store, args.key)
        return Result({args.key: value}, str(value))
    value = settings.set_value(ctx.store, args.key, args.value)
    return Result({args.key: value}, f"{args.key} = {value}")
