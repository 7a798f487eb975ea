"""Every command and subcommand has help text, and `--help` works for each."""

from __future__ import annotations

import argparse
import re

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


def test_an_unknown_command_names_the_closest_one_and_only_the_commands_help_shows(cli) -> None:
    done = cli("trian")
    assert done.code == 2
    line = done.err.strip()
    assert "\n" not in line and "unknown command 'trian' (did you mean 'train'?)" in line
    assert "project, dataset, exp" in line
    assert not {"worker", "cluster-worker", "playground-serve"} & set(line.split("are ")[1].split(", "))
    done = cli("run", "stat")
    assert done.code == 2 and "unknown command 'stat' (did you mean 'start'?)" in done.err
    assert "did you mean" not in cli("zzzzzz").err
    assert cli("worker", "--help").code == 0  # the internal roles still work, unlisted


def _synopses(block: str) -> list[str]:
    """The README command block's entries, each its synopsis only: the line starting two spaces in and its
    continuation lines, each cut where its description column starts (three spaces or more), and lines
    that are all description left out. An option named in a description (`home set DIR [--new]   ...
    (--new: ...)`) is prose: it does not stand for a command's option."""
    entries: list[str] = []
    for line in block.splitlines():
        if not line.strip():
            continue
        if re.match(r"  \S", line):
            entries.append("")
        elif not entries or not line.startswith("   ") or re.match(r" {30,}\S", line):
            continue  # not an entry's line, or a continuation that is all description
        entries[-1] += " " + re.split(r"(?<=\S) {3,}", line.strip(), maxsplit=1)[0]
    return entries


def _readme_gaps(block: str) -> list[str]:
    """The commands, and the commands' options, that no entry of `block` lists in its own synopsis."""
    entries = [(set(re.findall(r"(?<![\w-])[\w-]+(?![\w-])", e)), set(re.findall(r"--[\w-]+", e)))
               for e in _synopses(block)]
    common = {"--home", "--json", "--debug", "--help", "--version"}
    missing = []
    for path, help_text, parser in COMMANDS:
        if help_text == argparse.SUPPRESS:
            continue
        # A command's options count only in an entry that names the command (an option found anywhere in
        # the block let `dataset list --project` pass on `dataset ingest`'s line), and only as whole tokens
        # (`--tail` is not in `--tail-lines`).
        own = [options for words, options in entries if {path[0], path[-1]} <= words]
        if not own:
            missing.append(" ".join(path))
        missing += [f"{' '.join(path)} {option}" for action in parser._actions for option in action.option_strings
                    if option.startswith("--") and option not in common and not any(option in o for o in own)]
    return missing


