"""Every command and subcommand has help text, and `--help` works for each."""

from __future__ import annotations

import argparse

import pytest

from spark_trainer.cli.main import build_parser, main


def _walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield path + (name,), helps.get(name), sub
                yield from _walk(sub, path + (name,))


COMMANDS = list(_walk(build_parser()))


def test_the_contract_commands_exist() -> None:
    names = {" ".join(path) for path, _, _ in COMMANDS}
    for expected in ("project create", "project list", "project show", "project delete", "dataset list",
                     "dataset show", "dataset delete", "exp create", "exp list", "exp show", "exp delete",
                     "recipes", "gpus", "doctor"):
        assert expected in names


@pytest.mark.parametrize(("path", "help_text", "parser"), COMMANDS, ids=[" ".join(c[0]) for c in COMMANDS])
def test_command_has_help(path, help_text, parser, capsys) -> None:
    if help_text == argparse.SUPPRESS:  # internal roles (the worker) are hidden on purpose
        return
    assert help_text and len(help_text) > 8, f"{' '.join(path)} has no help"
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help, f"argument {action.dest} of {' '.join(path)} has no help"
    with pytest.raises(SystemExit) as exc:
        main([*path, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: spark-trainer" in out
    # argparse %-formats help strings but not a description without %(prog)s: "%%" there shows as is
    assert "%%" not in out, f"{' '.join(path)} --help shows a literal '%%'"
