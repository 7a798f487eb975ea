"""`token [show] | token set | token remove`: the Hugging Face token the Hub exports use, as Settings'
"Hugging Face Hub" row keeps it (the OS keyring; `HF_TOKEN` when none is saved).

The token is read from stdin (or typed at a hidden prompt), never taken as an argument: an argument
shows in `ps` and the shell's history. It is never printed, only its masked form.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from spark_trainer.cli.context import Context, Result


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("token", help="the Hugging Face token: where it comes from, save it in the OS keyring, "
                            "remove it", parents=[common])
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    parser.set_defaults(handler=cmd_show)
    show = actions.add_parser("show", help="where the token comes from (keyring, HF_TOKEN or none), masked",
                              parents=[common])
    show.set_defaults(handler=cmd_show)
    save = actions.add_parser("set", help="save a token in the OS keyring, read from stdin (or a hidden prompt)",
                              description="Save the Hugging Face token in the OS keyring, as Settings' 'Save in "
                              "keyring' does. The token is read from stdin (`spark-trainer token set < file`, or "
                              "piped), or typed at a hidden prompt on a terminal; never give it as an argument.",
                              parents=[common])
    # Caught so that it is refused in our words: argparse's "unrecognized arguments: hf_..." repeats the secret.
    save.add_argument("given", nargs="*", help=argparse.SUPPRESS)
    save.set_defaults(handler=cmd_set)
    remove = actions.add_parser("remove", help="remove the saved token (HF_TOKEN, if set, still applies)",
                                parents=[common])
    remove.set_defaults(handler=cmd_remove)


def _result(status: Any, said: str = "") -> Result:
    data = {"source": status.source, "masked": status.masked, "keyring": status.keyring.backend,
            "keyring_available": status.keyring.available, "keyring_error": status.keyring_error,
            "note": status.note}
    return Result(data, f"{said}{status.message}")


def cmd_show(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.secrets import token_status

    return _result(token_status())


def cmd_set(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.secrets import set_hf_token

    if args.given:
        from spark_trainer.errors import BadInput

        raise BadInput("never pass the token as an argument: it is now in your shell history; revoke it at "
                       "huggingface.co/settings/tokens and run `spark-trainer token set` to paste the new one")
    if sys.stdin.isatty():
        import getpass

        token = getpass.getpass("Hugging Face token (hidden): ")
    else:
        # All of it: blank lines around the token are fine, a second line of text (an .env file) is refused.
        token = sys.stdin.read()
    return _result(set_hf_token(token))  # its message says "saved"


def cmd_remove(ctx: Context, args: argparse.Namespace) -> Result:
    from spark_trainer.secrets import delete_hf_token, keyring_info, token_status

    # Said as it was: "removed" only when the keyring held a token.
    if not keyring_info().available:
        said = "no OS keyring is available, so no token was saved in one; now: "
    elif token_status().source != "keyring":
        said = "no token was saved in the OS keyring; now: "
    else:
        said = "removed; now: "
    return _result(delete_hf_token(), said)