def test_the_readme_command_list_names_every_command_and_option() -> None:
    # README's "Command line" block had no `launch` or `run import`, nor --txt-mode, --min-image-side,
    # run list's filters, run logs --tail, queue serve's flags...: a user reading it could not find them.
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Command line", 1)[1].split("```", 2)[1]
    missing = _readme_gaps(block)
    assert not missing, f"README's command list lacks: {', '.join(missing)}"


def test_the_readme_check_reads_only_the_synopsis_of_the_commands_own_entry() -> None:
    # The check read whole lines: an option named in a description, or one whose name starts another's
    # (--tail in --tail-lines), passed for a command whose synopsis lacks it.
    block = "\n".join([
        "  queue serve [--interval S]   headless loop (--until-idle: stop when nothing is queued)",
        "  run logs [--follow] [--tail-lines N]",
    ])
    missing = _readme_gaps(block)
    assert "queue serve --until-idle" in missing and "run logs --tail" in missing
    assert "queue serve --interval" not in missing and "run logs --follow" not in missing


def test_the_gui_to_cli_map_names_only_commands_and_options_that_exist() -> None:
    # docs/cli-parity.md maps each GUI action to a command; a renamed command or option must not leave
    # the map pointing at nothing.
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli-parity.md").read_text(encoding="utf-8")
    wrong, checked = _parity_gaps(doc)
    assert checked > 60 and not wrong, wrong


def test_the_parity_check_names_a_misspelt_command() -> None:
    # Seen: a snippet whose first word was no command was skipped, so `trian FILE` in the map passed.
    wrong, _ = _parity_gaps("| Train | `trian FILE --wait` |\n| Help | `spark-trainer --help` |")
    assert wrong == ["'trian FILE --wait': no command trian"]


# First words in docs/cli-parity.md's `snippets` that are not commands (the program, placeholders, a
# run-file key, a JSON field, another program): any other first word must be a command.
_PARITY_NOT_COMMANDS = {"spark-trainer", "COMMAND", "PATH...", "FILE-base.png", "base_model:", "dataset:", "swept",
                        "runs", "runs[].evals", "baselines", "watch"}


def _parity_gaps(doc: str) -> tuple[list[str], int]:
    parsers = {path: parser for path, _, parser in COMMANDS}
    every_option = {o for parser in parsers.values() for a in parser._actions for o in a.option_strings}
    wrong, checked = [], 0
    for snippet in re.findall(r"`([^`]+)`", doc):
        words = snippet.split()
        if words[0].startswith("-"):  # an option named alone: it must be one of some command's
            wrong += [f"{snippet!r}: no command has {words[0]}"] if words[0] not in every_option else []
            continue
        if (words[0],) not in parsers:
            if words[0] not in _PARITY_NOT_COMMANDS:
                wrong.append(f"{snippet!r}: no command {words[0]}")
            continue
        first = (words[0],)
        subs = {path[1] for path in parsers if len(path) == 2 and path[0] == words[0]}
        # A second lowercase word of a command that has subcommands names one (`token shw` is a typo).
        named = len(words) > 1 and bool(subs) and re.fullmatch(r"[a-z][a-z|-]*", words[1]) is not None
        alternatives = [first + (w,) for w in words[1].split("|")] if named else [first]
        missing = [p for p in alternatives if p not in parsers]
        if missing:
            wrong.append(f"{snippet!r}: no command {' '.join(missing[0])}")
            continue
        known = {o for p in alternatives for a in parsers[p]._actions for o in a.option_strings}
        wrong += [f"{snippet!r}: no option {o}" for o in re.findall(r"--[\w-]+", snippet) if o not in known]
        checked += 1
    return wrong, checked


def test_every_command_is_built_from_the_module_that_registers_it() -> None:
    """A command line naming a command builds only its module's parser (cli.main.COMMAND_HOMES): the map
    must name every command of the full parser, each with the module that registers it."""
    from spark_trainer.cli.main import COMMAND_HOMES, _command_word

    full = {path[0] for path, _, _ in COMMANDS if len(path) == 1}
    assert set(COMMAND_HOMES) == full
    for command in sorted(full):
        sub = next(a for a in build_parser(command)._actions if isinstance(a, argparse._SubParsersAction))
        assert command in sub.choices, f"{command}: built from cli.{COMMAND_HOMES[command]}, which lacks it"
    assert _command_word(["--home", "run", "--json", "run", "list"]) == "run"
    assert _command_word(["--help", "run"]) is None  # the help that lists every command


def _doc_example_gaps(text: str) -> tuple[list[str], int]:
    """The `spark-trainer ...` examples of a Markdown page that the real parser refuses: each command line
    of a ```bash block whole (it is meant to be copied and run as written), and each inline
    `spark-trainer X ...` as the parity map's snippets are checked (a command and its options: prose may
    name a command without its arguments)."""
    import shlex

    from spark_trainer.cli.main import UsageError

    wrong, checked = [], 0
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = re.match(r"\s*spark-trainer\s+(.*)", line)
            if not command:
                continue
            try:
                build_parser().parse_args(shlex.split(command.group(1), comments=True))
            except (UsageError, SystemExit) as exc:
                wrong.append(f"{line.strip()!r}: {exc}")
            checked += 1
    inline = "\n".join(f"`{s}`" for s in re.findall(r"`spark-trainer ([^`]+)`", text))
    named, count = _parity_gaps(inline)
    return wrong + named, checked + count


def test_every_command_example_in_the_readme_and_docs_runs_as_written() -> None:
    # The README's command list and docs/cli-parity.md were checked, but not the examples a new user
    # copies: the ```bash blocks (`spark-trainer run metrics 2 --key eval_loss --csv`...) and the commands
    # named in prose, in README.md and every page of docs/.
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    wrong, checked = [], 0
    for page in pages:
        found, count = _doc_example_gaps(page.read_text(encoding="utf-8"))
        wrong += [f"{page.name}: {w}" for w in found]
        checked += count
    assert checked > 40 and not wrong, wrong


def test_the_example_check_names_a_misspelt_option_and_command() -> None:
    text = ("```bash\nspark-trainer run metrics 2 --kee eval_loss   # a comment\n"
            "spark-trainer train a.yaml --sweep x=1,2 \\\n    --sweep-nme s\nls -l\n```\n"
            "Then `spark-trainer trian FILE`, or `spark-trainer home set` to choose one.")
    wrong, checked = _doc_example_gaps(text)
    assert checked == 3 and len(wrong) == 3, wrong  # the two lines of the block, and `home set`
    assert "--kee" in wrong[0] and "--sweep-nme" in wrong[1] and wrong[2] == "'trian FILE': no command trian"
